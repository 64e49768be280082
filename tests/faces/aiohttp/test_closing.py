"""The aiohttp face: the closing handshake and every way a connection ends.

Expectations are aiohttp 3.14's, except the deliberate differences listed in
``docs/from_aiohttp.rst`` (the reply to the server's close echoes its code,
nothing is sent after the client's close frame, ``close()`` waits for the
server to close TCP).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    hold,
    receive_in_task,
)

CLOSED = aiows.WSMsgType.CLOSED


def short_close(ws_close: float = 0.5) -> aiows.ClientWSTimeout:
    return aiows.ClientWSTimeout(ws_receive=None, ws_close=ws_close)


def assert_released(session: aiows.ClientSession) -> None:
    assert session.connector is not None
    assert not session.connector._acquired


# -- the client answers the server's close ------------------------------------


async def test_server_close_is_echoed_then_server_closes_tcp(
    wire_server: StartServer,
) -> None:
    echoed: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"last words"))
        peer.send(server_frame(OP_CLOSE, close_payload(1001, b"going")))
        echoed.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        assert await bounded(ws.receive_str()) == "last words"
        msg = await bounded(ws.receive())
        assert msg.type == aiows.WSMsgType.CLOSE
        assert msg.data == 1001
        assert msg.extra == "going"
        assert ws.closed
        assert ws.close_code == 1001
        assert await bounded(echoed) == (1001, b"")
        # The server then closes TCP: later reads report CLOSED.
        assert (await bounded(ws.receive())).type == CLOSED
        assert (await bounded(ws.receive())).type == CLOSED
        await bounded(ws.wait_closed())
        assert ws.close_code == 1001
        assert ws.exception() is None
        assert await ws.close() is False
        assert_released(session)


async def test_empty_close_is_answered_with_empty_close(
    wire_server: StartServer,
) -> None:
    reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, b""))
        frame = await peer.read_frame()
        assert frame.opcode == OP_CLOSE
        assert frame.masked
        reply.set_result(frame.payload)

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        msg = await bounded(ws.receive())
        assert msg.type == aiows.WSMsgType.CLOSE
        assert msg.data == 1005
        assert await bounded(reply) == b""
        assert (await bounded(ws.receive())).type == CLOSED
        assert ws.close_code == 1005


async def test_frames_after_close_are_ignored(wire_server: StartServer) -> None:
    """Data and a ping after the server's close: not delivered, not answered."""
    leftover: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_CLOSE, close_payload(1000, b"bye"))
            + server_frame(OP_TEXT, b"ghost")
            + server_frame(OP_PING, b"anyone?")
            + server_frame(OP_CLOSE, close_payload(1011))
        )
        code, reason = await peer.read_close()
        assert (code, reason) == (1000, b"")
        peer.writer.write_eof()
        # Everything after the close reply, up to the client's FIN.
        leftover.set_result(await peer.expect_eof())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        msg = await bounded(ws.receive())
        assert (msg.type, msg.data, msg.extra) == (aiows.WSMsgType.CLOSE, 1000, "bye")
        assert (await bounded(ws.receive())).type == CLOSED
        assert await bounded(leftover) == b""
        assert ws.close_code == 1000


async def test_closed_connection_refuses_to_send(wire_server: StartServer) -> None:
    """Once the close was read, writes raise ClientConnectionResetError."""

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSE
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_str("too late")
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_bytes(b"too late")
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_json({"too": "late"})
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.ping()
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.pong()
        assert ws.close_code == 1000


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


# -- the client closes --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code", "reason"),
    [
        ({}, 1000, b""),
        ({"code": 4000, "message": b"bye"}, 4000, b"bye"),
        ({"code": 4001, "message": b"raw"}, 4001, b"raw"),
        ({"code": 1001, "message": "d\u00e9part"}, 1001, "d\u00e9part".encode()),
    ],
)
async def test_client_close_sends_code_and_reason(
    wire_server: StartServer,
    kwargs: dict[str, object],
    code: int,
    reason: bytes,
) -> None:
    received: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await peer.read_close())
        peer.send(server_frame(OP_CLOSE, close_payload(code)))

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        assert await bounded(ws.close(**kwargs)) is True  # type: ignore[arg-type]
        assert await bounded(received) == (code, reason)
        assert ws.closed
        assert ws.close_code == code
        assert (await ws.receive()).type == CLOSED
        assert await ws.close() is False
        assert_released(session)


