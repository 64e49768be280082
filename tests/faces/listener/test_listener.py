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


async def test_close_code_while_open_then_1006_and_a_raising_on_close(
    raw_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    dropped = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()  # the client's message: it is open and sending
        peer.writer.transport.abort()  # gone without a close frame
        dropped.set()

    class RaisingOnClose(Recorder):
        def on_close(
            self, ws: aiows.ListenerConnection, code: int, reason: str
        ) -> None:
            super().on_close(ws, code, reason)
            raise RuntimeError("on_close bug")

    srv = await raw_server(handler)
    listener = RaisingOnClose(echo=False)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(srv.url, listener)
        assert ws.close_code is None and not ws.closed
        await ws.send_str("here")
        # The listener's bug is logged; the connection still ends cleanly.
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert dropped.is_set()
        assert ws.close_code == 1006 and ws.closed
    assert listener.events[-1] == ("close", 1006, "")
    assert "raised in on_close" in caplog.text
    assert "on_close bug" in caplog.text


@pytest.mark.parametrize("compress", [15, 0])
async def test_compress_is_the_negotiated_window(
    aiohttp_server: Any, compress: int
) -> None:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=True)
        await ws.prepare(request)
        await ws.send_str("z" * 1000)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    listener = Recorder(echo=False)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(
            f"ws://127.0.0.1:{server.port}/", listener, compress=compress
        )
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.compress == compress
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ("permessage-deflate" in extensions) == bool(compress)
    assert ("message", aiohttp.WSMsgType.TEXT, "z" * 1000) in listener.events


async def test_heartbeat_pings_and_drops_a_silent_server(wire_server: Any) -> None:
    # aiohttp's heartbeat: an empty ping after `heartbeat` seconds of
    # silence; no answer within heartbeat / 2 and TCP is dropped, no close.
    frames: list[tuple[int, bytes, bool]] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        frames.append((frame.opcode, frame.payload, frame.masked))
        assert await peer.expect_eof() == b""

    srv = await wire_server(handler)
    listener = Recorder(echo=False)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(srv.url, listener, heartbeat=0.1)
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert frames == [(0x9, b"", True)]
    assert listener.events[-1] == ("close", 1006, "")
