"""Read flow control: where reads go, and why reading is paused.

A :class:`ReadGate` keeps the reasons reading is held back as bits and
pauses or resumes the transport when the first reason comes or the last
one goes.  :func:`shared_read_buffer` is the buffer reads go into.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Final

#: Bytes read from the socket at once, at most: asyncio's own transports
#: read 256 KiB at a time too.
READ_BUFFER_SIZE: Final = 256 * 1024

#: The receive queue is full.
QUEUE_FULL: Final = 1
#: Automatic replies wait for the transport's buffer to drain.
WRITES_BACKED_UP: Final = 2
#: The parser kept back the rest of a read whose compressed messages
#: inflated its budget; the rest is parsed once nothing else holds reading
#: back.
BACKLOG: Final = 4
#: The application asked (the listener's ``pause_reading()``).
APPLICATION: Final = 8

_this_thread = threading.local()


def shared_read_buffer() -> memoryview:
    """The buffer this thread's connections read into, one for them all.

    A connection is an ``asyncio.BufferedProtocol``: the transport reads
    into the buffer the connection gives, and the connection parses it at
    once.  The reads of one event loop never overlap (each is parsed before
    the next begins), so one buffer per thread serves every connection: an
    idle connection holds none.  The parser copies what it keeps (see
    :meth:`~aiows.core.parser.FrameParser.feed`).

    Why not ``data_received``: asyncio's selector transport then allocates
    a fresh 256 KiB ``bytes`` per read and shrinks it to the bytes read.
    Whether glibc serves that from the heap or with an ``mmap`` depends on
    the process's allocation history, and the ``mmap`` case costs an
    ``mmap``, ``mremap`` and ``munmap`` and page faults per read (see
    ``benchmarks/results/baseline-2026-12-01.txt``); uvloop copies each
    read into a fresh ``bytes`` too.
    """
    view: memoryview | None = getattr(_this_thread, "read_buffer", None)
    if view is None:
        view = _this_thread.read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))
    return view


class ReadGate:
    """Why reading ``transport`` is paused (:data:`QUEUE_FULL`,
    :data:`WRITES_BACKED_UP`, :data:`BACKLOG`), and the transport paused
    while any reason holds.

    When :data:`BACKLOG` alone is left, ``parse_backlog`` is called soon
    (once per time): the bytes kept back are parsed before the socket is
    read again.  That goes on after the transport is gone (see
    :meth:`detach`).
    """

    __slots__ = (
        "_backlog_handle",
        "_loop",
        "_parse_backlog",
        "discarding",
        "draining",
        "reasons",
        "transport",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        parse_backlog: Callable[[], None],
    ) -> None:
        #: The transport; None once it is gone.
        self.transport: asyncio.Transport | None = transport
        self._loop = loop
        self._parse_backlog = parse_backlog
        #: The reasons that hold reading back, as bits; 0 while reading.
        self.reasons = 0
        #: Set once what is read is only dropped (see :meth:`discard`):
        #: nothing holds reading back any more.
        self.discarding = False
        #: The transport is gone, and the bytes kept back are still parsed
        #: as the queue drains (see :meth:`detach`).
        self.draining = False
        self._backlog_handle: asyncio.Handle | None = None

    @property
    def paused(self) -> bool:
        """Whether the client stopped reading the transport."""
        return bool(self.reasons)

    def set(self, reason: int, paused: bool) -> None:
        """Add ``reason`` (``paused``) or take it away."""
        if self.discarding:
            return
        before = self.reasons
        after = before | reason if paused else before & ~reason
        self.reasons = after
        transport = self.transport
        if (
            after == BACKLOG
            and self._backlog_handle is None
            and (transport is not None or self.draining)
        ):
            self._backlog_handle = self._loop.call_soon(self._run_backlog)
        if transport is None or bool(before) is bool(after):
            return
        if after:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _run_backlog(self) -> None:
        self._backlog_handle = None
        if self.reasons == BACKLOG and (self.transport is not None or self.draining):
            self._parse_backlog()

    def sync(self) -> None:
        """Make the transport read exactly when no reason holds reading back
        (after a hand-over: the previous protocol may have paused or resumed
        it)."""
        transport = self.transport
        if transport is None:
            return
        if self.reasons:
            transport.pause_reading()
        elif not transport.is_reading():
            transport.resume_reading()

    def discard(self) -> None:
        """Read on for good, whatever held reading back: what comes is only
        dropped now (after a failure, until the server closes)."""
        self.discarding = True
        reasons, self.reasons = self.reasons, 0
        if reasons and self.transport is not None:
            self.transport.resume_reading()

    def detach(self, *, backlog: bool = False) -> None:
        """The transport is gone: nothing more to pause.

        With ``backlog``, the bytes the parser kept back came before the
        end: they are still parsed, a budget at a time as the queue
        drains, until none is left (the engine then ends the queue).
        """
        self.transport = None
        self.draining = backlog
        if backlog:
            if self.reasons == BACKLOG and self._backlog_handle is None:
                self._backlog_handle = self._loop.call_soon(self._run_backlog)
        elif self._backlog_handle is not None:
            self._backlog_handle.cancel()
            self._backlog_handle = None
