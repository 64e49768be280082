"""The engine's flow control both ways, observed on the server's side of real
sockets: reading pauses while ``max_queue`` messages are unread, and sends
wait while the transport's buffer is over ``write_limit``.

Driven through the aiohttp face (and the websockets face where it differs);
the engine's state is read through ``ws._engine``.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from typing import Any

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame, upgrade_response
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    StartServer,
    bounded,
    close_payload,
    hold,
)

COUNT = 1000
SIZE = 16 * 1024


def numbered(i: int) -> bytes:
    return i.to_bytes(4, "big") * (SIZE // 4)


def close_reason(ws: aiows.ClientWebSocketResponse) -> str | None:
    """The reason of the server's close frame (not on the aiohttp face)."""
    rcvd = ws._engine.protocol.close_rcvd
    return None if rcvd is None else rcvd.reason


async def test_unread_messages_push_back_on_the_server(
    wire_server: StartServer,
) -> None:
    """max_queue=4, app not reading: the server's writes back up."""
    backed_up: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        # Wait for the client's word, so no message shares a segment with
        # the 101 (see test_messages_with_the_101_count_against_max_queue).
        assert (await peer.read_frame()).payload == b"go"
        for i in range(COUNT):
            peer.send(server_frame(OP_BINARY, numbered(i)))
        # The client stopped reading, so drain() cannot finish.
        try:
            await asyncio.wait_for(peer.writer.drain(), 0.5)
        except asyncio.TimeoutError:
            backed_up.set_result(peer.writer.transport.get_write_buffer_size())
        else:
            backed_up.set_result(0)
        await peer.writer.drain()
        code, _ = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000)))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_queue=4) as ws:
        await ws.send_bytes(b"go")
        pending = await bounded(backed_up)
        # Megabytes wait in the server's own buffer, not in the client.
        assert pending > 4 * 1024 * 1024
        assert not ws._engine.transport.is_reading()
        assert len(ws._engine.assembler.queue) < 100
        start = time.monotonic()
        for i in range(COUNT):
            msg = await bounded(ws.receive())
            assert msg.type == aiows.WSMsgType.BINARY
            assert msg.data == numbered(i), f"message {i} out of order"
        assert time.monotonic() - start < 10
        assert ws._engine.transport.is_reading()
        assert not ws.closed


async def test_reading_resumes_only_when_queue_drains(wire_server: StartServer) -> None:
    """Reading pauses at max_queue and resumes at a quarter of it."""
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        # One segment, so the client parses all eight in one go.
        peer.send(b"".join(server_frame(OP_BINARY, b"%d" % i) for i in range(8)))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_queue=8) as ws:
        assert ws._engine.transport.is_reading()
        go.set()
        assert await bounded(ws.receive_bytes()) == b"0"
        assert len(ws._engine.assembler.queue) == 7
        assert not ws._engine.transport.is_reading()
        for i in range(1, 5):
            assert await ws.receive_bytes() == b"%d" % i
        assert not ws._engine.transport.is_reading()  # 3 left, more than 8 // 4
        assert await ws.receive_bytes() == b"5"
        assert ws._engine.transport.is_reading()  # 2 left
        assert [await ws.receive_bytes() for _ in range(2)] == [b"6", b"7"]


