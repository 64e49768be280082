"""What a feed counts, as plain numbers: read them from ``feed.metrics``.

Counters only grow; gauges (``depth``, ``ping_rtt``, ``blocked_on``) say
how things stand now.  Nothing here costs more than an addition on the
message path; :mod:`.otel` reports the same numbers to OpenTelemetry by
reading them when its reader asks.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

#: How many recent backoff delays :attr:`FeedMetrics.delays` keeps.
DELAY_HISTORY: Final = 32


def payload_size(data: object) -> int:
    """Bytes of a message's payload: UTF-8 length for text.

    ``str.isascii()`` is a flag CPython keeps, so ASCII text (most JSON)
    is measured without encoding it.
    """
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode("utf-8"))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    return 0


@dataclass
class ChannelMetrics:
    """The numbers of one channel (the feed's own stream is ``"main"``)."""

    #: The channel's name.
    name: str
    #: Its bound: messages for ``block`` and ``drop_oldest``, keys for
    #: ``latest``.
    maxsize: int
    #: Its overflow policy.
    overflow: str
    #: Messages put in (events included), and their payload bytes.
    messages: int = 0
    bytes: int = 0
    #: Items the consumer took.
    delivered: int = 0
    #: Items waiting now, and the most that ever waited.
    depth: int = 0
    high_water: int = 0
    #: Items dropped by the overflow policy, by policy name:
    #: ``drop_oldest`` (the oldest went for a new one) or ``latest`` (a
    #: newer message of the same key replaced it, or its key was the
    #: oldest when a new key came to a full channel).
    drops: Counter[str] = field(default_factory=Counter)
    #: With ``block``: how often the channel was full when a message came
    #: (reading the socket stopped), and for how long in all.
    stalls: int = 0
    stalled_seconds: float = 0.0


@dataclass(eq=False)  # compared and hashed by identity (a weak key in otel)
class FeedMetrics:
    """The numbers of a feed.  See each field."""

    #: Data messages received on any connection, and their payload bytes.
    messages_in: int = 0
    bytes_in: int = 0
    #: Messages sent (subscriptions, hooks' and the application's).
    messages_out: int = 0
    bytes_out: int = 0
    #: Connection attempts, connections made ready, reconnections (each
    #: connection after the first), and among them the failovers.
    attempts: int = 0
    connections: int = 0
    reconnects: int = 0
    failovers: int = 0
    #: Why connections ended or attempts failed, by cause (the causes of
    #: :class:`~aiows.feeds.Reconnected`): ``{"close 1012": 2, ...}``.
    causes: Counter[str] = field(default_factory=Counter)
    #: The backoff delays slept, most recent last (at most 32 kept).
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=DELAY_HISTORY))
    #: Messages skipped as duplicates (``dedup_key``), and messages the
    #: predicates (``failover_on``, ``retry_later``) claimed.
    duplicates: int = 0
    control: int = 0
    #: Sends: waiting in the send queue now, the most that ever waited,
    #: refused (``Disconnected`` or ``SendQueueFull`` raised), lost with
    #: a connection that ended while a queued message was being written,
    #: and still queued when the feed closed.
    send_queue_depth: int = 0
    send_queue_high_water: int = 0
    sends_refused: int = 0
    sends_lost: int = 0
    unsent_at_close: int = 0
    #: Requests waiting for a reply now, answered, timed out, and failed
    #: because their connection ended.
    requests_pending: int = 0
    replies: int = 0
    requests_timed_out: int = 0
    requests_failed: int = 0
    #: The ``block`` channel the feed waits on now (reading has stopped),
    #: or None.
    blocked_on: str | None = None
    #: Each channel's numbers, by name; ``"main"`` is the feed's own stream.
    channels: dict[str, ChannelMetrics] = field(default_factory=dict)
    # Where ping_rtt reads the current connection's latency.
    _latency: Callable[[], float] = field(default=lambda: 0.0, repr=False)

    @property
    def ping_rtt(self) -> float:
        """Round-trip time of the last ping answered on the current
        connection, in seconds (0.0 before any)."""
        return self._latency()

    @property
    def drops(self) -> Counter[str]:
        """Messages dropped by overflow policies, by policy, over all
        channels."""
        total: Counter[str] = Counter()
        for channel in self.channels.values():
            total.update(channel.drops)
        return total

    def snapshot(self) -> dict[str, Any]:
        """Every number, as plain values (for logs, JSON, tests)."""
        return {
            "messages_in": self.messages_in,
            "bytes_in": self.bytes_in,
            "messages_out": self.messages_out,
            "bytes_out": self.bytes_out,
            "attempts": self.attempts,
            "connections": self.connections,
            "reconnects": self.reconnects,
            "failovers": self.failovers,
            "causes": dict(self.causes),
            "delays": list(self.delays),
            "duplicates": self.duplicates,
            "control": self.control,
            "send_queue_depth": self.send_queue_depth,
            "send_queue_high_water": self.send_queue_high_water,
            "sends_refused": self.sends_refused,
            "sends_lost": self.sends_lost,
            "unsent_at_close": self.unsent_at_close,
            "requests_pending": self.requests_pending,
            "replies": self.replies,
            "requests_timed_out": self.requests_timed_out,
            "requests_failed": self.requests_failed,
            "ping_rtt": self.ping_rtt,
            "blocked_on": self.blocked_on,
            "drops": dict(self.drops),
            "channels": {
                name: {
                    "messages": c.messages,
                    "bytes": c.bytes,
                    "delivered": c.delivered,
                    "depth": c.depth,
                    "high_water": c.high_water,
                    "drops": dict(c.drops),
                    "stalls": c.stalls,
                    "stalled_seconds": c.stalled_seconds,
                }
                for name, c in self.channels.items()
            },
        }
