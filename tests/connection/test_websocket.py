"""The application-facing API of a connection: receive, send, iterate."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame

from ._helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    receive_in_task,
)


async def test_receive_timeout_leaves_connection_open(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.1)
        assert not ws.closed
        assert ws.close_code is None
        assert ws.exception() is None
        await ws.send_str("after timeout")
        assert await bounded(ws.receive_str()) == "after timeout"
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_str(timeout=0.05)
        assert not ws.closed


async def test_ws_receive_timeout_option(echo_url: str) -> None:
    timeout = aiows.ClientWSTimeout(ws_receive=0.1, ws_close=2.0)
    async with aiows.ws_connect(echo_url, timeout=timeout) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await bounded(ws.receive())
        assert not ws.closed
        await ws.send_bytes(b"x")
        assert await bounded(ws.receive_bytes()) == b"x"


async def test_concurrent_receive_raises(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        first = await receive_in_task(ws)
        with pytest.raises(aiows.ConcurrencyError) as info:
            await ws.receive()
        assert isinstance(info.value, RuntimeError)
        # The first reader is unaffected and still gets the message.
        await ws.send_str("for the first")
        msg = await bounded(first)
        assert (msg.type, msg.data) == (aiows.WSMsgType.TEXT, "for the first")


async def test_async_for_yields_messages_and_stops_at_close(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"one")
            + server_frame(OP_BINARY, b"two")
            + server_frame(OP_TEXT, b"th", fin=False)
            + server_frame(OP_CONT, b"ree")
            + server_frame(OP_CLOSE, close_payload(1000, b"end"))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        seen = [(msg.type, msg.data) async for msg in ws]
        assert seen == [
            (aiows.WSMsgType.TEXT, "one"),
            (aiows.WSMsgType.BINARY, b"two"),
            (aiows.WSMsgType.TEXT, "three"),
        ]
        assert ws.close_code == 1000
        # Iterating again ends at once.
        assert [msg async for msg in ws] == []


async def test_async_for_stops_when_tcp_drops(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"only"))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert [msg.data async for msg in ws] == ["only"]
        assert ws.close_code == 1006


async def test_send_json_receive_json(echo_url: str) -> None:
    data = {"a": [1, 2.5, None, True], "b": "\u00e9\u20ac"}
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_json(data)
        assert await bounded(ws.receive_json()) == data
        await ws.send_json([1, 2], dumps=lambda v: "[3, 4]")
        assert await bounded(ws.receive_json(loads=lambda s: ("raw", s))) == (
            "raw",
            "[3, 4]",
        )
        await ws.send_str('{"x": 1}')
        msg = await bounded(ws.receive())
        assert msg.json() == {"x": 1}


async def test_send_json_is_a_text_frame(wire_server: StartServer) -> None:
    frame: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        frame.set_result((f.opcode, f.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_json({"k": 1})
        assert await bounded(frame) == (OP_TEXT, b'{"k": 1}')


async def test_message_type_aliases(echo_url: str) -> None:
    assert aiows.MsgType.text == aiows.WSMsgType.TEXT
    assert aiows.MsgType.binary == aiows.WSMsgType.BINARY
    assert aiows.MsgType.closed == aiows.WSMsgType.CLOSED
    assert aiows.WSMsgType.TEXT == aiohttp.WSMsgType.TEXT
    assert aiows.WSMsgType.CLOSED == aiohttp.WSMsgType.CLOSED
    assert aiows.WSMsgType.ERROR == aiohttp.WSMsgType.ERROR
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_str("t")
        msg = await bounded(ws.receive())
        assert msg.tp == msg.type == aiows.WSMsgType.TEXT
        assert msg.tp == aiows.MsgType.text


async def test_send_type_errors(wire_server: StartServer) -> None:
    first: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        first.set_result((f.opcode, f.payload))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        with pytest.raises(TypeError):
            await ws.send_str(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send_bytes("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send({"a": 1})  # type: ignore[arg-type]
        assert not ws.closed
    # None of the refused sends reached the wire: the first frame is the close.
    assert await bounded(first) == (OP_CLOSE, close_payload(1000))


async def test_send_frame_and_websockets_send(wire_server: StartServer) -> None:
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        got = []
        for _ in range(6):
            f = await peer.read_frame()
            assert f.masked
            got.append((f.opcode, f.fin, f.payload))
        frames.set_result(got)
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_frame(b"raw", OP_BINARY)
        await ws.send_frame(b"pp", OP_PING)
        await ws.send("caf\u00e9")
        await ws.send(b"\x00\xff")
        await ws.send(["a", "b"])
        assert await bounded(frames) == [
            (OP_BINARY, True, b"raw"),
            (OP_PING, True, b"pp"),
            (OP_TEXT, True, "caf\u00e9".encode()),
            (OP_BINARY, True, b"\x00\xff"),
            (OP_TEXT, False, b"a"),
            (OP_CONT, True, b"b"),
        ]


async def test_recv_returns_data_and_raises_when_closed(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"text")
            + server_frame(OP_PING, b"")
            + server_frame(OP_BINARY, b"bin")
            + server_frame(OP_CLOSE, close_payload(4000, b"app"))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await bounded(ws.recv()) == "text"
        assert await bounded(ws.recv()) == b"bin"
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(ws.recv())
        assert info.value.code == 4000
        assert info.value.reason == "app"


async def test_receive_after_error_returns_error_then_closed(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x5, b""))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        types = [(await bounded(ws.receive())).type for _ in range(3)]
        assert types == [
            aiows.WSMsgType.ERROR,
            aiows.WSMsgType.CLOSED,
            aiows.WSMsgType.CLOSED,
        ]
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await ws.send_str("x")
        assert isinstance(info.value.__cause__, aiows.ProtocolError)


async def test_close_reason_and_addresses(wire_server: StartServer) -> None:
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        peer.send(
            server_frame(OP_CLOSE, close_payload(1001, "\u00e0 bient\u00f4t".encode()))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert ws.close_reason is None
        assert ws.remote_address[:2] == ("127.0.0.1", server.port)
        assert ws.local_address[0] == "127.0.0.1"
        go.set()
        msg = await bounded(ws.receive())
        assert msg.extra == "\u00e0 bient\u00f4t"
        assert ws.close_reason == "\u00e0 bient\u00f4t"


async def test_cancel_inside_fragmented_message_keeps_fragments(
    wire_server: StartServer,
) -> None:
    """A receive() cancelled between fragments loses none of them."""
    second = asyncio.Event()
    third = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await second.wait()
        peer.send(server_frame(OP_CONT, b"men", fin=False))
        await third.wait()
        peer.send(server_frame(OP_CONT, b"ted") + server_frame(OP_TEXT, b"next"))
        await peer.read_close()

    # The first fragment comes with the 101, so it is queued on connect.
    server = await wire_server(
        handler, after_101=server_frame(OP_TEXT, b"frag", fin=False)
    )
    async with aiows.ws_connect(server.url) as ws:
        pending = await receive_in_task(ws)
        # It took the first fragment and waits for the next one.
        assert not pending.done()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        second.set()
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.2)
        third.set()
        assert await bounded(ws.receive_str()) == "fragmented"
        assert await bounded(ws.receive_str()) == "next"


async def test_blocked_receive_woken_by_close_frame(wire_server: StartServer) -> None:
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        pending = await receive_in_task(ws)
        go.set()
        msg = await bounded(pending)
        assert (msg.type, msg.data) == (aiows.WSMsgType.CLOSE, 1000)
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
