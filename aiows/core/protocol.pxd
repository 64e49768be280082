# C declarations for protocol.py, compiled by Cython in pure-Python mode.

from aiows.core.parser cimport FrameParser
from aiows.core.writer cimport FrameWriter

cdef class ClientProtocol:
    cdef public bint _auto_pong
    cdef public object _close_reply
    cdef public bint _echo_reason
    cdef public object _failure_policy
    cdef public FrameParser _parser
    cdef public object _pings
    cdef public bint _report_control
    cdef public FrameWriter _writer
    cdef public list acknowledged
    cdef public object close_rcvd
    cdef public object close_rcvd_then_sent
    cdef public object close_sent
    cdef public bint failed
    cdef public object failure
    cdef public list outgoing
    cdef public bint reply_due
    cdef public object reply_failed
    cdef public object state

    cpdef list receive_data(self, object data)
    cpdef receive_buffer(self)
    cpdef list receive_into(self, Py_ssize_t n)
