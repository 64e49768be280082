"""Channels: the messages a feed routes to one consumer, in a bounded queue.

Each channel has a bound and an overflow policy, which says what happens
when a message comes to a full channel:

* ``block``: the feed waits for room.  It stops reading the connection
  meanwhile, so the face's own flow control pauses the socket and the
  server feels the backpressure; every other channel waits too, which
  :attr:`~aiows.feeds.FeedMetrics.blocked_on` and the channel's ``stalls``
  say.
* ``drop_oldest``: the oldest message goes, and is counted.
* ``latest``: one message per key, the newest (order books, tickers); a
  replaced message is counted as dropped, as is the oldest key's when a
  new key comes to a full channel.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any, Final, Literal

from .errors import FeedClosed
from .metrics import ChannelMetrics

Overflow = Literal["block", "drop_oldest", "latest"]
OVERFLOWS: Final = ("block", "drop_oldest", "latest")

#: What selects a channel's messages: a predicate, or a key function.  A
#: result of None or False passes the message by; any other result
#: selects it, and is its key (for ``latest``).
Match = Callable[[Any], Any]


def check_bound(name: str, value: object) -> int:
    """``value`` as a positive bound, or an error naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, not {value!r}")
    return value


class Channel:
    """An async iterator of the messages its ``match`` selects.

    Made by :meth:`aiows.feeds.Feed.channel`::

        tickers = feed.channel(lambda m: m.get("symbol"), overflow="latest")
        async for ticker in tickers:    # the newest per symbol
            ...

    Iteration ends when the feed closes, once the queued messages are
    read; if the feed failed, the error is raised instead.
    """

    def __init__(
        self,
        match: Match | None,
        *,
        name: str,
        maxsize: int = 100,
        overflow: Overflow = "block",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if overflow not in OVERFLOWS:
            raise ValueError(
                f"overflow must be one of {', '.join(OVERFLOWS)}, not {overflow!r}"
            )
        if overflow == "latest" and match is None:
            raise ValueError("overflow='latest' needs a match that gives keys")
        #: What selects this channel's messages (None: the feed's own stream).
        self.match = match
        #: The channel's numbers.
        self.metrics = ChannelMetrics(name, check_bound("maxsize", maxsize), overflow)
        self._maxsize = maxsize
        self._overflow = overflow
        self._clock = clock
        # The queue: messages in order, or for ``latest`` the newest message
        # per key, the least recently updated key first.
        self._items: deque[Any] = deque()
        self._latest: dict[Hashable, Any] = {}
        # Consumers waiting for a message, and the feed waiting for room.
        self._getters: deque[asyncio.Future[None]] = deque()
        self._room: asyncio.Future[None] | None = None
        # Set when the feed closes: None for a normal end, or its error.
        self._closed = False
        self._error: BaseException | None = None

    @property
    def name(self) -> str:
        """The channel's name, as in the metrics."""
        return self.metrics.name

    @property
    def overflow(self) -> str:
        """The overflow policy."""
        return self._overflow

    def __len__(self) -> int:
        return len(self._latest) if self._overflow == "latest" else len(self._items)

    # -- the feed's side ---------------------------------------------------------

    def offer(self, item: Any, key: Any = None, size: int = 0) -> bool:
        """Queue ``item`` without waiting; False when a ``block`` channel
        is full (nothing was queued)."""
        metrics = self.metrics
        if self._closed:
            # Only while the feed shuts down: nobody will read it.
            metrics.drops["closed"] += 1
            return True
        if self._overflow == "latest":
            latest = self._latest
            if key in latest:
                del latest[key]  # re-inserted below: now the newest key
                metrics.drops["latest"] += 1
            elif len(latest) >= self._maxsize:
                del latest[next(iter(latest))]
                metrics.drops["latest"] += 1
            latest[key] = item
            depth = len(latest)
        else:
            items = self._items
            if len(items) >= self._maxsize:
                if self._overflow == "block":
                    return False
                items.popleft()
                metrics.drops["drop_oldest"] += 1
            items.append(item)
            depth = len(items)
        metrics.messages += 1
        metrics.bytes += size
        metrics.depth = depth
        if depth > metrics.high_water:
            metrics.high_water = depth
        self._wake_getter()
        return True

    async def put(self, item: Any, key: Any = None, size: int = 0) -> None:
        """Queue ``item``, waiting for room in a full ``block`` channel."""
        if self.offer(item, key, size):
            return
        metrics = self.metrics
        metrics.stalls += 1
        started = self._clock()
        try:
            while True:
                self._room = asyncio.get_running_loop().create_future()
                await self._room
                if self.offer(item, key, size):
                    return
        finally:
            self._room = None
            metrics.stalled_seconds += self._clock() - started

    def close(self, error: BaseException | None = None) -> None:
        """End the channel: readers get what is queued, then the end (or
        ``error``)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
        if self._room is not None and not self._room.done():
            self._room.set_result(None)

    def _wake_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    # -- the consumer's side -----------------------------------------------------

    def get_nowait(self) -> Any:
        """The next message if one is queued; ``asyncio.QueueEmpty`` if not."""
        if self._overflow == "latest":
            latest = self._latest
            if not latest:
                raise asyncio.QueueEmpty
            item = latest.pop(next(iter(latest)))
            depth = len(latest)
        else:
            if not self._items:
                raise asyncio.QueueEmpty
            item = self._items.popleft()
            depth = len(self._items)
        metrics = self.metrics
        metrics.delivered += 1
        metrics.depth = depth
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)
        return item

    async def get(self) -> Any:
        """The next message, waiting for one.

        Raises :class:`~aiows.feeds.FeedClosed` once the feed closed and
        nothing is left, or the error that ended the feed.
        """
        while not len(self):
            if self._closed:
                raise self._error or FeedClosed(f"channel {self.name!r} is closed")
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                # Woken, then cancelled: pass the wake-up on.
                if getter.done() and not getter.cancelled() and len(self):
                    self._wake_getter()
                raise
        return self.get_nowait()

    def __aiter__(self) -> Channel:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.get()
        except FeedClosed:
            if self._error is None:
                raise StopAsyncIteration from None
            raise
