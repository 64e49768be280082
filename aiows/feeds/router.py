"""Where each message of a live connection goes, in this order:

1. ``retry_later`` and ``failover_on``: a message either claims is control,
   not data; it ends or moves the connection and goes nowhere else;
2. the request waiting for it, if ``reply_key`` names one;
3. de-duplication: at the head of a new connection, a message whose
   ``dedup_key`` was among the last ones delivered is skipped;
4. every channel whose ``match`` selects it; if none does, the feed's own
   stream (or, under a listener, the listener's ``on_message``).

Routing is synchronous, so the listener face can route from inside the
socket read.  Only a full ``block`` channel makes the caller wait: then
:meth:`Router.route` returns an awaitable, and the connection is not read
until it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from .channels import Channel, Match
from .links import Link
from .metrics import FeedMetrics
from .replies import Replies

#: Where a message no channel selects goes under a listener.
DefaultSink = Callable[[Any, Link], None]
#: What a ``retry_later`` verdict does: (link, message, verdict).
RetryLater = Callable[[Link, Any, Any], None]


class Router:
    """Routes the messages of a feed's live connections."""

    def __init__(
        self,
        *,
        main: Channel,
        replies: Replies,
        metrics: FeedMetrics,
        retry_later: Callable[[Any], Any] | None,
        failover_on: Callable[[Any], Any] | None,
        dedup_key: Callable[[Any], Any] | None,
        dedup_window: int,
        on_retry_later: RetryLater,
    ) -> None:
        # The channels and their match functions, in the order made.
        self._routes: list[tuple[Channel, Match]] = []
        #: Under a listener: where unselected messages go (else ``main``).
        self.default: DefaultSink | None = None
        self._main = main
        self._replies = replies
        self._metrics = metrics
        self._retry_later = retry_later
        self._failover_on = failover_on
        self._dedup_key = dedup_key
        self._window = dedup_window
        self._on_retry_later = on_retry_later
        #: The last ``dedup_window`` keys delivered, oldest first.
        self.recent: dict[Hashable, None] = {}
        # A hand-over waits for the old connection to deliver this key.
        self._awaited: Hashable = None
        self._reached: asyncio.Future[None] | None = None

    def route(self, message: Any, size: int, link: Link) -> Awaitable[None] | None:
        """Deliver one message of ``link``; an awaitable if it must wait."""
        metrics = self._metrics
        metrics.messages_in += 1
        metrics.bytes_in += size
        if self._retry_later is not None:
            verdict = self._retry_later(message)
            if verdict is not None and verdict is not False:
                metrics.control += 1
                self._on_retry_later(link, message, verdict)
                return None
        if self._failover_on is not None and self._failover_on(message):
            metrics.control += 1
            if not link.failover.done():
                link.failover.set_result(message)
            return None
        if self._replies.key is not None and self._replies.resolve(message):
            return None
        if self._dedup_key is not None and self._is_duplicate(message, link):
            return None
        blocked: list[tuple[Channel, Any]] | None = None
        selected = False
        for channel, match in self._routes:
            key = match(message)
            if key is None or key is False:
                continue
            selected = True
            if not channel.offer(message, key, size):
                blocked = [*(blocked or ()), (channel, key)]
        if not selected:
            if self.default is not None:
                self.default(message, link)
            elif not self._main.offer(message, None, size):
                blocked = [(self._main, None)]
        if blocked is None:
            return None
        return self._wait(blocked, message, size)

    @property
    def channels(self) -> list[Channel]:
        """The channels, in the order they were made."""
        return [channel for channel, _ in self._routes]

    def add(self, channel: Channel, match: Match) -> None:
        """Route the messages ``match`` selects to ``channel`` too."""
        self._routes.append((channel, match))

    async def _wait(
        self, blocked: list[tuple[Channel, Any]], message: Any, size: int
    ) -> None:
        metrics = self._metrics
        for channel, key in blocked:
            metrics.blocked_on = channel.name
            try:
                await channel.put(message, key, size)
            finally:
                metrics.blocked_on = None

    def _is_duplicate(self, message: Any, link: Link) -> bool:
        assert self._dedup_key is not None
        key = self._dedup_key(message)
        if key is None:
            return False
        recent = self.recent
        if link.checking_duplicates:
            if key in recent:
                self._metrics.duplicates += 1
                return True
            # The first new message: the overlap with what came before is over.
            link.checking_duplicates = False
        recent[key] = None
        if len(recent) > self._window:
            del recent[next(iter(recent))]
        reached = self._reached
        if key == self._awaited and reached is not None and not reached.done():
            reached.set_result(None)
        return False

    def await_key(self, key: Hashable) -> asyncio.Future[None]:
        """A future set when a message with ``key`` is delivered."""
        self._awaited = key
        self._reached = asyncio.get_running_loop().create_future()
        return self._reached

    def stop_awaiting(self) -> None:
        self._awaited = None
        self._reached = None
