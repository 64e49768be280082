# C declarations for pieces.py, compiled by Cython in pure-Python mode.
# The .py stays plain Python: these only give the class C slots and the
# hot methods C calls.

cdef class MessagePieces:
    cdef public bint _decode_text
    cdef public object _deflate
    cdef public object _direct
    cdef public object _direct_view
    cdef public Py_ssize_t _direct_filled
    cdef public Py_ssize_t _direct_length
    cdef public bint _fragments
    cdef public bint _frame_fin
    cdef public Py_ssize_t _frame_remaining
    cdef public Py_ssize_t _handed_out
    cdef public Py_ssize_t _inflated
    cdef public object _max_size
    cdef public list _msg_bytes
    cdef public bint _msg_compressed
    cdef public object _msg_decoder
    cdef public object _msg_folded
    cdef public bint _msg_fragmented
    cdef public object _msg_opcode
    cdef public Py_ssize_t _msg_size
    cdef public list _msg_text
    cdef public object kinds

    cpdef _whole_message(self, int opcode, bytes payload, list out)
    cpdef _start_message(self, int opcode, bint compressed)
    cpdef _data_piece(self, object piece, bint frame_end, list out)
    cdef _keep(self, object piece)
    cdef _joined(self)
    cdef _emit_message(self, list out)
    cdef _emit_fragment(self, bint fin, list out)
    cpdef _drop_pieces(self)
    cdef _end_message(self)
    cdef _start_direct(self, Py_ssize_t length, object first)
    cdef _may_switch_to_direct(self, Py_ssize_t remaining)
    cdef _direct_write(self, object data, list out)
    cpdef _direct_advance(self, Py_ssize_t n, list out)
    cpdef read_into(self)
    cpdef list written(self, Py_ssize_t n)
    cpdef _continue_frame(self, object data, list out)
