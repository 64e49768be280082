"""One test per flow-control path: memory stays bounded against a server that
stops reading or floods (issue 18, "Flow control on every face").

========================  ==================================================
path                      what holds it
========================  ==================================================
receive queue             ``max_queue`` items or ``DEFAULT_MAX_QUEUE_BYTES``
                          of payload, whichever comes first; reading pauses
listener                  no queue: when the replies its callbacks sent
                          while handling a read back up past ``write_limit``,
                          reading pauses; ``pause_reading()`` is the
                          listener's own
automatic replies         pongs past ``write_limit`` pause reading
                          (``test_bounds.py``, and the hand-over's in
                          ``tests/session/test_takeover_seam.py``)
sends                     a send waits at ``write_limit``
                          (``test_bounds.py``)
keepalive                 one ping in flight; its pong deadline starts once
                          the ping left the write buffer (websockets face)
========================  ==================================================

Each runs on asyncio's loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import connect as websockets_connect

import aiows
from aiows.engine.assembler import DEFAULT_MAX_QUEUE_BYTES
from tests.conftest import RawPeer, accept_for, server_frame
from tests.engine_probe import EngineProbe, queued_bytes
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)

KiB = 1024
MiB = 1024 * KiB

# -- the receive queue counts bytes --------------------------------------------------


@pytest.mark.both_loops
@pytest.mark.parametrize("face", ["aiohttp", "websockets"])
async def test_the_receive_queue_stops_at_a_byte_bound(
    raw_server: StartServer, face: str
) -> None:
    """Sixteen messages of 600 KiB fit ``max_queue`` (16 items) but not the
    byte bound: reading pauses after two, and every message still arrives,
    in order, once the application reads."""
    count, size = 16, 600 * KiB
    read_now = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        for i in range(count):
            peer.send(server_frame(OP_BINARY, i.to_bytes(4, "big") * (size // 4)))
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await read_now.wait()
        await peer.read_close()

    server = await raw_server(handler)
    if face == "aiohttp":
        ws: Any = await bounded(aiows.ws_connect(server.url, max_msg_size=MiB))
    else:
        ws = await bounded(aiows.connect(server.url, max_size=MiB, ping_interval=None))
    engine = ws._engine
    probe = EngineProbe.install(engine)
    await bounded(probe.until(lambda: engine.reading_paused))
    # The read that crossed the bound may have brought one more message.
    assert len(engine.assembler.queue) < count
    assert queued_bytes(engine) < DEFAULT_MAX_QUEUE_BYTES + READ + size
    read_now.set()
    for i in range(count):
        if face == "aiohttp":
            data = await bounded(ws.receive_bytes())
        else:
            data = await bounded(ws.recv())
        assert data[:4] == i.to_bytes(4, "big") and len(data) == size
    assert probe.peaks.queue_bytes < DEFAULT_MAX_QUEUE_BYTES + READ + size
    await bounded(ws.close())


#: The largest read of a socket (asyncio's and aiows's buffer).
READ = 256 * KiB


# -- the listener -------------------------------------------------------------------


class Echo(aiows.Listener):
    """The echo of ``aiows.Listener``'s own docstring."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_message(self, ws: aiows.ListenerConnection, kind: Any, data: Any) -> None:
        ws.send_bytes_nowait(data)

    def on_close(self, ws: Any, code: int, reason: str) -> None:
        self.closed.set_result(code)


