"""When to try again: the reconnection delays and ``Retry-After``.

Both reconnect iterators (the asyncio one in :mod:`aiows.session.reconnect`
and the threading one in :mod:`aiows.sync`) wait by these rules, so a fleet
of clients backs off the same way whichever API it uses.  Nothing here
waits: the drivers do, each with its own clock.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

#: Statuses that say "try again later" (RFC 9110 §15.6, RFC 6585 §4).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

#: Statuses whose ``Retry-After`` a client honours (RFC 9110 §10.2.3: it
#: means "how long to wait" on 503 and, by RFC 6585 §4, on 429).
RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


@dataclass(frozen=True)
class Backoff:
    """How long to wait between reconnection attempts.

    The first delay is random between 0 and ``initial`` seconds, so a fleet
    of clients that lost the same server does not return all at once.  Then
    the delay starts at ``minimum`` and is multiplied by ``factor`` after each
    failure, up to ``maximum``; each one is scaled by a random factor between
    ``1 - jitter`` and ``1 + jitter`` (and never exceeds ``maximum``).  A
    connection that stayed open ``reset_after`` seconds starts the sequence
    over.

    ``sleep`` is the function that waits and ``clock`` the one that tells
    the time; tests replace them to check delays without waiting.  The
    asyncio faces await ``sleep`` (default ``asyncio.sleep``); the threading
    face calls it (default: a wait that stopping the iterator interrupts).
    ``clock`` defaults to ``time.monotonic``.

    >>> delays = Backoff(random=lambda: 0.5).delays()
    >>> next(delays), next(delays), next(delays)
    (0.5, 2.0, 3.6)
    """

    initial: float = 1.0
    minimum: float = 2.0
    factor: float = 1.8
    maximum: float = 60.0
    jitter: float = 0.25
    reset_after: float = 30.0
    sleep: Callable[[float], Any] | None = None
    clock: Callable[[], float] | None = None
    random: Callable[[], float] = random.random

    def delays(self) -> Iterator[float]:
        """The sequence of delays, from the first failure on."""
        yield self.initial * self.random()
        base = self.minimum
        while True:
            scale = 1.0 - self.jitter + 2.0 * self.jitter * self.random()
            yield min(self.maximum, base * scale)
            base = min(self.maximum, base * self.factor)


def parse_retry_after(
    value: str, *, now: float, maximum: float = math.inf
) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait, at most ``maximum``.

    RFC 9110 §10.2.3: the value is delay-seconds (ASCII digits) or an
    HTTP-date, compared with ``now`` (seconds since the epoch).  Anything
    else is None, so the usual backoff applies.  A server decides neither
    how long a client sleeps nor whether it raises: hence ``maximum``.

    >>> parse_retry_after(" 7 ", now=0.0), parse_retry_after("soon", now=0.0)
    (7.0, None)
    """
    value = value.strip()
    # delay-seconds is 1*DIGIT, and DIGIT is ASCII 0-9 (RFC 5234 §B.1);
    # str.isdigit() alone also takes "²" and other Unicode digits, which
    # float() then refuses.
    if value.isascii() and value.isdigit():
        return min(maximum, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
        # RFC 9110 §5.6.7: an HTTP-date is always GMT, also in the obsolete
        # asctime form, which has no zone and would otherwise be local time.
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - now
    except (TypeError, ValueError, OverflowError):  # OverflowError: a huge year
        return None
    return min(maximum, max(0.0, seconds))
