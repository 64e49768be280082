"""The listener API against real servers: callbacks in, sends from inside them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows
from tests.conftest import RawPeer, server_frame


class Recorder(aiows.Listener):
    """Echoes each message and records every callback."""

    def __init__(self, echo: bool = True) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.echo = echo
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_open(self, ws: aiows.ListenerConnection) -> None:
        self.events.append(("open", ws.closed))

    def on_message(self, ws: aiows.ListenerConnection, kind: Any, data: Any) -> None:
        self.events.append(("message", kind, data))
        if self.echo:
            if kind is aiohttp.WSMsgType.TEXT:
                ws.send_str_nowait(data)
            else:
                ws.send_bytes_nowait(data)

    def on_close(self, ws: aiows.ListenerConnection, code: int, reason: str) -> None:
        self.events.append(("close", code, reason))
        self.closed.set_result(None)


async def test_counting_echo_through_a_session(aiohttp_server: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_bytes(b"0")
        async for msg in ws:
            n = int(msg.data)
            if n == 5:
                await ws.close(code=4000, message=b"done")
            else:
                await ws.send_bytes(b"%d" % (n + 1))
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    async with aiows.ClientSession() as session:
        listener = Recorder()
        ws = await session.ws_listen(f"http://127.0.0.1:{server.port}/", listener)
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 4000 and ws.closed
    assert listener.events == [
        ("open", False),
        *[("message", aiohttp.WSMsgType.BINARY, b"%d" % i) for i in range(6)],
        ("close", 4000, "done"),
    ]


async def test_reply_goes_out_before_the_close_that_came_with_the_message(
    raw_server: Any,
) -> None:
    seen: list[tuple[int, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(0x1, b"last") + server_frame(0x8, (1001).to_bytes(2, "big"))
        )
        while True:
            frame = await peer.read_frame()
            seen.append((frame.opcode, frame.payload))
            if frame.opcode == 0x8:
                return

    srv = await raw_server(handler)
    listener = Recorder()
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(srv.url, listener)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert seen == [(0x1, b"last"), (0x8, (1001).to_bytes(2, "big"))]
    assert listener.events[-1] == ("close", 1001, "")


async def test_a_protocol_error_fails_with_its_code_after_earlier_messages(
    raw_server: Any,
) -> None:
    codes: list[int] = []

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"fine") + server_frame(0x1, b"\xff"))
        code, _ = await peer.read_close()
        codes.append(code or 0)

    srv = await raw_server(handler)
    listener = Recorder(echo=False)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(srv.url, listener)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert listener.events[:2] == [
        ("open", False),
        ("message", aiohttp.WSMsgType.TEXT, "fine"),
    ]
    assert listener.events[-1][:2] == ("close", 1006)
    assert codes == [1007]


async def test_a_raising_callback_closes_with_1011(raw_server: Any) -> None:
    codes: list[int] = []

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"boom"))
        code, _ = await peer.read_close()
        codes.append(code or 0)

    class Raising(aiows.Listener):
        def on_message(self, ws: Any, kind: Any, data: Any) -> None:
            raise RuntimeError("listener bug")

    srv = await raw_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(srv.url, Raising())
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert codes == [1011]


async def test_client_close_ping_and_awaited_sends(aiohttp_server: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    listener = Recorder(echo=False)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(f"ws://127.0.0.1:{server.port}/", listener)
        rtt = await asyncio.wait_for(ws.ping(b"p"), 5)
        assert rtt > 0 and ws.latency == rtt
        await ws.send_str("a")
        assert not ws.writing_paused
        await ws.close(code=4001, reason="bye")
        assert ws.closed
        with pytest.raises(aiohttp.ClientConnectionResetError):
            ws.send_bytes_nowait(b"late")
        with pytest.raises(aiohttp.ClientConnectionResetError):
            ws.ping()
        assert ws.protocol is None
        assert ws.response.status == 101
    assert ("message", aiohttp.WSMsgType.TEXT, "a") in listener.events
    assert listener.events[-1][0] == "close"


async def test_listener_base_callbacks_do_nothing(aiohttp_server: Any) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("ignored")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(f"ws://127.0.0.1:{server.port}/", aiows.Listener())
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1000
