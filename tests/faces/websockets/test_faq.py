"""websockets' FAQ answers, run as written with ``aiows`` for ``websockets``.

Each test is one answer of websockets' client FAQ or its "both sides" FAQ,
in the shape the FAQ gives it, with the imports changed to aiows's
(``from aiows import connect``, ``aiows.ConnectionClosed``), against local
servers: websockets' own server, or a scripted one where the answer is
about a misbehaving peer.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

import aiows
from aiows import ConnectionClosed, connect
from tests.conftest import RawPeer, server_frame
from tests.faces.websockets.conftest import TLS
from tests.helpers import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, StartServer, bounded


@dataclass
class Seen:
    """What the websockets server saw: per connection, its request headers
    and the close frame it received."""

    headers: list[dict[str, str]] = field(default_factory=list)
    closes: list[tuple[int, str] | None] = field(default_factory=list)


async def serving(seen: Seen, ws: ServerConnection) -> None:
    """Echo, but ``hold``: answer nothing, ``drop``: abort TCP."""
    assert ws.request is not None
    seen.headers.append(dict(ws.request.headers.raw_items()))
    try:
        async for message in ws:
            if message == "drop":
                assert ws.transport is not None
                ws.transport.abort()
            elif message != "hold":
                await ws.send(message)
    finally:
        await ws.wait_closed()
        rcvd = ws.protocol.close_rcvd
        seen.closes.append(None if rcvd is None else (rcvd.code, rcvd.reason))


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def handler(ws: ServerConnection) -> None:
        await serving(seen, ws)

    async with serve(handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/", seen


# -- client FAQ ---------------------------------------------------------------------


async def test_why_does_the_client_close_the_connection_prematurely(
    server: tuple[str, Seen],
) -> None:
    """Leaving ``async with`` closes the connection; a task started inside
    it finds it closed.  Awaiting the work inside the block is the fix."""
    uri, seen = server
    done = asyncio.Event()

    async def do_some_work(websocket: Any) -> str:
        await done.wait()
        await websocket.send("work")
        return await websocket.recv()

    # The structure the FAQ warns about...
    async with connect(uri) as websocket:
        task = asyncio.create_task(do_some_work(websocket))
    done.set()
    with pytest.raises(ConnectionClosed):
        await bounded(task)
    assert seen.closes == [(1000, "")]

    # ... and the one it recommends.
    async with connect(uri) as websocket:
        assert await bounded(do_some_work(websocket)) == "work"


async def test_how_do_i_access_http_headers(server: tuple[str, Seen]) -> None:
    uri, seen = server
    async with connect(uri, additional_headers={"X-Token": "abc"}) as websocket:
        request_headers = websocket.request.headers
        response_headers = websocket.response.headers
        assert request_headers["X-Token"] == "abc"
        assert request_headers["Upgrade"] == "websocket"
        assert response_headers["Upgrade"] == "websocket"
        assert response_headers["Server"].startswith("Python/")
        assert "Sec-WebSocket-Accept" in response_headers
    # What the server received is what websocket.request.headers says.
    assert seen.headers[0]["Sec-WebSocket-Key"] == request_headers["Sec-WebSocket-Key"]


async def test_how_do_i_set_http_headers(server: tuple[str, Seen]) -> None:
    uri, seen = server
    async with connect(
        uri,
        origin="https://app.example",
        subprotocols=None,
        user_agent_header=None,
        additional_headers={"Authorization": "Bearer token"},
    ) as websocket:
        await websocket.send("hi")
        assert await websocket.recv() == "hi"
    headers = seen.headers[0]
    assert headers["Origin"] == "https://app.example"
    assert headers["Authorization"] == "Bearer token"
    assert "User-Agent" not in headers


async def test_how_do_i_force_the_ip_address(server: tuple[str, Seen]) -> None:
    uri, seen = server
    port = uri.rsplit(":", 1)[1].strip("/")
    async with connect(f"ws://service.invalid:{port}/", host="127.0.0.1") as websocket:
        await websocket.send("hi")
        assert await websocket.recv() == "hi"
    assert seen.headers[0]["Host"] == f"service.invalid:{port}"


async def test_how_do_i_reconnect_when_the_connection_drops(
    server: tuple[str, Seen],
) -> None:
    uri, seen = server
    received: list[str | bytes] = []
    async for websocket in connect(uri):
        try:
            if len(seen.headers) == 1:
                await websocket.send("drop")
            await websocket.send("after reconnecting")
            received.append(await websocket.recv())
        except ConnectionClosed:
            continue
        break
    assert received == ["after reconnecting"]
    assert len(seen.headers) == 2
    await bounded(websocket.wait_closed())


SHUTDOWN_CLIENT = """
import asyncio
import signal
import sys

from aiows import connect

async def client():
    uri = sys.argv[1]
    async with connect(uri) as websocket:
        # Close the connection when receiving SIGTERM.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, loop.create_task, websocket.close())

        # Process messages received on the connection.
        async for message in websocket:
            print(message, flush=True)