async def test_messages_with_the_101_count_against_max_queue(
    wire_server: StartServer,
) -> None:
    """Messages in the 101's segment fill the queue; reading must stay paused."""
    backed_up: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        assert (await peer.read_frame()).payload == b"go"
        for i in range(COUNT):
            peer.send(server_frame(OP_BINARY, numbered(i)))
        try:
            await asyncio.wait_for(peer.writer.drain(), 0.5)
        except asyncio.TimeoutError:
            backed_up.set_result(peer.writer.transport.get_write_buffer_size())
        else:
            backed_up.set_result(0)
        await peer.read_close()

    tail = b"".join(server_frame(OP_BINARY, b"early %d" % i) for i in range(4))
    server = await wire_server(handler, after_101=tail)
    async with aiows.ws_connect(
        server.url,
        max_queue=4,
        timeout=aiows.ClientWSTimeout(ws_receive=None, ws_close=0.5),
    ) as ws:
        # The four early messages were queued during the handshake.
        assert len(ws._engine.assembler.queue) == 4
        await ws.send_bytes(b"go")
        pending = await bounded(backed_up)
        queued = len(ws._engine.assembler.queue)
        for i in range(4):
            assert await bounded(ws.receive_bytes()) == b"early %d" % i
        # Reading stayed paused: the 1000 messages (16 MiB) wait in the
        # server's buffer, not in the client's queue.
        assert queued < 100
        assert pending > 4 * 1024 * 1024


async def test_unlimited_queue_reads_everything(wire_server: StartServer) -> None:
    done = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        for i in range(200):
            peer.send(server_frame(OP_BINARY, numbered(i)))
        await peer.writer.drain()
        done.set()
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_queue=None) as ws:
        # drain() finished: the client read everything without the app.
        await bounded(done.wait())
        got = [await bounded(ws.receive_bytes()) for _ in range(200)]
        assert got == [numbered(i) for i in range(200)]


async def test_send_blocks_when_server_does_not_read(wire_server: StartServer) -> None:
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await hold(release)  # never reads

    server = await wire_server(handler)
    write_limit = 16 * 1024
    chunk = b"w" * (256 * 1024)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(
            server.url,
            write_limit=write_limit,
            timeout=aiows.ClientWSTimeout(ws_receive=None, ws_close=0.5),
        )
        blocked_after = None
        for i in range(400):  # at most 100 MiB
            try:
                await asyncio.wait_for(ws.send_bytes(chunk), 0.5)
            except asyncio.TimeoutError:
                blocked_after = i
                break
        assert blocked_after is not None, "send_bytes never blocked"
        # The client buffers at most the limit plus the frame being written.
        buffered = ws._engine.transport.get_write_buffer_size()
        assert 0 < buffered <= write_limit + len(chunk) + 14
        assert not ws.closed
        start = time.monotonic()
        assert await bounded(ws.close()) is True
        assert time.monotonic() - start < 1.5
        assert ws.closed
        assert ws.close_code == 1006
        assert session.connector is not None
        assert not session.connector._acquired
    release.set()


async def test_blocked_send_resumes_when_server_reads(
    wire_server: StartServer,
) -> None:
    start_reading = asyncio.Event()
    total: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        await start_reading.wait()
        received = 0
        while True:
            frame = await peer.read_frame()
            if frame.opcode == OP_CLOSE:
                break
            assert frame.payload == b"r" * len(frame.payload)
            received += len(frame.payload)
        total.set_result(received)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = await wire_server(handler)
    chunk = b"r" * (256 * 1024)
    async with aiows.ws_connect(server.url, write_limit=16 * 1024) as ws:
        sent = 0
        blocked: asyncio.Future[None] | None = None
        for _ in range(400):
            send = asyncio.ensure_future(ws.send_bytes(chunk))
            done, _ = await asyncio.wait({send}, timeout=0.5)
            sent += len(chunk)
            if not done:
                blocked = send
                break
        assert blocked is not None
        start_reading.set()
        await bounded(blocked)  # completes once the server reads
        await ws.send_bytes(chunk)
        sent += len(chunk)
    assert await bounded(total) == sent


async def test_blocked_send_fails_when_connection_is_lost(
    wire_server: StartServer,
) -> None:
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await hold(release)  # never reads

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=0.3)
    ws = await aiows.ws_connect(server.url, write_limit=1024, timeout=timeout)
    chunk = b"x" * (256 * 1024)
    blocked: asyncio.Future[None] | None = None
    for _ in range(400):
        send = asyncio.ensure_future(ws.send_bytes(chunk))
        done, _ = await asyncio.wait({send}, timeout=0.3)
        if not done:
            blocked = send
            break
    assert blocked is not None
    # close() aborts after ws_close: the blocked chunk was never delivered.
    assert await bounded(ws.close()) is True
    assert ws.close_code == 1006
    release.set()
    with pytest.raises(aiohttp.ClientConnectionResetError):
        await bounded(blocked)


