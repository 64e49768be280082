"""A feed's options: frozen, and checked once, where they are given.

``aiows.feed(url, ...)`` and ``session.ws_feed(url, ...)`` take the feed's
own keywords (below) beside the face's connect keywords; this module takes
the feed's out and checks them, so a bad value fails at the call with an
error that names the argument.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ..session.reconnect import Backoff, ProcessException, process_exception
from .channels import check_bound
from .policy import SendPolicy

#: Close codes that announce the server's departure (RFC 6455 §7.4.1:
#: 1001 going away; IANA registry: 1012 service restart).
FAILOVER_CODES: Final = frozenset({1001, 1012})


@dataclass(frozen=True)
class FeedOptions:
    """Everything a feed does beyond opening a connection."""

    #: Delays between attempts; ``sleep`` and ``clock`` replace time in tests.
    backoff: Backoff = field(default_factory=Backoff)
    #: The retry rule: None to retry an error, or the error to raise.
    process_exception: ProcessException = process_exception
    #: A connection that ends sooner than this (seconds after it was ready)
    #: counts as a failure: the backoff goes on growing instead of
    #: starting over.  None: ``backoff.reset_after``.
    stable_after: float | None = None
    #: Close codes after which the feed moves at once, without a delay.
    failover_codes: frozenset[int] = FAILOVER_CODES
    #: A message that asks the feed to move to a new connection (make
    #: before break).
    failover_on: Callable[[Any], Any] | None = None
    #: A message that means "come back later": True to close and wait the
    #: next backoff delay, or a number of seconds (at most
    #: ``backoff.maximum``).
    retry_later: Callable[[Any], Any] | None = None
    #: What identifies a message (a sequence number, an event id), to skip
    #: what a new connection repeats; and how many recent keys are kept.
    dedup_key: Callable[[Any], Any] | None = None
    dedup_window: int = 4096
    #: With ``dedup_key``: how long (seconds) a hand-over waits for the old
    #: connection to catch up with the new one.
    handover_timeout: float = 5.0
    #: What a send does while no connection is ready.
    send_policy: SendPolicy = field(default_factory=lambda: SendPolicy.wait())
    #: The feed's own stream: its bound and overflow policy (``block`` or
    #: ``drop_oldest``; under a listener, ``drop_oldest`` by default).
    max_queue: int = 100
    overflow: str | None = None
    #: Names the request a message answers, for ``feed.request()``; and
    #: how many requests may wait at once.
    reply_key: Callable[[Any], Any] | None = None
    max_requests: int = 1000
    #: A connection with no message for this long (seconds) is stalled:
    #: the feed leaves it and reconnects.  None: never.
    idle_timeout: float | None = None
    #: Decode each received payload; encode what is neither str nor bytes.
    loads: Callable[[Any], Any] | None = None
    dumps: Callable[[Any], str | bytes] | None = None
    #: The feed's name in metrics and traces (default: the URL).
    name: str | None = None
    #: OpenTelemetry: a :class:`~aiows.feeds.otel.Telemetry`, False for
    #: none, None for the global providers when opentelemetry is installed.
    telemetry: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be an aiows.Backoff, not {self.backoff!r}")
        for name in ("failover_on", "retry_later", "dedup_key", "reply_key"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable, not {value!r}")
        for name in ("loads", "dumps", "process_exception"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable, not {value!r}")
        check_bound("dedup_window", self.dedup_window)
        check_bound("max_queue", self.max_queue)
        check_bound("max_requests", self.max_requests)
        _seconds("handover_timeout", self.handover_timeout)
        if self.stable_after is not None:
            _seconds("stable_after", self.stable_after, zero=True)
        if self.idle_timeout is not None:
            _seconds("idle_timeout", self.idle_timeout)
        if self.overflow not in (None, "block", "drop_oldest"):
            raise ValueError(
                "overflow (the feed's own stream) must be 'block' or "
                f"'drop_oldest', not {self.overflow!r}; 'latest' is for channels"
            )

    @property
    def stable(self) -> float:
        """Seconds a connection must last not to count as a failure."""
        if self.stable_after is None:
            return self.backoff.reset_after
        return self.stable_after

    @property
    def clock(self) -> Callable[[], float]:
        return self.backoff.clock or time.monotonic

    @property
    def sleep(self) -> Callable[[float], Awaitable[object]]:
        return self.backoff.sleep or asyncio.sleep


def _seconds(name: str, value: Any, *, zero: bool = False) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or value < 0
        or (value == 0 and not zero)
    ):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


#: The keywords that belong to the feed, not to the face.
FEED_KEYWORDS: Final = frozenset(FeedOptions.__dataclass_fields__)


def split_options(kwargs: dict[str, Any]) -> tuple[FeedOptions, dict[str, Any]]:
    """The feed's options from ``kwargs``, and the rest for the face."""
    own = {name: kwargs.pop(name) for name in list(kwargs) if name in FEED_KEYWORDS}
    if "send_policy" in own:
        own["send_policy"] = SendPolicy.of(own["send_policy"])
    if own.get("process_exception") is None:
        own.pop("process_exception", None)
    if "failover_codes" in own:
        own["failover_codes"] = frozenset(_codes(own["failover_codes"]))
    if own.get("backoff") is None:
        own.pop("backoff", None)
    return FeedOptions(**own), kwargs


def _codes(codes: Iterable[int]) -> Iterable[int]:
    for code in codes:
        if not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ValueError(f"failover_codes: {code!r} is not a close code")
        yield code
