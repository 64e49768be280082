# C declarations for sendlane.py, compiled by Cython in pure-Python mode.

cdef class SendLane:
    cdef public object _corked
    cdef public Py_ssize_t _corked_size
    cdef public object _drain_waiter
    cdef public object _drained
    cdef public bint _held
    cdef public object _lock
    cdef public object _logger
    cdef public object _loop
    cdef public bint _quiet
    cdef public object _transport
    cdef public bint _wrote
    cdef public bint closed
    cdef public bint paused

    cpdef write(self, object frame)
    cdef _flush(self, list corked)
    cpdef hold(self)
    cpdef bint release(self) except -1
