"""Requests and their replies, correlated by a key.

The feed's ``reply_key`` function names the request a message answers (its
``id``, say), or None for a message that answers none.  A reply goes to
the request waiting for it, and to no channel; a message whose key no
request waits for (it came after its request timed out, say) is routed
as any other message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

from .errors import TooManyRequests
from .links import Link
from .metrics import FeedMetrics

#: Names the request a message answers, or None.
ReplyKey = Callable[[Any], Any]


class Replies:
    """The requests waiting for a reply: at most ``max_pending``."""

    def __init__(
        self, key: ReplyKey | None, max_pending: int, metrics: FeedMetrics
    ) -> None:
        self.key = key
        self._max = max_pending
        self._metrics = metrics
        # Key -> (the future of the reply, the link the request went on:
        # None while it waits in the send queue).
        self._pending: dict[Hashable, tuple[asyncio.Future[Any], Link | None]] = {}

    def expect(self, key: Hashable, link: Link | None) -> asyncio.Future[Any]:
        """A future for the reply with ``key`` to a request to be sent on
        ``link`` (None: not yet known)."""
        if self.key is None:
            raise TypeError("feed.request() needs the feed's reply_key=")
        if key in self._pending:
            raise ValueError(f"a request with key {key!r} already waits for a reply")
        if len(self._pending) >= self._max:
            raise TooManyRequests(
                f"{self._max} requests already wait for replies (max_requests)"
            )
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = (future, link)
        self._metrics.requests_pending = len(self._pending)
        return future

    def bind(self, key: Hashable, link: Link) -> None:
        """The request with ``key`` went on ``link``: it fails if ``link``
        ends before the reply comes."""
        waiting = self._pending.get(key)
        if waiting is not None:
            self._pending[key] = (waiting[0], link)

    def discard(self, key: Hashable) -> None:
        """Stop waiting for ``key`` (timed out, cancelled, or the send failed)."""
        self._pending.pop(key, None)
        self._metrics.requests_pending = len(self._pending)

    def resolve(self, message: Any) -> bool:
        """Hand ``message`` to the request it answers; False if none waits."""
        assert self.key is not None
        key = self.key(message)
        if key is None:
            return False
        try:
            waiting = self._pending.pop(key)
        except (KeyError, TypeError):  # TypeError: an unhashable key
            return False
        future = waiting[0]
        self._metrics.requests_pending = len(self._pending)
        if future.done():  # cancelled in the same loop turn
            return False
        future.set_result(message)
        self._metrics.replies += 1
        return True

    def fail(self, error: BaseException, link: Link | None = None) -> None:
        """Fail the requests sent on ``link`` (all, if None) with ``error``;
        those still queued wait for the next connection."""
        for key, (future, sent_on) in list(self._pending.items()):
            if link is None or sent_on is link:
                del self._pending[key]
                if not future.done():
                    future.set_exception(error)
                    self._metrics.requests_failed += 1
        self._metrics.requests_pending = len(self._pending)