async def test_close_from_another_task_keeps_its_code_when_a_message_comes_first(
    wire_server: StartServer,
) -> None:
    """close(code=4000) in one task wakes a receive() in another, and a
    message arrives before that receive() runs: it returns the message, and
    the next receive() closes with close()'s code, not 1000; close()
    returns True.  (aiohttp closes with 1000 there, and its close() returns
    False: a deliberate difference, seen as a CLI test's flake.)"""
    received: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await peer.read_close())
        peer.send(server_frame(OP_CLOSE, close_payload(4000)))

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url)

    async def read_two() -> list[Any]:
        # As a receive loop does: the next receive() at once.
        return [await ws.receive(), await ws.receive()]

    reader = asyncio.ensure_future(read_two())
    await asyncio.sleep(0)  # it waits
    closing = asyncio.ensure_future(ws.close(code=4000, message=b"bye"))
    await asyncio.sleep(0)  # close() woke the reader, which has not run yet
    # The message the server sent meanwhile (one read, parsed by the engine).
    ws._engine.data_received(server_frame(OP_TEXT, b"late"))
    first, second = await bounded(reader)
    assert (first.type, first.data) == (aiows.WSMsgType.TEXT, "late")
    assert second.type == CLOSED
    assert await bounded(closing) is True
    assert await bounded(received) == (4000, b"bye")
    assert ws.close_code == 4000


async def test_close_takes_keyword_arguments_only(echo_url: str) -> None:
    """aiohttp's close() is ``close(*, code, message)``."""
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(TypeError):
            await ws.close(4000)  # type: ignore[misc]
        assert not ws.closed


async def test_close_with_invalid_code_raises_value_error(echo_url: str) -> None:
    """aiows's difference: aiohttp would send the invalid code."""
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(ValueError):
            await ws.close(code=1005)
        with pytest.raises(ValueError):
            await ws.close(code=999)
        assert not ws.closed
        await ws.send_str("still open")
        assert await bounded(ws.receive_str()) == "still open"


async def test_close_is_idempotent(wire_server: StartServer) -> None:
    frames: list[int] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        frames.append(frame.opcode)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.writer.write_eof()
        rest = await peer.expect_eof()
        frames.append(len(rest))

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url)
    first = asyncio.ensure_future(ws.close())
    second = asyncio.ensure_future(ws.close(code=4000))
    assert await bounded(first) is True
    assert await bounded(second) is False
    assert await ws.close() is False
    assert await ws.close(code=4002) is False
    # One close frame went out, and nothing after it.
    assert frames == [OP_CLOSE, 0]
    assert ws.close_code == 1000


async def test_client_waits_for_server_close_and_drains_input(
    wire_server: StartServer,
) -> None:
    """After its close the client keeps reading, discarding data, until EOF."""

    async def handler(peer: RawPeer) -> None:
        await peer.read_close()
        for i in range(200):
            peer.send(server_frame(OP_BINARY, i.to_bytes(2, "big") * 2000))
        await peer.writer.drain()
        peer.send(server_frame(OP_CLOSE, close_payload(1000, b"done")))

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url, max_queue=2, timeout=short_close(5.0))
        start = time.monotonic()
        assert await bounded(ws.close()) is True
        # Closed by the server's close and FIN, long before ws_close.
        assert time.monotonic() - start < 2.0
        assert ws.close_code == 1000
        rcvd = ws._engine.protocol.close_rcvd
        assert rcvd is not None
        assert rcvd.reason == "done"
        assert ws.exception() is None
        # Nothing sent during the closing handshake reaches the application.
        assert (await ws.receive()).type == CLOSED
        assert_released(session)


async def test_close_aborts_when_server_never_answers(
    wire_server: StartServer,
) -> None:
    got_close = asyncio.Event()
    released = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await peer.read_close()
        got_close.set()
        await hold(released)  # neither a close frame nor FIN

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url, timeout=short_close(0.5))
        start = time.monotonic()
        assert await bounded(ws.close()) is True
        elapsed = time.monotonic() - start
        assert got_close.is_set()
        assert 0.4 <= elapsed < 1.2
        assert ws.closed
        assert ws.close_code == 1006
        assert (await ws.receive()).type == CLOSED
        assert_released(session)
    released.set()


async def test_close_aborts_when_server_answers_but_keeps_tcp_open(
    wire_server: StartServer,
) -> None:
    released = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        code, _ = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000)))
        await hold(released)

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url, timeout=short_close(0.5))
    start = time.monotonic()
    assert await bounded(ws.close(code=4005)) is True
    assert 0.4 <= time.monotonic() - start < 1.2
    # The server did answer, so its code is the close code.
    assert ws.close_code == 4005
    released.set()


