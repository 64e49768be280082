"""Failover without a gap: make before break.

A server restarts in the middle of a stream: the old instance stops
listening and announces its departure while it goes on streaming; the new
instance listens on the same port.  The feed opens the next connection,
replays its subscriptions there, hands over once it is ready, and closes
the old one after.  With a key, nothing is lost and nothing comes twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets.asyncio.server as ws_server

import aiows
from aiows.feeds import Reconnected

from .conftest import TIMEOUT, FakeTime, FeedServer, items, next_item, wait_until

SUB = '{"op": "sub", "channel": "trades"}'
DRAINING = '{"type": "draining"}'


def seq(n: int) -> str:
    return json.dumps({"seq": n})


def seqs(got: list[Any]) -> list[int]:
    """The sequence numbers delivered, in order (events and others left out)."""
    return [m["seq"] for m in got if isinstance(m, dict) and "seq" in m]


def keyed_feed(url: str, fake_time: FakeTime, **kwargs: Any) -> aiows.Feed:
    return aiows.feed(
        url,
        backoff=fake_time.backoff(),
        loads=json.loads,
        dumps=json.dumps,
        failover_on=lambda m: m.get("type") == "draining",
        **kwargs,
    )


@pytest.mark.parametrize("face", ["websockets", "aiohttp"])
async def test_restart_mid_stream_loses_nothing_and_repeats_nothing(
    server: FeedServer, fake_time: FakeTime, face: str
) -> None:
    feed = keyed_feed(
        server.url,
        fake_time,
        face=face,
        dedup_key=lambda m: m.get("seq"),
    )
    async with feed:
        await feed.subscribe({"op": "sub", "channel": "trades"})
        old = await server.accept()
        await old.expect(SUB)
        await old.send(*map(seq, range(1, 6)))
        # The new instance takes the port; the old one announces that it
        # leaves, and streams on until the client goes.
        await server.stop_listening()
        await server.start()
        await old.send(DRAINING, *map(seq, range(6, 9)))
        new = await server.accept()
        assert (old.generation, new.generation) == (1, 2)
        await new.expect(SUB)
        # Both instances carry 9..15 (the overlap); then only the new one.
        for n in range(9, 16):
            await old.send(seq(n))
            await new.send(seq(n))
        assert await old.wait_closed() == 1000
        await new.send(*map(seq, range(16, 21)))
        got = await items(feed, 21)
    assert seqs(got) == list(range(1, 21))
    (index,) = [i for i, m in enumerate(got) if isinstance(m, Reconnected)]
    assert got[index] == Reconnected(
        gap=0.0,
        cause="failover",
        failover=True,
        attempts=1,
        connection=2,
        trigger={"type": "draining"},
    )
    # The old connection delivered up to at least the new one's first
    # message (9); the new one's repeats of that were skipped.
    last_from_old = got[index - 1]["seq"]
    assert 9 <= last_from_old <= 15
    assert feed.metrics.duplicates == last_from_old - 8
    # Make before break: the new connection had its subscription before
    # the client closed the old one.
    subscribed = server.log.index(("recv", new.number, SUB))
    assert subscribed < server.log.index(("closed", old.number, 1000))
    assert old.received == [SUB] and new.received == [SUB]
    assert fake_time.sleeps == []
    assert feed.metrics.failovers == 1
    assert feed.metrics.control == 1  # the draining notice went nowhere else


async def test_without_a_key_the_hand_over_is_at_readiness(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with keyed_feed(server.url, fake_time) as feed:
        await feed.subscribe({"op": "sub", "channel": "trades"})
        old = await server.accept()
        await old.expect(SUB)
        await old.send(seq(1), DRAINING)
        new = await server.accept()
        await new.expect(SUB)
        assert await old.wait_closed() == 1000
        await new.send(seq(2))
        got = await items(feed, 3)
    assert got == [
        {"seq": 1},
        Reconnected(0.0, "failover", True, 1, 2, {"type": "draining"}),
        {"seq": 2},
    ]


async def test_sends_go_to_the_new_connection_after_the_hand_over(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with keyed_feed(server.url, fake_time, send_policy="raise") as feed:
        old = await server.accept()
        await feed.send("before")
        await old.expect("before")
        await old.send(DRAINING)
        new = await server.accept()
        assert isinstance(await next_item(feed), Reconnected)
        await feed.send("after")
        await new.expect("after")
    assert old.received == ["before"]


async def test_a_failed_successor_leaves_the_feed_on_the_old_connection(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with keyed_feed(
        server.url, fake_time, dedup_key=lambda m: m.get("seq")
    ) as feed:
        old = await server.accept()
        # Nothing listens: the attempt to move fails; the old connection
        # goes on delivering, and no second attempt is made for it.
        await server.stop_listening()
        await old.send(seq(1), DRAINING, seq(2), DRAINING, seq(3))
        assert seqs(await items(feed, 3)) == [1, 2, 3]
        assert feed.metrics.attempts == 2
        assert feed.metrics.causes == {"failover": 1, "ConnectionRefusedError": 1}
        # When it ends (stable, with 1012), the feed reconnects at once.
        await server.start()
        fake_time.now += 60
        await old.close(1012)
        new = await server.accept()
        await new.send(seq(4))
        got = await items(feed, 2)
    assert got[0] == Reconnected(0.0, "close 1012", True, 1, 2)
    assert got[1] == {"seq": 4}
    assert fake_time.sleeps == []


async def test_a_successor_that_ends_before_its_first_message(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with keyed_feed(
        server.url, fake_time, dedup_key=lambda m: m.get("seq")
    ) as feed:
        old = await server.accept()
        await old.send(seq(1), DRAINING)
        doomed = await server.accept()
        await doomed.close(1011)
        await old.send(seq(2))
        assert seqs(await items(feed, 2)) == [1, 2]
        assert feed.connection is not None
    assert len(server.connections) == 2
    assert feed.metrics.connections == 1


async def test_the_hand_over_waits_at_most_handover_timeout(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # The new instance's stream never meets the old one's: after
    # handover_timeout the feed moves anyway.
    async with keyed_feed(
        server.url,
        fake_time,
        dedup_key=lambda m: m.get("seq"),
        handover_timeout=0.05,
    ) as feed:
        old = await server.accept()
        await old.send(seq(1), DRAINING)
        new = await server.accept()
        await new.send(seq(100))
        assert await old.wait_closed() == 1000
        got = await items(feed, 3)
    assert seqs(got) == [1, 100]
    assert isinstance(got[1], Reconnected)


async def test_the_old_connection_ending_first_is_a_gap(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with keyed_feed(
        server.url, fake_time, dedup_key=lambda m: m.get("seq")
    ) as feed:
        await feed.subscribe("sub")
        old = await server.accept()
        await old.expect("sub")
        # The announcement, then the old instance dies before the new
        # connection is ready.
        await old.send(seq(1), DRAINING)
        new = await server.accept()
        old.abort()
        await old.wait_closed()
        fake_time.now += 2.0
        await new.expect("sub")
        await new.send(seq(1), seq(2))
        got = await items(feed, 3)
    assert got[0] == {"seq": 1}
    assert isinstance(got[1], Reconnected) and got[1].failover
    assert got[2] == {"seq": 2}
    assert feed.metrics.duplicates == 1


@pytest.fixture
async def websockets_instances() -> AsyncIterator[list[Any]]:
    """Instances of a websockets server, each on the first one's port."""
    servers: list[Any] = []
    yield servers
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_going_away_from_a_websockets_server_restart(
    websockets_instances: list[Any], fake_time: FakeTime
) -> None:
    # A rolling restart: a new instance of a websockets server listens on
    # the same port (SO_REUSEPORT), then the old one shuts down, closing
    # its connections with 1001.
    subscribed: list[list[str]] = []
    ready = asyncio.Queue[Any]()

    async def handler(ws: Any) -> None:
        messages: list[str] = []
        subscribed.append(messages)
        async for message in ws:
            messages.append(message)
            ready.put_nowait(ws)

    first = await ws_server.serve(handler, "127.0.0.1", 0, reuse_port=True)
    websockets_instances.append(first)
    port = first.sockets[0].getsockname()[1]
    async with aiows.feed(
        f"ws://127.0.0.1:{port}/", backoff=fake_time.backoff()
    ) as feed:
        await feed.subscribe("sub")
        ws = await asyncio.wait_for(ready.get(), TIMEOUT)
        await ws.send("one")
        assert await next_item(feed) == "one"
        fake_time.now += 60
        second = await ws_server.serve(handler, "127.0.0.1", port, reuse_port=True)
        websockets_instances.append(second)
        first.close()  # 1001 to every connection
        await first.wait_closed()
        ws = await asyncio.wait_for(ready.get(), TIMEOUT)
        await ws.send("two")
        assert await items(feed, 2) == [
            Reconnected(0.0, "close 1001", True, 1, 2),
            "two",
        ]
    assert subscribed == [["sub"], ["sub"]]
    assert fake_time.sleeps == []


