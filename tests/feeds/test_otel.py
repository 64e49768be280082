"""OpenTelemetry: spans for connecting and reconnecting, metrics read from
the feed's numbers, checked with the SDK's in-memory exporter and reader;
and a feed that works with no OpenTelemetry installed."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import aiows
from aiows.feeds import Reconnected, Telemetry
from aiows.feeds import otel as feeds_otel
from aiows.feeds.metrics import FeedMetrics

from .conftest import TIMEOUT, FakeTime, FeedServer, next_item

trace_sdk = pytest.importorskip("opentelemetry.sdk.trace")
metrics_sdk = pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = trace_sdk.TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = metrics_sdk.MeterProvider(metric_readers=[self.reader])
        self.telemetry = Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """Metric ``name``'s points: sorted attributes -> value."""
        data = self.reader.get_metrics_data()
        found: dict[tuple[tuple[str, Any], ...], Any] = {}
        if data is None:  # nothing to report
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            key = tuple(sorted(point.attributes.items()))
                            found[key] = point.value
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    recorded = Otel()
    yield recorded
    recorded.meter_provider.shutdown()
    recorded.tracer_provider.shutdown()


async def test_spans_for_attempts_and_the_gap(
    server: FeedServer, fake_time: FakeTime, otel: Otel
) -> None:
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        telemetry=otel.telemetry,
        name="md",
    ) as feed:
        conn = await server.accept()
        server.refuse = [(503, {})]
        await conn.close(1011)
        await server.accept()
        assert isinstance(await next_item(feed), Reconnected)
    spans = otel.spans.get_finished_spans()
    assert [span.name for span in spans] == [
        "aiows.feed.connect",
        "aiows.feed.connect",  # refused with 503
        "aiows.feed.connect",
        "aiows.feed.reconnect",
    ]
    first, refused, second, gap = spans
    assert first.parent is None
    assert dict(first.attributes or {}) == {
        "aiows.feed.name": "md",
        "aiows.feed.connection": 1,
        "aiows.feed.attempt": 1,
    }
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.events[0].name == "exception"
    assert second.status.status_code is StatusCode.UNSET
    # The two attempts after the loss are children of the gap's span.
    assert refused.parent is not None and second.parent is not None
    assert refused.parent.span_id == gap.context.span_id
    assert second.parent.span_id == gap.context.span_id
    assert dict(gap.attributes or {}) == {
        "aiows.feed.name": "md",
        "aiows.feed.cause": "close 1011",
        "aiows.feed.gap": 2.5,  # 0.5 then 2.0
        "aiows.feed.attempts": 2,
        "aiows.feed.failover": False,
        "aiows.feed.connection": 2,
    }


async def test_metrics_read_the_feed_numbers(
    server: FeedServer, fake_time: FakeTime, otel: Otel
) -> None:
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        telemetry=otel.telemetry,
        name="md",
        loads=json.loads,
        send_policy="raise",
    ) as feed:
        tickers = feed.channel(
            lambda m: m.get("s"), maxsize=2, overflow="latest", name="tickers"
        )
        conn = await server.accept()
        await feed.ready(TIMEOUT)
        await feed.send("hello")
        await conn.send('{"s": "A"}', '{"s": "A"}', '{"s": "B"}', '{"x": 1}')
        assert await next_item(feed) == {"x": 1}
        fake_time.now += 60
        await conn.close(1012)
        await server.accept()
        assert isinstance(await next_item(feed), Reconnected)
        feed_name = (("aiows.feed.name", "md"),)
        assert otel.points("aiows.feed.messages") == {
            (("aiows.feed.name", "md"), ("direction", "in")): 4,
            (("aiows.feed.name", "md"), ("direction", "out")): 1,
        }
        assert otel.points("aiows.feed.bytes")[
            (("aiows.feed.name", "md"), ("direction", "out"))
        ] == len("hello")
        assert otel.points("aiows.feed.drops") == {
            (("aiows.feed.name", "md"), ("channel", "tickers"), ("policy", "latest")): 1
        }
        depths = otel.points("aiows.feed.queue.depth")
        assert depths[(*feed_name, ("channel", "tickers"))] == 2
        assert depths[(*feed_name, ("channel", "main"))] == 0
        assert depths[(*feed_name, ("channel", "send"))] == 0
        assert otel.points("aiows.feed.ends") == {
            (*feed_name, ("cause", "close 1012")): 1
        }
        assert otel.points("aiows.feed.reconnects") == {
            (*feed_name, ("failover", False)): 0,
            (*feed_name, ("failover", True)): 1,
        }
        assert otel.points("aiows.feed.duplicates") == {feed_name: 0}
        assert otel.points("aiows.feed.stalls") == {
            (*feed_name, ("channel", "main")): 0
        }
        assert otel.points("aiows.feed.ping.rtt") == {feed_name: 0.0}
        assert (
            otel.points("aiows.feed.channel.messages")[
                (*feed_name, ("channel", "tickers"))
            ]
            == 3
        )
        assert len(tickers) == 2
    # A closed feed reports no more.
    assert otel.points("aiows.feed.messages") == {}


def test_telemetry_option_checks() -> None:
    with pytest.raises(TypeError, match=r"must be an aiows\.feeds\.Telemetry"):
        feeds_otel.signals_for("yes", "f", FeedMetrics())
    off = feeds_otel.signals_for(False, "f", FeedMetrics())
    assert type(off) is feeds_otel.Signals
    # None: the global providers, when OpenTelemetry is installed.
    on = feeds_otel.signals_for(None, "f", FeedMetrics())
    assert type(on) is not feeds_otel.Signals
    on.close()


def test_without_opentelemetry_the_feed_reports_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds_otel, "AVAILABLE", False)
    assert type(feeds_otel.signals_for(None, "f", FeedMetrics())) is feeds_otel.Signals
    with pytest.raises(RuntimeError, match=r"pip install 'aiows-client\[otel\]'"):
        Telemetry()


async def test_a_feed_runs_where_opentelemetry_cannot_be_imported(
    server: FeedServer,
) -> None:
    # A separate interpreter in which ``import opentelemetry`` fails.
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # the import now fails
        import aiows
        from aiows.feeds import otel
        assert not otel.AVAILABLE

        async def main():
            async with aiows.feed({server.url!r}) as feed:
                await feed.subscribe("sub")
                print(await feed.recv(), feed.metrics.messages_in)

        asyncio.run(main())
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-c",
        script,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    conn = await server.accept()
    await conn.expect("sub")
    await conn.send("hello")
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT * 2)
    assert (process.returncode, err.decode()) == (0, "")
    assert out.decode() == "hello 1\n"
    assert await conn.wait_closed() == 1000
