"""Sends while disconnected: the policy the application chooses, and the
outbox that applies it.

A send goes out at once on the ready connection.  While there is none
(connecting, replaying subscriptions, waiting out a backoff delay), the
policy decides:

* ``SendPolicy.RAISE`` (``"raise"``): raise :class:`~aiows.feeds.Disconnected`
  at once;
* ``SendPolicy.wait(timeout)`` (``"wait"``): wait for the next ready
  connection, then send; :class:`~aiows.feeds.Disconnected` after
  ``timeout`` seconds (None: no limit);
* ``SendPolicy.queue(max)``: queue the message and return; the queue goes
  out in order on the next connection, after its subscriptions and before
  any later send.  A send to a full queue raises
  :class:`~aiows.feeds.SendQueueFull`.

Nothing is dropped silently: refused sends raise and are counted
(``sends_refused``), and a queued message that its connection lost while
writing it is counted (``sends_lost``) and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal

from .errors import Disconnected, FeedClosed, SendQueueFull
from .links import Codec, Link, LinkEnded
from .metrics import FeedMetrics

logger: Final = logging.getLogger("aiows.feeds")

Mode = Literal["raise", "wait", "queue"]


@dataclass(frozen=True)
class SendPolicy:
    """What ``feed.send()`` does while no connection is ready.

    Use :attr:`RAISE`, :meth:`wait` or :meth:`queue`; ``feed(...,
    send_policy="raise")`` and ``"wait"`` name the first two.
    """

    #: ``"raise"``, ``"wait"`` or ``"queue"``.
    mode: Mode
    #: The queue's bound (``queue`` only).
    max: int = 0
    #: How long a send may wait (``wait`` only; None: no limit).
    timeout: float | None = None

    RAISE: ClassVar[SendPolicy]

    def __post_init__(self) -> None:
        if self.mode not in ("raise", "wait", "queue"):
            raise ValueError(
                f"send policy must be 'raise', 'wait' or 'queue', not {self.mode!r}"
            )
        if self.mode == "queue" and (
            not isinstance(self.max, int) or isinstance(self.max, bool) or self.max < 1
        ):
            raise ValueError(f"SendPolicy.queue(max) needs max >= 1, not {self.max!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"timeout must be positive or None, not {self.timeout!r}")

    @classmethod
    def wait(cls, timeout: float | None = None) -> SendPolicy:
        """Wait up to ``timeout`` seconds (None: no limit) for a connection."""
        return cls("wait", timeout=timeout)

    @classmethod
    def queue(cls, max: int) -> SendPolicy:
        """Queue up to ``max`` messages; the next send raises
        :class:`~aiows.feeds.SendQueueFull`."""
        return cls("queue", max=max)

    @classmethod
    def of(cls, value: SendPolicy | str) -> SendPolicy:
        """``value`` as a policy: a :class:`SendPolicy`, ``"raise"`` or
        ``"wait"``."""
        if isinstance(value, SendPolicy):
            return value
        if value in ("raise", "wait"):
            return cls(value)  # type: ignore[arg-type]
        raise ValueError(
            "send_policy must be 'raise', 'wait' or a SendPolicy "
            f"(SendPolicy.queue(max=...) to queue), not {value!r}"
        )


SendPolicy.RAISE = SendPolicy("raise")


class Outbox:
    """Where the feed's sends go: the ready link, or the policy."""

    def __init__(self, policy: SendPolicy, codec: Codec, metrics: FeedMetrics) -> None:
        self._policy = policy
        self._codec = codec
        self._metrics = metrics
        # The ready link: subscriptions replayed, queue flushed.
        self._link: Link | None = None
        self._ready = asyncio.Event()
        # Messages waiting for a connection (policy ``queue``), encoded.
        self._queue: deque[str | bytes] = deque()
        # Set by close(): what later sends raise.
        self._closed: BaseException | None = None

    @property
    def link(self) -> Link | None:
        """The ready link, if any."""
        return self._link

    async def wait_ready(self) -> Link:
        """The ready link, once there is one."""
        while self._link is None:
            if self._closed is not None:
                raise self._closed
            await self._ready.wait()
        return self._link

    async def send(self, message: Any) -> Link | None:
        """Send now, or as the policy says; the link it went on, or None if
        it was queued."""
        payload = self._codec.encode(message)  # a message it cannot encode fails now
        policy = self._policy
        metrics = self._metrics
        while True:
            if self._closed is not None:
                raise self._closed
            link = self._link
            if link is not None and not self._queue:
                try:
                    await link.send(payload)
                except LinkEnded:
                    # Nothing was written: the connection is gone, so the
                    # policy applies.
                    self.detach(link)
                    continue
                except Disconnected:
                    self.detach(link)
                    raise
                return link
            if policy.mode == "queue":
                if len(self._queue) >= policy.max:
                    metrics.sends_refused += 1
                    raise SendQueueFull(
                        f"not connected, and {policy.max} messages already wait "
                        "in the send queue"
                    )
                self._queue.append(payload)
                self._gauge()
                return None
            if policy.mode == "raise":
                metrics.sends_refused += 1
                raise Disconnected("not connected (send policy: raise)")
            try:
                await asyncio.wait_for(self._ready.wait(), policy.timeout)
            except asyncio.TimeoutError:
                metrics.sends_refused += 1
                raise Disconnected(
                    f"no connection was ready within {policy.timeout} s"
                ) from None

    async def attach(self, link: Link) -> bool:
        """Send the queue on ``link`` in order, then make it the ready link.

        False if the link ended first; what was not written stays queued.
        """
        queue = self._queue
        while queue:
            try:
                await link.send(queue[0])
            except LinkEnded:
                return False
            except Disconnected:
                queue.popleft()
                self._gauge()
                self._metrics.sends_lost += 1
                logger.warning(
                    "a queued message may be lost: connection %d ended while "
                    "it was being written",
                    link.number,
                )
                return False
            queue.popleft()
            self._gauge()
        self._link = link
        self._ready.set()
        return True

    def detach(self, link: Link) -> None:
        """``link`` is no longer ready for sends."""
        if self._link is link:
            self._link = None
            self._ready.clear()

    def close(self, error: BaseException | None = None) -> None:
        """Refuse every later send; wake waiting ones; count what is unsent."""
        self._closed = error or FeedClosed("the feed is closed")
        self._link = None
        if self._queue:
            self._metrics.unsent_at_close += len(self._queue)
            logger.warning(
                "feed closed with %d queued messages unsent", len(self._queue)
            )
            self._queue.clear()
            self._gauge()
        self._ready.set()

    def _gauge(self) -> None:
        metrics = self._metrics
        depth = metrics.send_queue_depth = len(self._queue)
        if depth > metrics.send_queue_high_water:
            metrics.send_queue_high_water = depth