@pytest.mark.both_loops
async def test_a_listener_echo_to_a_server_that_does_not_read(
    raw_server: StartServer,
) -> None:
    """The server sends 16 MiB and reads nothing until told: the echo's
    writes back up, reading pauses, and the write buffer stays within the
    write limit and a read's replies (it reached 44 MiB before).  Once the
    server reads, every message comes back, in order."""
    count, size = 256, 64 * KiB
    read_now = asyncio.Event()
    echoed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read_echoes(peer: RawPeer) -> None:
        await read_now.wait()
        for i in range(count):
            frame = await peer.read_frame(20)
            assert frame.opcode == OP_BINARY
            assert frame.payload[:4] == i.to_bytes(4, "big")
        echoed.set_result(count)

    async def handler(peer: RawPeer) -> None:
        reader = asyncio.create_task(read_echoes(peer))
        for i in range(count):
            peer.send(server_frame(OP_BINARY, i.to_bytes(4, "big") * (size // 4)))
            await peer.writer.drain()
        await reader
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await raw_server(handler)
    listener = Echo()
    write_limit = 64 * KiB
    async with aiows.ClientSession() as session:
        ws = await bounded(
            session.ws_listen(server.url, listener, write_limit=write_limit)
        )
        engine = ws._engine
        probe = EngineProbe.install(engine)
        await bounded(
            probe.until(lambda: engine.reading_paused and engine.lane.paused), 20
        )
        assert ws.reading_paused and ws.writing_paused
        assert engine.transport is not None
        bound = write_limit + READ + 2 * size
        assert engine.transport.get_write_buffer_size() <= bound
        read_now.set()
        assert await bounded(echoed, 30) == count
        assert await bounded(listener.closed) == 1000
        assert probe.peaks.write_buffer <= bound, probe.peaks


class Holding(aiows.Listener):
    """Pauses reading at the first message; keeps what it is given."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.first = asyncio.Event()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_message(self, ws: aiows.ListenerConnection, kind: Any, data: Any) -> None:
        if not self.got:
            ws.pause_reading()
            self.first.set()
        self.got.append(data)

    def on_close(self, ws: Any, code: int, reason: str) -> None:
        self.closed.set_result(code)


@pytest.mark.both_loops
async def test_a_listener_pauses_and_resumes_reading(raw_server: StartServer) -> None:
    """A callback pauses reading: the rest of that read is still handed
    over, nothing more is read until it resumes, and then everything
    arrives, in order."""
    count = 100
    more = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"first"))
        await more.wait()
        for i in range(count):
            peer.send(server_frame(OP_BINARY, b"%d" % i))
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await raw_server(handler)
    listener = Holding()
    async with aiows.ClientSession() as session:
        ws = await bounded(session.ws_listen(server.url, listener))
        await bounded(listener.first.wait())
        assert ws.reading_paused
        probe = EngineProbe.install(ws._engine)
        more.set()
        # The server's messages reach the client's socket, not the listener.
        await bounded(asyncio.sleep(0.2))
        assert listener.got == [b"first"] and probe.peaks.reads == 0
        ws.resume_reading()
        assert await bounded(listener.closed) == 1000
        assert listener.got == [b"first"] + [b"%d" % i for i in range(count)]


# -- keepalive ----------------------------------------------------------------------


#: A server that reads 16 KiB every 12 ms: about 1.3 MB/s.
SLOW_READ, SLOW_EVERY = 16 * KiB, 0.012
UPLOAD = 2 * MiB


async def slow_reader(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answers the upgrade, then reads slowly, answers each ping at once, and
    says "got it" once the upload arrived; closes after the client."""
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip().decode()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
        + accept_for(key).encode()
        + b"\r\n\r\n"
    )
    buffer = bytearray()
    try:
        while True:
            chunk = await reader.read(SLOW_READ)
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 6:
                length = buffer[1] & 0x7F
                head = 2 + {126: 2, 127: 8}.get(length, 0)
                if len(buffer) < head + 4:
                    break
                if length == 126:
                    length = int.from_bytes(buffer[2:4], "big")
                elif length == 127:
                    length = int.from_bytes(buffer[2:10], "big")
                end = head + 4 + length
                if len(buffer) < end:
                    break
                opcode = buffer[0] & 0x0F
                key_bytes = buffer[head : head + 4]
                if opcode == OP_PING:
                    payload = bytes(
                        b ^ key_bytes[i % 4]
                        for i, b in enumerate(buffer[head + 4 : end])
                    )
                    writer.write(server_frame(OP_PONG, payload))
                elif opcode == OP_BINARY:
                    writer.write(server_frame(OP_TEXT, b"got it"))
                elif opcode == OP_CLOSE:
                    writer.write(server_frame(OP_CLOSE, close_payload(1000)))
                    await writer.drain()
                    return
                del buffer[:end]
            await asyncio.sleep(SLOW_EVERY)
    finally:
        writer.close()


def small_socket(port: int) -> socket.socket:
    """A connected socket whose send buffer is small: what the client writes
    waits in its own buffer, not the kernel's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * KiB)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


@pytest.mark.both_loops
@pytest.mark.parametrize("client", ["websockets", "aiows"])
async def test_keepalive_behind_a_slow_upload(client: str) -> None:
    """A 2 MiB upload to a server that reads at 1.3 MB/s, with
    ``ping_interval=0.3`` and ``ping_timeout=0.6``: the keepalive's ping
    waits behind the upload, and its pong deadline starts once it left the
    write buffer, so the healthy connection is kept (it failed with 1011),
    as in websockets, the oracle."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * KiB)
    listener.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(slow_reader, sock=listener)
    port = listener.getsockname()[1]
    connect: Any = websockets_connect if client == "websockets" else aiows.connect
    closed: Any = (
        websockets.ConnectionClosed
        if client == "websockets"
        else aiows.ConnectionClosed
    )
    try:
        ws = await bounded(
            connect(
                f"ws://127.0.0.1:{port}/",
                sock=small_socket(port),
                compression=None,
                ping_interval=0.3,
                ping_timeout=0.6,
            )
        )
        try:
            await bounded(ws.send(b"u" * UPLOAD), 20)
            assert await bounded(ws.recv(), 20) == "got it"
        except closed as exc:
            pytest.fail(f"{client} failed its own healthy connection: {exc!r}")
        await bounded(ws.close(), 10)
        assert ws.close_code == 1000
    finally:
        server.close()
        await server.wait_closed()
