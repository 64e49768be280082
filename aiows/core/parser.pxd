# C declarations for parser.py, compiled by Cython in pure-Python mode.

from aiows.core.pieces cimport MessagePieces

cdef class FrameParser(MessagePieces):
    cdef public object _buffer
    cdef public Py_ssize_t _controls
    cdef public Py_ssize_t _inflate_budget
    cdef public object _on_control
    cdef public object _scan_spec
    cdef public bint closed
    cdef public object exc
    cdef public bint pending

    cpdef list feed(self, object data)
    cpdef _feed(self, object data, list out)
    cdef Py_ssize_t _frame(self, object data, Py_ssize_t pos, list out) except? -3
    cdef bint _rsv1_allowed(self, int opcode)
    cdef _bad_rsv(self, int b0, int opcode)
    cdef Py_ssize_t _control_frame(self, object data, Py_ssize_t pos, int b0, Py_ssize_t length, list out) except? -3
    cpdef _control(self, int opcode, bytes payload, list out)
    cdef Py_ssize_t _data_frame(self, object data, Py_ssize_t pos, int b0, Py_ssize_t length, list out) except? -3
    cdef _check_sequence(self, int opcode, bint compressed, Py_ssize_t length)
    cdef Py_ssize_t _frame_payload(self, object data, Py_ssize_t start, int b0, Py_ssize_t length, list out) except? -3
