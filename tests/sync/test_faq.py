"""websockets' FAQ answers, translated to threads, run with aiows.sync.

websockets' client FAQ says its answers "translate to the threading
implementation by removing ``await`` and ``async`` keywords and by using a
Thread instead of a Task".  Each test is one answer so translated, with the
imports changed to ``from aiows.sync import connect``, against real servers.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aiows
from aiows import ConnectionClosed
from aiows.sync import ClientConnection, connect, reconnect
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_CLOSE, OP_PING, OP_TEXT
from tests.sync.conftest import TLS, Raw, WsServer

QUICK = aiows.Backoff(initial=0.01, minimum=0.01, maximum=0.05)


# -- client FAQ ------------------------------------------------------------------


def test_why_does_the_client_close_the_connection_prematurely(
    ws_server: WsServer,
) -> None:
    """Leaving ``with`` closes the connection; a thread started inside finds
    it closed.  Doing the work inside the block is the fix."""
    done = threading.Event()
    outcome: list[Any] = []

    def do_some_work(websocket: Any) -> None:
        done.wait(5)
        try:
            websocket.send("work")
            outcome.append(websocket.recv(timeout=5))
        except ConnectionClosed as exc:
            outcome.append(exc)

    # The structure the FAQ warns about...
    with connect(f"{ws_server.url}/echo?run=early") as websocket:
        thread = threading.Thread(target=do_some_work, args=(websocket,))
        thread.start()
    done.set()
    thread.join(5)
    assert isinstance(outcome[0], aiows.ConnectionClosedOK)
    assert dict(ws_server.log.wait("early"))["close rcvd"] == (1000, "")

    # ... and the one it recommends.
    done.set()
    outcome.clear()
    with connect(f"{ws_server.url}/echo") as websocket:
        do_some_work(websocket)
    assert outcome == ["work"]


def test_how_do_i_access_http_headers(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as websocket:
        assert websocket.request.headers["Upgrade"] == "websocket"
        assert websocket.response.headers["Upgrade"] == "websocket"
        assert websocket.response.headers["Server"].startswith("Python/")
        assert "Sec-WebSocket-Accept" in websocket.response.headers


def test_how_do_i_set_http_headers(ws_server: WsServer) -> None:
    with connect(
        f"{ws_server.url}/echo?run=headers",
        origin="https://app.example",
        user_agent_header=None,
        additional_headers={"Authorization": "Bearer token", "X-Token": "abc"},
    ) as websocket:
        headers = websocket.request.headers
        assert headers["Origin"] == "https://app.example"
        assert headers["Authorization"] == "Bearer token"
        assert "User-Agent" not in headers
    assert ("X-Token", "abc") in ws_server.log.wait("headers")


def test_how_do_i_force_the_ip_address(ws_server: WsServer) -> None:
    # Threads: socket.create_connection's ``address`` (websockets' threading
    # client passes its keywords there); the URI still names the host.
    with connect(
        "ws://not-resolved.invalid/echo", address=("127.0.0.1", ws_server.port)
    ) as websocket:
        assert websocket.request.headers["Host"] == "not-resolved.invalid"
        websocket.send("ip")
        assert websocket.recv(timeout=5) == "ip"


def test_how_do_i_close_a_connection(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo?run=close") as websocket:
        websocket.send("x")
    assert websocket.state.name == "CLOSED"
    assert dict(ws_server.log.wait("close"))["close rcvd"] == (1000, "")


def test_how_do_i_reconnect_when_the_connection_drops(ws_server: WsServer) -> None:
    received = []
    for websocket in reconnect(f"{ws_server.url}/echo", backoff=QUICK):
        try:
            websocket.send(f"message {len(received)}")
            received.append(websocket.recv(timeout=5))
            if len(received) == 3:
                break
            websocket.send("drop")  # the server drops the connection
            websocket.recv(timeout=5)
        except ConnectionClosed:
            continue
    assert received == ["message 0", "message 1", "message 2"]


def test_how_do_i_stop_a_client_from_another_thread(ws_server: WsServer) -> None:
    # "You can close the connection": from any thread, while another loops.
    received: list[Any] = []
    with connect(f"{ws_server.url}/echo?run=stop") as websocket:
        looping = threading.Event()
        got_one = threading.Event()

        def loop() -> None:
            looping.set()
            for message in websocket:  # ends quietly on a normal close
                received.append(message)
                got_one.set()

        thread = threading.Thread(target=loop)
        thread.start()
        looping.wait(5)
        websocket.send("one")
        assert got_one.wait(5)
        websocket.close()
        thread.join(5)
        assert not thread.is_alive()
    assert received == ["one"]
    assert dict(ws_server.log.wait("stop"))["close rcvd"] == (1000, "")


def test_how_do_i_stop_a_reconnecting_client_from_another_thread(
    ws_server: WsServer,
) -> None:
    client = reconnect(f"{ws_server.url}/echo", backoff=QUICK)
    seen: list[ClientConnection] = []
    connected = threading.Event()

    def stop_once_connected() -> None:
        assert connected.wait(5)
        client.close()

    stopper = threading.Thread(target=stop_once_connected)
    stopper.start()
    for websocket in client:
        seen.append(websocket)
        connected.set()
        try:
            for _ in websocket:
                pass
        except ConnectionClosed:
            continue
    stopper.join()
    assert len(seen) == 1
    assert seen[0].state.name == "CLOSED"


SIGTERM_CLIENT = """
import signal, sys
from aiows.sync import connect

