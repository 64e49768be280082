"""The reconnect loop of a feed, and its hand-overs.

The rules are the reconnect iterator's (:mod:`aiows.session.reconnect`):
the same :class:`~aiows.Backoff` delays, ``Retry-After`` capped at
``Backoff.maximum``, and ``process_exception`` deciding what is retried.
Every attempt runs the face's opener again, so callable headers, the
session's middlewares and its cookies apply to each one.  Three rules
are the feed's own:

* a connection that ends within ``stable_after`` seconds of being ready
  counts as a failure, so a server that accepts and then closes at once
  meets a growing delay, not a storm;
* a close with 1001 or 1012 (``failover_codes``) after a stable
  connection is followed by an attempt at once, without a delay;
* a message that ``failover_on`` selects starts a make-before-break
  hand-over (:meth:`Supervisor._hand_over`).

A connection is *ready* once the ``on_open`` hooks ran and the
subscriptions were sent on it (:mod:`.subscriptions`), and the send queue
went out after them (:mod:`.policy`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..session.reconnect import retry_after
from .channels import Channel
from .errors import Disconnected
from .events import Reconnected
from .links import Ended, Link, LinkEnded
from .metrics import FeedMetrics
from .options import FeedOptions
from .otel import Signals
from .policy import Outbox
from .replies import Replies
from .router import Router
from .subscriptions import Subscriptions

logger: Final = logging.getLogger("aiows.feeds")

#: What ``_catch_up`` returns when the new connection ended first.
_ENDED: Final = object()


def cause_of(exc: BaseException) -> str:
    """A failed attempt's cause, as metrics and events name it."""
    if isinstance(exc, LinkEnded):
        return exc.cause
    return type(exc).__name__


