"""OpenTelemetry for feeds: spans for connecting and reconnecting, metrics
for the rest.  Optional: ``pip install aiows-client[otel]``.

Without ``opentelemetry-api`` a feed reports nothing and costs nothing
here.  With it, a feed reports to the global tracer and meter providers,
or to those of a :class:`Telemetry` given as ``telemetry=``:

* a span ``aiows.feed.connect`` per attempt (its error recorded when it
  fails), inside a span ``aiows.feed.reconnect`` that lasts the gap,
  from the end of one connection to the readiness of the next;
* observable instruments that read :class:`~aiows.feeds.FeedMetrics` when
  the meter's reader collects, so the message path pays nothing for them:
  ``aiows.feed.messages`` and ``aiows.feed.bytes`` (``direction``: in or
  out), ``aiows.feed.channel.messages``, ``aiows.feed.reconnects``,
  ``aiows.feed.ends`` (by ``cause``), ``aiows.feed.drops`` (by channel and
  policy), ``aiows.feed.duplicates``, ``aiows.feed.stalls``,
  ``aiows.feed.queue.depth`` (per channel, and ``send`` for the send
  queue) and ``aiows.feed.ping.rtt``.

Each observation carries the feed's name as ``aiows.feed.name``.  The
upgrade request itself is traced by aiohttp's ``TraceConfig`` on the
session, as for any request; these signals sit beside it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .events import Reconnected
from .metrics import FeedMetrics

try:
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import trace as otel_trace
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Status, StatusCode
except ImportError:  # the feed works without it
    AVAILABLE = False
else:
    AVAILABLE = True

_SCOPE = "aiows.feeds"


class Signals:
    """What a feed reports besides its metrics; these do nothing."""

    @contextmanager
    def connecting(self, number: int, attempt: int) -> Iterator[None]:
        """Around one attempt to open and prepare a connection."""
        yield

    def disconnected(self, cause: str) -> None:
        """A connection ended (or a failover began): the gap starts."""

    def reconnected(self, event: Reconnected) -> None:
        """A new connection is ready: the gap ends."""

    def close(self) -> None:
        """The feed closed."""


class Telemetry:
    """Where feeds report: OpenTelemetry tracer and meter providers.

    ::

        telemetry = aiows.feeds.Telemetry(
            tracer_provider=tracer_provider, meter_provider=meter_provider
        )
        feed = aiows.feed(url, telemetry=telemetry)

    Without providers, the global ones.  One :class:`Telemetry` serves any
    number of feeds.
    """

    def __init__(
        self, *, tracer_provider: Any = None, meter_provider: Any = None
    ) -> None:
        if not AVAILABLE:
            raise RuntimeError(
                "OpenTelemetry is not installed: pip install 'aiows-client[otel]'"
            )
        from .. import __version__

        self._tracer = otel_trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = otel_metrics.get_meter(_SCOPE, __version__, meter_provider)
        # The live feeds' metrics and names; a closed feed leaves.
        self._feeds: weakref.WeakKeyDictionary[FeedMetrics, str] = (
            weakref.WeakKeyDictionary()
        )
        counters: list[tuple[str, str, str, Callable[[], Iterable[Observation]]]] = [
            ("aiows.feed.messages", "{message}", "Messages in and out", self._messages),
            ("aiows.feed.bytes", "By", "Payload bytes in and out", self._bytes),
            (
                "aiows.feed.channel.messages",
                "{message}",
                "Messages put in each channel",
                self._channel_messages,
            ),
            (
                "aiows.feed.reconnects",
                "{connection}",
                "Connections after the first",
                self._reconnects,
            ),
            (
                "aiows.feed.ends",
                "{event}",
                "Connection ends and failed attempts, by cause",
                self._ends,
            ),
            ("aiows.feed.drops", "{message}", "Overflow drops", self._drops),
            (
                "aiows.feed.duplicates",
                "{message}",
                "Skipped duplicates",
                self._duplicates,
            ),
            ("aiows.feed.stalls", "{stall}", "Full block channels", self._stalls),
        ]
        for name, unit, description, read in counters:
            meter.create_observable_counter(
                name, callbacks=[_callback(read)], unit=unit, description=description
            )
        meter.create_observable_gauge(
            "aiows.feed.queue.depth",
            callbacks=[_callback(self._depths)],
            unit="{message}",
            description="Messages waiting in each channel and the send queue",
        )
        meter.create_observable_gauge(
            "aiows.feed.ping.rtt",
            callbacks=[_callback(self._rtt)],
            unit="s",
            description="Round-trip time of the last ping",
        )

    def signals(self, name: str, metrics: FeedMetrics) -> Signals:
        """The signals of one feed, named ``name``."""
        self._feeds[metrics] = name
        return _Signals(self, name, metrics)

    def forget(self, metrics: FeedMetrics) -> None:
        self._feeds.pop(metrics, None)

    # -- what the instruments read ----------------------------------------------

    def _each(self) -> Iterator[tuple[dict[str, Any], FeedMetrics]]:
        for metrics, name in list(self._feeds.items()):
            yield {"aiows.feed.name": name}, metrics

    def _messages(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            yield Observation(m.messages_in, {**attrs, "direction": "in"})
            yield Observation(m.messages_out, {**attrs, "direction": "out"})

    def _bytes(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            yield Observation(m.bytes_in, {**attrs, "direction": "in"})
            yield Observation(m.bytes_out, {**attrs, "direction": "out"})

    def _channel_messages(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            for c in m.channels.values():
                yield Observation(c.messages, {**attrs, "channel": c.name})

    def _reconnects(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            yield Observation(m.reconnects - m.failovers, {**attrs, "failover": False})
            yield Observation(m.failovers, {**attrs, "failover": True})

    def _ends(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            for cause, count in m.causes.items():
                yield Observation(count, {**attrs, "cause": cause})

    def _drops(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            for c in m.channels.values():
                for policy, count in c.drops.items():
                    yield Observation(
                        count, {**attrs, "channel": c.name, "policy": policy}
                    )

    def _duplicates(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            yield Observation(m.duplicates, attrs)

    def _stalls(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            for c in m.channels.values():
                if c.overflow == "block":
                    yield Observation(c.stalls, {**attrs, "channel": c.name})

    def _depths(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            for c in m.channels.values():
                yield Observation(c.depth, {**attrs, "channel": c.name})
            yield Observation(m.send_queue_depth, {**attrs, "channel": "send"})

    def _rtt(self) -> Iterable[Observation]:
        for attrs, m in self._each():
            yield Observation(m.ping_rtt, attrs)


def _callback(
    read: Callable[[], Iterable[Observation]],
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return list(read())

    return callback


class _Signals(Signals):
    """A feed's spans."""

    def __init__(self, telemetry: Telemetry, name: str, metrics: FeedMetrics) -> None:
        self._telemetry = telemetry
        self._tracer = telemetry._tracer
        self._name = name
        self._metrics = metrics
        # The gap's span, from a connection's end to the next one's readiness.
        self._gap: Any = None

    @contextmanager
    def connecting(self, number: int, attempt: int) -> Iterator[None]:
        context = None
        if self._gap is not None:
            context = otel_trace.set_span_in_context(self._gap)
        span = self._tracer.start_span(
            "aiows.feed.connect",
            context=context,
            attributes={
                "aiows.feed.name": self._name,
                "aiows.feed.connection": number,
                "aiows.feed.attempt": attempt,
            },
        )
        try:
            yield
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            span.end()

    def disconnected(self, cause: str) -> None:
        if self._gap is None:
            self._gap = self._tracer.start_span(
                "aiows.feed.reconnect",
                attributes={"aiows.feed.name": self._name, "aiows.feed.cause": cause},
            )

    def reconnected(self, event: Reconnected) -> None:
        gap = self._gap
        self._gap = None
        if gap is None:  # pragma: no cover - disconnected() always comes first
            return
        gap.set_attribute("aiows.feed.gap", event.gap)
        gap.set_attribute("aiows.feed.attempts", event.attempts)
        gap.set_attribute("aiows.feed.failover", event.failover)
        gap.set_attribute("aiows.feed.connection", event.connection)
        gap.end()

    def close(self) -> None:
        if self._gap is not None:
            self._gap.set_attribute("aiows.feed.closed", True)
            self._gap.end()
            self._gap = None
        self._telemetry.forget(self._metrics)


_default: Telemetry | None = None


def signals_for(telemetry: Any, name: str, metrics: FeedMetrics) -> Signals:
    """A feed's signals for its ``telemetry=`` option."""
    global _default
    if telemetry is False or (telemetry is None and not AVAILABLE):
        return Signals()
    if isinstance(telemetry, Telemetry):
        return telemetry.signals(name, metrics)
    if telemetry is None or telemetry is True:
        if _default is None:
            _default = Telemetry()
        return _default.signals(name, metrics)
    raise TypeError(
        f"telemetry must be an aiows.feeds.Telemetry, True, False or None, "
        f"not {telemetry!r}"
    )
