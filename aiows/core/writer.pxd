# C declarations for writer.py, compiled by Cython in pure-Python mode.

cdef class FrameWriter:
    cdef public object deflate
