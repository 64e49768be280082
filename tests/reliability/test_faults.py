"""Network faults injected between aiows and real servers by ``FaultProxy``."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import warnings
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

import aiows
from tests.conftest import (
    RawPeer,
    RawServer,
    read_request,
    server_frame,
    upgrade_response,
)

from .conftest import StartProxy
from .faultproxy import How, ProxiedConnection

StartServer = Callable[..., Awaitable[RawServer]]

TEXT = aiows.WSMsgType.TEXT
BINARY = aiows.WSMsgType.BINARY
ERROR = aiows.WSMsgType.ERROR
CLOSED = aiows.WSMsgType.CLOSED


def open_sockets() -> int:
    """How many sockets this process has open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:  # the fd of listdir itself, already closed
            pass
    return count


# -- a cut in the middle of a frame --------------------------------------------

SMALL = server_frame(0x1, b"whole message")
BIG = server_frame(0x2, bytes(range(256)) * 4)  # 1024 bytes: 4-byte header
# Offsets into BIG: first header byte, inside the 16-bit length, inside the
# payload, and the last byte missing.
CUT_OFFSETS = [1, 3, 300, len(BIG) - 1]


async def cut_mid_frame_server(raw_server: StartServer, go: asyncio.Event) -> RawServer:
    async def handler(peer: RawPeer) -> None:
        await asyncio.wait_for(go.wait(), 5)
        peer.send(SMALL + BIG + SMALL)
        await peer.expect_eof()

    return await raw_server(handler)


@pytest.mark.parametrize("how", ["rst", "fin"])
@pytest.mark.parametrize("offset", CUT_OFFSETS)
async def test_cut_mid_frame_gives_1006(
    raw_server: StartServer, fault_proxy: StartProxy, how: How, offset: int
) -> None:
    go = asyncio.Event()
    server = await cut_mid_frame_server(raw_server, go)
    proxy = await fault_proxy(server.port)
    async with aiows.ClientSession() as session:
        ws = await asyncio.wait_for(session.ws_connect(proxy.url()), 5)
        conn = await proxy.next_connection()
        conn.s2c.cut_in(len(SMALL) + offset, how)
        go.set()
        assert await asyncio.wait_for(ws.receive_str(), 1) == "whole message"
        start = time.monotonic()
        msg = await asyncio.wait_for(ws.receive(), 1)
        if msg.type is ERROR:  # allowed before CLOSED
            msg = await asyncio.wait_for(ws.receive(), 1)
        assert msg.type is CLOSED
        assert time.monotonic() - start < 1.0
        assert ws.close_code == 1006
        assert ws.closed
        assert conn.s2c.forwarded == conn.s2c.faults.cut_at
        assert conn.cut_how == how
        # The rest of BIG and the SMALL after it never arrive.
        assert (await ws.receive()).type is CLOSED
        assert session.connector is not None
        assert not session.connector._acquired


@pytest.mark.parametrize("how", ["rst", "fin"])
async def test_cut_mid_frame_recv_raises_connection_closed_error(
    raw_server: StartServer, fault_proxy: StartProxy, how: How
) -> None:
    go = asyncio.Event()
    server = await cut_mid_frame_server(raw_server, go)
    proxy = await fault_proxy(server.port)
    async with aiows.connect(proxy.url(), compression=None, ping_interval=None) as ws:
        conn = await proxy.next_connection()
        conn.s2c.cut_in(len(SMALL) + 500, how)
        go.set()
        assert await asyncio.wait_for(ws.recv(), 1) == "whole message"
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), 1)
        assert info.value.rcvd is None
        assert info.value.sent is None
        assert ws.close_code == 1006


