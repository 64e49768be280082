"""The reconnect loop: backoff, flaps, Retry-After, the retry rule, failover
codes, "come back later" and stalls, against servers that restart, close
with 1001/1012, flap and stall.

Delays are read from an injected clock and sleep (``FakeTime``), never
slept.  Each test checks what was delivered and in which order, what the
server saw on each connection, and the delays between attempts.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import aiows
from aiows.feeds import Reconnected, SendPolicy

from ..conftest import RawPeer, RawServer, server_frame
from .conftest import FakeTime, FeedServer, data, items, next_item


def event(
    gap: float,
    cause: str,
    connection: int,
    *,
    failover: bool = False,
    attempts: int = 1,
    trigger: Any = None,
) -> Reconnected:
    return Reconnected(gap, cause, failover, attempts, connection, trigger)


@pytest.mark.parametrize("face", ["websockets", "aiohttp"])
async def test_restart_replays_subscriptions_then_queued_sends(
    server: FeedServer, fake_time: FakeTime, face: str
) -> None:
    fake_time.hold()
    async with aiows.feed(
        server.url,
        face=face,
        backoff=fake_time.backoff(),
        send_policy=SendPolicy.queue(max=2),
    ) as feed:
        await feed.subscribe("sub BTC", unsubscribe="unsub BTC")
        await feed.subscribe("sub ETH")
        first = await server.accept()
        await first.expect("sub BTC", "sub ETH")
        await first.send("BTC 1", "ETH 1")
        assert [data(m) for m in await items(feed, 2)] == ["BTC 1", "ETH 1"]
        # A restart: the server stops listening, drops its connections, and
        # listens again.  The feed waits out its first delay meanwhile.
        await server.restart()
        assert await fake_time.next_sleep() == 0.5
        assert not feed.connected
        await feed.send("order 1")
        await feed.send("order 2")
        with pytest.raises(aiows.feeds.SendQueueFull):
            await feed.send("order 3")
        assert feed.metrics.send_queue_depth == 2
        fake_time.release()
        second = await server.accept()
        # Replayed in order, before the queued sends.
        await second.expect("sub BTC", "sub ETH", "order 1", "order 2")
        await second.send("BTC 2")
        got = await items(feed, 2)
        assert got[0] == event(0.5, "close 1006", 2)
        assert data(got[1]) == "BTC 2"
        assert feed.metrics.send_queue_high_water == 2
        assert feed.metrics.sends_refused == 1
        assert feed.metrics.send_queue_depth == 0
    assert first.received == ["sub BTC", "sub ETH"]
    assert second.received == ["sub BTC", "sub ETH", "order 1", "order 2"]
    assert await second.wait_closed() == 1000
    assert fake_time.sleeps == [0.5]
    assert feed.metrics.causes == {"close 1006": 1}
    assert (feed.metrics.attempts, feed.metrics.connections) == (2, 2)


async def test_flapping_server_meets_a_growing_delay(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        await feed.subscribe("sub")
        # Four connections that close at once after the subscription: each
        # lived 0 s (< stable_after), so each counts as a failure.
        for _ in range(4):
            conn = await server.accept()
            await conn.expect("sub")
            await conn.close(1011, b"flap")
        conn = await server.accept()
        await conn.expect("sub")
        await conn.send("welcome")
        got = await items(feed, 5)
    assert fake_time.sleeps == [0.5, 2.0, 4.0, 8.0]
    assert got == [
        event(0.5, "close 1011", 2),
        event(2.0, "close 1011", 3),
        event(4.0, "close 1011", 4),
        event(8.0, "close 1011", 5),
        "welcome",
    ]
    assert [c.received for c in server.connections] == [["sub"]] * 5
    assert feed.metrics.causes == {"close 1011": 4}
    assert list(feed.metrics.delays) == [0.5, 2.0, 4.0, 8.0]


async def test_flap_during_the_opening_counts_as_a_failed_attempt(
    raw_server: Any, fake_time: FakeTime
) -> None:
    # The server answers the upgrade, reads the login, then drops TCP
    # without answering it, three times: each attempt fails in its on_open
    # hook, and the delays grow.
    logins: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        logins.append(frame.payload)
        if len(logins) <= 3:
            return  # the fixture closes the socket
        peer.send(server_frame(0x1, b"welcome"))
        frame = await peer.read_frame()
        assert frame.payload == b"sub"
        peer.send(server_frame(0x1, b"hello"))
        await peer.read_close()

    raw: RawServer = await raw_server(handler)
    replies: list[str] = []

    async def login(link: aiows.feeds.Link) -> None:
        await link.send("login")
        replies.append(await link.recv(timeout=5))

    feed = aiows.feed(raw.url, backoff=fake_time.backoff())
    feed.on_open(login)
    async with feed:
        await feed.subscribe("sub")
        assert await next_item(feed) == "hello"
        assert feed.metrics.attempts == 4
        assert feed.metrics.connections == 1
    assert logins == [b"login"] * 4
    assert replies == ["welcome"]
    assert fake_time.sleeps == [0.5, 2.0, 4.0]
    assert feed.metrics.causes == {"close 1006": 3}


async def test_a_stable_connection_starts_the_backoff_over(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        for _ in range(2):  # two flaps: 0.5, then 2.0
            conn = await server.accept()
            await conn.close(1011)
        conn = await server.accept()
        await conn.send("steady")
        assert await items(feed, 3) == [
            event(0.5, "close 1011", 2),
            event(2.0, "close 1011", 3),
            "steady",
        ]
        fake_time.now += 10.0  # it lived reset_after seconds
        await conn.close(1000)
        conn = await server.accept()
        assert await next_item(feed) == event(0.5, "close 1000", 4)
    assert fake_time.sleeps == [0.5, 2.0, 0.5]


@pytest.mark.parametrize(
    ("code", "face"), [(1001, "websockets"), (1012, "websockets"), (1012, "aiohttp")]
)
async def test_departure_codes_reconnect_at_once_unless_flapping(
    server: FeedServer, fake_time: FakeTime, code: int, face: str
) -> None:
    backoff = fake_time.backoff()
    async with aiows.feed(server.url, face=face, backoff=backoff) as feed:
        await feed.subscribe("sub")
        conn = await server.accept()
        await conn.expect("sub")
        fake_time.now += 10.0
        await conn.close(code, b"restarting")
        conn = await server.accept()
        await conn.expect("sub")
        assert await next_item(feed) == event(0.0, f"close {code}", 2, failover=True)
        assert fake_time.sleeps == []
        # The same code from a connection that lived no time: a failure.
        await conn.close(code)
        conn = await server.accept()
        await conn.expect("sub")
        assert await next_item(feed) == event(0.5, f"close {code}", 3, failover=True)
    assert fake_time.sleeps == [0.5]
    assert feed.metrics.failovers == 2


async def test_retry_after_is_capped_by_the_backoff_maximum(
    server: FeedServer, fake_time: FakeTime
) -> None:
    server.refuse = [
        (503, {"Retry-After": "120"}),
        (429, {"Retry-After": "4"}),
        (502, {}),
    ]
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        await server.accept()
        await feed.ready(5)
    # 120 s asked, 30 s (maximum) waited; 4 s; then the first backoff delay.
    assert fake_time.sleeps == [30.0, 4.0, 0.5]
    assert feed.metrics.causes == {"InvalidStatus": 3}
    assert len(server.upgrades) == 4


@pytest.mark.parametrize("face", ["websockets", "aiohttp"])
async def test_a_fatal_error_ends_the_feed(
    server: FeedServer, fake_time: FakeTime, face: str
) -> None:
    server.refuse = [(503, {}), (403, {})]
    feed = aiows.feed(server.url, face=face, backoff=fake_time.backoff())
    tickers = feed.channel(lambda m: True)
    with pytest.raises(aiows.InvalidStatus) as caught:
        async for _ in feed:
            pass
    assert caught.value.status == 403
    assert feed.exception() is caught.value
    assert feed.closed
    with pytest.raises(aiows.InvalidStatus):
        await tickers.get()
    with pytest.raises(aiows.InvalidStatus):
        await feed.send("late")
    assert fake_time.sleeps == [0.5]


async def test_process_exception_decides_what_is_retried(
    server: FeedServer, fake_time: FakeTime
) -> None:
    server.refuse = [(401, {}), (401, {})]
    seen: list[int] = []

    def retry_401(exc: Exception) -> Exception | None:
        if isinstance(exc, aiows.InvalidStatus) and exc.status == 401:
            seen.append(exc.status)
            return None
        return aiows.process_exception(exc)

    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), process_exception=retry_401
    ) as feed:
        await server.accept()
        await feed.ready(5)
    assert seen == [401, 401]
    assert fake_time.sleeps == [0.5, 2.0]


async def test_process_exception_may_raise_another_error(
    server: FeedServer, fake_time: FakeTime
) -> None:
    server.refuse = [(403, {})]

    def wrap(exc: Exception) -> Exception | None:
        return LookupError("no such account")

    feed = aiows.feed(server.url, backoff=fake_time.backoff(), process_exception=wrap)
    with pytest.raises(LookupError) as caught:
        async for _ in feed:
            pass
    assert isinstance(caught.value.__cause__, aiows.InvalidStatus)


async def test_come_back_later_message(server: FeedServer, fake_time: FakeTime) -> None:
    def retry_later(message: Any) -> Any:
        if message.get("type") == "busy":
            return message["retry_in"] or True
        return None

    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        loads=json.loads,
        retry_later=retry_later,
    ) as feed:
        conn = await server.accept()
        await conn.send('{"n": 1}', '{"type": "busy", "retry_in": 7}', '{"n": 2}')
        # The client leaves at once: the server sees its close.
        assert await conn.wait_closed() == 1000
        conn = await server.accept()
        fake_time.now += 60.0  # even a long life does not reset the backoff
        await conn.send('{"type": "busy", "retry_in": 0}')
        await server.accept()
        got = await items(feed, 3)
    assert got == [
        {"n": 1},
        event(7.0, "retry later", 2, trigger={"type": "busy", "retry_in": 7}),
        event(0.5, "retry later", 3, trigger={"type": "busy", "retry_in": 0}),
    ]
    # 7 s as asked; then True: the next backoff delay (the first, 0.5).
    assert fake_time.sleeps == [7.0, 0.5]
    assert feed.metrics.control == 2
    assert feed.metrics.causes == {"retry later": 2}


async def test_a_silent_server_is_left_after_idle_timeout(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), idle_timeout=0.05
    ) as feed:
        await feed.subscribe("sub")
        # A first connection that ends before its idle timer fires.
        conn = await server.accept()
        await conn.expect("sub")
        fake_time.now += 60
        await conn.close(1012)
        conn = await server.accept()
        await conn.expect("sub")
        await conn.send("tick 1")
        # Then nothing, though the connection is fine (pings are answered).
        assert await conn.wait_closed() == 1000
        second = await server.accept()
        await second.expect("sub")
        await second.send("tick 2")
        got = await items(feed, 4)
    assert got == [
        event(0.0, "close 1012", 2, failover=True),
        "tick 1",
        event(0.5, "stall", 3),
        "tick 2",
    ]
    assert feed.metrics.causes == {"close 1012": 1, "stall": 1}


async def test_a_server_that_stops_reading_is_left_by_the_keepalive(
    raw_server: Any, fake_time: FakeTime
) -> None:
    # The first server never reads again after the upgrade and never
    # answers a ping: the websockets face's keepalive ends the connection
    # (sends 1011; no close comes back: 1006), and the feed reconnects and
    # replays.
    received: list[list[bytes]] = []

    async def handler(peer: RawPeer) -> None:
        frames: list[bytes] = []
        received.append(frames)
        if len(received) == 1:
            await peer.expect_eof(timeout=5)
            return
        while True:
            frame = await peer.read_frame()
            if frame.opcode == 0x1:
                frames.append(frame.payload)
                if frame.payload == b"sub":
                    peer.send(server_frame(0x1, b"back"))
            elif frame.opcode == 0x9:
                peer.send(server_frame(0xA, frame.payload))
            elif frame.opcode == 0x8:
                return

    raw: RawServer = await raw_server(handler)
    async with aiows.feed(
        raw.url,
        backoff=fake_time.backoff(),
        ping_interval=0.05,
        ping_timeout=0.05,
        close_timeout=0.05,  # nor will it answer the close
    ) as feed:
        await feed.subscribe("sub")
        assert await items(feed, 2) == [event(0.5, "close 1006", 2), "back"]
    assert received[1][0] == b"sub"
    assert feed.metrics.causes == {"close 1006": 1}


async def test_credentials_are_fresh_for_every_attempt(
    server: FeedServer, fake_time: FakeTime
) -> None:
    tokens = iter(f"tok-{n}" for n in range(1, 10))

    async def fresh_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {next(tokens)}"}

    server.refuse = [(503, {})]
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        additional_headers=fresh_headers,
    ) as feed:
        conn = await server.accept()
        await conn.close(1012)
        await server.accept()
        await feed.ready(5)
    assert [h["Authorization"] for h in server.upgrades] == [
        "Bearer tok-1",
        "Bearer tok-2",
        "Bearer tok-3",
    ]


async def test_session_ws_feed_uses_the_session(
    server: FeedServer, fake_time: FakeTime
) -> None:
    session = aiows.ClientSession(headers={"X-App": "feeds"})
    backoff = fake_time.backoff()
    async with session, session.ws_feed(server.url, backoff=backoff) as feed:
        conn = await server.accept()
        await conn.send("hi")
        msg = await next_item(feed)
        assert isinstance(msg, aiows.WSMessage)
        assert msg.data == "hi"
        assert isinstance(feed.connection, aiows.ClientWebSocketResponse)
    assert server.upgrades[0]["X-App"] == "feeds"
    assert await conn.wait_closed() == 1000


async def test_closing_the_feed_mid_backoff_stops_reconnecting(
    server: FeedServer, fake_time: FakeTime
) -> None:
    fake_time.hold()
    feed = aiows.feed(server.url, backoff=fake_time.backoff())
    await feed.start()
    conn = await server.accept()
    await conn.close(1011)
    await fake_time.next_sleep()
    await feed.close()
    fake_time.release()
    await asyncio.sleep(0)
    assert len(server.connections) == 1
    with pytest.raises(aiows.feeds.FeedClosed):
        await feed.recv()
    with pytest.raises(aiows.feeds.FeedClosed):
        await feed.start()