async def test_close_while_reading_paused_still_sees_server_close(
    wire_server: StartServer,
) -> None:
    """The client's close resumes reading, so the server's answer gets in."""

    async def handler(peer: RawPeer) -> None:
        assert (await peer.read_frame()).payload == b"go"
        peer.send(b"".join(server_frame(OP_BINARY, b"%d" % i) for i in range(10)))
        code, _ = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000, b"ack")))

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=2.0)
    ws = await aiows.ws_connect(server.url, max_queue=2, timeout=timeout)
    await ws.send_bytes(b"go")
    assert await bounded(ws.receive_bytes()) == b"0"
    assert not ws._engine.transport.is_reading()
    start = time.monotonic()
    assert await bounded(ws.close()) is True
    assert ws.close_code == 1000
    assert close_reason(ws) == "ack"
    # Not the abort by the ws_close timer, 2 s.
    assert time.monotonic() - start < 1.0


async def test_close_while_reading_paused_reads_server_close_frame(
    wire_server: StartServer,
) -> None:
    """Sending close resumes reading: the server's close frame is read."""

    async def handler(peer: RawPeer) -> None:
        assert (await peer.read_frame()).payload == b"go"
        peer.send(b"".join(server_frame(OP_BINARY, b"%d" % i) for i in range(10)))
        code, _ = await peer.read_close()
        assert code == 1000
        peer.send(server_frame(OP_CLOSE, close_payload(4005, b"ack")))

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=0.5)
    ws = await aiows.ws_connect(server.url, max_queue=2, timeout=timeout)
    await ws.send_bytes(b"go")
    assert await bounded(ws.receive_bytes()) == b"0"
    assert not ws._engine.transport.is_reading()
    assert await bounded(ws.close()) is True
    # Without resuming, no close frame would be read: 1006.
    assert ws.close_code == 4005
    assert close_reason(ws) == "ack"


async def test_websockets_face_pauses_reading_too(wire_server: StartServer) -> None:
    """connect(max_queue=...) bounds the same queue; recv() resumes reading."""
    backed_up: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        assert (await peer.read_frame()).payload == b"go"
        for i in range(COUNT):
            peer.send(server_frame(OP_BINARY, numbered(i)))
        try:
            await asyncio.wait_for(peer.writer.drain(), 0.5)
        except asyncio.TimeoutError:
            backed_up.set_result(peer.writer.transport.get_write_buffer_size())
        else:
            backed_up.set_result(0)
        await peer.writer.drain()
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.connect(
        server.url, compression=None, ping_interval=None, max_queue=4
    ) as ws:
        await ws.send(b"go")
        assert await bounded(backed_up) > 4 * 1024 * 1024
        assert not ws._engine.transport.is_reading()
        for i in range(COUNT):
            assert await bounded(ws.recv()) == numbered(i), f"message {i}"
        assert ws._engine.transport.is_reading()


def deflated_flood(count: int, size: int) -> bytes:
    """``count`` compressed BINARY messages of ``size`` bytes, numbered: a
    few hundred bytes each on the wire (context takeover)."""
    compressor = zlib.compressobj(wbits=-15)
    frames = []
    for i in range(count):
        data = i.to_bytes(4, "big") + b"." * (size - 4)
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        frames.append(server_frame(OP_BINARY, payload[:-4], rsv=0x40))
    return b"".join(frames)


def deflate_101(key: str) -> bytes:
    return upgrade_response(
        key, extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n"
    )