class Supervisor:
    """Keeps one connection of a feed ready, reconnecting as the rules say."""

    def __init__(
        self,
        *,
        open_link: Callable[[], Awaitable[Link]],
        options: FeedOptions,
        registry: Subscriptions,
        outbox: Outbox,
        router: Router,
        replies: Replies,
        main: Channel,
        metrics: FeedMetrics,
        signals: Signals,
        went_live: Callable[[Link], None] | None = None,
    ) -> None:
        self._open_link = open_link
        self._options = options
        self._registry = registry
        self._outbox = outbox
        self._router = router
        self._replies = replies
        self._main = main
        self._metrics = metrics
        self._signals = signals
        self._went_live = went_live
        self._clock = options.clock
        #: The live link (None between connections).
        self.current: Link | None = None
        #: Every link not known to be closed; the feed closes them at the end.
        self.links: set[Link] = set()
        # Closes running in the background (the old side of a hand-over).
        self._closing: set[asyncio.Task[None]] = set()

    # -- the loop ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect, until cancelled or an error is fatal."""
        options = self._options
        backoff = options.backoff
        delays = backoff.delays()
        delay: float | None = None
        attempts = 0
        previous: Ended | None = None
        while True:
            if delay is not None:
                self._metrics.delays.append(delay)
                logger.info("feed %s: next attempt in %.2f s", options.name, delay)
                await options.sleep(delay)
            attempts += 1
            try:
                link = await self._connect(attempts)
            except Exception as exc:
                self._count_or_raise(exc)
                wait = retry_after(exc, backoff.maximum)
                delay = next(delays) if wait is None else wait
                continue
            await self._go_live(link, attempts, previous)
            attempts = 0
            link, previous = await self._serve(link)
            self._metrics.causes[previous.cause] += 1
            self._signals.disconnected(previous.cause)
            lived = previous.at - link.ready_at
            if previous.retry_later:
                delay = previous.delay
                if delay is None:
                    delay = next(delays)
                delay = min(delay, backoff.maximum)
            elif lived < options.stable:
                delay = next(delays)  # it flapped: the backoff goes on
            else:
                delays = backoff.delays()
                announced = previous.code in options.failover_codes
                delay = None if announced else next(delays)

    def _count_or_raise(self, exc: Exception) -> None:
        """Count a failed attempt, or raise what ``process_exception`` says."""
        error = self._options.process_exception(exc)
        if error is exc:
            raise exc
        if error is not None:
            raise error from exc
        self._metrics.causes[cause_of(exc)] += 1
        logger.info("feed %s: attempt failed: %s", self._options.name, exc)

    async def _connect(self, attempt: int) -> Link:
        """Open a connection and prepare it: hooks, then subscriptions."""
        self._metrics.attempts += 1
        number = self._metrics.connections + 1  # if it becomes ready
        with self._signals.connecting(number, attempt):
            link = await self._open_link()
            link.number = number
            self.links.add(link)
            try:
                await self._registry.prepare(link)
            except BaseException:
                self._registry.forget(link)
                link.retiring = True
                self._close_later(link)
                raise
        return link

    async def _go_live(
        self,
        link: Link,
        attempts: int,
        previous: Ended | None,
        *,
        failover: bool = False,
        first: tuple[Any, int] | None = None,
    ) -> None:
        """Make ``link`` the feed's connection: queue out, event, reading."""
        metrics = self._metrics
        await self._outbox.attach(link)
        link.ready_at = self._clock()
        metrics.connections += 1
        link.number = metrics.connections
        self.current = link
        metrics._latency = lambda: link.latency
        if previous is not None:
            metrics.reconnects += 1
            failover = failover or previous.code in self._options.failover_codes
            metrics.failovers += failover
            event = Reconnected(
                gap=max(0.0, link.ready_at - previous.at),
                cause=previous.cause,
                failover=failover,
                attempts=attempts,
                connection=link.number,
                trigger=previous.trigger,
            )
            self._signals.reconnected(event)
            await self._main.put(event)
        link.checking_duplicates = bool(self._router.recent)
        link.start(self._router.route, first, self._clock)
        self._watch_idle(link)
        if self._went_live is not None:
            self._went_live(link)

    async def _serve(self, link: Link) -> tuple[Link, Ended]:
        """Wait until the live link ends, handing over when asked to."""
        tried = False  # a failed hand-over is not tried again on one link
        while True:
            if link.failover.done() and not link.ended.done() and not tried:
                tried = True
                successor = await self._hand_over(link)
                if successor is not None:
                    link, tried = successor, False
                    continue
            if link.ended.done():
                break
            waits = {link.ended} if tried else {link.ended, link.failover}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        ended = link.ended.result()  # an application function's error: fatal
        await self._retire(link)
        return link, ended

    # -- make before break -------------------------------------------------------

    async def _hand_over(self, old: Link) -> Link | None:
        """Move from ``old`` to a new connection, ``old`` delivering until
        the new one is ready; None if no new connection could be made."""
        self._metrics.causes["failover"] += 1
        self._signals.disconnected("failover")
        try:
            new = await self._connect(1)
        except Exception as exc:
            self._count_or_raise(exc)
            return None
        first: Any = None
        if self._options.dedup_key is not None:
            first = await self._catch_up(old, new)
            if first is _ENDED:
                await self._retire(new)
                return None
        if old.ended.done() and old.ended.exception() is not None:
            await self._retire(new)
            return None  # _serve raises old's error
        # Sends go to the new connection from now on; the old one is read
        # to its end below, then closed.
        await self._outbox.attach(new)
        previous = Ended(
            "failover",
            None,
            old.ended.result().at if old.ended.done() else self._clock(),
            trigger=old.failover.result(),
        )
        await self._retire(old)
        await self._go_live(new, 1, previous, failover=True, first=first)
        return new

    async def _catch_up(self, old: Link, new: Link) -> Any:
        """With ``dedup_key``: read the new connection's first message, then
        let the old one deliver up to its key (or end, or time out).

        Returns that first message (it goes out first once the new
        connection is live, a duplicate if the old one delivered it), None
        if none came in time, or ``_ENDED``.
        """
        assert self._options.dedup_key is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.handover_timeout
        read = asyncio.ensure_future(new.next_message())
        first_or_end: set[asyncio.Future[Any]] = {read, old.ended}
        try:
            await asyncio.wait(
                first_or_end,
                timeout=self._options.handover_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if not read.done():
                read.cancel()  # a cancelled receive loses nothing
                await asyncio.wait({read})
        if read.cancelled():
            return None
        error = read.exception()
        if isinstance(error, LinkEnded):
            return _ENDED
        if error is not None:
            raise error
        first = read.result()
        key = self._options.dedup_key(first[0])
        if key is None or key in self._router.recent or old.ended.done():
            return first
        caught_up_or_end: set[asyncio.Future[Any]] = {
            self._router.await_key(key),
            old.ended,
        }
        try:
            await asyncio.wait(
                caught_up_or_end,
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self._router.stop_awaiting()
        return first

    # -- leaving a connection ----------------------------------------------------

    def drop(
        self,
        link: Link,
        cause: str,
        *,
        verdict: Any = True,
        trigger: Any = None,
    ) -> None:
        """Leave ``link`` now (a stall, or "come back later"); it is closed
        in the background."""
        if link.retiring or link.ended.done():
            return
        link.retiring = True
        delay = None
        if isinstance(verdict, (int, float)) and not isinstance(verdict, bool):
            delay = max(0.0, float(verdict))
        retry_later = cause == "retry later"
        link.end(Ended(cause, None, self._clock(), retry_later, delay, trigger))

    def retry_later(self, link: Link, message: Any, verdict: Any) -> None:
        """The router's hook for the ``retry_later`` predicate."""
        self.drop(link, "retry later", verdict=verdict, trigger=message)

    async def _retire(self, link: Link) -> None:
        """Stop using ``link``: no sends, no reading, then close it."""
        link.retiring = True
        self._outbox.detach(link)
        self._registry.forget(link)
        self._replies.fail(
            Disconnected("the connection ended before the reply came"), link
        )
        pump = link.pump
        if pump is not None and not pump.done():
            if link.receiving:
                pump.cancel()  # waiting for a message: nothing is lost
            await asyncio.wait({pump})  # else it finishes routing one
        link.end(Ended("retired", link.close_code, self._clock()))
        if self.current is link:
            self.current = None
        self._close_later(link)

    def _close_later(self, link: Link) -> None:
        task = asyncio.get_running_loop().create_task(link.close())
        self._closing.add(task)

        def closed(task: asyncio.Task[None]) -> None:
            self._closing.discard(task)
            self.links.discard(link)
            if not task.cancelled() and task.exception() is not None:
                logger.debug("closing connection %d: %r", link.number, task.exception())

        task.add_done_callback(closed)

    async def close_all(self) -> None:
        """Close every link (the feed is closing)."""
        for link in list(self.links):
            link.retiring = True
            pump = link.pump
            if pump is not None and not pump.done():
                pump.cancel()
                await asyncio.wait({pump})
            if link.ended.done() and not link.ended.cancelled():
                link.ended.exception()  # retrieved: no "never retrieved" log
            self._close_later(link)
        if self._closing:
            await asyncio.wait(set(self._closing))

    # -- stalls ------------------------------------------------------------------

    def _watch_idle(self, link: Link) -> None:
        """Leave ``link`` after ``idle_timeout`` seconds without a message
        while the feed was waiting for one (not while a ``block`` channel
        held reading back): found between one and two timeouts after the
        last message, with one timer per period, none per message."""
        idle = self._options.idle_timeout
        if idle is None:
            return
        loop = asyncio.get_running_loop()
        seen = [link.received, True]

        def check() -> None:
            if link.retiring or link.ended.done():
                return
            if link.received == seen[0] and link.receiving and seen[1]:
                logger.info(
                    "feed %s: no message for %s s on connection %d",
                    self._options.name,
                    idle,
                    link.number,
                )
                self.drop(link, "stall")
                return
            seen[0], seen[1] = link.received, link.receiving
            loop.call_later(idle, check)

        loop.call_later(idle, check)
