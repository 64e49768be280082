"""What a feed puts in its message stream besides the server's messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reconnected:
    """The feed is connected again: a new connection is ready.

    It comes in the feed's own stream (``async for message in feed``),
    after the last message of the previous connection and before the first
    of the new one, so the application knows where the gap is and can
    resync, for instance over REST::

        async for message in feed:
            if isinstance(message, aiows.feeds.Reconnected):
                book = await fetch_snapshot()   # the gap may have lost updates
                continue
            apply(book, message)
    """

    #: Seconds during which no connection was ready: from the end of the
    #: previous one to the new one's readiness.  0.0 for a hand-over
    #: (make before break), where the old connection delivered until the
    #: new one was ready.
    gap: float
    #: Why the previous connection ended: ``"close 1012"`` (the server's
    #: close code), ``"stall"``, ``"retry later"``, ``"failover"`` (a
    #: message asked to move), or an error's class name.
    cause: str
    #: Whether the server announced its departure (a close with one of
    #: ``failover_codes``, 1001 and 1012 by default, or a message that
    #: ``failover_on`` selected).  After a stable connection the feed then
    #: moves at once, without a backoff delay.
    failover: bool
    #: How many attempts the new connection took (1 when the first worked).
    attempts: int
    #: The ordinal of the new connection: 2 for the first reconnection.
    connection: int
    #: The message a predicate (``failover_on``, ``retry_later``) claimed,
    #: if one ended the previous connection.
    trigger: Any = None
