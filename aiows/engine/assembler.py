"""The receive queue: what the protocol parsed, until the application reads it.

:class:`Assembler` keeps the protocol's output in arrival order, wakes the
one reader waiting for it, joins the pieces of a fragmented message for a
whole-message read or hands them out one by one for streaming, and pauses
the transport while too much is unread, in items or in bytes (read flow
control).  It never loses what it holds: a read that is cancelled leaves the
pieces it had taken behind for the next one.

What happens to data that arrives once the client's close frame went is a
face's rule, the :class:`AfterClose` policy it gives.

Every message read with ``receive()`` or ``recv()`` passes through here, so
the module is compiled where possible (Cython in pure-Python mode:
``assembler.pxd`` makes :class:`Assembler` a C class with typed attributes
and C calls between its methods); this file is what runs otherwise.
"""

from __future__ import annotations

import asyncio
import io
from collections import deque
from collections.abc import AsyncIterator, Callable
from enum import Enum
from typing import Any, Final

from ..core.messages import Event, Fragment, MessageKinds, make_message

#: Unread items queued before the transport stops reading (websockets'
#: ``max_queue`` default).
DEFAULT_MAX_QUEUE: Final = 16
#: Unread payload bytes queued before the transport stops reading, whatever
#: the count: sixteen messages of ``max_msg_size`` (4 MiB in aiohttp) would
#: otherwise be 64 MiB held per connection.  A single larger message is
#: still taken whole; reading then waits for the application to take it.
DEFAULT_MAX_QUEUE_BYTES: Final = 1024 * 1024


class AfterClose(Enum):
    """What the queue does with the data messages that arrive once the
    client's close frame went: each face's rule, applied here."""

    #: aiohttp's: they are dropped (its ``close()`` reads on to the server's
    #: close and discards what comes), and reading no longer pauses, so the
    #: server's close gets in at once.
    DROP = "drop"
    #: websockets': every message the server sent before its close frame
    #: stays readable (RFC 6455 §5.5.1 lets it finish what it was sending),
    #: with the same flow control as before the close.
    DELIVER = "deliver"


# A whole-message read folds the pieces it took into one growing buffer
# once it holds this many: a message of many tiny frames (one piece each)
# would otherwise be as many objects, and a list of them costs ~34 times the
# message in memory.
_FOLD_AT: Final = 64

# Reading resumes once no more than this is unread (and a quarter of
# max_queue): a module constant, not a slot per connection.
_RESUME_BYTES: Final = DEFAULT_MAX_QUEUE_BYTES // 4

# What put() drops (Assembler.dropping).
_KEEP: Final = 0
_DROP_DATA: Final = 1
_DROP_ALL: Final = 2

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


def _size(item: Event) -> int:
    """The payload bytes of a queued item (characters, for text)."""
    data = item[1]  # a message's data, or a Fragment's
    kind = type(data)
    return len(data) if kind is bytes or kind is str else 0


def _fold(partial: list[Any]) -> None:
    """Fold ``partial``'s pieces into one buffer at its front (a
    ``bytearray``, or an ``io.StringIO`` for text), which takes the rest."""
    first = partial[0]
    if type(first) is bytearray or type(first) is io.StringIO:
        folder, rest = first, partial[1:]
    else:
        folder, rest = (io.StringIO() if type(first) is str else bytearray()), partial
    if type(folder) is io.StringIO:
        for piece in rest:
            folder.write(piece)
    else:
        for piece in rest:
            folder += piece
    partial[:] = [folder]


def _plain(piece: Any) -> str | bytes:
    """A piece of :attr:`Assembler.partial` as ``str`` or ``bytes``."""
    if type(piece) is io.StringIO:
        return piece.getvalue()
    if type(piece) is bytearray:
        return bytes(piece)
    return piece  # type: ignore[no-any-return]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


