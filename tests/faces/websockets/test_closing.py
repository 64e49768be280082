"""The websockets face: the closing handshake and ConnectionClosed.

The server's close is answered at once; messages that arrived before it
stay readable; after the close, ``recv()`` and ``send()`` raise
``ConnectionClosedOK`` or ``ConnectionClosedError``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)


def connect(url: str, **kwargs: Any) -> Any:
    """``aiows.connect`` without compression or keepalive pings, for raw servers."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("ping_interval", None)
    return aiows.connect(url, **kwargs)


async def test_server_close_is_answered_at_once(wire_server: StartServer) -> None:
    """No recv() at all: the reply echoes the server's code."""
    reply: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(4100, b"done")))
        reply.set_result(await peer.read_close())

    server = await wire_server(handler)
    ws = await connect(server.url, close_timeout=5.0)
    code, _ = await bounded(reply)
    assert code == 4100
    await bounded(ws.wait_closed())
    assert ws.close_code == 4100
    assert ws.close_reason == "done"


async def test_server_close_reply_echoes_code_and_reason(
    wire_server: StartServer,
) -> None:
    reply: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(4100, b"done")))
        reply.set_result(await peer.read_close())

    server = await wire_server(handler)
    ws = await connect(server.url)
    try:
        assert await bounded(reply) == (4100, b"done")
    finally:
        await bounded(ws.wait_closed())


async def test_messages_before_the_close_stay_readable(
    wire_server: StartServer,
) -> None:
    """In separate reads: each message is queued before the close arrives."""
    read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"one"))
        await read.wait()
        # The pong comes from the read that queued "two": then the close.
        peer.send(server_frame(OP_TEXT, b"two") + server_frame(OP_PING, b"sync"))
        assert (await peer.read_frame()).opcode == OP_PONG
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert await bounded(ws.recv()) == "one"
        read.set()
        await bounded(ws.wait_closed())
        assert await bounded(ws.recv()) == "two"
        with pytest.raises(aiows.ConnectionClosedOK):
            await ws.recv()


async def test_messages_in_the_same_read_as_the_close_stay_readable(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"text")
            + server_frame(OP_TEXT, b"more")
            + server_frame(OP_CLOSE, close_payload(1000))
        )
        await peer.read_close()

    server = await wire_server(handler)
    ws = await connect(server.url)
    await bounded(ws.wait_closed())
    assert await bounded(ws.recv()) == "text"
    assert await bounded(ws.recv()) == "more"
    with pytest.raises(aiows.ConnectionClosedOK):
        await ws.recv()


async def test_closed_connection_refuses_to_send(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        with pytest.raises(aiows.ConnectionClosedOK):
            await bounded(ws.recv())
        with pytest.raises(aiows.ConnectionClosed) as info:
            await ws.send("too late")
        assert isinstance(info.value, aiows.ConnectionClosedOK)
        assert info.value.code == 1000
        with pytest.raises(aiows.ConnectionClosed):
            await ws.send(b"too late")
        with pytest.raises(aiows.ConnectionClosed):
            await ws.send(["too", "late"])
        with pytest.raises(aiows.ConnectionClosed):
            await ws.ping()
        with pytest.raises(aiows.ConnectionClosed):
            await ws.pong()


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        ((), 1000, b""),
        ((4000, "bye"), 4000, b"bye"),
        ((1001, "d\u00e9part"), 1001, "d\u00e9part".encode()),
    ],
)
async def test_client_close_sends_code_and_reason(
    wire_server: StartServer, args: tuple[Any, ...], code: int, reason: bytes
) -> None:
    received: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await peer.read_close())
        peer.send(server_frame(OP_CLOSE, close_payload(code, b"ack")))

    server = await wire_server(handler)
    ws = await connect(server.url)
    assert await bounded(ws.close(*args)) is None
    assert await bounded(received) == (code, reason)
    assert ws.close_code == code
    assert ws.close_reason == "ack"
    exc_type = (
        aiows.ConnectionClosedOK
        if code in (1000, 1001)
        else (aiows.ConnectionClosedError)
    )
    with pytest.raises(exc_type):
        await ws.recv()


async def test_close_is_idempotent_and_wait_closed(echo_url: str) -> None:
    ws = await aiows.connect(echo_url)
    assert ws.local_address[0] == "127.0.0.1"
    assert ws.remote_address[0] == "127.0.0.1"
    assert ws.close_code is None and ws.close_reason is None
    await bounded(asyncio.gather(ws.close(), ws.close(4000, "twice"), ws.wait_closed()))
    await bounded(ws.close())
    assert ws.close_code == 1000
    assert ws.close_reason == ""


async def test_addresses_stay_known_after_the_close(echo_url: str) -> None:
    ws = await aiows.connect(echo_url)
    local, remote = ws.local_address, ws.remote_address
    await bounded(ws.close())
    assert ws.local_address == local
    assert ws.remote_address == remote


async def test_async_for_ends_on_a_normal_close(wire_server: StartServer) -> None:
    read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"one"))
        await read.wait()
        peer.send(server_frame(OP_CLOSE, close_payload(1001)))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        seen = []
        async for message in ws:
            seen.append(message)
            read.set()
        assert seen == ["one"]
        assert ws.close_code == 1001


async def test_async_for_raises_when_tcp_drops(wire_server: StartServer) -> None:
    read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"only"))
        await read.wait()  # then the fixture closes TCP, no close frame

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        seen = []
        with pytest.raises(aiows.ConnectionClosedError) as info:
            async for message in ws:
                seen.append(message)
                read.set()
        assert seen == ["only"]
        assert info.value.code == 1006
        assert ws.close_code == 1006


async def test_pending_pings_fail_when_connection_ends(
    wire_server: StartServer,
) -> None:
    got_ping = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()
        got_ping.set()
        # Drop without pong or close.

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        waiter = await ws.ping(b"lost")
        await bounded(got_ping.wait())
        with pytest.raises(aiows.ConnectionClosedError):
            await bounded(waiter)
        assert ws.close_code == 1006


async def test_connection_closed_describes_itself() -> None:
    exc = aiows.ConnectionClosedError(None, None)
    assert exc.code == 1006
    assert exc.reason == ""
    assert str(exc) == "no close frame received or sent"
    sent_only = aiows.ConnectionClosedError(None, aiows.Close(1000, "bye"))
    assert "sent 1000 (OK) bye" in str(sent_only)
    rcvd_only = aiows.ConnectionClosedOK(aiows.Close(1001), None)
    assert str(rcvd_only) == "received 1001 (going away); no close frame sent"
    both = aiows.ConnectionClosedOK(aiows.Close(1000), aiows.Close(1000), False)
    assert str(both).startswith("sent 1000 (OK); then received")
    assert aiows.Close(1000) == aiows.Close(1000, "")
    assert aiows.Close(1000) != "x"
    assert len({aiows.Close(1000), aiows.Close(1000)}) == 1
    assert repr(aiows.Close(4000, "r")) == "Close(4000, 'r')"
