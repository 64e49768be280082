# C declarations for assembler.py, compiled by Cython in pure-Python mode.

cimport cython

cdef class Assembler:
    cdef public object _after_close
    cdef public object _kinds
    cdef public object _loop
    cdef public object _max_queue
    cdef public object _resume_at
    cdef public object _set_paused
    cdef public object _waiter
    cdef public int dropping
    cdef public bint ended
    cdef public list partial
    cdef public bint paused
    cdef public object queue
    cdef public Py_ssize_t queued_bytes
    cdef public bint streaming

    @cython.locals(size=Py_ssize_t)
    cpdef put(self, list events)
    cdef bint _is_data(self, object event) except -1
    cpdef closing_started(self)
    cpdef end(self)
    cpdef wake(self)
    cpdef drop_all(self)
    cdef _resume(self)
    cpdef take(self)
    cdef _taken(self, object item)
    cdef tuple _start_wait(self, object deadline)
    cdef _end_wait(self, object timer)
    cdef _joined(self, object last)

cdef Py_ssize_t _size(object item) except -1