async def test_the_old_connection_catches_up_with_the_new_one(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # The new connection's stream begins (3) before the old one delivered
    # that far: the feed waits for the old one to deliver 3, then moves.
    feed = keyed_feed(server.url, fake_time, dedup_key=lambda m: m.get("seq"))
    async with feed:
        old = await server.accept()
        await old.send(seq(1), seq(2), DRAINING)
        new = await server.accept()
        await new.send(seq(3), seq(4))
        await wait_until(lambda: feed._router._awaited == 3)
        await old.send(seq(3))
        got = await items(feed, 5)
    assert seqs(got) == [1, 2, 3, 4]
    assert isinstance(got[3], Reconnected)
    assert feed.metrics.duplicates == 1


async def test_an_error_on_either_side_of_a_hand_over_ends_the_feed(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # The new connection's first message cannot be decoded.
    async with keyed_feed(
        server.url, fake_time, dedup_key=lambda m: m.get("seq")
    ) as feed:
        old = await server.accept()
        await old.send(DRAINING)
        new = await server.accept()
        await new.send("not json")
        with pytest.raises(json.JSONDecodeError):
            await next_item(feed)
    assert await new.wait_closed() == 1000
    assert await old.wait_closed() == 1000


async def test_an_error_on_the_old_side_during_a_hand_over(
    server: FeedServer, fake_time: FakeTime
) -> None:
    release = asyncio.Event()
    opened = 0

    async def hold_second(link: aiows.feeds.Link) -> None:
        nonlocal opened
        opened += 1
        if opened == 2:
            await release.wait()

    feed = keyed_feed(server.url, fake_time, dedup_key=lambda m: m.get("seq"))
    feed.on_open(hold_second)
    async with feed:
        old = await server.accept()
        await old.send(DRAINING)
        new = await server.accept()  # its hook holds it
        await old.send("not json")
        # The new connection is made, then dropped: the feed ends with the
        # old one's error.
        release.set()
        with pytest.raises(json.JSONDecodeError):
            await next_item(feed)
        assert await new.wait_closed() == 1000


async def test_dedup_remembers_at_most_its_window(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # A server that replays its recent messages after a reconnection: the
    # feed skips those among the last dedup_window keys, and keeps no more.
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        loads=json.loads,
        dedup_key=lambda m: m.get("seq"),
        dedup_window=3,
    ) as feed:
        conn = await server.accept()
        await conn.send(*map(seq, range(1, 11)), '{"type": "heartbeat"}')
        got = await items(feed, 11)
        conn.abort()
        conn = await server.accept()
        await conn.send('{"type": "heartbeat"}', *map(seq, range(8, 13)))
        got += await items(feed, 4)
        assert len(feed._router.recent) == 3
    assert seqs(got) == list(range(1, 13))
    assert got[-4:] == [
        Reconnected(0.5, "close 1006", False, 1, 2),
        {"type": "heartbeat"},
        {"seq": 11},
        {"seq": 12},
    ]
    assert feed.metrics.duplicates == 3
