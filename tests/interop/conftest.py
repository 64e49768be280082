"""Real third-party WebSocket servers, run in the test's own event loop.

Both servers speak the same little echo protocol:

* a TEXT or BINARY message is sent back unchanged, as one message;
* the TEXT message ``close:<code>:<reason>`` makes the server close the
  connection with that code and reason instead of echoing.

Each server also keeps a :class:`ServerLog`: every message it received (after
reassembling fragments), what it answered to the upgrade, and, per
connection, the close code and reason it got from the client.

The Node.js ``ws`` server of ``test_node_ws.py`` needs ``npm ci`` in
``tests/interop/node``; this module runs it when ``node_modules`` is
missing, so ``pytest`` alone runs the whole suite.  Only without ``node``
or ``npm`` (or when the install fails) are those tests skipped, saying why.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import picows
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

import aiows
from aiows import WSMessage

Message = str | bytes

#: Upper bound for any single wait on the network; the tests never sleep.
TIMEOUT = 5.0


# ----------------------------------------------------------------------
# The Node.js ws package, installed on first use

NODE_DIR = Path(__file__).parent / "node"
#: Seconds ``npm ci`` may take (it downloads one small package).
NPM_TIMEOUT = 300.0


def install_node_ws() -> str | None:
    """Run ``npm ci`` in ``tests/interop/node`` unless ``ws`` is there.

    Returns why the Node tests cannot run, or None when they can.  Runs
    while this conftest is imported, before ``test_node_ws.py`` checks for
    ``node_modules`` at collection.
    """
    if (NODE_DIR / "node_modules" / "ws").is_dir():
        return None
    if shutil.which("node") is None:
        return None  # test_node_ws.py skips with "node is not installed"
    npm = shutil.which("npm")
    if npm is None:
        return (
            "npm is not installed, so the Node ws server cannot be installed "
            "(Debian: apt-get install npm)"
        )
    command = [npm, "ci", "--no-audit", "--no-fund", "--silent"]
    try:
        subprocess.run(
            command,
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:]
        return f"'npm ci' in {NODE_DIR} failed: {' '.join(last) or exc}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'npm ci' in {NODE_DIR} failed: {exc}"
    return None


NODE_WS_MISSING = install_node_ws()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the Node tests with the reason ``install_node_ws`` gave."""
    if NODE_WS_MISSING is None:
        return
    for item in items:
        if item.path.name == "test_node_ws.py":
            # skipif, not skip: skipif marks are evaluated first.
            item.add_marker(pytest.mark.skipif(True, reason=NODE_WS_MISSING))


@dataclass(frozen=True)
class CloseSeen:
    """The close frame a server received from the client."""

    code: int | None
    reason: str


@dataclass
class ServerLog:
    """What one server saw, across all its connections."""

    url: str = ""
    #: Whole messages received, in order, fragments already joined.
    received: list[Message] = field(default_factory=list)
    #: The client's ``Sec-WebSocket-Extensions`` offer, per connection.
    offered_extensions: list[str | None] = field(default_factory=list)
    #: The server's ``Sec-WebSocket-Extensions`` answer, per connection.
    accepted_extensions: list[str | None] = field(default_factory=list)
    #: Bytes read from the sockets, handshakes included (websockets only).
    wire_bytes: int = 0
    #: Frames that arrived with an RSV bit set (picows only, which has no
    #: extension that would allow one).
    rsv_frames: list[str] = field(default_factory=list)
    #: One entry per connection, put when the server has seen it end.
    closes: asyncio.Queue[CloseSeen] = field(default_factory=asyncio.Queue)

    async def next_close(self) -> CloseSeen:
        """Wait for the server to finish a connection; what it received."""
        return await asyncio.wait_for(self.closes.get(), TIMEOUT)


def parse_close_command(message: Message) -> tuple[int, str] | None:
    """``close:4001:bye`` -> ``(4001, "bye")``; None for anything else."""
    if isinstance(message, str) and message.startswith("close:"):
        _, code, reason = message.split(":", 2)
        return int(code), reason
    return None


# ----------------------------------------------------------------------
# websockets (asyncio implementation)


StartWebsockets = Callable[..., Awaitable[ServerLog]]


@pytest.fixture
async def websockets_server() -> AsyncIterator[StartWebsockets]:
    """Factory: ``await websockets_server(compression="deflate" | None)``.

    The server has no message size limit and no keepalive pings, so nothing
    but the test's own traffic crosses the wire.
    """
    servers: list[Server] = []

    async def start(*, compression: str | None = "deflate") -> ServerLog:
        log = ServerLog()

        async def handler(conn: ServerConnection) -> None:
            log.offered_extensions.append(
                conn.request.headers.get("Sec-WebSocket-Extensions")
                if conn.request is not None
                else None
            )
            log.accepted_extensions.append(
                conn.response.headers.get("Sec-WebSocket-Extensions")
                if conn.response is not None
                else None
            )
            try:
                async for message in conn:
                    log.received.append(message)
                    command = parse_close_command(message)
                    if command is not None:
                        await conn.close(*command)
                    else:
                        await conn.send(message)
            except ConnectionClosed:
                pass  # a close code other than 1000/1001 ends the loop this way
            await conn.wait_closed()
            log.closes.put_nowait(CloseSeen(conn.close_code, conn.close_reason or ""))

        class CountingConnection(ServerConnection):
            def data_received(self, data: bytes) -> None:
                log.wire_bytes += len(data)
                super().data_received(data)

        server = await serve(
            handler,
            "127.0.0.1",
            0,
            compression=compression,
            max_size=None,
            ping_interval=None,
            create_connection=CountingConnection,
        )
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        log.url = f"ws://127.0.0.1:{port}/"
        return log

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# ----------------------------------------------------------------------
# picows (frame callbacks)


