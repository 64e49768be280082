"""Channels: bounded queues with an overflow policy each.

The queue itself is checked alone; then through a feed against a server
that floods it: ``block`` stops reading the socket (the server's own
buffer fills), ``drop_oldest`` and ``latest`` keep their bound and count
what they drop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import aiows
from aiows.feeds import Channel, FeedClosed

from .conftest import TIMEOUT, FakeTime, FeedServer, next_item, wait_until

# -- the queue alone -------------------------------------------------------------


async def test_drop_oldest_keeps_the_newest() -> None:
    channel = Channel(lambda m: True, name="c", maxsize=3, overflow="drop_oldest")
    for n in range(10):
        assert channel.offer(n, True, size=1)
    assert [channel.get_nowait() for _ in range(3)] == [7, 8, 9]
    m = channel.metrics
    assert (m.messages, m.bytes, m.delivered, m.depth, m.high_water) == (
        10,
        10,
        3,
        0,
        3,
    )
    assert m.drops == {"drop_oldest": 7}


async def test_latest_keeps_one_per_key_newest_key_last() -> None:
    channel = Channel(lambda m: m[0], name="c", maxsize=2, overflow="latest")
    for message in [("BTC", 1), ("ETH", 1), ("BTC", 2), ("BTC", 3)]:
        channel.offer(message, message[0])
    assert len(channel) == 2
    assert [channel.get_nowait(), channel.get_nowait()] == [("ETH", 1), ("BTC", 3)]
    # A third key in a full channel pushes out the least recently updated.
    for message in [("BTC", 4), ("ETH", 2), ("SOL", 1)]:
        channel.offer(message, message[0])
    assert [channel.get_nowait(), channel.get_nowait()] == [("ETH", 2), ("SOL", 1)]
    assert channel.metrics.drops == {"latest": 3}
    assert channel.metrics.high_water == 2
    with pytest.raises(asyncio.QueueEmpty):
        channel.get_nowait()


async def test_block_waits_for_room_and_counts_the_stall() -> None:
    fake = FakeTime()
    channel = Channel(lambda m: True, name="c", maxsize=2, clock=fake.clock)
    assert channel.offer(1) and channel.offer(2)
    assert not channel.offer(3)  # full: nothing queued
    put = asyncio.ensure_future(channel.put(3))
    await asyncio.sleep(0)
    assert not put.done()
    fake.now += 1.5
    assert await channel.get() == 1
    await asyncio.wait_for(put, TIMEOUT)
    assert [channel.get_nowait(), channel.get_nowait()] == [2, 3]
    m = channel.metrics
    assert (m.stalls, m.stalled_seconds, m.high_water, dict(m.drops)) == (
        1,
        1.5,
        2,
        {},
    )


async def test_readers_get_what_is_queued_then_the_end() -> None:
    channel = Channel(lambda m: True, name="c")
    channel.offer("a")
    channel.close()
    assert [m async for m in channel] == ["a"]
    with pytest.raises(FeedClosed):
        await channel.get()
    assert channel.offer("late")  # taken and counted while shutting down
    assert channel.metrics.drops == {"closed": 1}


async def test_readers_get_the_feed_error_after_the_queue() -> None:
    channel = Channel(lambda m: True, name="c")
    channel.offer("a")
    waiting = Channel(lambda m: True, name="w")
    reader = asyncio.ensure_future(waiting.get())
    await asyncio.sleep(0)
    error = aiows.InvalidStatus(None, (), status=403, message="")  # type: ignore[arg-type]
    channel.close(error)
    waiting.close(error)
    assert await channel.get() == "a"
    with pytest.raises(aiows.InvalidStatus):
        await channel.get()
    with pytest.raises(aiows.InvalidStatus):
        await reader


async def test_a_cancelled_reader_passes_its_wake_up_on() -> None:
    channel = Channel(lambda m: True, name="c")
    first = asyncio.ensure_future(channel.get())
    second = asyncio.ensure_future(channel.get())
    await asyncio.sleep(0)
    channel.offer("only")
    first.cancel()  # woken, then cancelled before it ran
    assert await asyncio.wait_for(second, TIMEOUT) == "only"
    assert first.cancelled()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"maxsize": 0}, "maxsize must be a positive int, not 0"),
        ({"maxsize": True}, "maxsize must be a positive int, not True"),
        ({"overflow": "newest"}, "overflow must be one of block, drop_oldest"),
    ],
)
def test_bad_options_name_the_argument(kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Channel(lambda m: True, name="c", **kwargs)


def test_latest_needs_keys() -> None:
    with pytest.raises(ValueError, match="needs a match that gives keys"):
        Channel(None, name="c", overflow="latest")


# -- through a feed --------------------------------------------------------------


async def test_block_backpressure_reaches_the_server(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # The server streams two kinds, interleaved, as fast as it can; the
    # "slow" channel is not read.  The feed stops reading the socket, so
    # the other channel stalls too (and the metrics say why), and the
    # server's writes back up instead of the client's memory growing.
    big = "x" * 4096
    total = 4000  # 16 MB: far beyond the socket buffers

    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        loads=json.loads,
        compression=None,  # the padding would compress to nothing
    ) as feed:
        slow = feed.channel(lambda m: m["kind"] == "a", maxsize=5, name="slow")
        others = feed.channel(lambda m: m["kind"] == "b", maxsize=5, name="others")
        conn = await server.accept()
        sent = 0

        async def stream() -> None:
            nonlocal sent
            for n in range(total):
                kind = "a" if n % 2 else "b"
                await conn.ws.send_str(json.dumps({"kind": kind, "n": n, "pad": big}))
                sent += 1

        received: dict[str, list[int]] = {"a": [], "b": []}

        async def drain(channel: Channel, kind: str) -> None:
            while len(received[kind]) < total // 2:
                received[kind].append((await channel.get())["n"])

        streaming = asyncio.ensure_future(stream())
        # The other channel's reader keeps up; the slow one is not read.
        reading_others = asyncio.ensure_future(drain(others, "b"))
        transport = conn.request.transport
        assert transport is not None
        # Reading stopped: the server's own write buffer fills up.
        await wait_until(lambda: feed.metrics.blocked_on == "slow")
        await wait_until(lambda: transport.get_write_buffer_size() > 0)
        assert not streaming.done()
        metrics = feed.metrics
        assert metrics.channels["slow"].depth == 5
        assert metrics.channels["slow"].stalls == 1
        # Bounded: the channels, the one message waiting for room, and the
        # face's queue (16) hold all the client read; the other channel
        # stalled with the slow one.
        assert metrics.messages_in <= 5 + 5 + 1 + 16 + 1
        assert len(received["b"]) <= 5 + 1
        assert sent < total
        # Read the slow channel too: the stream resumes and completes.
        await asyncio.wait_for(
            asyncio.gather(drain(slow, "a"), reading_others, streaming), 30
        )
    assert received["a"] == list(range(1, total, 2))
    assert received["b"] == list(range(0, total, 2))
    assert metrics.channels["slow"].high_water == 5
    assert metrics.channels["others"].high_water <= 5
    assert metrics.drops == {}
    assert metrics.blocked_on is None
    assert metrics.channels["slow"].stalled_seconds >= 0


async def test_drop_oldest_and_latest_keep_their_bounds(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), loads=json.loads
    ) as feed:
        trades = feed.channel(
            lambda m: m.get("type") == "trade", maxsize=10, overflow="drop_oldest"
        )
        tickers = feed.channel(
            lambda m: m["symbol"] if m.get("type") == "ticker" else None,
            maxsize=4,
            overflow="latest",
        )
        conn = await server.accept()
        for n in range(50):
            await conn.send(json.dumps({"type": "trade", "n": n}))
            for symbol in ("BTC", "ETH", "SOL"):
                ticker = {"type": "ticker", "symbol": symbol, "n": n}
                await conn.send(json.dumps(ticker))
        await conn.send('{"type": "end"}')
        # Routing is in order: once "end" is out, everything before it is in.
        assert await next_item(feed) == {"type": "end"}
        assert [trades.get_nowait()["n"] for _ in range(10)] == list(range(40, 50))
        latest = [tickers.get_nowait() for _ in range(3)]
        assert len(tickers) == 0
    assert [(t["symbol"], t["n"]) for t in latest] == [
        ("BTC", 49),
        ("ETH", 49),
        ("SOL", 49),
    ]
    channels = feed.metrics.channels
    assert channels["channel-1"].drops == {"drop_oldest": 40}
    assert channels["channel-1"].high_water == 10
    assert channels["channel-2"].drops == {"latest": 147}
    assert channels["channel-2"].high_water == 3
    assert feed.metrics.drops == {"drop_oldest": 40, "latest": 147}
    assert channels["main"].messages == 1


async def test_a_message_goes_to_every_channel_that_selects_it(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        everything = feed.channel(lambda m: m != "other", name="all")
        even = feed.channel(lambda m: int(m) % 2 == 0 if m != "other" else None)
        conn = await server.accept()
        await conn.send("1", "2", "other", "3", "4")
        assert await next_item(feed) == "other"
        assert [await everything.get() for _ in range(4)] == ["1", "2", "3", "4"]
        assert [await even.get() for _ in range(2)] == ["2", "4"]
    with pytest.raises(ValueError, match="exists already"):
        feed.channel(lambda m: True, name="all")
    with pytest.raises(TypeError, match="match must be callable"):
        feed.channel("BTC")  # type: ignore[arg-type]


async def test_the_feed_stream_can_drop_oldest(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), max_queue=3, overflow="drop_oldest"
    ) as feed:
        marker = feed.channel(lambda m: m == "end" or None)
        conn = await server.accept()
        await conn.send(*[str(n) for n in range(10)], "end")
        assert await asyncio.wait_for(marker.get(), TIMEOUT) == "end"
        assert [await next_item(feed) for _ in range(3)] == ["7", "8", "9"]
    assert feed.metrics.channels["main"].drops == {"drop_oldest": 7}


async def test_the_feed_stream_blocks_when_full(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff(), max_queue=2) as feed:
        conn = await server.accept()
        await conn.send(*[str(n) for n in range(40)])
        await wait_until(lambda: feed.metrics.blocked_on == "main")
        main = feed.metrics.channels["main"]
        assert (main.depth, main.stalls) == (2, 1)
        assert [await next_item(feed) for _ in range(40)] == [str(n) for n in range(40)]
    assert main.high_water == 2
    assert main.drops == {}
