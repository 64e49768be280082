"""Keepalive: pings every ``ping_interval``, whether the application reads or
not, and a pong deadline that counts from when the ping was written."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import aiows
from aiows.sync import connect
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_CLOSE, OP_PING, OP_PONG
from tests.sync.conftest import Raw, WsServer, settle


async def skim_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """A client frame's opcode and payload, unmasked only for control frames
    (unmasking megabytes in Python would take the test's time)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    key = await reader.readexactly(4)
    payload = await reader.readexactly(length)
    opcode = head[0] & 0x0F
    if opcode >= 0x8:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def test_the_pong_deadline_counts_from_the_write(raw: Callable[..., Raw]) -> None:
    """While another thread holds the socket for writing, the keepalive
    ping waits in the queue; its pong's deadline starts once it is written.
    Counted from the queueing, the connection would fail during the wait."""
    pongs = threading.Semaphore(0)

    async def answering(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame(10)
            if frame.opcode == OP_PING:
                peer.send(server_frame(OP_PONG, frame.payload))
                pongs.release()
            elif frame.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, frame.payload))
                return

    server = raw(answering)
    with connect(server.url, ping_interval=0.2, ping_timeout=0.3) as ws:
        transport = ws._driver.transport
        with transport.write_lock:  # as a thread in the middle of a send
            settle(lambda: bool(transport.out))  # the keepalive ping, queued
            time.sleep(0.9)  # three pong timeouts
            assert ws.state.name == "OPEN"
        ws.pong()  # writes the queue: the ping first
        assert pongs.acquire(timeout=5)
        assert ws.state.name == "OPEN"


def test_a_ping_behind_a_large_send(raw: Callable[..., Raw]) -> None:
    """The server stops reading while the client sends 16 MB through a small
    send buffer; the keepalive ping waits behind them.  It goes out when the
    server reads again, 1.5 s later, and is answered: with a deadline
    counted from when it was queued (0.5 s) the connection would have
    failed."""
    reading = threading.Event()
    answered = threading.Event()

    async def slow_reader(peer: RawPeer) -> None:
        while not reading.is_set():
            await asyncio.sleep(0.02)
        while True:
            opcode, payload = await skim_frame(peer.reader)
            if opcode == OP_PING:
                peer.send(server_frame(OP_PONG, payload))
                answered.set()
            elif opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, payload))
                return

    server = raw(slow_reader)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    sock.connect(("127.0.0.1", server.port))
    with connect(server.url, sock=sock, ping_interval=0.2, ping_timeout=0.5) as ws:
        sending = threading.Thread(target=ws.send, args=(b"x" * 16_000_000,))
        sending.start()
        time.sleep(1.5)  # the send is stuck; the ping queued behind it
        assert ws.state.name == "OPEN"
        reading.set()
        sending.join(10)
        assert answered.wait(5)
        assert ws.state.name == "OPEN"


def test_no_pong_fails_the_connection_without_reading(raw: Callable[..., Raw]) -> None:
    async def silent(peer: RawPeer) -> None:
        await peer.read_close(10)

    server = raw(silent)
    with connect(server.url, ping_interval=0.1, ping_timeout=0.2) as ws:
        # Nobody reads: the I/O thread notices and fails the connection.
        settle(lambda: ws.state.name != "OPEN")
        try:
            ws.recv(timeout=5)
        except aiows.ConnectionClosedError as exc:
            assert exc.sent is not None
            assert (exc.sent.code, exc.sent.reason) == (1011, "keepalive ping timeout")


def test_a_full_inbox_postpones_the_deadline(ws_server: WsServer) -> None:
    """The pong may wait behind unread messages: while the client is not
    reading because its inbox is full, a missing pong proves nothing."""
    with connect(
        f"{ws_server.url}/echo", max_queue=2, ping_interval=0.1, ping_timeout=0.2
    ) as ws:
        ws.send("big 200 65536")
        time.sleep(1.0)  # inbox full; pings went, their pongs are unread
        assert ws.state.name == "OPEN"
        for _ in range(200):
            ws.recv(timeout=5)
        assert ws.state.name == "OPEN"


def test_keepalive_pings_carry_on(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo", ping_interval=0.05) as ws:
        settle(lambda: ws.latency > 0)
        first = ws.latency
        ws.send("still here")
        assert ws.recv(timeout=5) == "still here"
        settle(lambda: ws.latency != first)  # measured again


def test_user_pings_and_ack_on_close(raw: Callable[..., Raw]) -> None:
    async def no_pongs(peer: RawPeer) -> None:
        await peer.read_frame()  # the ping
        await peer.read_frame()  # the other ping
        peer.send(server_frame(OP_CLOSE, b"\x03\xe8"))
        await peer.read_close()

    server = raw(no_pongs)
    ws = connect(server.url, ping_interval=None, legacy=True)
    acked = ws.ping(b"1", ack_on_close=True)
    unacked = ws.ping(b"2")
    assert acked.wait(5)  # set by the close
    assert not unacked.is_set()
    ws.close()
    assert ws.state.name == "CLOSED"