class PicowsEcho(picows.WSListener):
    """Echo whole messages; answer a close frame with the same code.

    picows hands over single frames, so continuation frames are joined here
    before a message is logged and echoed.  Pings are answered by picows
    itself (``enable_auto_pong``, on by default).
    """

    def __init__(self, log: ServerLog) -> None:
        self._log = log
        self._msg_type: picows.WSMsgType | None = None
        self._parts: list[bytes] = []

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        msg_type = frame.msg_type
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._log.rsv_frames.append(str(frame))
        if msg_type == picows.WSMsgType.CLOSE:
            close_code = frame.get_close_code()
            self._log.closes.put_nowait(
                CloseSeen(close_code.value, frame.get_close_reason() or "")
            )
            if not transport.is_close_frame_sent:
                transport.send_close(close_code, frame.get_close_message())
            transport.disconnect()
            return
        if msg_type in (picows.WSMsgType.TEXT, picows.WSMsgType.BINARY):
            self._msg_type = msg_type
            self._parts = [frame.get_payload_as_bytes()]
        elif msg_type == picows.WSMsgType.CONTINUATION:
            self._parts.append(frame.get_payload_as_bytes())
        else:
            return  # an unsolicited pong
        if not frame.fin:
            return
        assert self._msg_type is not None
        msg_type, self._msg_type = self._msg_type, None
        data = b"".join(self._parts)
        self._parts = []
        message: Message = (
            data.decode("utf-8") if msg_type == picows.WSMsgType.TEXT else data
        )
        self._log.received.append(message)
        command = parse_close_command(message)
        if command is not None:
            code, reason = command
            transport.send_close(picows.WSCloseCode(code), reason.encode())
        else:
            transport.send(msg_type, data)


StartPicows = Callable[[], Awaitable[ServerLog]]


@pytest.fixture
async def picows_server() -> AsyncIterator[StartPicows]:
    """Factory: ``await picows_server()`` starts a picows echo server."""
    servers: list[asyncio.Server] = []

    async def start() -> ServerLog:
        log = ServerLog()

        def listener_factory(request: picows.WSUpgradeRequest) -> picows.WSListener:
            log.offered_extensions.append(
                request.headers.get("Sec-WebSocket-Extensions")
            )
            log.accepted_extensions.append(None)  # picows has no extensions
            return PicowsEcho(log)

        server = await picows.ws_create_server(listener_factory, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        log.url = f"ws://127.0.0.1:{port}/"
        return log

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


# ----------------------------------------------------------------------
# Client-side helpers shared by both server modules


def _pseudo_random(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


MIB = 1024 * 1024

#: (id, message) pairs every server must echo unchanged.
ECHO_PAYLOADS: list[tuple[str, Message]] = [
    ("text", "hello, world"),
    ("text-utf8", "h\u00e9llo \u2713 \U0001f600"),
    ("binary", b"\x00\x01\x02\xff\xfe"),
    ("empty-text", ""),
    ("empty-binary", b""),
    (
        "1MiB-text",
        "abcdefghijklmnopqrstuvwxyz0123456789" * (MIB // 36) + "!" * (MIB % 36),
    ),
    ("1MiB-binary", _pseudo_random(MIB, seed=1)),
]

#: (id, fragments, the one message the server must receive).
FRAGMENTED: list[tuple[str, list[Message], Message]] = [
    ("text", ["frag", "ments"], "fragments"),
    ("binary", [b"frag", b"ments"], b"fragments"),
    ("text-empty-middle", ["frag", "", "ments"], "fragments"),
    (
        "binary-many",
        [bytes([i]) * 1000 for i in range(10)],
        b"".join(bytes([i]) * 1000 for i in range(10)),
    ),
]


async def echo_once(ws: aiows.ClientWebSocketResponse, message: Message) -> WSMessage:
    """Send ``message`` the aiohttp way and return the next message."""
    if isinstance(message, str):
        await ws.send_str(message)
    else:
        await ws.send_bytes(message)
    return await ws.receive(timeout=TIMEOUT)


def assert_echo(reply: WSMessage, message: Message) -> None:
    expected_type = (
        aiows.WSMsgType.TEXT if isinstance(message, str) else aiows.WSMsgType.BINARY
    )
    assert reply.type == expected_type
    assert type(reply.data) is type(message)
    assert len(reply.data) == len(message)
    assert reply.data == message
