"""The feed: a WebSocket that comes back by itself, in the state the
application put it in.

A :class:`Feed` holds one connection at a time, opened with one of the
faces (:mod:`.opening`), and keeps it: it reconnects with backoff
(:mod:`.supervisor`), replays the subscriptions on every new connection
(:mod:`.subscriptions`), sends by a policy while disconnected
(:mod:`.policy`), hands over without a gap when the server leaves,
routes messages to bounded channels (:mod:`.channels`, :mod:`.router`),
answers requests (:mod:`.replies`) and counts everything
(:mod:`.metrics`, :mod:`.otel`).  It holds a connection; it is not one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Hashable
from dataclasses import replace
from types import TracebackType
from typing import Any, Final

import aiohttp
from yarl import URL

from ..faces.listener import Listener
from ..session.client import ClientSession
from .channels import Channel, Match, Overflow
from .errors import FeedClosed, RequestTimeout
from .links import Codec, Link
from .metrics import FeedMetrics
from .opening import Opening
from .options import split_options
from .otel import Signals, signals_for
from .policy import Outbox
from .replies import Replies
from .router import Router
from .subscriptions import OnOpen, Subscription, Subscriptions
from .supervisor import Supervisor

logger: Final = logging.getLogger("aiows.feeds")


class Feed:
    """A WebSocket feed that survives: reconnection, replayed subscriptions,
    failover without a gap, bounded channels, metrics.

    Made by :func:`aiows.feed` or :meth:`aiows.ClientSession.ws_feed`::

        async with aiows.feed("wss://example.com/md", loads=json.loads,
                              dumps=json.dumps) as feed:
            await feed.subscribe({"op": "subscribe", "symbol": "BTC"},
                                 unsubscribe={"op": "unsubscribe", "symbol": "BTC"})
            async for message in feed:
                if isinstance(message, aiows.feeds.Reconnected):
                    ...  # resync: the gap may have lost messages
                else:
                    ...

    ``async for`` yields the server's messages (as the face gives them,
    decoded with ``loads``) that no channel selects, and a
    :class:`~aiows.feeds.Reconnected` event where each new connection
    begins.  It ends when the feed closes, or raises the error that ended
    the feed (one the retry rule does not retry).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        face: str | Listener = "websockets",
        session: ClientSession | aiohttp.ClientSession | None = None,
        **kwargs: Any,
    ) -> None:
        options, connect_kwargs = split_options(dict(kwargs))
        if options.name is None:
            name = str(URL(str(url)).with_user(None).with_password(None))
            options = replace(options, name=name)
        self._options = options
        #: The feed's numbers: see :class:`~aiows.feeds.FeedMetrics`.
        self.metrics = FeedMetrics()
        clock = options.clock
        codec = self._codec = Codec(options.loads, options.dumps)
        self._opening = Opening(
            url, face, session, connect_kwargs, codec, self.metrics, clock
        )
        listener = self._opening.listener
        overflow = options.overflow or ("drop_oldest" if listener else "block")
        if listener is not None and overflow == "block":
            raise ValueError(_NO_BLOCK)
        self._main = Channel(
            None,
            name="main",
            maxsize=options.max_queue,
            overflow=overflow,  # type: ignore[arg-type]
            clock=clock,
        )
        self.metrics.channels["main"] = self._main.metrics
        self._replies = Replies(options.reply_key, options.max_requests, self.metrics)
        self._registry = Subscriptions()
        self._outbox = Outbox(options.send_policy, codec, self.metrics)
        self._router = Router(
            main=self._main,
            replies=self._replies,
            metrics=self.metrics,
            retry_later=options.retry_later,
            failover_on=options.failover_on,
            dedup_key=options.dedup_key,
            dedup_window=options.dedup_window,
            on_retry_later=self._retry_later,
        )
        if listener is not None:
            self._router.default = listener.deliver
        self._supervisor: Supervisor | None = None
        self._signals: Signals | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self.connected else "waiting"
        return f"<Feed {self._options.name} {state}>"

    # -- state -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The feed's name in logs, metrics and traces (the URL by default)."""
        assert self._options.name is not None
        return self._options.name

    @property
    def connected(self) -> bool:
        """Whether a connection is ready (subscriptions replayed)."""
        return self._outbox.link is not None

    @property
    def connection(self) -> Any:
        """The ready connection as the face made it (``aiows.ClientConnection``,
        ``aiows.ClientWebSocketResponse`` or ``aiows.ListenerConnection``),
        or None."""
        link = self._outbox.link
        return None if link is None else link.ws

    @property
    def subscriptions(self) -> list[Subscription]:
        """The active subscriptions, in the order they are replayed."""
        return self._registry.entries

    @property
    def closed(self) -> bool:
        """Whether the feed was closed, or ended with an error."""
        return self._closed or self._error is not None

    def exception(self) -> BaseException | None:
        """The error that ended the feed, if one did."""
        return self._error

    async def ready(self, timeout: float | None = None) -> Any:
        """Wait until a connection is ready; return it (see :attr:`connection`).

        Raises ``asyncio.TimeoutError`` after ``timeout`` seconds, or the
        error that ended the feed.
        """
        link = await asyncio.wait_for(self._outbox.wait_ready(), timeout)
        return link.ws

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (``async with`` and ``async for`` call this)."""
        if self._closed:
            raise FeedClosed("the feed is closed")
        if self._task is not None:
            return
        self._signals = signals_for(self._options.telemetry, self.name, self.metrics)
        listener = self._opening.listener
        self._supervisor = Supervisor(
            open_link=self._opening.open,
            options=self._options,
            registry=self._registry,
            outbox=self._outbox,
            router=self._router,
            replies=self._replies,
            main=self._main,
            metrics=self.metrics,
            signals=self._signals,
            went_live=None if listener is None else listener.went_live,
        )
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        assert self._supervisor is not None
        try:
            await self._supervisor.run()
        except Exception as exc:
            logger.error("feed %s ended: %r", self.name, exc)
            self._error = exc
            self._end(exc)
            await self._supervisor.close_all()

    def _end(self, error: BaseException | None) -> None:
        """Nothing more comes: channels end, sends and requests fail."""
        ended = error or FeedClosed("the feed is closed")
        self._main.close(error)
        for channel in self._router.channels:
            channel.close(error)
        self._outbox.close(ended)
        self._replies.fail(ended)

    async def close(self) -> None:
        """Close the feed: its connection with 1000, its channels (their
        readers get what is queued, then the end), its pending sends and
        requests (:class:`~aiows.feeds.FeedClosed`)."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        self._end(self._error)
        if self._supervisor is not None:
            await self._supervisor.close_all()
        await self._opening.close()
        if self._signals is not None:
            self._signals.close()

    async def __aenter__(self) -> Feed:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- receiving ---------------------------------------------------------------

    async def recv(self) -> Any:
        """The next item of the feed's own stream (a message or an event).

        Raises :class:`~aiows.feeds.FeedClosed` once the feed closed and
        nothing is left, or the error that ended the feed.
        """
        return await self._main.get()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        # A feed iterated without ``async with`` is started here and closed
        # when the loop ends.
        owned = self._task is None
        if owned:
            await self.start()
        try:
            async for item in self._main:
                yield item
        finally:
            if owned:
                await self.close()

    def channel(
        self,
        match: Match,
        *,
        maxsize: int = 100,
        overflow: Overflow = "block",
        name: str | None = None,
    ) -> Channel:
        """A channel of the messages ``match`` selects; see
        :class:`~aiows.feeds.Channel`.

        ``match(message)`` returns None or False to pass a message by, and
        anything else to select it: that value is the message's key for
        ``overflow="latest"``.  A message goes to every channel that selects
        it, and to the feed's own stream only if none does.
        """
        if not callable(match):
            raise TypeError(f"match must be callable, not {match!r}")
        if self._opening.listener is not None and overflow == "block":
            raise ValueError(_NO_BLOCK)
        name = name or f"channel-{len(self._router.channels) + 1}"
        if name in self.metrics.channels:
            raise ValueError(f"a channel named {name!r} exists already")
        channel = Channel(
            match,
            name=name,
            maxsize=maxsize,
            overflow=overflow,
            clock=self._options.clock,
        )
        if self.closed:
            channel.close(self._error)
        self.metrics.channels[name] = channel.metrics
        self._router.add(channel, match)
        return channel

    # -- sending -----------------------------------------------------------------

    async def send(self, message: Any) -> None:
        """Send ``message`` (``str``, ``bytes``, or what ``dumps`` encodes)
        on the ready connection, or as the send policy says while there is
        none (see :class:`~aiows.feeds.SendPolicy`)."""
        await self._outbox.send(message)

    async def subscribe(self, message: Any, *, unsubscribe: Any = None) -> Subscription:
        """Register ``message`` to be sent on every new connection, after the
        ``on_open`` hooks, in the order of registration; send it now too if
        a connection is ready.  ``message`` may be a function returning the
        message (called for each connection).  Returns the handle to pass
        to :meth:`unsubscribe`."""
        # A message the feed cannot encode fails here, not at a replay.
        for given in (message, unsubscribe):
            if given is not None and not callable(given):
                self._codec.encode(given)
        return await self._registry.subscribe(message, unsubscribe)

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Remove ``subscription`` and send its ``unsubscribe`` message on
        the connection that has it, if open."""
        await self._registry.unsubscribe(subscription)

    def on_open(self, hook: OnOpen) -> OnOpen:
        """Add ``hook``, awaited with each new connection (a
        :class:`~aiows.feeds.links.Link`) before the subscriptions go out;
        usable as a decorator.  It may send and receive (an auth exchange,
        GraphQL's ``connection_init``); if it raises, the attempt fails and
        the retry rule decides."""
        self._registry.add_hook(hook)
        return hook

    async def request(
        self, message: Any, *, key: Hashable, timeout: float | None = 10.0
    ) -> Any:
        """Send ``message`` and return the reply whose ``reply_key`` is
        ``key``.

        Raises :class:`~aiows.feeds.RequestTimeout` after ``timeout``
        seconds, :class:`~aiows.feeds.Disconnected` if its connection ended
        first, and what :meth:`send` raises.
        """
        reply = self._replies.expect(key, None)
        try:
            link = await self._outbox.send(message)
            if link is not None:
                self._replies.bind(key, link)
            return await asyncio.wait_for(reply, timeout)
        except asyncio.TimeoutError:
            self.metrics.requests_timed_out += 1
            raise RequestTimeout(
                f"no reply with key {key!r} within {timeout} s"
            ) from None
        finally:
            self._replies.discard(key)

    def _retry_later(self, link: Link, message: Any, verdict: Any) -> None:
        assert self._supervisor is not None  # messages come once started
        self._supervisor.retry_later(link, message, verdict)


_NO_BLOCK: Final = (
    "a listener delivers from inside the socket read and cannot wait: use "
    "overflow='drop_oldest' or 'latest', not 'block'"
)


def feed(
    url: str | URL,
    *,
    face: str | Listener = "websockets",
    session: ClientSession | aiohttp.ClientSession | None = None,
    **kwargs: Any,
) -> Feed:
    """A :class:`Feed` on ``url``; see :doc:`/feeds`.

    ``face`` is ``"websockets"`` (messages are ``str``/``bytes``, the
    connection is opened with :func:`aiows.connect`), ``"aiohttp"``
    (``aiohttp.WSMessage``, opened with ``ws_connect``) or an
    :class:`aiows.Listener` instance (callbacks, opened with ``ws_listen``).
    ``session`` runs the connections on that session, with its
    credentials, cookies and connector; without it, on sessions of their
    own.  The other keywords are the feed's (``backoff``,
    ``process_exception``, ``stable_after``, ``failover_codes``,
    ``failover_on``, ``retry_later``, ``dedup_key``, ``dedup_window``,
    ``handover_timeout``, ``send_policy``, ``max_queue``, ``overflow``,
    ``reply_key``, ``max_requests``, ``idle_timeout``, ``loads``,
    ``dumps``, ``name``, ``telemetry``: see
    :class:`~aiows.feeds.options.FeedOptions`) or the face's, checked here.
    """
    return Feed(url, face=face, session=session, **kwargs)
