"""Cancellation at awkward moments: nothing lost, nothing corrupted, nothing leaked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiows
from tests.conftest import ClientFrame, RawPeer, RawServer, server_frame

StartServer = Callable[..., Awaitable[RawServer]]
ServerFactory = Callable[..., Awaitable[TestServer]]

TEXT = aiows.WSMsgType.TEXT
BINARY = aiows.WSMsgType.BINARY
CLOSE = aiows.WSMsgType.CLOSE
CLOSING = aiows.WSMsgType.CLOSING
CLOSED = aiows.WSMsgType.CLOSED


def numbered(i: int, size: int, text: bool) -> str | bytes:
    if text:
        return f"{i}:" + "é" * (size // 2)
    return i.to_bytes(4, "big") + bytes([i % 251]) * size


async def numbered_handler(request: web.Request) -> web.WebSocketResponse:
    """Sends the messages of ``?spec=<size><t|b>,...`` then closes with 1000."""
    ws = web.WebSocketResponse(compress=True)
    await ws.prepare(request)
    spec = request.query["spec"].split(",")
    for i, item in enumerate(spec):
        message = numbered(i, int(item[:-1]), item[-1] == "t")
        if isinstance(message, str):
            await ws.send_str(message)
        else:
            await ws.send_bytes(message)
    await ws.close()
    return ws


@pytest.fixture
async def numbered_server(aiohttp_server: ServerFactory) -> TestServer:
    app = web.Application()
    app.router.add_get("/ws", numbered_handler)
    return await aiohttp_server(app)


# How a read is interrupted: after some loop ticks, by a timeout, or not at all.
Read = tuple[str, int]
reads = st.tuples(
    st.sampled_from(["cancel", "timeout", "anext", "whole"]), st.integers(0, 4)
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    messages=st.lists(
        st.tuples(st.integers(0, 70000), st.booleans()), min_size=1, max_size=25
    ),
    plan=st.lists(reads, min_size=1, max_size=40),
    compress=st.sampled_from([0, 15]),
)
async def test_cancelling_receive_and_async_for_loses_nothing(
    numbered_server: TestServer,
    messages: list[tuple[int, bool]],
    plan: list[Read],
    compress: int,
) -> None:
    expected = [numbered(i, size, text) for i, (size, text) in enumerate(messages)]
    spec = ",".join(f"{size}{'t' if text else 'b'}" for size, text in messages)
    url = f"ws://127.0.0.1:{numbered_server.port}/ws?spec={spec}"
    received: list[str | bytes] = []

    def keep(msg: aiows.WSMessage) -> None:
        assert msg.type in (TEXT, BINARY), msg
        received.append(msg.data)

    async with aiows.ws_connect(url, compress=compress, max_queue=4) as ws:
        # Interrupted reads first, then an ordinary aiohttp-style loop.
        for style, ticks in plan[: len(expected)]:
            if style == "timeout":
                with contextlib.suppress(asyncio.TimeoutError):
                    keep(await asyncio.wait_for(ws.receive(), ticks * 0.0005))
                continue
            if style == "whole":
                keep(await asyncio.wait_for(ws.receive(), 5))
                continue
            read = ws.__anext__() if style == "anext" else ws.receive()
            task = asyncio.ensure_future(read)
            for _ in range(ticks):
                await asyncio.sleep(0)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                keep(await asyncio.wait_for(task, 5))
        async for msg in ws:
            keep(msg)
        assert ws.close_code == 1000
    assert received == expected


# -- cancelling a fragmented send ----------------------------------------------


async def read_until_close(peer: RawPeer) -> list[ClientFrame]:
    frames = []
    while True:
        frame = await peer.read_frame(timeout=5)
        frames.append(frame)
        if frame.opcode == 0x8:
            return frames


@pytest.mark.parametrize("yielded", [0, 1, 2, 5])
async def test_cancelled_fragmented_send_fails_with_1011_on_a_clean_stream(
    raw_server: StartServer, yielded: int
) -> None:
    seen: asyncio.Future[list[ClientFrame]] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        frames = await read_until_close(peer)
        seen.set_result(frames)
        code = int.from_bytes(frames[-1].payload[:2], "big")
        peer.send(server_frame(0x8, code.to_bytes(2, "big")))

    server = await raw_server(handler)
    gate = asyncio.Event()  # never set: the generator blocks for good
    produced = asyncio.Event()

    async def fragments() -> AsyncIterator[str]:
        for i in range(yielded):
            yield f"part{i}"
        produced.set()
        await gate.wait()
        yield "never"

    async with aiows.ClientSession() as session:
        ws = await aiows.connect(
            server.url, session=session, compression=None, ping_interval=None
        )
        sending = asyncio.ensure_future(ws.send(fragments()))
        await asyncio.wait_for(produced.wait(), 5)
        # Another send waits for the fragmented one instead of interleaving.
        other = asyncio.ensure_future(ws.send("other"))
        await asyncio.sleep(0)
        assert not other.done()
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(sending, 5)
        # Each fragment goes out as the generator yields it (websockets'
        # way), so every item it yielded before blocking is on the wire.
        on_wire = yielded
        if on_wire == 0:
            # Nothing went out: the connection is intact and usable.
            await asyncio.wait_for(other, 5)
            assert ws.close_code is None
            await ws.send("after")
            await ws.close()
            frames = await asyncio.wait_for(seen, 5)
            assert [(f.opcode, f.fin, f.payload) for f in frames[:-1]] == [
                (0x1, True, b"other"),
                (0x1, True, b"after"),
            ]
            assert frames[-1].payload[:2] == (1000).to_bytes(2, "big")
            assert ws.close_code == 1000
        else:
            with pytest.raises(aiows.ConnectionClosedError):
                await asyncio.wait_for(other, 5)
            frames = await asyncio.wait_for(seen, 5)
            # A valid prefix of the message, then close 1011; nothing else.
            assert [(f.opcode, f.fin, f.payload) for f in frames[:-1]] == [
                (0x1 if i == 0 else 0x0, False, f"part{i}".encode())
                for i in range(on_wire)
            ]
            assert all(f.masked and f.rsv == 0 for f in frames)
            close = frames[-1]
            assert close.opcode == 0x8
            assert close.payload[:2] == (1011).to_bytes(2, "big")
            # websockets' words
            assert close.payload[2:] == b"error in fragmented message"
            with pytest.raises(aiows.ConnectionClosedError) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.sent == aiows.Close(1011, "error in fragmented message")
            # Having failed the connection, the client reads nothing more,
            # the server's close included (websockets' rule, RFC 6455
            # §7.1.7), so no close frame counts as received.
            assert info.value.rcvd is None
            assert ws.close_code == 1006
            with pytest.raises(aiows.ConnectionClosedError):
                await ws.send("too late")
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert session.connector is not None
        assert not session.connector._acquired


# -- cancelling ws_connect during the handshake --------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"", id="no-answer"),
        pytest.param(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web", id="partial"),
    ],
)
async def test_cancelling_ws_connect_in_handshake_releases_connection(
    raw_server: StartServer, answer: bytes
) -> None:
    requested = asyncio.Event()
    leftover: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        requested.set()
        leftover.set_result(await peer.expect_eof(timeout=5))

    server = await raw_server(handler, response=lambda key: answer)
    async with aiows.ClientSession() as session:
        connecting = asyncio.ensure_future(session.ws_connect(server.url))
        await asyncio.wait_for(requested.wait(), 5)
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(connecting, 5)
        # The server sees the client close TCP, having sent nothing more.
        assert await asyncio.wait_for(leftover, 2) == b""
        assert session.connector is not None
        assert not session.connector._acquired
        assert not session._websockets


# -- closing the session -------------------------------------------------------


async def test_closing_session_closes_every_websocket_with_1001(
    aiohttp_server: ServerFactory,
) -> None:
    codes: list[int | None] = []
    all_closed = asyncio.Event()
    count = 5

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        codes.append(ws.close_code)
        if len(codes) == count:
            all_closed.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)
    url = f"ws://127.0.0.1:{server.port}/ws"
    session = aiows.ClientSession()
    websockets = [await session.ws_connect(url) for _ in range(count)]
    for i, ws in enumerate(websockets):
        await ws.send_str(f"hello {i}")
        assert await asyncio.wait_for(ws.receive_str(), 5) == f"hello {i}"
    # Two of them have a read pending when the session closes.
    pending = [asyncio.ensure_future(ws.receive()) for ws in websockets[:2]]
    await asyncio.sleep(0)
    await asyncio.wait_for(session.close(), 5)
    await asyncio.wait_for(all_closed.wait(), 5)
    assert codes == [1001] * count
    # The client's close_code is the code the server answered with, as in
    # aiohttp; aiohttp.web answers 1000.
    assert [ws.close_code for ws in websockets] == [1000] * count
    # A receive() pending when close() runs in another task gets CLOSING, as
    # in aiohttp 3.14; the next one gets CLOSED.
    for task, ws in zip(pending, websockets, strict=False):
        assert (await asyncio.wait_for(task, 5)).type is CLOSING
        assert (await ws.receive()).type is CLOSED
    assert session.closed
    assert isinstance(session.aiohttp_session, aiohttp.ClientSession)
