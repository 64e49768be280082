"""Shared fixtures: real servers on 127.0.0.1.

* ``echo_server`` — an aiohttp.web echo server (pytest-aiohttp).
* ``raw_server`` — a scripted asyncio server that answers the upgrade and
  then lets the test read and write exact bytes, for hostile input.
* ``wire_server`` — ``raw_server`` where an assertion failing inside a server
  handler fails the test (asyncio would otherwise only log it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvloop
from aiohttp import web

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: The event loops a test marked ``both_loops`` runs on, each as its own case.
BOTH_LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
#: The loop of every other test.
ASYNCIO_LOOP = {"asyncio": asyncio.new_event_loop}


def stale_builds() -> list[str]:
    """The compiled modules in use whose build is older than their source.

    An editable install (``pip install -e .``) builds each of
    ``COMPILED_MODULES`` beside its ``.py``, and the build is what imports:
    after an edit of the ``.py`` (or of its ``.pxd`` or ``.c``) the tests
    would run the old code until it is rebuilt.
    """
    from aiows.core import speedups

    stale = []
    for name in speedups.COMPILED_MODULES:
        module = importlib.import_module(name)
        if not speedups.is_compiled(module):
            continue
        built = Path(str(module.__file__))
        stem = built.parent / name.rpartition(".")[2]
        sources = [stem.with_suffix(suffix) for suffix in (".py", ".pxd", ".c")]
        newest = max(p.stat().st_mtime for p in sources if p.exists())
        if newest > built.stat().st_mtime:
            stale.append(name)
    return stale


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled build older than its source."""
    if stale := stale_builds():
        raise pytest.UsageError(
            f"the compiled build of {', '.join(stale)} is older than its source: "
            "rebuild it (pip install -e .), or run the source with "
            "AIOWS_NO_EXTENSIONS=1"
        )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Run a test marked ``both_loops`` on asyncio's loop and on uvloop."""
    if item.get_closest_marker("both_loops") is not None:
        return BOTH_LOOPS
    return ASYNCIO_LOOP


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept for ``key``, computed independently of aiows."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def server_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0
) -> bytes:
    """An unmasked server frame, built independently of aiows's writer."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        header = bytes([b0, n])
    elif n < 65536:
        header = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([b0, 127]) + n.to_bytes(8, "big")
    return header + payload


def unmask(key: bytes, data: bytes) -> bytes:
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


@dataclass
class ClientFrame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool


@dataclass
class RawPeer:
    """The server side of one raw connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request_headers: dict[str, str] = field(default_factory=dict)
    request_line: str = ""

    async def read_frame(self, timeout: float = 5.0) -> ClientFrame:
        """Read one frame the client sent, unmasking it."""

        async def read() -> ClientFrame:
            head = await self.reader.readexactly(2)
            fin = bool(head[0] & 0x80)
            rsv = head[0] & 0x70
            opcode = head[0] & 0x0F
            masked = bool(head[1] & 0x80)
            length = head[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            key = await self.reader.readexactly(4) if masked else b"\0\0\0\0"
            payload = await self.reader.readexactly(length)
            return ClientFrame(fin, rsv, opcode, unmask(key, payload), masked)

        return await asyncio.wait_for(read(), timeout)

    async def read_close(self, timeout: float = 5.0) -> tuple[int | None, bytes]:
        """Read frames until a close frame; return its code and reason bytes."""
        while True:
            frame = await self.read_frame(timeout)
            if frame.opcode == 0x8:
                if len(frame.payload) >= 2:
                    return int.from_bytes(frame.payload[:2], "big"), frame.payload[2:]
                return None, frame.payload

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def expect_eof(self, timeout: float = 5.0) -> bytes:
        """Read until the client closes TCP; return what was left unread."""
        return await asyncio.wait_for(self.reader.read(), timeout)

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[RawPeer], Awaitable[None]]


@dataclass
class RawServer:
    """A scripted server: answers the upgrade as told, then runs ``handler``."""

    url: str
    port: int
    peers: list[RawPeer]
    server: asyncio.AbstractServer


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def upgrade_response(
    key: str,
    *,
    status: str = "101 Switching Protocols",
    extra_headers: str = "",
    upgrade: str | None = "websocket",
    connection: str | None = "Upgrade",
    accept: str | None = None,
) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    if connection is not None:
        lines.append(f"Connection: {connection}")
    lines.append(
        f"Sec-WebSocket-Accept: {accept if accept is not None else accept_for(key)}"
    )
    head = "\r\n".join(lines) + "\r\n" + extra_headers
    return head.encode("latin-1") + b"\r\n"


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    """Factory: ``await raw_server(handler, response=..., after_101=b"")``.

    ``response`` is a callable ``(key) -> bytes`` for the handshake answer
    (default: a correct 101); ``after_101`` is written in the same segment.
    """
    servers: list[asyncio.AbstractServer] = []
    tasks: set[asyncio.Task[None]] = set()

    async def start(
        handler: Handler,
        *,
        response: Callable[[str], bytes] | None = None,
        after_101: bytes = b"",
    ) -> RawServer:
        peers: list[RawPeer] = []

        async def on_client(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                line, headers = await read_request(reader)
                peer = RawPeer(reader, writer, headers, line)
                peers.append(peer)
                key = headers.get("sec-websocket-key", "")
                answer = (
                    response(key) if response is not None else upgrade_response(key)
                )
                writer.write(answer + after_101)
                await handler(peer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
                tasks.discard(task)

        server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return RawServer(f"ws://127.0.0.1:{port}/", port, peers, server)

    yield start
    for task in list(tasks):
        task.cancel()
    for server in servers:
        server.close()
        await server.wait_closed()


async def echo_handler(request: web.Request) -> web.WebSocketResponse:
    """Echo TEXT and BINARY; 'close:<code>:<reason>' makes the server close."""
    protocols = tuple(request.query.getall("protocol", []))
    ws = web.WebSocketResponse(
        protocols=protocols, compress=request.query.get("compress") != "0"
    )
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            if msg.data.startswith("close:"):
                _, code, reason = msg.data.split(":", 2)
                await ws.close(code=int(code), message=reason.encode())
            else:
                await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


@pytest.fixture
async def echo_server(aiohttp_server):  # type: ignore[no-untyped-def]
    """An aiohttp.web server with an echo WebSocket at /ws."""
    app = web.Application()
    app.router.add_get("/ws", echo_handler)
    return await aiohttp_server(app)


@pytest.fixture
def echo_url(echo_server) -> str:  # type: ignore[no-untyped-def]
    return f"ws://127.0.0.1:{echo_server.port}/ws"


# What a wire_server handler may legitimately die of: the client went away.
_EXPECTED_HANDLER_ERRORS = (
    ConnectionError,
    asyncio.IncompleteReadError,
    asyncio.CancelledError,
)


@pytest.fixture
async def wire_server(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> AsyncIterator[Callable[..., Awaitable[RawServer]]]:
    """``raw_server``, but a handler's failed assertion fails the test."""
    errors: list[BaseException] = []

    async def start(handler: Any, **kwargs: Any) -> RawServer:
        async def checked(peer: RawPeer) -> None:
            try:
                await handler(peer)
            except _EXPECTED_HANDLER_ERRORS:
                raise
            except BaseException as exc:
                errors.append(exc)
                raise

        return await raw_server(checked, **kwargs)

    yield start
    if errors:
        raise AssertionError(f"server handler failed: {errors[0]!r}") from errors[0]
