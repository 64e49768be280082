"""The send lane: frames on their way to the transport.

:class:`SendLane` gathers the frames written in one event-loop iteration
into one ``write()`` (corking), lets senders wait while the transport's
buffer is over its high-water mark (drain), and holds the lock that keeps a
fragmented message's frames together on the wire.  :func:`scratch_for`
gives the memory a large frame is built in, reused from frame to frame.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Final

from ..core.frames import OPCODE_MASK

# Frames gathered in one event-loop iteration are handed to the transport
# once they add up to this much (asyncio's default write high-water mark),
# so large bursts still meet the transport's backpressure.
CORK_LIMIT: Final = 64 * 1024

#: Messages from this size (a smaller frame costs the heap little, and may
#: be gathered with others) ...
SCRATCH_FROM: Final = CORK_LIMIT
#: ... up to this one (aiohttp's default ``max_msg_size``, 4 MiB) are framed
#: in this thread's reusable scratch buffer: that much memory a thread
#: keeps at most once it sent a message so big.
SCRATCH_LIMIT: Final = 4 * 1024 * 1024

# RFC 6455 §5.2: the longest header of a masked client frame (2 bytes, a
# 64-bit length, the 4-byte key).
_MAX_HEADER: Final = 14

_this_thread = threading.local()


def scratch_for(size: int) -> bytearray | None:
    """This thread's scratch buffer, with room for a frame of ``size``
    payload bytes; None when the payload is too small or too big for it.

    Why: a fresh megabyte per frame costs more than masking it.  When a
    large received message and a large frame are freed together, glibc
    hands the top of the heap back to the system, and the next pair faults
    every page in again: about 590 page faults and 2 ms of system time per
    message in the 1 MiB echo of ``benchmarks/`` (the listener API), where
    a frame built in reused memory costs none.  Frames are built and
    written one at a time (:meth:`SendLane.write_scratch`), so one buffer
    serves every connection of the thread.
    """
    if size < SCRATCH_FROM or size > SCRATCH_LIMIT:
        return None
    scratch: bytearray | None = getattr(_this_thread, "scratch", None)
    if scratch is None or len(scratch) < size + _MAX_HEADER:
        # Grow by doubling, so messages of slowly growing size do not
        # allocate again each time.
        grown = 2 * len(scratch) if scratch is not None else 0
        scratch = bytearray(max(size + _MAX_HEADER, min(grown, SCRATCH_LIMIT)))
        _this_thread.scratch = scratch
    return scratch


def _give_up_scratch(scratch: bytearray) -> None:
    """The transport kept a view of ``scratch``: the next frame gets new
    memory, and this one is the transport's until it has sent it."""
    if getattr(_this_thread, "scratch", None) is scratch:
        _this_thread.scratch = None


