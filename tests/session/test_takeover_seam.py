"""The hand-over from aiohttp at its worst moment (``aiows/session/takeover.py``).

The server's first frames come in the same read as its 101, so the client
handles them while it takes the socket over.  Here they are pings, from a
server that never reads: every pong the client writes stays in its buffers.
Whether the tail is empty, one ping or a quarter of a megabyte, and whether
aiohttp's writing was already paused when the socket changed hands, the
engine must know it: it stops reading once its writes back up, and its write
buffer stays within the write limit and a read's replies, on asyncio's loop
and on uvloop, with socket buffers as small as a fresh connection's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

import aiows
from tests.conftest import accept_for, server_frame
from tests.engine_probe import EngineProbe
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    bounded,
    close_payload,
)

PING = server_frame(OP_PING, b"p" * 125)
# aiohttp 3.12 added TCPConnector(socket_factory=); before it the client's
# buffers are the kernel's defaults and only the server's are small.
HAS_SOCKET_FACTORY = (
    "socket_factory" in aiohttp.TCPConnector.__init__.__code__.co_varnames
)
#: The client's write limit: the transport's high-water mark.
WRITE_LIMIT = 16 * 1024
#: Socket buffers about as large as a fresh connection's over a real network.
SMALL_BUFFER = 8 * 1024
#: Pings the server sends after the tail, never reading: far more than the
#: kernel's buffers and the bound asserted below can take.
FLOOD = 32 * 1024
#: The pongs of one read at most: the engine reads 256 KiB at a time, and
#: a pong is a masked ping (4 bytes more).
READ_REPLIES = 256 * 1024 * (len(PING) + 4) // len(PING)
#: What the write buffer may hold besides what was there at the hand-over:
#: the limit, plus the pongs of two reads (reading pauses after the read
#: whose replies crossed the mark, which may follow one corked write).
BOUND = WRITE_LIMIT + 2 * READ_REPLIES


def small_socket(addr_info: Any) -> socket.socket:
    """A client socket whose writes back up soon; it reads as usual, so the
    server's first frames come in the same read as the 101."""
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    return sock


def connector() -> aiohttp.TCPConnector:
    if HAS_SOCKET_FACTORY:
        return aiohttp.TCPConnector(socket_factory=small_socket)
    return aiohttp.TCPConnector()


