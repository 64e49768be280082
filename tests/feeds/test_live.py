"""The feed object: its lifecycle, its faces, its options checked at the
call, and what ``async for`` yields."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

import aiows
from aiows.feeds import FeedClosed, Reconnected

from ..conftest import RawPeer, RawServer, server_frame
from .conftest import TIMEOUT, FakeTime, FeedServer, data, next_item


async def test_async_for_starts_and_closes_the_feed(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, backoff=fake_time.backoff())
    got: list[Any] = []

    async def serve() -> None:
        conn = await server.accept()
        await conn.send("one", "two")
        await conn.close(1012)
        conn = await server.accept()
        await conn.send("three")

    serving = asyncio.ensure_future(serve())
    async for message in feed:
        got.append(message)
        if message == "three":
            break
    await serving
    assert got == ["one", "two", Reconnected(0.5, "close 1012", True, 1, 2), "three"]
    assert await server.connections[1].wait_closed() == 1000
    assert feed.closed
    assert repr(feed) == f"<Feed {server.url} closed>"


async def test_state_and_the_connection_of_each_face(
    server: FeedServer, fake_time: FakeTime
) -> None:
    expected = {
        "websockets": aiows.ClientConnection,
        "aiohttp": aiows.ClientWebSocketResponse,
    }
    for face, cls in expected.items():
        feed = aiows.feed(server.url, face=face, backoff=fake_time.backoff())
        assert repr(feed) == f"<Feed {server.url} waiting>"
        assert (feed.connected, feed.connection) == (False, None)
        async with feed:
            await feed.start()  # started already: nothing more
            conn = await server.accept()
            assert isinstance(await feed.ready(TIMEOUT), cls)
            await conn.send("one")
            async for message in feed:  # the feed stays open after the loop
                assert data(message) == "one"
                break
            assert not feed.closed
            assert feed.connected
            assert isinstance(feed.connection, cls)
            assert repr(feed) == f"<Feed {server.url} open>"
        await feed.close()  # a second close does nothing
        assert feed.exception() is None
        with pytest.raises(FeedClosed):
            await feed.start()
        late = feed.channel(lambda m: True)
        with pytest.raises(FeedClosed):
            await late.get()


async def test_ready_times_out_while_no_connection_is_ready(
    server: FeedServer, fake_time: FakeTime
) -> None:
    fake_time.hold()
    server.refuse = [(503, {})]
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        await fake_time.next_sleep()
        with pytest.raises(asyncio.TimeoutError):
            await feed.ready(0.01)
        fake_time.release()
        await server.accept()
        await feed.ready(TIMEOUT)


async def test_sessions_of_either_kind(server: FeedServer, fake_time: FakeTime) -> None:
    async with aiohttp.ClientSession(headers={"X-Shared": "yes"}) as http:
        for face in ("websockets", "aiohttp"):
            async with aiows.feed(
                server.url, face=face, session=http, backoff=fake_time.backoff()
            ) as feed:
                conn = await server.accept()
                await conn.send("hi")
                assert data(await next_item(feed)) == "hi"
    assert [u["X-Shared"] for u in server.upgrades] == ["yes", "yes"]


async def test_the_name_hides_credentials(fake_time: FakeTime) -> None:
    feed = aiows.feed("ws://user:secret@127.0.0.1:1/md", backoff=fake_time.backoff())
    assert feed.name == "ws://127.0.0.1:1/md"
    assert aiows.feed("ws://127.0.0.1:1/", name="prices").name == "prices"


async def test_an_application_function_that_raises_ends_the_feed(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), loads=json.loads
    ) as feed:
        conn = await server.accept()
        await conn.send('{"ok": 1}', "not json")
        assert await next_item(feed) == {"ok": 1}
        with pytest.raises(json.JSONDecodeError):
            await next_item(feed)
        assert isinstance(feed.exception(), json.JSONDecodeError)
    assert await conn.wait_closed() == 1000


async def test_the_aiohttp_face_skips_pings_and_reads_errors(
    raw_server: Any, fake_time: FakeTime
) -> None:
    # autoping=False shows pings as messages: the feed passes them by.  A
    # broken frame is an ERROR message: the connection ends (1002), and
    # the feed reconnects.
    peers: list[RawPeer] = []

    async def handler(peer: RawPeer) -> None:
        peers.append(peer)
        if len(peers) == 1:
            peer.send(server_frame(0x9, b"ping") + server_frame(0x1, b"one"))
            peer.send(server_frame(0x3, b"reserved opcode"))
        else:
            peer.send(server_frame(0x1, b"two"))
        await peer.read_close()

    raw: RawServer = await raw_server(handler)
    async with aiows.feed(
        raw.url, face="aiohttp", autoping=False, backoff=fake_time.backoff()
    ) as feed:
        got = [await next_item(feed) for _ in range(3)]
    assert data(got[0]) == "one"
    assert got[1] == Reconnected(0.5, "close 1002", False, 1, 2)
    assert data(got[2]) == "two"


async def test_ping_rtt_reads_the_connection(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        await server.accept()
        ws = await feed.ready(TIMEOUT)
        assert feed.metrics.ping_rtt == 0.0
        rtt = await asyncio.wait_for(await ws.ping(), TIMEOUT)
        assert feed.metrics.ping_rtt == rtt > 0
        snapshot = feed.metrics.snapshot()
    assert snapshot["ping_rtt"] == rtt
    assert snapshot["connections"] == 1
    assert snapshot["channels"]["main"]["depth"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"face": "trio"}, ValueError, "face must be 'websockets', 'aiohttp'"),
        ({"session": "s"}, TypeError, "session must be an aiows.ClientSession"),
        ({"bogus": 1}, TypeError, "unexpected keyword argument"),
        ({"dedup_window": 0}, ValueError, "dedup_window must be a positive int"),
        ({"max_queue": -1}, ValueError, "max_queue must be a positive int"),
        ({"max_requests": 0}, ValueError, "max_requests must be a positive int"),
        ({"failover_codes": [999]}, ValueError, "999 is not a close code"),
        ({"idle_timeout": 0}, ValueError, "idle_timeout must be a positive"),
        ({"stable_after": -1}, ValueError, "stable_after must be a positive"),
        ({"handover_timeout": "5"}, ValueError, "handover_timeout must be"),
        ({"overflow": "latest"}, ValueError, "'latest' is for channels"),
        ({"failover_on": 1}, TypeError, "failover_on must be callable"),
        ({"loads": "json"}, TypeError, "loads must be callable"),
        ({"backoff": 3}, TypeError, "backoff must be an aiows.Backoff"),
    ],
)
def test_options_are_checked_at_the_call(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        aiows.feed("ws://127.0.0.1:1/", **kwargs)


def test_defaults() -> None:
    feed = aiows.feed("ws://127.0.0.1:1/", stable_after=0, failover_codes=(4000,))
    options = feed._options
    assert options.stable == 0
    assert options.failover_codes == frozenset({4000})
    assert aiows.feed("ws://127.0.0.1:1/")._options.stable == 30.0  # reset_after
    assert aiows.feed("ws://127.0.0.1:1/", backoff=None)._options.backoff == (
        aiows.Backoff()
    )