@pytest.mark.parametrize("how", ["rst", "fin"])
async def test_cut_while_client_sends_mid_frame(
    echo_server: TestServer, fault_proxy: StartProxy, how: How
) -> None:
    # client -> server cut inside a 64 KiB frame the client is writing.
    proxy = await fault_proxy(echo_server.port)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(proxy.url("/ws?compress=0"))
        conn = await proxy.next_connection()
        await ws.send_str("before")
        assert await asyncio.wait_for(ws.receive_str(), 1) == "before"
        conn.c2s.cut_in(1000, how)
        await ws.send_bytes(b"\xaa" * 65536)
        msg = await asyncio.wait_for(ws.receive(), 1)
        if msg.type is ERROR:
            msg = await asyncio.wait_for(ws.receive(), 1)
        assert msg.type is CLOSED
        assert ws.close_code == 1006
        assert conn.c2s.forwarded == conn.c2s.faults.cut_at
        # aiohttp's error for a write on a closed connection.
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_str("after")
        assert session.connector is not None
        assert not session.connector._acquired


# -- a blackhole: sockets open, nothing gets through ---------------------------


async def test_blackhole_detected_by_heartbeat(
    echo_server: TestServer, fault_proxy: StartProxy
) -> None:
    heartbeat = 0.4
    proxy = await fault_proxy(echo_server.port)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(proxy.url("/ws"), heartbeat=heartbeat)
        conn = await proxy.next_connection()
        await ws.send_str("alive")
        assert await asyncio.wait_for(ws.receive_str(), 1) == "alive"
        proxy.blackhole()
        start = time.monotonic()
        msg = await asyncio.wait_for(ws.receive(), heartbeat * 1.5 + 1)
        elapsed = time.monotonic() - start
        assert msg.type is ERROR
        assert elapsed <= heartbeat * 1.5 + 0.2, elapsed
        assert isinstance(ws.exception(), aiohttp.ServerTimeoutError)
        assert isinstance(ws.exception(), aiows.PongTimeout)
        assert msg.data is ws.exception()
        assert (await asyncio.wait_for(ws.receive(), 1)).type is CLOSED
        assert ws.close_code == 1006
        # The keepalive ping went out and was swallowed; the proxy's sockets
        # stayed open all along.
        assert conn.c2s.dropped > 0
        assert not conn.closed.is_set()
        assert session.connector is not None
        assert not session.connector._acquired


@pytest.mark.parametrize(
    "fault",
    [
        "blackhole-c2s",  # the close frame never reaches the server
        "stall-c2s",  # the proxy stops reading: TCP backpressure
        "blackhole-s2c",  # the server answers; the answer never arrives
    ],
)
async def test_close_against_silent_server_returns_within_ws_close(
    echo_server: TestServer, fault_proxy: StartProxy, fault: str
) -> None:
    ws_close = 0.5
    proxy = await fault_proxy(echo_server.port)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(
            proxy.url("/ws"),
            timeout=aiows.ClientWSTimeout(ws_receive=None, ws_close=ws_close),
        )
        conn = await proxy.next_connection()
        await ws.send_str("alive")
        assert await asyncio.wait_for(ws.receive_str(), 1) == "alive"
        mode, direction = fault.split("-")
        conn.pipe(direction).update(**{mode: True})  # type: ignore[arg-type]
        start = time.monotonic()
        assert await asyncio.wait_for(ws.close(), ws_close + 2) is True
        elapsed = time.monotonic() - start
        assert ws_close - 0.05 <= elapsed <= ws_close + 0.3, elapsed
        assert ws.closed
        assert ws.close_code == 1006
        assert await ws.close() is False
        assert session.connector is not None
        assert not session.connector._acquired


# -- throttling: one byte at a time --------------------------------------------


