"""Masking of client frames (RFC 6455 §5.3), compiled when possible.

Every frame a client sends is masked with a fresh 4-byte key.  The compiled
``_speedups`` module XORs eight bytes at a time; the pure-Python fallback
XORs the payload as one big integer, which is much faster than a loop over
bytes.  Set ``AIOWS_NO_EXTENSIONS=1`` to force the fallback.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Final

from .speedups import compiled


def payload_size(data: bytes | bytearray | memoryview) -> int:
    """The bytes in ``data``: a memoryview of wider items counts them as bytes."""
    return data.nbytes if isinstance(data, memoryview) else len(data)


def py_apply_mask(key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated (pure Python)."""
    if len(key) != 4:
        raise ValueError("mask key must be 4 bytes")
    n = payload_size(data)
    if n == 0:
        return b""
    # One XOR of two n-byte integers beats n XORs of single bytes by ~50x.
    repeated = (key * ((n + 3) >> 2))[:n]
    return (
        int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    ).to_bytes(n, "little")


_HEADER_7: Final = struct.Struct("!BB").pack
_HEADER_16: Final = struct.Struct("!BBH").pack
_HEADER_64: Final = struct.Struct("!BBQ").pack


def py_build_frame(b0: int, key: bytes, data: bytes | bytearray | memoryview) -> bytes:
    """A whole masked client frame with first byte ``b0`` (pure Python)."""
    length = payload_size(data)
    if length < 126:
        header = _HEADER_7(b0, 0x80 | length)
    elif length < 0x10000:
        header = _HEADER_16(b0, 0x80 | 126, length)
    else:
        header = _HEADER_64(b0, 0x80 | 127, length)
    return header + key + py_apply_mask(key, data)


def frame_size(length: int) -> int:
    """The size of a masked client frame carrying ``length`` bytes."""
    # RFC 6455 §5.2: a 7-, 16- or 64-bit length, then the 4-byte key.
    return (2 if length < 126 else 4 if length < 0x10000 else 10) + 4 + length


def py_build_frame_into(
    b0: int, key: bytes, data: bytes | bytearray | memoryview, out: bytearray
) -> int:
    """:func:`py_build_frame` written at the start of ``out``; its length."""
    size = frame_size(payload_size(data))
    if size > len(out):
        raise ValueError(f"a frame of {size} bytes does not fit in {len(out)}")
    out[:size] = py_build_frame(b0, key, data)
    return size


apply_mask: Callable[[bytes, bytes | bytearray | memoryview], bytes]
build_frame: Callable[[int, bytes, bytes | bytearray | memoryview], bytes]
build_frame_into: Callable[[int, bytes, bytes | bytearray | memoryview, bytearray], int]

if compiled is None:
    apply_mask = py_apply_mask
    build_frame = py_build_frame
    build_frame_into = py_build_frame_into
    #: Whether the compiled masking is in use.
    COMPILED = False
else:
    apply_mask = compiled.apply_mask
    build_frame = compiled.build_frame
    build_frame_into = compiled.build_frame_into
    COMPILED = True


class MaskKeySource:
    """Hands out 4-byte mask keys drawn from the OS's CSPRNG.

    RFC 6455 §5.3 wants keys an attacker cannot predict.  ``os.urandom`` is
    such a source, but one system call per frame costs more than building
    the frame; drawing 4 KiB at a time and slicing it keeps every key
    cryptographically random at a thousandth of the calls.  One source
    serves the whole process (:data:`KEYS`): keys need to be unpredictable,
    not private to a connection, and a pool per connection would cost each
    idle connection 4 KiB.
    """

    # 1024 keys per refill.
    REFILL: Final = 4096

    def __init__(self) -> None:
        # Unused random bytes, and the offset of the next key within them.
        self._pool = b""
        self._offset = self.REFILL

    def next_key(self) -> bytes:
        """A fresh mask key."""
        offset = self._offset
        if offset >= self.REFILL:
            self._pool = os.urandom(self.REFILL)
            offset = 0
        self._offset = offset + 4
        return self._pool[offset : offset + 4]

    def discard(self) -> None:
        """Drop the unused keys, so the next key comes from a fresh draw."""
        self._pool = b""
        self._offset = self.REFILL


#: The process-wide source every :class:`~aiows.core.writer.FrameWriter` uses.
KEYS = MaskKeySource()

# A forked child inherits a copy of the pool, and would hand out the same
# keys as its parent: a peer that sees both connections could then predict
# one's keys from the other's (RFC 6455 §5.3).  The child draws anew.
if hasattr(os, "register_at_fork"):  # POSIX only; Windows has no fork()
    os.register_at_fork(after_in_child=KEYS.discard)