class FloodServer:
    """Answers the upgrade with ``tail`` pings in the same write as the 101,
    then floods pings without reading, until told to read; then it expects
    ``first`` (a message the client sent on opening) before the pongs.
    """

    def __init__(self, tail: int, first: bytes) -> None:
        self.tail = tail
        self.first = first
        #: Set once the server reads again; the client's writes then drain.
        self.read_now = asyncio.Event()
        #: Pongs the server read once told to.
        self.pongs: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.AbstractServer | None = None
        self.url = ""

    async def start(self) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The server reads little at a time, so the client's pongs back up;
        # it sends as usual, so its first frames travel with the 101.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        listener.bind(("127.0.0.1", 0))
        self.server = await asyncio.start_server(self._on_client, sock=listener)
        return f"ws://127.0.0.1:{listener.getsockname()[1]}/"

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            key = await self._read_key(reader)
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                + accept_for(key).encode()
                + b"\r\n\r\n"
                + PING * self.tail
            )
            counter = asyncio.create_task(self._count_pongs(reader))
            for _ in range(FLOOD // 1024):
                writer.write(PING * 1024)
                await writer.drain()
            writer.write(server_frame(OP_TEXT, b"flood over"))
            self.pongs.set_result(await counter)
            writer.write(server_frame(OP_CLOSE, close_payload(1000)))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except BaseException as exc:  # pragma: no cover - reported by the test
            self.errors.append(exc)
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _read_key(self, reader: asyncio.StreamReader) -> str:
        key = ""
        while True:
            line = (await reader.readuntil(b"\r\n")).decode("latin-1")
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
            if line == "\r\n":
                return key

    async def _count_pongs(self, reader: asyncio.StreamReader) -> int:
        await self.read_now.wait()
        pongs = 0
        first = b""
        while pongs < self.tail + FLOOD:
            frame = await read_client_frame(reader)
            if frame[0] == OP_PONG:
                pongs += 1
            else:
                assert frame == (OP_BINARY, self.first)
                first = frame[1]
        assert first == self.first
        return pongs


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The opcode and unmasked payload of the client's next frame."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4)
    payload = await reader.readexactly(length)
    return head[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@pytest.fixture
async def flood_server() -> AsyncIterator[
    Callable[[int, bytes], Awaitable[FloodServer]]
]:
    servers: list[FloodServer] = []

    async def start(tail: int, first: bytes) -> FloodServer:
        server = FloodServer(tail, first)
        servers.append(server)
        server.url = await server.start()
        return server

    yield start
    for server in servers:
        await server.close()
        assert server.errors == []


class Flooded(aiows.Listener):
    """Sends ``first`` on opening, before the socket changes hands; keeps
    the text messages."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.texts: asyncio.Queue[str] = asyncio.Queue()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_open(self, ws: aiows.ListenerConnection) -> None:
        if self.first:
            ws.send_bytes_nowait(self.first)

    def on_message(self, ws: Any, kind: aiows.WSMsgType, data: Any) -> None:
        self.texts.put_nowait(data)

    def on_close(self, ws: Any, code: int, reason: str) -> None:
        self.closed.set_result(code)


class Opened:
    """One connection through any face, read the same way."""

    def __init__(self, face: str, ws: Any, listener: Flooded | None) -> None:
        self.face = face
        self.ws = ws
        self.listener = listener
        self.engine = ws._engine

    async def next_text(self) -> str:
        if self.listener is not None:
            return await self.listener.texts.get()
        if self.face == "websockets":
            text: str = await self.ws.recv()
            return text
        msg = await self.ws.receive()
        assert msg.type is aiows.WSMsgType.TEXT, msg
        return str(msg.data)

    async def closed_with(self) -> int:
        if self.listener is not None:
            return await self.listener.closed
        if self.face == "websockets":
            with pytest.raises(aiows.ConnectionClosedOK):
                await self.ws.recv()
            code: int = self.ws.close_code
            return code
        msg = await self.ws.receive()
        assert msg.type is aiows.WSMsgType.CLOSE, msg
        return int(msg.data)


async def open_face(
    session: aiows.ClientSession, face: str, url: str, first: bytes
) -> Opened:
    if face == "aiohttp":
        ws = await session.ws_connect(url, write_limit=WRITE_LIMIT)
        return Opened(face, ws, None)
    if face == "websockets":
        ws = await aiows.connect(
            url, session=session, write_limit=WRITE_LIMIT, ping_interval=None
        )
        return Opened(face, ws, None)
    listener = Flooded(first)
    ws = await session.ws_listen(url, listener, write_limit=WRITE_LIMIT)
    return Opened(face, ws, listener)


#: (face, what the client sends before the hand-over): the listener's
#: on_open runs while aiohttp's protocol still owns the socket, so a large
#: message there pauses writing under aiohttp's protocol (larger than the
#: kernel's own send buffer, up to 4 MiB, without a socket factory).
FIRST = 1024 * 1024 if HAS_SOCKET_FACTORY else 8 * 1024 * 1024
CASES = [
    ("aiohttp", b""),
    ("websockets", b""),
    ("listener", b""),
    ("listener", b"s" * FIRST),
]


@pytest.mark.both_loops
@pytest.mark.parametrize("tail", [0, 1, 100, 2000])
@pytest.mark.parametrize(
    ("face", "first"), CASES, ids=["aiohttp", "websockets", "listener", "paused"]
)
async def test_a_ping_flood_behind_the_101_cannot_grow_the_write_buffer(
    flood_server: Callable[[int, bytes], Awaitable[FloodServer]],
    tail: int,
    face: str,
    first: bytes,
) -> None:
    server = await flood_server(tail, first)
    bound = BOUND + len(first)
    async with aiows.ClientSession(connector=connector()) as session:
        opened = await bounded(open_face(session, face, server.url, first))
        engine = opened.engine
        transport = engine.transport
        assert transport is not None
        if first:
            # aiohttp's protocol saw writing pause before the socket changed
            # hands, and the engine knows it.
            assert engine.lane.paused
        probe = EngineProbe.install(engine)
        # The kernel's buffers take the first pongs; then the client's own
        # fill, writing pauses, and reading with it, for good.
        await bounded(
            probe.until(lambda: engine.reading_paused and engine.lane.paused), 20
        )
        assert transport.get_write_buffer_size() <= bound
        # Paused, not stalled: once the server reads, every ping gets its
        # pong, the flood ends, and the close goes through.
        server.read_now.set()
        assert await bounded(opened.next_text(), 30) == "flood over"
        assert await bounded(server.pongs, 30) == tail + FLOOD
        assert await bounded(opened.closed_with(), 10) == 1000
        assert probe.peaks.write_buffer <= bound, probe.peaks


@pytest.mark.both_loops
@pytest.mark.parametrize("count", [2, 300])
@pytest.mark.parametrize("face", ["aiohttp", "websockets", "listener"])
async def test_a_server_that_closes_before_the_hand_over(
    raw_server: Any, face: str, count: int
) -> None:
    """The server sends messages right behind the 101 and closes, while a
    trace callback still holds the 101: the socket is gone before aiows can
    take it.  The messages are delivered, then the connection ends (1006),
    as if it had been taken a moment earlier.  With more than the queue
    holds, in more pieces than one read hands out, the parser keeps the rest
    back until there is room, and the end waits behind it (it was reported
    at once, and what was kept back was lost: found by the connection
    fuzzer)."""
    sent = asyncio.Event()
    texts = [f"message {i}" for i in range(count)]

    async def handler(peer: Any) -> None:
        # Each in two frames: the parser hands out at most 64 pieces of
        # fragmented messages per read, and keeps the rest back.
        peer.send(
            b"".join(
                server_frame(OP_TEXT, t[:4].encode(), fin=False)
                + server_frame(OP_CONT, t[4:].encode())
                for t in texts
            )
        )
        await peer.writer.drain()
        sent.set()

    async def hold_the_101(*args: Any) -> None:
        await sent.wait()
        await asyncio.sleep(0.05)  # the server's FIN arrives meanwhile

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(hold_the_101)
    server = await raw_server(handler)
    async with aiows.ClientSession(trace_configs=[trace]) as session:
        if face == "listener":
            listener = Flooded(b"")
            await bounded(session.ws_listen(server.url, listener))
            got = [await bounded(listener.texts.get()) for _ in texts]
            assert await bounded(listener.closed) == 1006
        elif face == "websockets":
            ws: Any = await bounded(
                aiows.connect(server.url, session=session, max_queue=1)
            )
            got = [await bounded(ws.recv()) for _ in texts]
            with pytest.raises(aiows.ConnectionClosedError):
                await bounded(ws.recv())
            assert ws.close_code == 1006
        else:
            ws = await bounded(session.ws_connect(server.url))
            got = [(await bounded(ws.receive())).data for _ in texts]
            msg = await bounded(ws.receive())
            assert msg.type is aiows.WSMsgType.CLOSED
            assert ws.close_code == 1006
    assert got == texts