class SendLane:
    """Writes frames to ``transport``, gathered per event-loop iteration.

    The first write since the last read (or the last gathered write) goes
    out at once, so a lone message waits for nothing; writes that follow
    before the next read (a burst from one task, pongs for a batch of
    pings) are joined and written when the loop comes round: one system
    call instead of one per frame.  Measured with ``benchmarks/``: 0.9-1.3
    µs less client CPU per message in the pipelined scenarios.

    Only the second write schedules the loop callback that writes the
    gathered frames.  A ping-pong client writes once per read, so it never
    schedules one: each would cost an event-loop iteration (on asyncio a
    ``select()`` call of its own) per message.
    """

    __slots__ = (
        "_corked",
        "_corked_size",
        "_drain_waiter",
        "_drained",
        "_held",
        "_lock",
        "_logger",
        "_loop",
        "_quiet",
        "_transport",
        "_wrote",
        "closed",
        "paused",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> None:
        self._transport = transport
        self._loop = loop
        # Where each frame is logged, when debug logging was on at the start.
        self._logger = logger
        # Frames gathered since the first write of this iteration (None:
        # nothing was written in this iteration yet), and their size.
        self._corked: list[bytes] | None = None
        self._corked_size = 0
        # Whether the gathering was opened by hold(), to be closed by
        # release() rather than by a loop callback.
        self._held = False
        # Whether anything went to the transport since hold().
        self._wrote = False
        # Whether nothing was written since the last read or the last
        # gathered write: the next write then goes out at once.
        self._quiet = True
        #: Whether the transport asked to stop writing (its buffer is full).
        self.paused = False
        #: Set once the transport is gone; nothing more is written.
        self.closed = False
        # Woken when the transport resumes writing or is gone.
        self._drain_waiter: asyncio.Future[None] | None = None
        # Called once when the transport resumes writing (on_drained()).
        self._drained: list[Callable[[], None]] | None = None
        # Held for the whole of a fragmented message; created on first use.
        self._lock: asyncio.Lock | None = None

    def _log(self, frame: bytes | memoryview) -> None:
        assert self._logger is not None
        self._logger.debug(
            "> frame opcode=%#x length=%d", frame[0] & OPCODE_MASK, len(frame)
        )

    def write(self, frame: bytes) -> None:
        """Send ``frame``: now, or with the rest of this iteration's frames."""
        if self._logger is not None:  # no call per frame unless logging
            self._log(frame)
        corked = self._corked
        if corked is not None:
            corked.append(frame)
            self._corked_size += len(frame)
            if self._corked_size >= CORK_LIMIT:
                self._flush(corked)
        elif self.closed:
            return
        elif self._quiet or len(frame) >= CORK_LIMIT:
            # A frame that big gains nothing from company, and waiting for
            # the loop could let it pass the transport's high-water mark
            # after its sender saw the buffer below it.
            self._quiet = False
            self._wrote = True
            self._transport.write(frame)
        else:
            # A second write before the loop came round: gather from here.
            self._corked = [frame]
            self._corked_size = len(frame)
            self._loop.call_soon(self._uncork)

    def write_scratch(self, frame: memoryview, scratch: bytearray) -> None:
        """Send ``frame``, a view of ``scratch`` (see :func:`scratch_for`),
        now: after the frames gathered so far, and never gathered itself.

        A transport that could not send all of it may keep a view rather
        than a copy (asyncio's since Python 3.12, uvloop's); then its write
        buffer is not empty, and ``scratch`` is left to it.
        """
        if self._logger is not None:
            self._log(frame)
        if self.closed:
            return
        corked = self._corked
        if corked is None:
            self._quiet = False
        elif corked:
            self._flush(corked)
        transport = self._transport
        self._wrote = True
        transport.write(frame)
        if transport.get_write_buffer_size():
            _give_up_scratch(scratch)

    def _flush(self, corked: list[bytes]) -> None:
        self._corked = []
        self._corked_size = 0
        if not self.closed:
            self._wrote = True
            self._transport.write(corked[0] if len(corked) == 1 else b"".join(corked))

    def _uncork(self) -> None:
        corked = self._corked
        if corked:
            self._flush(corked)
        self._corked = None
        self._quiet = True

    def hold(self) -> None:
        """Gather the writes that follow until :meth:`release`.

        The connection holds the lane while it handles one read, so the
        pongs and the replies a listener sends from its callbacks go out in
        one ``write()``, with no loop callback to schedule.  Measured in
        ping-pong through the listener API: a third fewer event-loop
        iterations per message.
        """
        self._wrote = False
        if self._corked is None:
            self._corked = []
            self._held = True

    def release(self) -> bool:
        """Write what :meth:`hold` gathered; whether anything was written
        since :meth:`hold`."""
        if self._held:
            self._held = False
            corked = self._corked
            if corked:
                self._flush(corked)
            self._corked = None
            # The next write (the answer the read woke a task for) goes at once.
            self._quiet = True
        return self._wrote

    def flush(self) -> None:
        """Write what is gathered now, e.g. before closing the transport."""
        if self._corked:
            self._flush(self._corked)

    def finish(self) -> None:
        """Write what is gathered, then nothing more, and half-close the
        transport once its buffer is sent, where it can (not over TLS)."""
        self.flush()
        self.close()
        transport = self._transport
        if transport.can_write_eof() and not transport.is_closing():
            transport.write_eof()

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark.

        Returns at once when it is not.  Raises ``ConnectionResetError``
        when the transport goes away instead: what was written may never
        have left.
        """
        if not self.paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(waiter)
        if self.closed:
            raise ConnectionResetError("the connection was lost while sending")

    def pause(self) -> None:
        """The transport's buffer went over its high-water mark."""
        self.paused = True

    def resume(self) -> None:
        """The transport's buffer drained below its low-water mark."""
        self.paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        drained, self._drained = self._drained, None
        if drained is not None and not self.closed:
            for callback in drained:
                callback()

    def on_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transport's buffer is below its
        low-water mark: now if it is, else when it drains (never, if the
        transport goes first)."""
        if not self.paused:
            callback()
        elif self._drained is None:
            self._drained = [callback]
        else:
            self._drained.append(callback)

    def close(self) -> None:
        """The transport is gone (or takes nothing more): drop gathered
        frames, wake drainers."""
        self.closed = True
        self._corked = None if self._corked is None else []
        self.resume()

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a fragmented message is being sent, so frames of
        another message cannot come between its frames (RFC 6455 §5.4)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def busy(self) -> bool:
        """Whether a fragmented message is being sent."""
        return self._lock is not None and self._lock.locked()
