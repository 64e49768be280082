"""The receive queue: what the protocol parsed, until the application reads it.

:class:`Assembler` keeps the protocol's output in arrival order, wakes the
one reader waiting for it, joins the pieces of a fragmented message for a
whole-message read or hands them out one by one for streaming, and pauses
the transport while too much is unread (read flow control).  It never loses
what it holds: a read that is cancelled leaves the pieces it had taken
behind for the next one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from ..core.messages import Fragment, MessageKinds, make_message
from ..core.parser import Event

#: Unread items queued before the transport stops reading (websockets'
#: ``max_queue`` default).
DEFAULT_MAX_QUEUE: Final = 16

# The queue of every assembler that never got an item, shared: an empty
# deque costs 760 bytes, a tenth of an idle connection.  It holds nothing
# (maxlen 0), and put() gives the assembler a deque of its own before the
# first item.
_NEVER_USED: Final[deque[Any]] = deque(maxlen=0)


class Concurrency(Exception):
    """Two readers at once, or a read that raced a stream.

    The faces turn this into their own error (``RuntimeError`` in aiohttp,
    ``ConcurrencyError`` in websockets).
    """


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


class Assembler:
    """The queue between the protocol and the one task reading from it.

    ``set_paused(True)`` is called when ``max_queue`` items are unread and
    ``set_paused(False)`` when a quarter of that is left, so the transport
    stops and resumes reading; ``max_queue=None`` never pauses.
    """

    __slots__ = (
        "_discarding",
        "_kinds",
        "_loop",
        "_max_queue",
        "_resume_at",
        "_set_paused",
        "_stream_id",
        "_waiter",
        "closing",
        "dropping",
        "ended",
        "partial",
        "paused",
        "queue",
        "streaming",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        kinds: MessageKinds,
        set_paused: Callable[[bool], None],
        *,
        max_queue: int | None = DEFAULT_MAX_QUEUE,
    ) -> None:
        self._loop = loop
        self._kinds = kinds
        self._set_paused = set_paused
        self._max_queue = max_queue
        self._resume_at = 0 if max_queue is None else max_queue // 4
        #: Items not read yet, oldest first.
        self.queue: deque[Event] = _NEVER_USED
        #: Whether reading is paused because the queue is full.
        self.paused = False
        #: Set once no item will ever be added (the transport is gone).
        self.ended = False
        #: Set when the application gave up on what is queued (aiohttp's
        #: ``close()`` reads to the close and drops the rest): new items are
        #: dropped too.
        self.dropping = False
        #: Set once the client's close frame went: data messages that arrive
        #: after it are dropped (what came before stays readable), and the
        #: queue no longer pauses reading, so the server's close gets in.
        self.closing = False
        #: The pieces of the fragmented message being read whole, kept here
        #: so a cancelled read loses none of them.
        self.partial: list[Any] = []
        #: Whether a streaming read is in the middle of a message.
        self.streaming = False
        # The reader waiting for an item, if any.
        self._waiter: asyncio.Future[None] | None = None
        # Bumped by each new stream, so an old one knows it was overtaken.
        self._stream_id = 0
        # Whether the rest of an abandoned streamed message is being skipped.
        self._discarding = False

    # -- the producer side ----------------------------------------------------

    def put(self, events: list[Event]) -> None:
        """Queue the protocol's output and wake the reader."""
        if self.dropping:
            return
        queue = self.queue
        if queue is _NEVER_USED:
            queue = self.queue = deque()
        if self.closing:
            events = [event for event in events if not self._is_data(event)]
            queue.extend(events)
            self.wake()
            return
        queue.extend(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (
            not self.paused
            and self._max_queue is not None
            and len(queue) >= self._max_queue
        ):
            self.paused = True
            self._set_paused(True)

    def _is_data(self, event: Event) -> bool:
        types = self._kinds.types
        return (
            type(event) is Fragment
            or event[0] == types.TEXT
            or event[0] == types.BINARY
        )

    def closing_started(self) -> None:
        """The client's close frame went; see :attr:`closing`."""
        self.closing = True
        self._resume()

    def end(self) -> None:
        """No more items will come; wake the reader."""
        self.ended = True
        self.wake()
        if self.paused:
            self.paused = False

    def wake(self) -> None:
        """Wake a waiting reader without an item (it checks why)."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def drop_all(self) -> None:
        """Forget what is queued, drop what comes, and resume reading."""
        self.dropping = True
        self.queue.clear()
        self.partial.clear()
        self._resume()

    @property
    def waiting(self) -> bool:
        """Whether a reader is waiting for an item."""
        return self._waiter is not None

    # -- the reader side ------------------------------------------------------

    def _resume(self) -> None:
        if self.paused:
            self.paused = False
            self._set_paused(False)

    def take(self) -> Event | None:
        """The next item if it is ready to hand out as it is, else None.

        That is anything but the piece of a fragmented message, and only
        when no whole-message read or stream is part-way through one.  This
        is the read that never suspends.
        """
        queue = self.queue
        if not queue or self.partial or self.streaming:
            return None
        item = queue[0]
        if type(item) is Fragment:
            return None
        queue.popleft()
        if self.paused and len(queue) <= self._resume_at:
            self._resume()
        return item

    async def next(self, deadline: float | None = None) -> Event | None:
        """Pop the next item, waiting until ``deadline`` (``loop.time()``).

        Returns None when the queue ended empty, or when :meth:`wake` woke
        the reader; raises ``asyncio.TimeoutError`` at the deadline and
        :class:`Concurrency` if another reader is waiting.
        """
        queue = self.queue
        if not queue:
            if self.ended:
                return None
            waiter, timer = self._start_wait(deadline)
            try:
                await waiter
            finally:
                self._end_wait(timer)
            queue = self.queue  # put() may have given it its own
            if not queue:
                return None
        item = queue.popleft()
        if self.paused and len(queue) <= self._resume_at:
            self._resume()
        return item

    def _start_wait(
        self, deadline: float | None
    ) -> tuple[asyncio.Future[None], asyncio.TimerHandle | None]:
        """The future the one reader awaits, and the timer of its deadline."""
        if self._waiter is not None:
            raise Concurrency(
                "another task is already waiting for a message; read from one task only"
            )
        waiter = self._waiter = self._loop.create_future()
        if deadline is None:
            return waiter, None
        return waiter, self._loop.call_at(deadline, _expire, waiter)

    def _end_wait(self, timer: asyncio.TimerHandle | None) -> None:
        self._waiter = None
        if timer is not None:
            timer.cancel()

    async def message(self, deadline: float | None = None) -> Event | None:
        """The next item, with a fragmented message joined into one.

        Returns None like :meth:`next`.  Pieces taken before a cancellation
        or a timeout stay in :attr:`partial` for the next call.
        """
        if self.streaming:
            self._abandon_stream()
        partial = self.partial
        types = self._kinds.types
        queue = self.queue
        while True:
            # What next() does, written out: every receive() comes through
            # here, and a coroutine less per call is a frame less to create
            # and to resume through.  With the aiohttp face's receive()
            # written out likewise: 5% fewer instructions per message in
            # ping-pong (benchmarks/engine_loop.py under callgrind).
            if not queue:
                if self.ended:
                    return None
                waiter, timer = self._start_wait(deadline)
                try:
                    await waiter
                finally:
                    self._end_wait(timer)
                queue = self.queue  # put() may have given it its own
                if not queue:
                    return None
            item = queue.popleft()
            if self.paused and len(queue) <= self._resume_at:
                self._resume()
            if type(item) is not Fragment:
                kind = item[0]
                if partial and (kind == types.CLOSE or kind == types.ERROR):
                    # The message can never complete.
                    partial.clear()
                return item
            if self._discarding:
                self._discarding = not item.fin
                continue
            partial.append(item.data)
            if item.fin:
                return self._joined(item)

    def _joined(self, last: Fragment) -> Event:
        partial = self.partial
        data = "".join(partial) if isinstance(last.data, str) else b"".join(partial)
        partial.clear()
        kinds = self._kinds
        cls = kinds.text if last.type == kinds.types.TEXT else kinds.binary
        return make_message(cls, last.type, data, kinds.extra)

    # -- streaming ------------------------------------------------------------

    def _abandon_stream(self) -> None:
        """Let a new read take over from a stream left between two pieces."""
        if self._waiter is not None:
            raise Concurrency("another task is already waiting for a message")
        self.streaming = False
        self._stream_id += 1
        self._discarding = True

    async def stream(
        self, on_other: Callable[[Event], None]
    ) -> AsyncIterator[str | bytes]:
        """Yield the next data message piece by piece, as the pieces arrive.

        A message that arrived whole is yielded in one piece.  ``on_other``
        is called with anything else that comes first (control messages,
        a close, an error); it may raise to end the stream, and returning
        skips the item.  At the end of the queue ``on_other(None)`` must
        raise.  Leaving early and reading again skips the rest of the
        message.
        """
        if self.streaming:
            self._abandon_stream()
        if self._waiter is not None:
            raise Concurrency("another task is already waiting for a message")
        self._stream_id += 1
        stream_id = self._stream_id
        self.streaming = True
        try:
            # Pieces a cancelled whole-message read had taken come first.
            partial, self.partial = self.partial, []
            for piece in partial:
                yield piece
            text, binary = self._kinds.types.TEXT, self._kinds.types.BINARY
            while True:
                if self._stream_id != stream_id:
                    raise Concurrency(
                        "another read took over; the rest of this message was skipped"
                    )
                item = await self.next(None)
                if item is None:
                    on_other(None)
                    raise AssertionError("on_other(None) must raise")
                if type(item) is Fragment:
                    if self._discarding:
                        self._discarding = not item.fin
                        continue
                    if item.fin:
                        # The message is complete before its last piece is
                        # handed out: a consumer that stops there and reads
                        # again must not skip the next message.
                        self.streaming = False
                        yield item.data
                        return
                    yield item.data
                elif item[0] == text or item[0] == binary:
                    self.streaming = False
                    yield item[1]
                    return
                else:
                    on_other(item)
        finally:
            if self._stream_id == stream_id:
                self.streaming = False
