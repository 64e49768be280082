# C declarations for connection.py, compiled by Cython in pure-Python mode.

from aiows.core.protocol cimport ClientProtocol
from aiows.engine.sendlane cimport SendLane

cdef class ConnectionCore:
    cdef public bint _debug
    cdef public object _read_buffer
    cdef public bint _reading_into
    cdef public object _reply_timer
    cdef public object _loop
    cdef public object keepalive
    cdef public SendLane lane
    cdef public object logger
    cdef public ClientProtocol protocol
    cdef public object reading
    cdef public object sink

    cpdef data_received(self, object data)
    cdef _handle(self, list events)
