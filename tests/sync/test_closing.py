"""Closing as strictly as the asyncio faces, whatever the server does.

After a failure the client half-closes once its close frame is written
(not over TLS), then reads and discards until the server closes, so no
reset destroys the close frame; a server that keeps TCP open gets
``close_timeout``; ``close()`` from several threads sends one close frame.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import aiows
from aiows.sync import connect
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_BINARY, OP_CLOSE, OP_TEXT, close_payload
from tests.sync.conftest import TLS, Raw, WsServer


def after_failure(report: dict[str, Any]) -> Callable[[RawPeer], Any]:
    """A server that sends a bad frame, then keeps talking after the
    client's close frame, and records what it saw."""

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x3, b"bad opcode"))
        code, _ = await peer.read_close()
        report["close"] = code
        try:
            report["end"] = await asyncio.wait_for(peer.reader.read(), 0.5)
        except asyncio.TimeoutError:
            report["end"] = None  # the client did not half-close
        # More data after the client's close: read and dropped by the
        # client, which has not closed its socket yet.
        for _ in range(20):
            peer.send(server_frame(OP_BINARY, b"x" * 4000))
            await peer.writer.drain()
            await asyncio.sleep(0.01)
        report["writes after the close frame"] = "accepted"
        peer.close()
        await peer.writer.wait_closed()

    return handler


def test_a_failure_half_closes_and_no_reset_follows(raw: Callable[..., Raw]) -> None:
    report: dict[str, Any] = {}
    server = raw(after_failure(report))
    with (
        connect(server.url, close_timeout=5) as ws,
        pytest.raises(aiows.ConnectionClosedError) as info,
    ):
        ws.recv(timeout=5)
    assert server.finished.wait(5)
    assert info.value.sent is not None and info.value.sent.code == 1002
    assert report == {
        "close": 1002,
        "end": b"",  # the half-close: the end of the stream, at once
        "writes after the close frame": "accepted",
    }
    assert ws.state.name == "CLOSED"


def test_over_tls_there_is_no_half_close(raw: Callable[..., Raw], tls: TLS) -> None:
    report: dict[str, Any] = {}
    server = raw(after_failure(report), ssl=tls.server)
    with (
        connect(server.url, ssl=tls.client, close_timeout=5) as ws,
        pytest.raises(aiows.ConnectionClosedError),
    ):
        ws.recv(timeout=5)
    assert server.finished.wait(5)
    assert report["close"] == 1002
    assert report["end"] is None
    assert report["writes after the close frame"] == "accepted"


def test_a_server_that_keeps_tcp_open_gets_close_timeout(
    raw: Callable[..., Raw],
) -> None:
    async def keep_open(peer: RawPeer) -> None:
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000, b"ok")))
        await peer.expect_eof(5)

    server = raw(keep_open)
    ws = connect(server.url, close_timeout=0.3, legacy=True)
    started = time.monotonic()
    ws.close()
    assert 0.25 < time.monotonic() - started < 3
    assert (ws.state.name, ws.close_code, ws.close_reason) == ("CLOSED", 1000, "ok")


def test_close_from_several_threads_sends_one_close_frame(
    raw: Callable[..., Raw],
) -> None:
    frames: list[int] = []

    async def count_closes(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == OP_CLOSE:
                frames.append(frame.opcode)
                await asyncio.sleep(0.1)  # late: the other closes wait
                peer.send(server_frame(OP_CLOSE, frame.payload))
                peer.close()  # RFC 6455 §7.1.1: the server closes TCP first
                return

    server = raw(count_closes)
    ws = connect(server.url, legacy=True)
    threads = [threading.Thread(target=ws.close) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert frames == [OP_CLOSE]
    assert ws.state.name == "CLOSED"


def test_close_during_a_fragmented_send(ws_server: WsServer) -> None:
    ws = connect(f"{ws_server.url}/echo?run=frag", legacy=True)
    first_sent = threading.Event()
    resume = threading.Event()
    outcome: list[BaseException] = []

    def fragments() -> Iterator[str]:
        yield "part one"
        first_sent.set()
        resume.wait(5)
        yield "part two"

    def send() -> None:
        try:
            ws.send(fragments())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    assert first_sent.wait(5)
    ws.close()
    resume.set()
    thread.join(5)
    assert isinstance(outcome[0], aiows.ConnectionClosedError)
    assert outcome[0].sent is not None
    assert (outcome[0].sent.code, outcome[0].sent.reason) == (
        1011,
        "close during fragmented message",
    )


def test_a_second_send_during_a_fragmented_one(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as ws:
        first_sent = threading.Event()
        resume = threading.Event()

        def fragments() -> Iterator[str]:
            yield "a"
            first_sent.set()
            resume.wait(5)
            yield "b"

        thread = threading.Thread(target=ws.send, args=(fragments(),))
        thread.start()
        assert first_sent.wait(5)
        with pytest.raises(aiows.ConcurrencyError):
            ws.send("in between")
        ws.ping().wait(5)  # control frames may come between fragments
        resume.set()
        thread.join(5)
        assert ws.recv(timeout=5) == "ab"


def test_messages_keep_flowing_until_the_server_close(raw: Callable[..., Raw]) -> None:
    async def chatty(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"before"))
        await peer.read_close()
        for word in (b"after 1", b"after 2"):
            peer.send(server_frame(OP_TEXT, word))
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.close()

    server = raw(chatty)
    ws = connect(server.url, legacy=True)
    assert ws.recv(timeout=5) == "before"
    ws.close()
    # What came after the client's close, before the server's, was kept.
    assert ws.recv(timeout=1) == "after 1"
    assert ws.recv(timeout=1) == "after 2"
    with pytest.raises(aiows.ConnectionClosedOK):
        ws.recv(timeout=1)