asyncio.run(client())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM handlers are Unix's")
async def test_how_do_i_stop_a_client_on_sigterm(tmp_path: Path) -> None:
    """The FAQ's shutdown_client.py in a subprocess: SIGTERM closes with 1000."""
    closes: list[tuple[int, str] | None] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send("processing")
        await ws.wait_closed()
        rcvd = ws.protocol.close_rcvd
        closes.append(None if rcvd is None else (rcvd.code, rcvd.reason))

    script = tmp_path / "shutdown_client.py"
    script.write_text(textwrap.dedent(SHUTDOWN_CLIENT))
    async with serve(handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            f"ws://127.0.0.1:{port}/",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            # The handler is installed before the loop that prints: once the
            # message is printed, SIGTERM reaches the handler.
            line = await bounded(process.stdout.readline(), 30)
            assert line == b"processing\n"
            process.send_signal(signal.SIGTERM)
            assert await bounded(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.stderr is not None
        assert await process.stderr.read() == b""
    assert closes == [(1000, "")]


async def test_how_do_i_disable_tls_certificate_verification(tls: TLS) -> None:
    seen = Seen()

    async def handler(ws: ServerConnection) -> None:
        await serving(seen, ws)

    async with serve(handler, "127.0.0.1", 0, ssl=tls.server) as srv:
        port = srv.sockets[0].getsockname()[1]
        uri = f"wss://localhost:{port}/"
        # The certificate comes from a CA the default context does not trust.
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(uri, host="127.0.0.1")

        ssl_context = ssl.create_default_context()
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
        async with connect(uri, ssl=ssl_context, host="127.0.0.1") as websocket:
            await websocket.send("over TLS")
            assert await websocket.recv() == "over TLS"
            assert websocket.request.headers["Host"] == f"localhost:{port}"
    assert seen.closes == [(1000, "")]


# -- both sides FAQ -----------------------------------------------------------------


async def test_what_does_no_close_frame_received_or_sent_mean(
    server: tuple[str, Seen],
) -> None:
    """The TCP connection was lost: no close frame either way, 1006."""
    uri, _ = server
    async with connect(uri) as websocket:
        await websocket.send("drop")
        # "You can catch and handle ConnectionClosed to prevent it from being
        # logged."
        try:
            await bounded(websocket.recv())
        except ConnectionClosed as exc:
            error = exc
    assert type(error) is aiows.ConnectionClosedError
    assert str(error) == "no close frame received or sent"
    assert (error.rcvd, error.sent) == (None, None)
    assert websocket.close_code == 1006


async def test_what_does_keepalive_ping_timeout_mean(raw_server: StartServer) -> None:
    """A peer that never answers pings: the client gives up with 1011."""

    async def handler(peer: RawPeer) -> None:
        while (await peer.read_frame()).opcode != OP_CLOSE:
            pass  # pings go unanswered

    srv = await raw_server(handler)
    async with connect(srv.url, ping_interval=0.05, ping_timeout=0.05) as websocket:
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(websocket.recv())
    assert info.value.rcvd is None
    assert info.value.sent is not None
    assert (info.value.sent.code, info.value.sent.reason) == (
        1011,
        "keepalive ping timeout",
    )
    assert websocket.close_code == 1006


async def test_the_keepalive_ping_timeout_message_is_the_faqs(
    raw_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        while (await peer.read_frame()).opcode != OP_CLOSE:
            pass

    srv = await raw_server(handler)
    async with connect(srv.url, ping_interval=0.05, ping_timeout=0.05) as websocket:
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(websocket.recv())
    assert str(info.value) == (
        "sent 1011 (internal error) keepalive ping timeout; no close frame received"
    )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11's")
async def test_how_do_i_set_a_timeout_on_recv(server: tuple[str, Seen]) -> None:
    uri, _ = server
    async with connect(uri) as websocket:
        await websocket.send("hold")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(delay=0.05):
                message = await websocket.recv()
        # The connection is still usable, and nothing was lost.
        assert websocket.state.name == "OPEN"
        await websocket.send("after the timeout")
        async with asyncio.timeout(delay=5):
            message = await websocket.recv()
        assert message == "after the timeout"


async def test_how_do_i_set_a_timeout_on_recv_before_3_11(
    server: tuple[str, Seen],
) -> None:
    uri, _ = server
    async with connect(uri) as websocket:
        with pytest.raises(asyncio.TimeoutError):
            message = await asyncio.wait_for(websocket.recv(), timeout=0.05)
        assert websocket.state.name == "OPEN"
        await websocket.send("after the timeout")
        message = await asyncio.wait_for(websocket.recv(), timeout=5)
        assert message == "after the timeout"


async def test_how_do_i_keep_idle_connections_open(raw_server: StartServer) -> None:
    """Pings every ``ping_interval``, answered: the idle connection stays open
    through several of them, and latency is measured."""
    pings: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == OP_PING:
                pings.append(frame.payload)
                peer.send(server_frame(OP_PONG, frame.payload))
                if len(pings) == 3:
                    peer.send(server_frame(OP_TEXT, b"still here"))
            elif frame.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, frame.payload))
                return

    srv = await raw_server(handler)
    async with connect(srv.url, ping_interval=0.05, ping_timeout=1) as websocket:
        assert await bounded(websocket.recv()) == "still here"
        assert websocket.state.name == "OPEN"
        assert websocket.latency > 0
    assert len(set(pings)) == 3
    assert websocket.close_code == 1000


async def test_what_does_1006_mean(raw_server: StartServer) -> None:
    """1006 is never sent: it is what the client reports when the TCP
    connection ended without a close frame."""

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"last words"))
        await peer.writer.drain()
        peer.close()

    srv = await raw_server(handler)
    websocket = await connect(srv.url)
    assert await bounded(websocket.recv()) == "last words"
    with pytest.raises(aiows.ConnectionClosedError) as info:
        await bounded(websocket.recv())
    assert websocket.close_code == 1006
    assert websocket.close_reason == ""
    assert info.value.code == 1006  # the legacy spelling
    assert info.value.rcvd is None
