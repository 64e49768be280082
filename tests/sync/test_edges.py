"""The rarer paths: large messages read in place, writes that fail, pings
without pongs, waits with nothing to read, debug logs, bad arguments to
the connection's methods."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable

import pytest

import aiows
from aiows.core.protocol import MAX_PINGS_IN_FLIGHT
from aiows.sync import connect
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
)
from tests.sync.conftest import Raw, WsServer, settle


def test_a_large_message_is_read_in_place(ws_server: WsServer) -> None:
    # No compression: a binary message of 1 MiB is read straight into its
    # own storage once its start arrived (the parser's read_into()).
    big = bytes(range(256)) * 4096
    with connect(f"{ws_server.url}/echo", compression=None, max_size=2**21) as ws:
        for _ in range(3):
            ws.send(big)
            assert ws.recv(timeout=5) == big


def test_a_write_to_a_connection_the_server_reset(raw: Callable[..., Raw]) -> None:
    async def reset(peer: RawPeer) -> None:
        await peer.reader.readexactly(1000)
        peer.writer.transport.abort()

    server = raw(reset)
    with connect(server.url, ping_interval=None) as ws:
        with pytest.raises(aiows.ConnectionClosedError) as info:
            for _ in range(100):
                ws.send(b"x" * 1_000_000)
        assert isinstance(info.value.__cause__, OSError)
        with pytest.raises(aiows.ConnectionClosedError):
            ws.ping()
        with pytest.raises(aiows.ConnectionClosedError):
            ws.pong(b"late")
    assert ws.close_code == 1006


def test_pings_past_the_book_give_up_the_oldest(raw: Callable[..., Raw]) -> None:
    async def no_pongs(peer: RawPeer) -> None:
        await peer.read_close(10)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = raw(no_pongs)
    with connect(server.url, ping_interval=None) as ws:
        events = [ws.ping() for _ in range(MAX_PINGS_IN_FLIGHT + 1)]
        assert not any(event.is_set() for event in events)
        assert len(ws._driver.protocol.pings_in_flight()) == MAX_PINGS_IN_FLIGHT


def test_wait_closed_with_a_full_inbox(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo", max_queue=2) as ws:
        ws.send("big 20 10000")
        settle(lambda: ws._driver.inbox.paused)
        # Nothing to read (the inbox is full): the wait is the timeout's.
        started = time.monotonic()
        assert ws.wait_closed(timeout=0.2) is False
        assert 0.15 < time.monotonic() - started < 2
        # Another thread reading lets a waiting one go on.
        waiter = threading.Thread(target=ws.wait_closed, args=(10,))
        waiter.start()
        for _ in range(20):
            ws.recv(timeout=5)
        ws.close()
        waiter.join(5)
        assert not waiter.is_alive()


class Sees(logging.Handler):
    """Sets ``seen`` once a record with message ``wanted`` is emitted."""

    def __init__(self, wanted: str) -> None:
        super().__init__(logging.DEBUG)
        self.wanted = wanted
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == self.wanted:
            self.seen.set()


def test_debug_logs(ws_server: WsServer, caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.sync.debug")
    pinged = Sees("sent keepalive ping")
    logger.addHandler(pinged)
    try:
        with (
            caplog.at_level(logging.DEBUG, logger="test.sync.debug"),
            connect(f"{ws_server.url}/echo", logger=logger, ping_interval=0.05) as ws,
        ):
            ws.send("logged")
            ws.recv(timeout=5)
            assert pinged.seen.wait(5)
    finally:
        logger.removeHandler(pinged)
    messages = [record.getMessage() for record in caplog.records]
    assert "< TEXT length=6" in messages
    assert "sent keepalive ping" in messages
    assert "connection closed" in messages
    assert any(message.startswith("connected to ws://") for message in messages)


@pytest.mark.parametrize("message", [3, None, 1.5])
def test_send_refuses_what_it_cannot_send(ws_server: WsServer, message: object) -> None:
    with connect(f"{ws_server.url}/echo") as ws:
        with pytest.raises(TypeError, match="send\\(\\) takes str, bytes-like"):
            ws.send(message)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="dict"):
            ws.send({"a": 1})
        with pytest.raises(TypeError):
            ws.send([3])  # type: ignore[list-item]
        # An invalid first fragment fails the connection (1011), as in
        # websockets: nothing can be sent after it.
        assert ws.state.name == "CLOSED"


def test_closing_an_ended_connection_and_late_data(raw: Callable[..., Raw]) -> None:
    async def chatty(peer: RawPeer) -> None:
        await peer.read_close()
        # After the client's close: more data than its queue holds.
        for i in range(40):
            peer.send(server_frame(OP_TEXT, f"late {i}".encode()))
        peer.send(server_frame(OP_PING, b"?"))
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.close()

    server = raw(chatty)
    ws = connect(server.url, max_queue=4, legacy=True)
    ws.close()
    ws.close()
    got = []
    with pytest.raises(aiows.ConnectionClosedOK):
        while True:
            got.append(ws.recv(timeout=5))
    # Delivered up to the high water mark; the rest was dropped, never
    # paused (the server's close had to get in).
    assert got == [f"late {i}" for i in range(len(got))]
    assert 1 <= len(got) <= 5


def test_a_refusal_whose_body_comes_in_pieces(raw: Callable[..., Raw]) -> None:
    async def slow_body(peer: RawPeer) -> None:
        for piece in (b"4\r\nnope\r\n", b"0\r\n", b"\r\n"):
            await asyncio.sleep(0.05)
            peer.send(piece)

    server = raw(
        slow_body,
        response=lambda key: (
            b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
    )
    with pytest.raises(aiows.InvalidStatus) as info, connect(server.url):
        pass
    assert info.value.response is not None
    assert info.value.response.body == b"nope"


def test_a_tls_handshake_that_never_ends(raw: Callable[..., Raw]) -> None:
    # A plain server behind a wss:// URI: it waits for an HTTP request
    # that never comes, while the client waits for a TLS answer.
    async def silent(peer: RawPeer) -> None:
        await peer.reader.read()

    server = raw(silent, response=lambda key: b"")
    url = server.url.replace("ws://", "wss://")
    with pytest.raises(aiows.OpenTimeout), connect(url, open_timeout=0.3):
        pass


def test_a_tls_server_that_hangs_up(server_loop: object) -> None:
    import socket
    import ssl

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)  # the ClientHello
        conn.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    try:
        with (
            pytest.raises((ssl.SSLError, OSError)),
            connect(f"wss://127.0.0.1:{port}/"),
        ):
            pass
    finally:
        thread.join(5)
        listener.close()


def test_recv_times_out_while_pings_pour_in(raw: Callable[..., Raw]) -> None:
    """The socket never stops being readable (a flood of pings the client
    answers, from a server that reads the pongs), and no message comes:
    recv(timeout) ends at its timeout all the same.  (The differential
    test_hostile.py::test_recv_times_out_during_a_ping_flood floods slowly
    enough for websockets' client; this one does not pause.)"""
    stop = threading.Event()
    ping = server_frame(OP_PING, b"p" * 10)

    async def flood(peer: RawPeer) -> None:
        async def drain() -> None:
            while await peer.reader.read(65536):
                pass

        draining = asyncio.ensure_future(drain())
        try:
            while not stop.is_set():
                peer.send(ping * 1000)
                await peer.writer.drain()
            await asyncio.wait_for(draining, 10)
        finally:
            draining.cancel()

    server = raw(flood)
    with connect(server.url, ping_interval=None, close_timeout=0.5) as ws:
        for timeout in (0.3, 0):
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                ws.recv(timeout=timeout)
            assert time.monotonic() - started < timeout + 1.5
        stop.set()
    # The server never answered the close: the close timeout ended it.
    assert ws.close_code == 1006


def test_the_io_thread_reads_a_large_frame_in_place(raw: Callable[..., Raw]) -> None:
    """A 1 MiB frame arrives while nobody reads: the I/O thread reads it
    straight into the message's storage, and answers the ping behind it."""
    big = bytes(range(256)) * 4096
    answered = threading.Event()

    async def big_then_ping(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, big) + server_frame(OP_PING, b"after"))
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PONG, b"after")
        answered.set()
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = raw(big_then_ping)
    with connect(server.url, ping_interval=None, max_size=2**21) as ws:
        assert answered.wait(5)
        assert ws.recv(timeout=0) == big


def test_close_while_another_thread_is_stuck_sending(raw: Callable[..., Raw]) -> None:
    """The server stops reading, so a large send holds the socket; close()
    cannot write its frame before its timeout, and ends the connection."""
    release = threading.Event()

    async def not_reading(peer: RawPeer) -> None:
        while not release.is_set():
            await asyncio.sleep(0.02)

    server = raw(not_reading)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            ws.send(b"x" * 16_000_000)
        except BaseException as exc:
            outcome.append(exc)

    try:
        with connect(
            server.url, sock=sock, ping_interval=None, close_timeout=0.3
        ) as ws:
            sending = threading.Thread(target=send)
            sending.start()
            transport = ws._driver.transport
            settle(lambda: transport.write_lock.locked())
            started = time.monotonic()
            ws.close()
            assert 0.25 < time.monotonic() - started < 3
            sending.join(5)
            assert not sending.is_alive()
            assert ws.state.name == "CLOSED"
            assert ws.close_code == 1006
    finally:
        release.set()
    assert len(outcome) == 1 and isinstance(outcome[0], aiows.ConnectionClosedError)