async def test_a_compressed_read_is_parsed_as_the_queue_drains(
    wire_server: StartServer,
) -> None:
    """One read holding 20 compressed 1 MiB messages: the parser keeps back
    what is past its inflate budget, reading stays paused, and the rest is
    parsed as the application reads, in order."""
    count, size = 20, 1024 * 1024
    blob = deflated_flood(count, size)

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()  # "go"
        peer.send(blob + server_frame(OP_CLOSE, close_payload(4001, b"end")))
        await peer.read_close()

    server = await wire_server(handler, response=deflate_101)
    ws = await aiows.ws_connect(server.url, max_queue=2, max_msg_size=size, compress=15)
    engine = ws._engine
    await ws.send_bytes(b"go")
    first = await bounded(ws.receive_bytes())
    assert first[:4] == (0).to_bytes(4, "big")
    assert engine.protocol.pending
    assert not engine.transport.is_reading()
    assert len(engine.assembler.queue) <= 2
    for i in range(1, count):
        got = await bounded(ws.receive_bytes())
        assert got[:4] == i.to_bytes(4, "big") and len(got) == size
        assert len(engine.assembler.queue) <= 2
    msg = await bounded(ws.receive())
    assert msg.type is aiows.WSMsgType.CLOSE and msg.data == 4001


@pytest.mark.parametrize("face", ["aiohttp", "websockets"])
async def test_the_bytes_kept_back_outlive_the_transport(
    wire_server: StartServer, face: str
) -> None:
    """The transport ends while the parser keeps bytes back (here aborted;
    aiohttp may have read the server's EOF with the tail, or TLS report it
    while reading is paused): those bytes came before the end, so their
    messages and the server's close frame are still delivered, a budget at
    a time as the queue drains, before the end (found by the connection
    fuzzer: they were lost)."""
    count, size = 20, 1024 * 1024
    blob = deflated_flood(count, size)
    sent = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()  # "go"
        peer.send(blob + server_frame(OP_CLOSE, close_payload(4001, b"end")))
        sent.set()
        await peer.read_close()

    server = await wire_server(handler, response=deflate_101)
    if face == "aiohttp":
        ws: Any = await aiows.ws_connect(
            server.url, max_queue=2, max_msg_size=size, compress=15
        )
        await ws.send_bytes(b"go")
        receive = ws.receive_bytes
    else:
        ws = await aiows.connect(server.url, max_queue=2, max_size=size)
        await ws.send(b"go")
        receive = ws.recv
    engine = ws._engine
    first = await bounded(receive())
    assert first[:4] == (0).to_bytes(4, "big")
    await bounded(sent.wait())
    assert engine.protocol.pending
    engine.transport.abort()
    await bounded(engine.wait_closed())
    for i in range(1, count):
        got = await bounded(receive())
        assert got[:4] == i.to_bytes(4, "big") and len(got) == size, i
        assert len(engine.assembler.queue) <= 2
    if face == "aiohttp":
        msg = await bounded(ws.receive())
        assert msg.type is aiows.WSMsgType.CLOSE and msg.data == 4001
    else:
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(ws.recv())
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001
        assert info.value.sent is None
    assert ws.close_code == 4001


async def test_close_while_the_parser_keeps_bytes_back_reads_the_servers_close(
    wire_server: StartServer,
) -> None:
    """close() drops what is unread and parses on to the server's close
    frame, which waits behind the kept-back messages: no ws_close timeout."""
    blob = deflated_flood(20, 1024 * 1024)

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()
        peer.send(blob + server_frame(OP_CLOSE, close_payload(4001, b"end")))
        code, _ = await peer.read_close()
        assert code == 1000

    server = await wire_server(handler, response=deflate_101)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=5.0)
    ws = await aiows.ws_connect(server.url, max_queue=2, compress=15, timeout=timeout)
    await ws.send_bytes(b"go")
    await bounded(ws.receive_bytes())
    assert ws._engine.protocol.pending
    start = time.monotonic()
    assert await bounded(ws.close()) is True
    assert time.monotonic() - start < 2.0  # not the ws_close timer
    assert ws.close_code == 4001
    assert close_reason(ws) == "end"
