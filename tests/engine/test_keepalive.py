"""The engine's keepalive: aiohttp's heartbeat and websockets' ping_interval.

* ``ws_connect(heartbeat=...)``: a ping after ``heartbeat`` seconds without
  input; any input proves the server alive; ``heartbeat / 2`` for the
  answer, then the transport is dropped without a close frame and a waiting
  ``receive()`` gets an ERROR with ``aiows.PongTimeout``.
* ``connect(ping_interval=..., ping_timeout=...)``: a ping every interval
  whatever the traffic; only the pong counts; a silent server gets a 1011
  close.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
)

HEARTBEAT = 0.2
# A silent server is declared dead heartbeat * 1.5 after the last input.
DEADLINE = HEARTBEAT * 1.5
MARGIN = 0.15

# -- heartbeat ----------------------------------------------------------------


async def test_heartbeat_sends_pings_and_answered_server_stays(
    wire_server: StartServer,
) -> None:
    pings: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        for _ in range(3):
            frame = await peer.read_frame()
            assert frame.opcode == OP_PING
            assert frame.masked
            pings.append(frame.payload)
            peer.send(server_frame(OP_PONG, frame.payload))
        peer.send(server_frame(OP_TEXT, b"still here"))
        await peer.read_close()

    server = await wire_server(handler)
    start = time.monotonic()
    async with aiows.ws_connect(server.url, heartbeat=HEARTBEAT) as ws:
        # Three heartbeat intervals pass inside this one receive().
        assert await bounded(ws.receive_str()) == "still here"
        assert time.monotonic() - start >= 3 * HEARTBEAT * 0.9
        assert not ws.closed
        assert ws.exception() is None
        assert pings == [b""] * 3  # aiohttp's heartbeat pings are empty
        assert ws.latency > 0


async def test_latency_updated_by_keepalive_pong(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        assert frame.opcode == OP_PING
        peer.send(server_frame(OP_PONG, frame.payload) + server_frame(OP_TEXT, b"x"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, heartbeat=HEARTBEAT) as ws:
        assert ws.latency == 0.0
        assert await bounded(ws.receive_str()) == "x"
        assert 0 < ws.latency < 1


async def test_heartbeat_silent_server_is_dropped(wire_server: StartServer) -> None:
    pings: list[bytes] = []
    release = asyncio.Event()
    after_ping: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        pings.append(bytes([frame.opcode]) + frame.payload)
        # Never answers; whatever the client sends until it drops TCP.
        after_ping.set_result(await peer.expect_eof())

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url, heartbeat=HEARTBEAT)
        start = time.monotonic()
        msg = await bounded(ws.receive(), 3)
        elapsed = time.monotonic() - start
        assert msg.type == aiows.WSMsgType.ERROR
        assert HEARTBEAT <= elapsed <= DEADLINE + MARGIN
        assert isinstance(msg.data, aiohttp.ServerTimeoutError)
        assert isinstance(ws.exception(), aiohttp.ServerTimeoutError)
        assert isinstance(ws.exception(), aiows.PongTimeout)
        assert ws.closed
        assert ws.close_code == 1006
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
        assert ws.close_code == 1006
        assert pings and pings[0][0] == OP_PING
        # aiohttp's heartbeat drops the transport: no close frame.
        assert await bounded(after_ping) == b""
        assert session.connector is not None
        assert not session.connector._acquired
    release.set()


async def test_heartbeat_any_frame_is_a_sign_of_life(wire_server: StartServer) -> None:
    """A server that answers pings with data, never with pongs, stays open."""

    async def handler(peer: RawPeer) -> None:
        for i in range(4):
            frame = await peer.read_frame()
            assert frame.opcode == OP_PING
            peer.send(server_frame(OP_TEXT, b"alive %d" % i))
        peer.send(server_frame(OP_TEXT, b"end"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, heartbeat=HEARTBEAT) as ws:
        got = [await bounded(ws.receive(), 2) for _ in range(5)]
        assert [m.data for m in got] == [f"alive {i}" for i in range(4)] + ["end"]
        assert not ws.closed
        assert ws.exception() is None


async def test_heartbeat_not_sent_while_server_is_chatty(
    wire_server: StartServer,
) -> None:
    """Input more often than the interval: no ping is needed at all."""

    async def handler(peer: RawPeer) -> None:
        for i in range(8):
            peer.send(server_frame(OP_TEXT, b"tick %d" % i))
            await asyncio.sleep(HEARTBEAT / 3)  # the server's pace, not a sync
        peer.send(server_frame(OP_TEXT, b"end"))
        frame = await peer.read_frame()
        # The first frame the client sent is its close, not a ping.
        assert frame.opcode == OP_CLOSE

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, heartbeat=HEARTBEAT) as ws:
        got = [await bounded(ws.receive_str(), 2) for _ in range(9)]
        assert got[-1] == "end"
        assert not ws.closed


async def test_heartbeat_waits_while_the_client_paused_reading(
    wire_server: StartServer,
) -> None:
    """The pong may be unread behind a full queue: that is not a dead server."""
    count = 400
    size = 16 * 1024

    async def handler(peer: RawPeer) -> None:
        assert (await peer.read_frame()).payload == b"go"
        for i in range(count):
            peer.send(server_frame(OP_BINARY, bytes([i % 256]) * size))
        while True:  # answer every ping; the pongs queue behind the data
            frame = await peer.read_frame()
            if frame.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, frame.payload[:2]))
                return
            assert frame.opcode == OP_PING
            peer.send(server_frame(OP_PONG, frame.payload))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, heartbeat=HEARTBEAT, max_queue=4) as ws:
        await ws.send_bytes(b"go")
        # Time passing without reading is the point here, not a sync.
        await asyncio.sleep(4 * DEADLINE)
        assert not ws._engine.transport.is_reading()
        assert not ws.closed
        for i in range(count):
            assert await bounded(ws.receive_bytes()) == bytes([i % 256]) * size
        assert not ws.closed
        assert ws.exception() is None


# -- websockets' ping_interval ---------------------------------------------------


async def test_ping_interval_pings_whatever_the_traffic(
    wire_server: StartServer,
) -> None:
    """Only the pong counts: a chatty server still gets pinged."""
    pinged: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        reader = asyncio.ensure_future(peer.read_frame())
        while not reader.done():
            peer.send(server_frame(OP_TEXT, b"tick"))
            await asyncio.wait({reader}, timeout=HEARTBEAT / 4)  # the server's pace
        frame = reader.result()
        assert frame.opcode == OP_PING
        assert len(frame.payload) == 4
        pinged.set_result(loop.time() - start)
        peer.send(server_frame(OP_PONG, frame.payload) + server_frame(OP_TEXT, b"end"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.connect(
        server.url, compression=None, ping_interval=HEARTBEAT, ping_timeout=HEARTBEAT
    ) as ws:
        elapsed = await bounded(pinged)
        assert HEARTBEAT * 0.9 <= elapsed <= HEARTBEAT + MARGIN
        while await bounded(ws.recv()) != "end":
            pass
        assert 0 < ws.latency < 1


async def test_ping_timeout_closes_with_1011(wire_server: StartServer) -> None:
    close: asyncio.Future[tuple[int | None, float]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        loop = asyncio.get_running_loop()
        frame = await peer.read_frame()
        assert frame.opcode == OP_PING
        sent_at = loop.time()
        # Data, but no pong: websockets counts only the pong.
        peer.send(server_frame(OP_TEXT, b"busy"))
        code, _ = await peer.read_close()
        close.set_result((code, loop.time() - sent_at))

    server = await wire_server(handler)
    ws = await aiows.connect(
        server.url,
        compression=None,
        ping_interval=HEARTBEAT,
        ping_timeout=HEARTBEAT,
        close_timeout=0.5,
    )
    code, elapsed = await bounded(close)
    assert code == 1011
    assert HEARTBEAT * 0.9 <= elapsed <= HEARTBEAT + MARGIN
    assert await bounded(ws.recv()) == "busy"
    with pytest.raises(aiows.ConnectionClosedError) as info:
        await bounded(ws.recv())
    assert info.value.sent is not None
    assert info.value.sent.code == 1011
    await bounded(ws.wait_closed())


async def test_ping_interval_none_sends_no_ping(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        with pytest.raises(asyncio.TimeoutError):
            await peer.read_frame(timeout=3 * HEARTBEAT)
        peer.send(server_frame(OP_TEXT, b"no ping came"))
        frame = await peer.read_frame()
        assert frame.opcode == OP_CLOSE

    server = await wire_server(handler)
    async with aiows.connect(server.url, compression=None, ping_interval=None) as ws:
        assert await bounded(ws.recv()) == "no ping came"


@pytest.mark.parametrize(
    "ping_in_flight", [False, True], ids=["idle", "ping-in-flight"]
)
async def test_no_keepalive_while_the_close_is_in_progress(
    wire_server: StartServer, ping_in_flight: bool
) -> None:
    """Once the client has sent its close frame, a keepalive timer that fires
    (the next ping due, or the deadline of a ping sent before) does nothing:
    no ping after the close frame, no 1011 over a slow close reply."""
    interval = HEARTBEAT / 2
    pinged = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        if ping_in_flight:
            frame = await peer.read_frame()
            assert frame.opcode == OP_PING
            pinged.set()  # and no pong: the ping stays in flight
        assert await peer.read_close() == (1000, b"")
        # The next interval (or the ping's deadline) passes during the close.
        with pytest.raises(asyncio.TimeoutError):
            await peer.read_frame(timeout=3 * interval)
        # The reply, then TCP closed, as a server does (RFC 6455 §7.1.1).
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    server = await wire_server(handler)
    ws = await aiows.connect(
        server.url, compression=None, ping_interval=interval, ping_timeout=interval
    )
    if ping_in_flight:
        await bounded(pinged.wait())
    await bounded(ws.close())
    assert ws.close_code == 1000
    with pytest.raises(aiows.ConnectionClosedOK) as info:
        await ws.recv()
    assert info.value.sent == aiows.Close(1000, "")
    assert info.value.rcvd == aiows.Close(1000, "")