async def test_throttled_aiohttp_server_with_compression_delivers_everything(
    echo_server: TestServer, fault_proxy: StartProxy
) -> None:
    proxy = await fault_proxy(echo_server.port)
    proxy.set("s2c", throttle=True)
    proxy.set("c2s", throttle=True)
    rng = random.Random(7)
    messages: list[str | bytes] = [
        "héllo wörld ✓",
        "",
        bytes(rng.getrandbits(8) for _ in range(1500)),  # incompressible
        "compressible " * 20000,  # 260 KB that deflates to ~1 KB
        b"\x00" * 70000,  # 64-bit length before compression
    ]
    async with aiows.ws_connect(proxy.url("/ws"), compress=15) as ws:
        assert ws.compress == 15
        conn = proxy.connections[0]
        for message in messages:
            if isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_bytes(message)
        received = [(await asyncio.wait_for(ws.receive(), 10)).data for _ in messages]
    assert received == messages
    # Everything went one byte per write, compressed.
    assert 1000 < conn.s2c.forwarded < 20000
    assert ws.close_code == 1000


def deflate_fragments(data: bytes, pieces: int) -> list[bytes]:
    """``data`` compressed as RFC 7692 says, split into ``pieces`` parts."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert body.endswith(b"\x00\x00\xff\xff")
    body = body[:-4]
    step = max(1, len(body) // pieces)
    parts = [body[i : i + step] for i in range(0, len(body), step)]
    return parts


async def test_throttled_fragmented_messages_arrive_intact(
    raw_server: StartServer, fault_proxy: StartProxy
) -> None:
    text = "fragmenté ✓ " * 50
    raw = text.encode()
    binary = bytes(range(256)) * 3
    compressed = b"deflate me " * 300
    wire = b"".join(
        [
            # Text split inside a multi-byte UTF-8 sequence, a ping inside.
            server_frame(0x1, raw[:10], fin=False),
            server_frame(0x9, b"ping!"),
            server_frame(0x0, raw[10:301], fin=False),
            server_frame(0x0, raw[301:]),
            # Binary in three fragments, one of them empty.
            server_frame(0x2, binary[:100], fin=False),
            server_frame(0x0, b"", fin=False),
            server_frame(0x0, binary[100:]),
        ]
    )
    parts = deflate_fragments(compressed, 3)
    for i, part in enumerate(parts):
        wire += server_frame(
            0x2 if i == 0 else 0x0,
            part,
            fin=i == len(parts) - 1,
            rsv=0x40 if i == 0 else 0,
        )
    pongs: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        peer.send(wire)
        frame = await peer.read_frame()
        pongs.append(frame.payload if frame.opcode == 0xA else b"?")
        code, _ = await peer.read_close()
        peer.send(server_frame(0x8, (code or 1000).to_bytes(2, "big")))

    server = await raw_server(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n"
        ),
    )
    proxy = await fault_proxy(server.port)
    proxy.set("s2c", throttle=True)
    async with aiows.ws_connect(proxy.url(), compress=15) as ws:
        assert ws.compress == 15
        assert await asyncio.wait_for(ws.receive_str(), 10) == text
        assert await asyncio.wait_for(ws.receive_bytes(), 10) == binary
        assert await asyncio.wait_for(ws.receive_bytes(), 10) == compressed
    assert pongs == [b"ping!"]
    assert ws.close_code == 1000
    assert proxy.connections[0].s2c.forwarded > len(wire)


# -- the reconnect iterator rides through 100 cuts -----------------------------

CUTS = 100
MAX_CUT = 20000
HANDSHAKE_LEN = len(upgrade_response("x" * 24))


@dataclass
class NumberedServer:
    """Sends numbered messages on each connection; records their end offsets."""

    rng: random.Random
    #: upstream port -> [(payload, end offset in the server's output)]
    sent: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    counter: int = 0
    server: asyncio.AbstractServer | None = None

    async def on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            _, headers = await read_request(reader)
            answer = upgrade_response(headers["sec-websocket-key"])
            assert len(answer) == HANDSHAKE_LEN
            offset = len(answer)
            record: list[tuple[str, int]] = []
            self.sent[writer.get_extra_info("peername")[1]] = record
            out = [answer]
            # Enough messages to cover every cut offset.
            while offset < HANDSHAKE_LEN + MAX_CUT:
                self.counter += 1
                payload = f"{self.counter}:" + "n" * self.rng.randrange(0, 3000)
                frame = server_frame(0x1, payload.encode())
                offset += len(frame)
                record.append((payload, offset))
                out.append(frame)
            writer.write(b"".join(out))
            # The proxy cuts somewhere in there; wait for it.
            await asyncio.wait_for(reader.read(), 5)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)


async def test_reconnect_rides_through_hundred_cuts(fault_proxy: StartProxy) -> None:
    rng = random.Random(2024)
    numbered = NumberedServer(random.Random(1))
    server = await asyncio.start_server(numbered.on_client, "127.0.0.1", 0)
    numbered.server = server
    proxy = await fault_proxy(server.sockets[0].getsockname()[1])
    # Where each connection gets cut, chosen before any byte flows: inside the
    # messages, never inside the handshake, alternately RST and FIN.
    cuts: dict[int, ProxiedConnection] = {}

    def on_connect(conn: ProxiedConnection) -> None:
        n = len(cuts)
        # Every fourth cut lands in the first frame; the others anywhere.
        limit = 50 if n % 4 == 0 else MAX_CUT
        conn.s2c.faults.cut_at = HANDSHAKE_LEN + rng.randrange(1, limit + 1)
        conn.s2c.faults.how = "rst" if n % 2 else "fin"
        cuts[conn.client_port] = conn

    proxy.on_connect = on_connect
    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)

    tasks_before = asyncio.all_tasks()
    sockets_before = open_sockets()
    received: dict[int, list[str]] = {}
    close_codes: list[int | None] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = aiows.ClientSession(connector=aiows.TCPConnector(limit=1))
        reconnector = session.ws_connect(
            proxy.url(), backoff=aiows.Backoff(sleep=no_sleep, clock=lambda: 0.0)
        ).__aiter__()
        async for ws in reconnector:
            got = received.setdefault(ws.get_extra_info("sockname")[1], [])
            while True:
                msg = await asyncio.wait_for(ws.receive(), 5)
                if msg.type is TEXT:
                    got.append(msg.data)
                elif msg.type is not ERROR:
                    assert msg.type is CLOSED
                    break
            close_codes.append(ws.close_code)
            if len(received) == CUTS:
                break
        await asyncio.wait_for(reconnector.aclose(), 5)
        assert session.connector is not None
        assert not session.connector._acquired
        await asyncio.wait_for(session.close(), 5)
        await proxy.wait_idle()
        await asyncio.wait_for(
            asyncio.gather(*numbered.tasks, return_exceptions=True), 5
        )
        del ws, reconnector, session
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert close_codes == [1006] * CUTS
    assert reconnector_attempts_ok(delays)

    # Every message whose bytes all passed the proxy was received, in order,
    # and nothing else.
    assert len(received) == CUTS
    delivered_total = 0
    for client_port, got in received.items():
        conn = cuts[client_port]
        assert conn.s2c.forwarded == conn.s2c.faults.cut_at
        passed = [
            payload
            for payload, end in numbered.sent[conn.upstream_port]
            if end <= conn.s2c.forwarded
        ]
        assert got == passed, client_port
        delivered_total += len(got)
    assert delivered_total > CUTS  # the cuts were not all at the start

    # Nothing leaked: sockets, tasks.
    server.close()
    await server.wait_closed()
    await proxy.close()
    assert open_sockets() == sockets_before - 2  # minus server and proxy
    leftover = asyncio.all_tasks() - tasks_before - {asyncio.current_task()}
    assert not leftover, leftover


def reconnector_attempts_ok(delays: list[float]) -> bool:
    """One backoff wait per closed connection, none of them real."""
    return len(delays) == CUTS - 1 and all(d >= 0 for d in delays)
