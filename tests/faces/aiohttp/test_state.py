"""The aiohttp face's state, as aiohttp 3.14 reports it.

``closed`` turns True when the application reads the close (or calls
``close()``), ``close()`` returns True once, ``receive()`` after the end
returns CLOSED at once, and so on: the loops and checks aiohttp users write
must run the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    hold,
    receive_in_task,
)


def run_without_suspending(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of ``coro``, which must finish without ever suspending."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("the coroutine suspended")


async def three_then_close(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("one")
    await ws.send_bytes(b"two")
    await ws.send_str("three")
    await ws.close(code=4000, message=b"done")
    return ws


@pytest.fixture
async def three_url(aiohttp_server: Any) -> str:
    app = web.Application()
    app.router.add_get("/ws", three_then_close)
    server = await aiohttp_server(app)
    return f"ws://127.0.0.1:{server.port}/ws"


async def test_loop_until_closed_sees_every_message_then_close(
    three_url: str,
) -> None:
    seen = []
    async with aiows.ws_connect(three_url) as ws:
        while not ws.closed:
            msg = await bounded(ws.receive())
            seen.append((msg.type, msg.data))
        assert seen == [
            (aiows.WSMsgType.TEXT, "one"),
            (aiows.WSMsgType.BINARY, b"two"),
            (aiows.WSMsgType.TEXT, "three"),
            (aiows.WSMsgType.CLOSE, 4000),
        ]
        assert ws.close_code == 4000


async def test_close_returns_true_once(echo_url: str) -> None:
    ws = await aiows.ws_connect(echo_url)
    first = asyncio.ensure_future(ws.close())
    concurrent = asyncio.ensure_future(ws.close())
    assert await bounded(first) is True
    assert await bounded(concurrent) is False
    assert await ws.close() is False
    assert ws.closed
    assert ws.close_code == 1000


async def test_receive_after_the_end_returns_closed_at_once(three_url: str) -> None:
    async with aiows.ws_connect(three_url) as ws:
        async for _ in ws:
            pass
        assert ws.closed
        await bounded(ws.wait_closed())
        for _ in range(3):
            msg = run_without_suspending(ws.receive())
            assert msg.type == aiows.WSMsgType.CLOSED


async def test_receive_after_close_returns_closed_at_once(echo_url: str) -> None:
    ws = await aiows.ws_connect(echo_url)
    assert await bounded(ws.close()) is True
    msg = run_without_suspending(ws.receive())
    assert msg.type == aiows.WSMsgType.CLOSED


async def test_get_extra_info_socket_while_open_only(
    wire_server: StartServer,
) -> None:
    drop = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await drop.wait()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        sock = ws.get_extra_info("socket")
        assert sock is not None
        assert sock.getpeername()[1] == server.port
        drop.set()
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
        await bounded(ws.wait_closed())
        assert ws.get_extra_info("socket") is None
        assert ws.get_extra_info("socket", "gone") == "gone"


async def test_autoclose_false_waits_for_the_application(
    wire_server: StartServer,
) -> None:
    """The server's close is answered only when the application calls close()."""
    quiet = asyncio.Event()
    frames: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(4001, b"your turn")))
        # Longer than ws_close: no timer may answer for the application.
        with pytest.raises(asyncio.TimeoutError):
            await peer.read_frame(timeout=0.6)
        quiet.set()
        got = []
        while True:
            frame = await peer.read_frame()
            got.append((frame.opcode, frame.payload))
            if frame.opcode == OP_CLOSE:
                break
        frames.set_result(got)

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_close=0.2)
    ws = await aiows.ws_connect(server.url, autoclose=False, timeout=timeout)
    msg = await bounded(ws.receive())
    assert (msg.type, msg.data, msg.extra) == (
        aiows.WSMsgType.CLOSE,
        4001,
        "your turn",
    )
    assert not ws.closed
    assert ws.close_code == 4001
    await bounded(quiet.wait())
    # Still allowed to send before answering (RFC 6455 §5.5.1).
    await ws.send_str("last word")
    assert await bounded(ws.close()) is True
    assert await bounded(frames) == [
        (OP_TEXT, b"last word"),
        (OP_CLOSE, close_payload(1000)),
    ]
    assert ws.closed


async def test_receive_str_on_binary_raises_type_error(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_bytes(b"\x00")
        with pytest.raises(aiows.WSMessageTypeError):
            await bounded(ws.receive_str())
        assert not ws.closed


async def test_send_json_bytes_sends_binary(wire_server: StartServer) -> None:
    frame: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        frame.set_result((f.opcode, f.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_json_bytes({"k": 1}, dumps=lambda v: b'{"k":1}')
        assert await bounded(frame) == (OP_BINARY, b'{"k":1}')


async def test_decode_text_false_gives_bytes(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, "caf\u00e9".encode())
            + server_frame(OP_TEXT, b"{}")
            + server_frame(OP_BINARY, b"bin")
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, decode_text=False) as ws:
        msg = await bounded(ws.receive())
        assert msg.type is aiohttp.WSMsgType.TEXT
        assert msg.data == "caf\u00e9".encode()
        text_bytes = getattr(aiohttp.http, "WSMessageTextBytes", aiohttp.WSMessage)
        assert isinstance(msg, text_bytes)
        assert await bounded(ws.receive_json()) == {}
        assert await bounded(ws.receive_bytes()) == b"bin"


async def test_write_after_the_transport_is_gone_raises(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.writer.transport.abort()

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url)
    await bounded(ws.wait_closed())
    assert ws._engine.transport is None
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.send_str("x")
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.send_bytes(b"x")
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.ping()
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.pong()
    assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
    assert ws.close_code == 1006


async def test_heartbeat_expiry_wakes_a_waiting_receive(
    wire_server: StartServer,
) -> None:
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await hold(release)  # never answers the heartbeat's ping

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url, heartbeat=0.2)
    try:
        pending = await receive_in_task(ws)
        msg = await bounded(pending)
        assert msg.type == aiows.WSMsgType.ERROR
        assert isinstance(msg.data, aiohttp.ServerTimeoutError)
        assert isinstance(msg.data, aiows.PongTimeout)
        assert ws.closed
        assert ws.close_code == 1006
        assert ws.exception() is msg.data
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
    finally:
        release.set()
        await bounded(ws.close())
