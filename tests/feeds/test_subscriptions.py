"""The subscription registry: ``on_open`` hooks, then subscriptions, on
every connection, in order, before anything else is sent."""

from __future__ import annotations

import asyncio
import json

import pytest

import aiows
from aiows.feeds import Link, Reconnected

from .conftest import TIMEOUT, FakeTime, FeedServer, items, next_item


class Refused(Exception):
    """The server refused the login (not an OSError: the retry rule raises it)."""


async def test_hooks_then_subscriptions_on_every_connection(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, backoff=fake_time.backoff())
    sub_a = await feed.subscribe("sub A", unsubscribe="unsub A")
    opened: list[int] = []

    @feed.on_open
    async def login(link: Link) -> None:
        opened.append(link.number)
        await link.send("login")
        assert await link.recv(timeout=TIMEOUT) == "welcome"

    @feed.on_open
    async def hello(link: Link) -> None:
        await link.send("hello")

    async with feed:
        conn = await server.accept()
        await conn.expect("login")
        await conn.send("welcome")
        await conn.expect("hello", "sub A")
        await feed.ready(TIMEOUT)
        # While connected: sent at once, and registered for the next one.
        sub_b = await feed.subscribe("sub B")
        await conn.expect("sub B")
        await feed.unsubscribe(sub_a)
        await conn.expect("unsub A")
        await feed.unsubscribe(sub_a)  # a second time: nothing
        assert feed.subscriptions == [sub_b]
        assert repr(sub_a) == "<Subscription 'sub A' (cancelled)>"
        conn.abort()
        conn = await server.accept()
        await conn.expect("login")
        await conn.send("welcome")
        await conn.expect("hello", "sub B")
        assert isinstance(await next_item(feed), Reconnected)
    assert server.connections[0].received == [
        "login",
        "hello",
        "sub A",
        "sub B",
        "unsub A",
    ]
    assert server.connections[1].received == ["login", "hello", "sub B"]
    # The hooks' replies went to the hooks, not to the stream.
    assert feed.metrics.channels["main"].messages == 1
    assert opened == [1, 2]


async def test_a_subscription_can_resume_where_the_stream_stopped(
    server: FeedServer, fake_time: FakeTime
) -> None:
    last_seen = 0

    def resume() -> str:
        return json.dumps({"op": "sub", "from": last_seen + 1})

    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), loads=json.loads
    ) as feed:
        await feed.subscribe(resume)
        conn = await server.accept()
        await conn.expect('{"op": "sub", "from": 1}')
        await conn.send('{"seq": 1}', '{"seq": 2}')
        for item in await items(feed, 2):
            last_seen = item["seq"]
        conn.abort()
        conn = await server.accept()
        await conn.expect('{"op": "sub", "from": 3}')


async def test_changes_during_a_hand_over_reach_both_connections(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # The new connection's hook is held open while the application
    # subscribes and unsubscribes: the old connection gets both at once,
    # the new one's replay has the registry as it is when it runs.
    release = asyncio.Event()
    opened = 0

    async def hold_second(link: Link) -> None:
        nonlocal opened
        opened += 1
        if opened == 2:
            await release.wait()

    feed = aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        failover_on=lambda m: m == "draining",
    )
    feed.on_open(hold_second)
    async with feed:
        sub_a = await feed.subscribe("sub A", unsubscribe="unsub A")
        old = await server.accept()
        await old.expect("sub A")
        await old.send("draining")
        new = await server.accept()
        await feed.subscribe("sub C", unsubscribe="unsub C")
        await feed.unsubscribe(sub_a)
        await old.expect("sub C", "unsub A")
        release.set()
        await new.expect("sub C")
        assert await old.wait_closed() == 1000
        assert isinstance(await next_item(feed), Reconnected)
    assert new.received == ["sub C"]


async def test_a_subscription_made_while_a_connection_opens_is_sent_once(
    server: FeedServer, fake_time: FakeTime
) -> None:
    # Subscribed while the new connection's hook is held: the replay that
    # follows sends it, and nothing sends it twice.
    release = asyncio.Event()
    calls = 0

    def slow_message() -> str:
        nonlocal calls
        calls += 1
        return "sub slow"

    async def gate(link: Link) -> None:
        await release.wait()

    feed = aiows.feed(server.url, backoff=fake_time.backoff())
    feed.on_open(gate)
    async with feed:
        await feed.subscribe(slow_message)
        conn = await server.accept()
        later = asyncio.ensure_future(feed.subscribe("sub later"))
        await asyncio.sleep(0)
        release.set()
        await asyncio.wait_for(later, TIMEOUT)
        await conn.expect("sub slow", "sub later")
        await feed.ready(TIMEOUT)
    assert conn.received == ["sub slow", "sub later"]
    assert calls == 1


async def test_a_hook_that_raises_ends_the_feed_by_the_retry_rule(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, backoff=fake_time.backoff())

    @feed.on_open
    async def login(link: Link) -> None:
        await link.send("login")
        reply = await link.recv(timeout=TIMEOUT)
        if reply != "ok":
            raise Refused(reply)

    async with feed:
        conn = await server.accept()
        await conn.send("denied")
        with pytest.raises(Refused, match="denied"):
            await next_item(feed)
        # The attempt's connection was closed.
        assert await conn.wait_closed() == 1000
    assert feed.exception() is not None


async def test_a_hook_that_times_out_is_retried(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, backoff=fake_time.backoff())

    timeouts = [0.01, TIMEOUT]

    @feed.on_open
    async def login(link: Link) -> None:
        await link.send("login")
        await link.recv(timeout=timeouts.pop(0))

    async with feed:
        first = await server.accept()  # never answers: the hook times out
        await first.expect("login")
        second = await server.accept()
        await second.expect("login")
        await second.send("ok")
        await feed.ready(TIMEOUT)
    assert fake_time.sleeps == [0.5]
    assert feed.metrics.causes == {"TimeoutError": 1}


async def test_a_subscription_that_cannot_be_encoded_fails_at_once(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(server.url, backoff=fake_time.backoff())
    with pytest.raises(TypeError, match="pass dumps="):
        await feed.subscribe({"op": "subscribe"})
    with pytest.raises(TypeError, match="pass dumps="):
        await feed.subscribe("sub", unsubscribe={"op": "unsubscribe"})
    assert feed.subscriptions == []
