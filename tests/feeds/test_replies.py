"""Requests and replies correlated by a key, with a timeout."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import aiows
from aiows.feeds import (
    Disconnected,
    FeedClosed,
    RequestTimeout,
    SendPolicy,
    TooManyRequests,
)

from .conftest import TIMEOUT, FakeTime, FeedServer, next_item


def rpc_feed(url: str, fake_time: FakeTime, **kwargs: Any) -> aiows.Feed:
    return aiows.feed(
        url,
        backoff=fake_time.backoff(),
        loads=json.loads,
        dumps=json.dumps,
        reply_key=lambda m: m.get("id"),
        **kwargs,
    )


async def test_replies_find_their_requests_in_any_order(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with rpc_feed(server.url, fake_time) as feed:
        conn = await server.accept()
        await feed.ready(TIMEOUT)
        first = asyncio.ensure_future(
            feed.request({"id": 1, "method": "balance"}, key=1)
        )
        second = asyncio.ensure_future(
            feed.request({"id": 2, "method": "orders"}, key=2)
        )
        await conn.expect(
            '{"id": 1, "method": "balance"}', '{"id": 2, "method": "orders"}'
        )
        await conn.send(
            '{"id": 2, "result": []}',
            '{"ticker": "BTC"}',
            '{"id": 1, "result": 42}',
        )
        assert await asyncio.wait_for(first, TIMEOUT) == {"id": 1, "result": 42}
        assert await asyncio.wait_for(second, TIMEOUT) == {"id": 2, "result": []}
        # Only the message that answers nothing reached the stream.
        assert await next_item(feed) == {"ticker": "BTC"}
    metrics = feed.metrics
    assert (metrics.replies, metrics.requests_pending) == (2, 0)


async def test_a_request_times_out_and_its_late_reply_is_routed(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with rpc_feed(server.url, fake_time) as feed:
        conn = await server.accept()
        await feed.ready(TIMEOUT)
        with pytest.raises(RequestTimeout, match="no reply with key 7"):
            await feed.request({"id": 7}, key=7, timeout=0.01)
        await conn.send('{"id": 7, "result": "late"}')
        assert await next_item(feed) == {"id": 7, "result": "late"}
    assert feed.metrics.requests_timed_out == 1
    assert feed.metrics.requests_pending == 0


async def test_a_request_fails_when_its_connection_ends(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with rpc_feed(server.url, fake_time) as feed:
        conn = await server.accept()
        await feed.ready(TIMEOUT)
        pending = asyncio.ensure_future(feed.request({"id": 1}, key=1))
        await conn.expect('{"id": 1}')
        conn.abort()
        with pytest.raises(Disconnected, match="ended before the reply"):
            await asyncio.wait_for(pending, TIMEOUT)
    assert feed.metrics.requests_failed == 1


async def test_a_queued_request_is_answered_on_the_next_connection(
    server: FeedServer, fake_time: FakeTime
) -> None:
    fake_time.hold()
    async with rpc_feed(
        server.url, fake_time, send_policy=SendPolicy.queue(max=4)
    ) as feed:
        (await server.accept()).abort()
        await fake_time.next_sleep()
        pending = asyncio.ensure_future(feed.request({"id": 9}, key=9))
        await asyncio.sleep(0)
        assert feed.metrics.send_queue_depth == 1
        fake_time.release()
        conn = await server.accept()
        await conn.expect('{"id": 9}')
        await conn.send('{"id": 9, "result": "ok"}')
        assert await asyncio.wait_for(pending, TIMEOUT) == {"id": 9, "result": "ok"}


async def test_requests_are_bounded(server: FeedServer, fake_time: FakeTime) -> None:
    async with rpc_feed(server.url, fake_time, max_requests=2) as feed:
        await server.accept()
        await feed.ready(TIMEOUT)
        waiting = [
            asyncio.ensure_future(feed.request({"id": n}, key=n)) for n in (1, 2)
        ]
        await asyncio.sleep(0)
        with pytest.raises(TooManyRequests, match="2 requests already wait"):
            await feed.request({"id": 3}, key=3)
        with pytest.raises(ValueError, match="key 1 already waits"):
            await feed.request({"id": 1}, key=1)
    # Closing the feed fails what still waits.
    for request in waiting:
        with pytest.raises(FeedClosed):
            await request


async def test_request_needs_reply_key(server: FeedServer, fake_time: FakeTime) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        with pytest.raises(TypeError, match="needs the feed's reply_key"):
            await feed.request("ping", key=1)