with connect(sys.argv[1]) as websocket:
    signal.signal(signal.SIGTERM, lambda signum, frame: websocket.close())
    print("ready", flush=True)
    for message in websocket:
        print(message, flush=True)
print("closed", websocket.close_code, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_how_do_i_stop_a_client_on_sigterm(ws_server: WsServer, tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(textwrap.dedent(SIGTERM_CLIENT))
    process = subprocess.Popen(
        [sys.executable, str(script), f"{ws_server.url}/echo?run=sigterm"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert out.strip() == "closed 1000"
    assert dict(ws_server.log.wait("sigterm"))["close rcvd"] == (1000, "")


def test_how_do_i_disable_tls_certificate_verification(wss_server: WsServer) -> None:
    # Without verification off, the throw-away CA is not trusted.
    with pytest.raises(ssl.SSLCertVerificationError), connect(f"{wss_server.url}/echo"):
        pass
    ssl_context = ssl.create_default_context()
    ssl_context.check_hostname = False
    ssl_context.verify_mode = ssl.CERT_NONE
    with connect(f"{wss_server.url}/echo", ssl=ssl_context) as websocket:
        websocket.send("secret")
        assert websocket.recv(timeout=5) == "secret"


def test_tls_with_the_right_ca(wss_server: WsServer, tls: TLS) -> None:
    with connect(f"{wss_server.url}/echo", ssl=tls.client) as websocket:
        websocket.send(b"x" * 100_000)
        assert websocket.recv(timeout=5) == b"x" * 100_000


# -- both sides FAQ ----------------------------------------------------------------


def test_what_does_no_close_frame_received_or_sent_mean(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as websocket:
        websocket.send("drop")
        with pytest.raises(aiows.ConnectionClosedError) as info:
            websocket.recv(timeout=5)
    assert str(info.value) == "no close frame received or sent"
    assert websocket.close_code == 1006  # "What does 1006 mean?"


def test_what_does_keepalive_ping_timeout_mean(raw: Callable[..., Raw]) -> None:
    async def never_pong(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        assert frame.opcode == OP_PING
        await peer.read_close()

    server = raw(never_pong)
    with connect(server.url, ping_interval=0.2, ping_timeout=0.2) as websocket:
        started = time.monotonic()
        with pytest.raises(aiows.ConnectionClosedError) as info:
            websocket.recv(timeout=10)
        assert 0.35 < time.monotonic() - started < 5
    assert str(info.value) == (
        "sent 1011 (internal error) keepalive ping timeout; no close frame received"
    )


def test_how_do_i_set_a_timeout_on_recv(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as websocket, pytest.raises(TimeoutError):
        websocket.recv(timeout=0.2)


def test_how_do_i_keep_idle_connections_open(raw: Callable[..., Raw]) -> None:
    """Pings go out every ``ping_interval``, answered or not read by the
    application: keepalive runs while it does something else."""
    pings = threading.Semaphore(0)

    async def ponging(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame(10)
            if frame.opcode == OP_PING:
                peer.send(server_frame(0xA, frame.payload))
                pings.release()
            elif frame.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, frame.payload))
                return

    server = raw(ponging)
    with connect(server.url, ping_interval=0.1, ping_timeout=1) as websocket:
        # The application never reads; keepalive goes on regardless.
        for _ in range(3):
            assert pings.acquire(timeout=5)
        assert websocket.latency > 0


def test_how_do_i_respond_to_pings(raw: Callable[..., Raw]) -> None:
    """ "Don't bother": pings are answered, also while nobody reads."""
    answered = threading.Event()

    async def pinging(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"are you there"))
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (0xA, b"are you there")
        answered.set()
        peer.send(server_frame(OP_TEXT, b"bye") + server_frame(OP_CLOSE, b"\x03\xe8"))
        await peer.read_close()

    server = raw(pinging)
    with connect(server.url) as websocket:
        assert answered.wait(5)  # recv() was never called
        assert websocket.recv(timeout=5) == "bye"


class MyClientConnection(ClientConnection):
    def __init__(self, *args: Any, extra_argument: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_argument = extra_argument


def test_how_can_i_pass_arguments_to_a_custom_connection_subclass(
    ws_server: WsServer,
) -> None:
    create_connection = functools.partial(MyClientConnection, extra_argument=42)
    with connect(f"{ws_server.url}/echo", create_connection=create_connection) as ws:
        assert isinstance(ws, MyClientConnection)
        assert ws.extra_argument == 42
        ws.send("sub")
        assert ws.recv(timeout=5) == "sub"


def test_asyncio_is_not_used(ws_server: WsServer) -> None:
    # No event loop behind the threading face: nothing runs in this thread.
    with connect(f"{ws_server.url}/echo") as websocket:
        websocket.send("x")
        websocket.recv(timeout=5)
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
