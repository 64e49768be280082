"""A feed under the listener API: callbacks for the hot path.

With ``aiows.feed(url, face=MyListener())`` the connections are opened
with ``ws_listen`` and a :class:`FeedListener` of the feed's own stands
between them and the application's listener.  It routes each message
from inside the socket read, as the listener API does, with no task per
message: the same replay, failover, de-duplication, channels and replies
as the other faces.  What no channel selects goes to the application's
``on_message(ws, kind, data)`` (``data`` decoded with ``loads``, if
given).

Three differences from the other faces follow from the callbacks:

* a callback cannot wait, so ``block`` channels are refused: use
  ``drop_oldest`` or ``latest``;
* the application's ``on_open(ws)`` runs when a connection is ready
  (hooks and subscriptions done), not when it opens, so nothing it sends
  comes before the replay; ``on_close`` runs for every connection that
  was ready;
* the feed's own stream carries only :class:`~aiows.feeds.Reconnected`
  events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from aiohttp import WSMsgType

from ..faces.listener import Listener, ListenerConnection
from .links import ABNORMAL, Codec, Ended, Link, LinkEnded, Route, StrOrBytesLink
from .metrics import FeedMetrics, payload_size

logger: Final = logging.getLogger("aiows.feeds")

#: RFC 6455 §7.4.1: the client ends a connection whose server sent more
#: than the feed may hold before the connection was ready.
POLICY_VIOLATION: Final = 1008


class ListenerLink(StrOrBytesLink):
    """A link over ``aiows.ListenerConnection``.

    Until it is live, its messages wait in a bounded inbox, where
    ``on_open`` hooks read them with :meth:`recv`; then they are routed as
    they arrive.
    """

    def __init__(
        self,
        ws: ListenerConnection,
        codec: Codec,
        metrics: FeedMetrics,
        max_inbox: int,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(ws, 0, codec, metrics)
        self._max_inbox = max_inbox
        self._clock = clock
        self._inbox: deque[tuple[Any, int, WSMsgType]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._route: Route | None = None
        self._code: int | None = None
        # The kind of the message next_message() returned last.
        self._last_kind: WSMsgType = WSMsgType.TEXT
        #: The kind of the message being routed (for the listener's
        #: ``on_message``).
        self.kind: WSMsgType = WSMsgType.TEXT

    @property
    def live(self) -> bool:
        return self._route is not None

    # -- from the socket ---------------------------------------------------------

    def put(self, kind: WSMsgType, data: Any) -> None:
        """A message from the server (inside the socket read)."""
        if self.retiring:
            return  # handed over: the new connection carries what follows
        self.received += 1
        message, size = self.decode(data), payload_size(data)
        route = self._route
        if route is not None:
            self.kind = kind
            waiter = route(message, size, self)
            assert waiter is None, "a listener feed has no block channel"
            return
        if len(self._inbox) >= self._max_inbox:
            logger.warning(
                "connection %d: more than %d messages before it was ready; closing",
                self.number,
                self._max_inbox,
            )
            self.retiring = True
            self.end(Ended("inbox overflow", None, self._clock()))
            asyncio.get_running_loop().create_task(
                self.close(POLICY_VIOLATION, "too many messages before ready")
            )
            return
        self._inbox.append((message, size, kind))
        self._wake()

    def closed_with(self, code: int) -> None:
        """The connection is gone (inside ``on_close``)."""
        self._code = code
        self.end(Ended(f"close {code}", code, self._clock()))
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the link's API ----------------------------------------------------------

    async def next_message(self) -> tuple[Any, int]:
        while not self._inbox:
            if self._code is not None or self.ended.done():
                raise LinkEnded(self._code or ABNORMAL)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message, size, self._last_kind = self._inbox.popleft()
        return message, size

    def start(
        self,
        route: Route,
        first: tuple[Any, int] | None,
        clock: Callable[[], float],
    ) -> None:
        # Synchronous: what waited is routed, in order, before the next
        # callback can run.
        self.receiving = True
        if first is not None:
            self._inbox.appendleft((first[0], first[1], self._last_kind))
        self._route = route
        while self._inbox and not self.retiring:
            message, size, self.kind = self._inbox.popleft()
            waiter = route(message, size, self)
            assert waiter is None, "a listener feed has no block channel"

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


class FeedListener(Listener):
    """The listener a feed opens its connections with: it hands each
    message to its connection's :class:`ListenerLink`."""

    def __init__(
        self,
        user: Listener,
        make_link: Callable[[ListenerConnection], ListenerLink],
    ) -> None:
        self.user = user
        self._make_link = make_link
        self._links: dict[ListenerConnection, ListenerLink] = {}

    def link_of(self, ws: ListenerConnection) -> ListenerLink:
        """The link made for ``ws`` when it opened."""
        return self._links[ws]

    def deliver(self, message: Any, link: Link) -> None:
        """The router's default sink: the application's ``on_message``."""
        assert isinstance(link, ListenerLink)
        self.user.on_message(link.ws, link.kind, message)

    def on_open(self, ws: ListenerConnection) -> None:
        self._links[ws] = self._make_link(ws)

    def on_message(self, ws: ListenerConnection, kind: WSMsgType, data: Any) -> None:
        link = self._links.get(ws)
        if link is None:  # pragma: no cover - on_open always runs first
            return
        try:
            link.put(kind, data)
        except Exception as exc:
            # As under the other faces, an application function that
            # raises ends the feed with its error.
            link.retiring = True
            if not link.ended.done():
                link.ended.set_exception(exc)

    def on_close(self, ws: ListenerConnection, code: int, reason: str) -> None:
        link = self._links.pop(ws, None)
        if link is None:  # pragma: no cover - on_open always runs first
            return
        was_live = link.live
        link.closed_with(code)
        if was_live:
            self.user.on_close(ws, code, reason)

    def went_live(self, link: Link) -> None:
        """Tell the application's listener its connection is ready."""
        self.user.on_open(link.ws)
