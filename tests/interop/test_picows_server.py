"""aiows against a real ``picows`` server.

picows has no permessage-deflate: an offer of compression is simply not
answered, and aiows must then run without it.
"""

from __future__ import annotations

import asyncio

import pytest

import aiows
from tests.interop.conftest import (
    ECHO_PAYLOADS,
    FRAGMENTED,
    TIMEOUT,
    CloseSeen,
    Message,
    StartPicows,
    assert_echo,
    echo_once,
)


@pytest.mark.parametrize("compress", [0, 9, 15])
async def test_compression_offer_is_ignored(
    picows_server: StartPicows, compress: int
) -> None:
    server = await picows_server()
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert ws.compress == 0
        assert_echo(await echo_once(ws, "plain"), "plain")
    offer = server.offered_extensions[0]
    if compress:
        assert offer is not None
        assert offer.startswith("permessage-deflate")
    else:
        assert offer is None
    assert server.received == ["plain"]
    assert server.rsv_frames == []
    assert await server.next_close() == CloseSeen(1000, "")


@pytest.mark.parametrize(
    "message", [pytest.param(m, id=name) for name, m in ECHO_PAYLOADS]
)
async def test_echo(picows_server: StartPicows, message: Message) -> None:
    server = await picows_server()
    async with aiows.ws_connect(server.url, compress=15) as ws:
        assert ws.compress == 0
        assert_echo(await echo_once(ws, message), message)
        assert_echo(await echo_once(ws, message), message)
    assert server.received == [message, message]
    assert server.rsv_frames == []
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    ("fragments", "whole"),
    [pytest.param(f, w, id=name) for name, f, w in FRAGMENTED],
)
async def test_fragmented_send(
    picows_server: StartPicows, fragments: list[Message], whole: Message
) -> None:
    """``send(iterable)`` of the websockets face: picows sees each frame,
    the echo server joins them (the empty final continuation included)."""
    server = await picows_server()
    async with aiows.connect(server.url, compression=None, ping_interval=None) as ws:
        await ws.send(fragments)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == whole
        await ws.send("after")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "after"
    assert server.received == [whole, "after"]
    assert server.rsv_frames == []
    assert await server.next_close() == CloseSeen(1000, "")


async def test_ping(picows_server: StartPicows) -> None:
    server = await picows_server()
    async with aiows.ws_connect(server.url) as ws:
        waiter = await ws.ping()
        rtt = await asyncio.wait_for(waiter, TIMEOUT)
        assert isinstance(rtt, float)
        assert rtt > 0
        waiter = await ws.ping(b"payload")
        assert await asyncio.wait_for(waiter, TIMEOUT) > 0
        assert_echo(await echo_once(ws, "after ping"), "after ping")
    assert server.received == ["after ping"]


@pytest.mark.parametrize(
    ("code", "reason"), [(4001, "bye"), (1000, ""), (1001, "going away \u2713")]
)
async def test_server_initiated_close(
    picows_server: StartPicows, code: int, reason: str
) -> None:
    server = await picows_server()
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_str(f"close:{code}:{reason}")
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type == aiows.WSMsgType.CLOSE
        assert msg.data == code
        assert msg.extra == reason  # the aiohttp face has no close_reason
        assert ws.close_code == code
        assert (await ws.receive(timeout=TIMEOUT)).type == aiows.WSMsgType.CLOSED
    assert ws.closed
    assert ws.close_code == code
    # aiows echoes the server's code in its answering close frame.
    seen = await server.next_close()
    assert seen.code == code


async def test_client_initiated_close(picows_server: StartPicows) -> None:
    server = await picows_server()
    async with aiows.ws_connect(server.url) as ws:
        assert_echo(await echo_once(ws, "before close"), "before close")
        assert await ws.close(code=4000, message=b"client bye") is True
        assert ws.closed
        assert ws.close_code == 4000  # the echo server answers with the same code
        assert await ws.close() is False
    assert await server.next_close() == CloseSeen(4000, "client bye")
    assert server.received == ["before close"]
