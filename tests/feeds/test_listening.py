"""A feed under the listener API: callbacks from the socket read, with the
same replay, failover, de-duplication and channels."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import aiows
from aiows.feeds import Link, Reconnected

from .conftest import TIMEOUT, FakeTime, FeedServer, next_item


class Recorder(aiows.Listener):
    """Records the callbacks; ``arrived`` wakes the test per message."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.arrived: asyncio.Queue[Any] = asyncio.Queue()

    def on_open(self, ws: aiows.ListenerConnection) -> None:
        self.events.append("open")

    def on_message(self, ws: aiows.ListenerConnection, kind: Any, data: Any) -> None:
        self.events.append((kind, data))
        self.arrived.put_nowait(data)

    def on_close(self, ws: aiows.ListenerConnection, code: int, reason: str) -> None:
        self.events.append(("close", code))

    async def next(self) -> Any:
        return await asyncio.wait_for(self.arrived.get(), TIMEOUT)


async def test_callbacks_with_replay_and_reconnect(
    server: FeedServer, fake_time: FakeTime
) -> None:
    recorder = Recorder()
    feed = aiows.feed(
        server.url, face=recorder, backoff=fake_time.backoff(), loads=json.loads
    )
    tickers = feed.channel(
        lambda m: m.get("symbol") if isinstance(m, dict) else None,
        overflow="latest",
    )

    @feed.on_open
    async def login(link: Link) -> None:
        await link.send("login")
        assert await link.recv(timeout=TIMEOUT) == {"ok": True}

    async with feed:
        await feed.subscribe("sub")
        conn = await server.accept()
        await conn.expect("login")
        await conn.send('{"ok": true}')
        await conn.expect("sub")
        await conn.send('{"n": 1}', '{"symbol": "BTC", "p": 1}', b"[2]")
        assert await recorder.next() == {"n": 1}
        assert await recorder.next() == [2]
        assert await asyncio.wait_for(tickers.get(), TIMEOUT) == {
            "symbol": "BTC",
            "p": 1,
        }
        await conn.close(1012)
        conn = await server.accept()
        await conn.expect("login")
        await conn.send('{"ok": true}')
        await conn.expect("sub")
        await conn.send('{"n": 3}')
        assert await recorder.next() == {"n": 3}
        # The stream carries the events only.
        assert await next_item(feed) == Reconnected(0.5, "close 1012", True, 1, 2)
        assert isinstance(feed.connection, aiows.ListenerConnection)
    assert recorder.events == [
        "open",
        (aiows.WSMsgType.TEXT, {"n": 1}),
        (aiows.WSMsgType.BINARY, [2]),
        ("close", 1012),
        "open",
        (aiows.WSMsgType.TEXT, {"n": 3}),
        ("close", 1000),
    ]
    assert [c.received for c in server.connections] == [["login", "sub"]] * 2


async def test_failover_with_a_key_under_a_listener(
    server: FeedServer, fake_time: FakeTime
) -> None:
    recorder = Recorder()
    async with aiows.feed(
        server.url,
        face=recorder,
        backoff=fake_time.backoff(),
        loads=json.loads,
        dedup_key=lambda m: m.get("seq"),
        failover_on=lambda m: m.get("type") == "draining",
    ) as feed:
        await feed.subscribe("sub")
        old = await server.accept()
        await old.expect("sub")
        await server.stop_listening()
        await server.start()
        await old.send('{"seq": 1}', '{"type": "draining"}', '{"seq": 2}')
        new = await server.accept()
        await new.expect("sub")
        for n in (3, 4):
            await old.send(json.dumps({"seq": n}))
            await new.send(json.dumps({"seq": n}))
        assert await old.wait_closed() == 1000
        await new.send('{"seq": 5}')
        got = [(await recorder.next())["seq"] for _ in range(5)]
        assert await next_item(feed) == Reconnected(
            0.0, "failover", True, 1, 2, {"type": "draining"}
        )
    assert got == [1, 2, 3, 4, 5]
    assert feed.metrics.duplicates >= 1


def test_block_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot wait"):
        aiows.feed("ws://127.0.0.1:1/", face=Recorder(), overflow="block")
    feed = aiows.feed("ws://127.0.0.1:1/", face=Recorder())
    with pytest.raises(ValueError, match="use overflow='drop_oldest' or 'latest'"):
        feed.channel(lambda m: True)
    assert feed.metrics.channels["main"].overflow == "drop_oldest"


async def test_an_application_callback_that_raises_ends_the_feed(
    server: FeedServer, fake_time: FakeTime
) -> None:
    class Broken(aiows.Listener):
        def on_message(self, ws: Any, kind: Any, data: Any) -> None:
            raise KeyError(data)

    backoff = fake_time.backoff()
    async with aiows.feed(server.url, face=Broken(), backoff=backoff) as feed:
        conn = await server.accept()
        await conn.send("boom")
        with pytest.raises(KeyError, match="boom"):
            await next_item(feed)
    assert await conn.wait_closed() == 1000


async def test_a_flood_before_the_connection_is_ready_is_bounded(
    server: FeedServer, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiows.feeds.opening.MAX_INBOX", 10)
    release = asyncio.Event()
    opened = 0

    async def slow_login(link: Link) -> None:
        nonlocal opened
        opened += 1
        if opened == 1:
            await release.wait()

    feed = aiows.feed(server.url, face=Recorder(), backoff=fake_time.backoff())
    feed.on_open(slow_login)
    async with feed:
        await feed.subscribe("sub")
        conn = await server.accept()
        await conn.send(*[f"early {n}" for n in range(11)])
        # The 11th message is one too many: the client leaves with 1008.
        assert await conn.wait_closed() == 1008
        release.set()
        second = await server.accept()
        await second.expect("sub")
        await feed.ready(TIMEOUT)
    # The first attempt failed before it was ready: no event, one delay.
    assert conn.received == []
    assert feed.metrics.causes == {"inbox overflow": 1}
    assert (feed.metrics.attempts, feed.metrics.connections) == (2, 1)
    assert fake_time.sleeps == [0.5]


async def test_a_listener_hook_meets_the_end_of_its_connection(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, face=Recorder(), backoff=fake_time.backoff())

    @feed.on_open
    async def login(link: Link) -> None:
        await link.send(b"login")
        assert await link.recv() == "ok"

    async with feed:
        first = await server.accept()
        await first.expect(b"login")
        await first.close(1011)  # before answering: the attempt fails
        second = await server.accept()
        await second.expect(b"login")
        await second.send("ok")
        await feed.ready(TIMEOUT)
        await feed.send(b"\x01")
        await second.expect(b"\x01")
    assert feed.metrics.causes == {"close 1011": 1}
    assert fake_time.sleeps == [0.5]