async def test_client_never_sends_after_its_close(wire_server: StartServer) -> None:
    """While closing, a ping from the server gets no pong; nothing follows."""
    after_close: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        code, _ = await peer.read_close()
        assert code == 1000
        peer.send(
            server_frame(OP_PING, b"still there?")
            + server_frame(OP_TEXT, b"late data")
            + server_frame(OP_CLOSE, close_payload(1000))
        )
        peer.writer.write_eof()
        after_close.set_result(await peer.expect_eof())

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url, heartbeat=0.05)
    assert await bounded(ws.close()) is True
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.send_str("after close")
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.pong(b"after close")
    assert await bounded(after_close) == b""
    assert ws.close_code == 1000


async def test_send_during_closing_raises(wire_server: StartServer) -> None:
    got_close = asyncio.Event()
    release = asyncio.Event()
    after: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        await peer.read_close()
        got_close.set()
        await hold(release)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.writer.write_eof()
        after.set_result(await peer.expect_eof())

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url)
    closing = asyncio.ensure_future(ws.close())
    await bounded(got_close.wait())
    assert ws.closed
    assert ws.close_code is None or ws.close_code == 1000
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.send_str("x")
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await ws.send_frame(b"x", aiohttp.WSMsgType.PING)
    release.set()
    assert await bounded(closing) is True
    assert await bounded(after) == b""


# -- other ways to end --------------------------------------------------------


async def test_server_drops_tcp_without_close_frame(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"one"))
        # Return: the fixture closes the socket, no close frame.

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        assert await bounded(ws.receive_str()) == "one"
        msg = await bounded(ws.receive())
        assert msg.type == CLOSED
        assert ws.closed
        assert ws.close_code == 1006
        assert isinstance(ws.exception(), aiohttp.ClientConnectionResetError)
        assert (await ws.receive()).type == CLOSED
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_str("x")
        assert await ws.close() is False
        assert ws.close_code == 1006
        assert_released(session)


async def test_server_drop_wakes_pending_receive(wire_server: StartServer) -> None:
    drop = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await drop.wait()

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        pending = await receive_in_task(ws)
        drop.set()
        msg = await bounded(pending)
        assert msg.type == CLOSED
        assert ws.close_code == 1006
        assert ws.closed
        assert_released(session)


async def test_server_reset_reports_1006(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.writer.transport.abort()

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        assert (await bounded(ws.receive())).type == CLOSED
        assert ws.close_code == 1006
        assert_released(session)


async def test_session_close_closes_websockets_with_1001(
    wire_server: StartServer,
) -> None:
    received: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        code, reason = await peer.read_close()
        received.set_result((code, reason))
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000)))

    server = await wire_server(handler)
    session = aiows.ClientSession()
    ws = await session.ws_connect(server.url)
    pending = await receive_in_task(ws)
    await bounded(session.close())
    assert await bounded(received) == (1001, b"")
    assert session.closed
    assert ws.closed
    assert ws.close_code == 1001
    # The receive() waiting in another task got CLOSING, as in aiohttp.
    assert (await bounded(pending)).type == aiows.WSMsgType.CLOSING
    assert (await ws.receive()).type == CLOSED
    assert session.connector is None or not session.connector._acquired


async def test_cancelled_receive_loses_no_message(wire_server: StartServer) -> None:
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        peer.send(server_frame(OP_TEXT, b"kept"))
        code, _ = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000)))

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        pending = await receive_in_task(ws)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert not ws.closed
        go.set()
        assert await bounded(ws.receive_str()) == "kept"
        assert await bounded(ws.close()) is True
        assert ws.close_code == 1000
        assert (await ws.receive()).type == CLOSED
        assert_released(session)


async def test_echo_server_close_roundtrip(echo_url: str) -> None:
    """Against aiohttp.web: the server closes with a code and reason."""
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(echo_url)
        await ws.send_str("close:4321:see you")
        msg = await bounded(ws.receive())
        assert (msg.type, msg.data, msg.extra) == (
            aiows.WSMsgType.CLOSE,
            4321,
            "see you",
        )
        assert (await bounded(ws.receive())).type == CLOSED
        assert ws.close_code == 4321
        assert_released(session)


async def test_async_with_closes_with_1000(echo_url: str) -> None:
    async with aiows.ClientSession() as session:
        async with session.ws_connect(echo_url) as ws:
            await ws.send_str("x")
            assert await bounded(ws.receive_str()) == "x"
        assert ws.closed
        assert ws.close_code == 1000
        assert_released(session)


async def test_pending_pings_fail_when_connection_ends(
    wire_server: StartServer,
) -> None:
    got_ping = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()
        got_ping.set()
        # Drop without pong or close.

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        waiter = await ws.ping(b"lost")
        await bounded(got_ping.wait())
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await bounded(waiter)
        assert (await bounded(ws.receive())).type == CLOSED
        assert ws.close_code == 1006
