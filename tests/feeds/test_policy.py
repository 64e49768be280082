"""Sends while disconnected: raise, wait, or queue up to a bound."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

import aiows
from aiows.feeds import Disconnected, FeedClosed, SendPolicy, SendQueueFull

from ..conftest import RawPeer, RawServer
from .conftest import TIMEOUT, FakeTime, FeedServer, wait_until


async def gap(server: FeedServer, fake_time: FakeTime) -> None:
    """Drop the first connection and hold the feed in its backoff delay."""
    fake_time.hold()
    conn = await server.accept()
    conn.abort()
    await fake_time.next_sleep()


async def test_raise_refuses_at_once(server: FeedServer, fake_time: FakeTime) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), send_policy="raise"
    ) as feed:
        await gap(server, fake_time)
        with pytest.raises(Disconnected, match="send policy: raise"):
            await feed.send("lost?")
        assert feed.metrics.sends_refused == 1
        fake_time.release()
        conn = await server.accept()
        await feed.ready(TIMEOUT)
        await feed.send("now")
        await conn.expect("now")
    assert server.connections[0].received == []


async def test_wait_sends_on_the_next_connection_in_order(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url, backoff=fake_time.backoff(), send_policy=SendPolicy.wait()
    ) as feed:
        await feed.subscribe("sub")
        await (await server.accept()).expect("sub")
        fake_time.hold()
        server.connections[0].abort()
        await fake_time.next_sleep()
        sends = [asyncio.ensure_future(feed.send(f"m{n}")) for n in range(3)]
        await asyncio.sleep(0)
        assert not any(send.done() for send in sends)
        fake_time.release()
        conn = await server.accept()
        await asyncio.wait_for(asyncio.gather(*sends), TIMEOUT)
        await conn.expect("sub", "m0", "m1", "m2")


async def test_wait_gives_up_after_its_timeout(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        send_policy=SendPolicy.wait(timeout=0.01),
    ) as feed:
        await gap(server, fake_time)
        with pytest.raises(Disconnected, match=r"within 0\.01 s"):
            await feed.send("too late")
        assert feed.metrics.sends_refused == 1
        fake_time.release()


async def test_queue_is_bounded_and_goes_out_after_the_replay(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(
        server.url,
        backoff=fake_time.backoff(),
        send_policy=SendPolicy.queue(max=3),
        dumps=json.dumps,
    ) as feed:
        await feed.subscribe({"op": "sub"})
        await gap(server, fake_time)
        for n in range(3):
            await feed.send({"n": n})
        with pytest.raises(SendQueueFull, match="3 messages already wait"):
            await feed.send({"n": 3})
        # Sends that come while the queue is non-empty join its end, even
        # once connected; they never overtake it.
        fake_time.release()
        conn = await server.accept()
        await feed.send({"n": 4})
        await conn.expect(
            '{"op": "sub"}', '{"n": 0}', '{"n": 1}', '{"n": 2}', '{"n": 4}'
        )
    metrics = feed.metrics
    assert (metrics.send_queue_high_water, metrics.sends_refused) == (3, 1)
    assert metrics.send_queue_depth == 0
    assert metrics.unsent_at_close == 0


async def test_queued_messages_unsent_at_close_are_counted(
    server: FeedServer, fake_time: FakeTime
) -> None:
    feed = aiows.feed(
        server.url, backoff=fake_time.backoff(), send_policy=SendPolicy.queue(5)
    )
    async with feed:
        await gap(server, fake_time)
        waiting = aiows.feed(
            server.url, backoff=fake_time.backoff(), send_policy="wait"
        )
        await feed.send("a")
        await feed.send("b")
    assert feed.metrics.unsent_at_close == 2
    assert feed.metrics.send_queue_depth == 0
    with pytest.raises(FeedClosed):
        await feed.send("c")
    fake_time.release()
    # A send waiting for a connection fails when its feed closes.
    await waiting.start()
    waiter = asyncio.ensure_future(waiting.send("x"))
    await asyncio.sleep(0)
    await waiting.close()
    with pytest.raises(FeedClosed):
        await waiter


async def test_a_message_that_cannot_be_encoded_fails_at_the_send(
    server: FeedServer, fake_time: FakeTime
) -> None:
    async with aiows.feed(server.url, backoff=fake_time.backoff()) as feed:
        with pytest.raises(TypeError, match="pass dumps="):
            await feed.send({"not": "encoded"})
        await server.accept()
        await feed.ready(TIMEOUT)
        await feed.send(b"\x00\x01")
        await feed.send(bytearray(b"ab"))
        conn = server.connections[0]
        await conn.expect(b"\x00\x01", b"ab")


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ("queue", "send_policy must be 'raise', 'wait' or a SendPolicy"),
        (None, "send_policy must be"),
    ],
)
def test_bad_policies_fail_at_the_call(policy: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        aiows.feed("ws://127.0.0.1:1/", send_policy=policy)


def test_policy_checks() -> None:
    with pytest.raises(ValueError, match="must be 'raise', 'wait' or 'queue'"):
        SendPolicy("drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs max >= 1, not 0"):
        SendPolicy.queue(0)
    with pytest.raises(ValueError, match="timeout must be positive"):
        SendPolicy.wait(timeout=0)
    assert SendPolicy.of("raise") is not SendPolicy.RAISE
    assert SendPolicy.of("raise") == SendPolicy.RAISE
    assert SendPolicy.of(SendPolicy.queue(2)).max == 2


async def test_a_send_cut_short_by_the_connection_raises_and_is_not_repeated(
    raw_server: Any, fake_time: FakeTime
) -> None:
    # The server never reads: a big send fills both socket buffers and
    # waits for them to drain; then the server drops the connection.  The
    # send may or may not have reached it: it raises, and is not sent again.
    peers: list[RawPeer] = []
    aborted = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peers.append(peer)
        if len(peers) == 1:
            await aborted.wait()
            peer.writer.transport.abort()
            return
        frames = []
        while True:
            frame = await peer.read_frame()
            if frame.opcode == 0x8:
                break
            frames.append(frame.payload)
        received.append(frames)

    received: list[list[bytes]] = []
    raw: RawServer = await raw_server(handler)
    big = os.urandom(24 * 2**20)  # beyond what the socket buffers hold
    async with aiows.feed(
        raw.url, backoff=fake_time.backoff(), ping_interval=None
    ) as feed:
        await feed.ready(TIMEOUT)
        sending = asyncio.ensure_future(feed.send(big))
        # Written to the transport, now waiting for it to drain.
        await wait_until(lambda: feed.metrics.messages_out == 1)
        assert not sending.done()
        aborted.set()
        with pytest.raises(Disconnected, match="may not have reached the server"):
            await asyncio.wait_for(sending, TIMEOUT)
        await feed.ready(TIMEOUT)
        await feed.send(b"after")
    assert received == [[b"after"]]
    assert feed.metrics.messages_out == 2


async def test_a_queued_message_lost_while_written_is_counted(
    raw_server: Any, fake_time: FakeTime
) -> None:
    # The second connection never reads: the queue's first message fills
    # the buffers, then the server drops it.  It is counted as lost (not
    # sent again); the next one stays queued for the third connection.
    peers: list[RawPeer] = []
    abort = asyncio.Event()
    received: list[list[bytes]] = []

    async def handler(peer: RawPeer) -> None:
        peers.append(peer)
        if len(peers) == 1:
            return  # dropped at once: the feed waits, and queues
        if len(peers) == 2:
            await abort.wait()
            peer.writer.transport.abort()
            return
        frames = []
        while True:
            frame = await peer.read_frame()
            if frame.opcode == 0x8:
                break
            frames.append(frame.payload[:5])
        received.append(frames)

    raw: RawServer = await raw_server(handler)
    fake_time.hold()
    big = os.urandom(24 * 2**20)
    async with aiows.feed(
        raw.url,
        backoff=fake_time.backoff(),
        send_policy=SendPolicy.queue(max=2),
        ping_interval=None,
    ) as feed:
        await fake_time.next_sleep()
        await feed.send(big)
        await feed.send(b"small")
        fake_time.release()
        # The flush wrote the first and waits for the buffers to drain.
        await wait_until(lambda: feed.metrics.messages_out == 1)
        assert feed.metrics.send_queue_depth == 2
        abort.set()
        await feed.ready(TIMEOUT)
        assert feed.metrics.sends_lost == 1
        await feed.send(b"later")
    assert received == [[b"small", b"later"]]
    assert feed.metrics.send_queue_high_water == 2