class Assembler:
    """The queue between the protocol and the one task reading from it.

    ``set_paused(True)`` is called when ``max_queue`` items or
    :data:`DEFAULT_MAX_QUEUE_BYTES` payload bytes are unread, and
    ``set_paused(False)`` when a quarter of each is left, so the transport
    stops and resumes reading; ``max_queue=None`` never pauses.
    ``after_close`` is the face's rule for data that arrives after the
    client's close frame.
    """

    __slots__ = (
        "_after_close",
        "_kinds",
        "_loop",
        "_max_queue",
        "_resume_at",
        "_set_paused",
        "_waiter",
        "dropping",
        "ended",
        "partial",
        "paused",
        "queue",
        "queued_bytes",
        "streaming",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        kinds: MessageKinds,
        set_paused: Callable[[bool], None],
        *,
        max_queue: int | None = DEFAULT_MAX_QUEUE,
        after_close: AfterClose = AfterClose.DELIVER,
    ) -> None:
        self._loop = loop
        self._kinds = kinds
        self._set_paused = set_paused
        self._max_queue = max_queue
        self._resume_at = 0 if max_queue is None else max_queue // 4
        self._after_close = after_close
        #: Items not read yet, oldest first.
        self.queue: deque[Event] = _NEVER_USED
        #: Their payload bytes (characters, for text).
        self.queued_bytes = 0
        #: Whether reading is paused because the queue is full.
        self.paused = False
        #: Set once no item will ever be added (the transport is gone).
        self.ended = False
        #: What new items are dropped: none; data messages, once the client's
        #: close frame went (:attr:`AfterClose.DROP`); or all, once the
        #: application gave up on what is queued (:meth:`drop_all`).
        self.dropping = _KEEP
        #: The pieces of the fragmented message being read whole, kept here
        #: so a cancelled read loses none of them (folded into one buffer
        #: once there are many: see _fold).
        self.partial: list[Any] = []
        #: Whether a stream handed out a piece of a message but not its
        #: last: until it does, no other read may start (websockets' rule:
        #: the rest of the message would be lost).
        self.streaming = False
        # The reader waiting for an item, if any.
        self._waiter: asyncio.Future[None] | None = None

    # -- the producer side ----------------------------------------------------

    def put(self, events: list[Event]) -> None:
        """Queue the protocol's output and wake the reader."""
        dropping = self.dropping
        if dropping:
            if dropping == _DROP_ALL:
                return
            events = [event for event in events if not self._is_data(event)]
        queue = self.queue
        if queue is _NEVER_USED:
            queue = self.queue = deque()
        queue.extend(events)
        size = self.queued_bytes
        for event in events:
            size += _size(event)
        self.queued_bytes = size
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (
            not self.paused
            and not dropping
            and self._max_queue is not None
            and (len(queue) >= self._max_queue or size >= DEFAULT_MAX_QUEUE_BYTES)
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
        """The client's close frame went: apply the :class:`AfterClose` rule."""
        if self._after_close is AfterClose.DROP and not self.dropping:
            self.dropping = _DROP_DATA
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
        self.dropping = _DROP_ALL
        self.queue.clear()
        self.queued_bytes = 0
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
        self._taken(item)
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
        self._taken(item)
        return item

    def _taken(self, item: Event) -> None:
        """``item`` left the queue: resume reading once little is left."""
        self.queued_bytes -= _size(item)
        if (
            self.paused
            and len(self.queue) <= self._resume_at
            and self.queued_bytes <= _RESUME_BYTES
        ):
            self._resume()

    def _start_wait(
        self, deadline: float | None
    ) -> tuple[asyncio.Future[None], asyncio.TimerHandle | None]:
        """The future the one reader awaits, and the timer of its deadline."""
        if self._waiter is not None:
            raise Concurrency(WAITING)
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
        or a timeout stay in :attr:`partial` for the next call.  Raises
        :class:`Concurrency` while a stream is in the middle of a message.
        """
        if self.streaming:
            raise Concurrency(STREAM_UNFINISHED)
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
            self._taken(item)
            if type(item) is not Fragment:
                kind = item[0]
                if partial and (kind == types.CLOSE or kind == types.ERROR):
                    # The message can never complete.
                    partial.clear()
                return item
            partial.append(item.data)
            if item.fin:
                return self._joined(item)
            if len(partial) >= _FOLD_AT:
                _fold(partial)

    def _joined(self, last: Fragment) -> Event:
        partial = self.partial
        pieces: list[Any] = partial
        if type(partial[0]) is bytearray or type(partial[0]) is io.StringIO:
            pieces = [_plain(piece) for piece in partial]
        data = "".join(pieces) if isinstance(last.data, str) else b"".join(pieces)
        partial.clear()
        kinds = self._kinds
        cls = kinds.text if last.type == kinds.types.TEXT else kinds.binary
        return make_message(cls, last.type, data, kinds.extra)

    # -- streaming ------------------------------------------------------------

    async def stream(
        self, on_other: Callable[[Event], None]
    ) -> AsyncIterator[str | bytes]:
        """Yield the next data message piece by piece: one piece per frame,
        as the frames arrive.

        A message that arrived in one frame is yielded in one piece.
        ``on_other`` is called with anything else that comes first (control
        messages, a close, an error); it may raise to end the stream, and
        returning skips the item.  At the end of the queue
        ``on_other(None)`` must raise.

        Cancelling it before the first piece loses nothing.  Leaving it, or
        cancelling it, after a piece and before the message's last leaves
        :attr:`streaming` set: every later read raises
        :class:`Concurrency`, as in websockets, since the rest of the
        message cannot be handed to anyone.
        """
        if self.streaming or self._waiter is not None:
            raise Concurrency(STREAM_UNFINISHED if self.streaming else WAITING)
        # Pieces a cancelled whole-message read had taken come first.
        partial, self.partial = self.partial, []
        if partial:
            self.streaming = True
            for piece in partial:
                yield _plain(piece)
        text, binary = self._kinds.types.TEXT, self._kinds.types.BINARY
        while True:
            item = await self.next(None)
            if item is None:
                on_other(None)
                raise AssertionError("on_other(None) must raise")
            if type(item) is Fragment:
                # Set before the piece is handed out: a consumer that stops
                # after the last one has left nothing behind.
                self.streaming = not item.fin
                yield item.data
                if item.fin:
                    return
            elif item[0] == text or item[0] == binary:
                self.streaming = False
                yield item[1]
                return
            else:
                on_other(item)


#: Why a read cannot start: a stream left a message unfinished.
STREAM_UNFINISHED: Final = (
    "a stream left a message unfinished; the connection can read no more"
)
#: Why a read cannot start: another is waiting.
WAITING: Final = (
    "another task is already waiting for a message; read from one task only"
)
