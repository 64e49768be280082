"""Hostile and unusual servers, scripted byte by byte: both clients, compared.

A scripted server (the ``raw`` fixture) sends exact frames; each scenario
runs through websockets' threading client and through aiows's, and the
program's observations and the bytes the server received must be the same,
but for the documented differences (the half-close after a failure).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, close_payload
from tests.sync.conftest import Raw, settle
from tests.sync.differential import Api, Record, assert_same, both

FAST = {"close_timeout": 2, "open_timeout": 5, "ping_interval": None}


class Seen:
    """What the scripted server saw, per run (one connection each)."""

    def __init__(self) -> None:
        self.runs: list[list[tuple[str, Any]]] = []
        self.done = threading.Semaphore(0)

    def wait(self) -> list[tuple[str, Any]]:
        assert self.done.acquire(timeout=10), "the server's handler hangs"
        return self.runs[-1]


async def finish(
    peer: RawPeer, seen: list[tuple[str, Any]], grace: float = 0.5
) -> None:
    """Read the client's close frame, then see whether it half-closed: its
    end of the stream within ``grace`` seconds, while this side is open."""
    try:
        code, reason = await peer.read_close(5)
        seen.append(("close frame", (code, reason.decode("utf-8", "replace"))))
    except (asyncio.IncompleteReadError, ConnectionError):
        seen.append(("close frame", None))
        return
    try:
        rest = await asyncio.wait_for(peer.reader.read(), grace)
        seen.append(("server saw the end after the close frame", True))
        # Nothing after the close frame: what was read is what was unread.
        assert rest == b"", rest
    except asyncio.TimeoutError:
        seen.append(("server saw the end after the close frame", False))


def scripted(
    raw: Callable[..., Raw], frames: bytes, *, answer: bool = False
) -> tuple[Raw, Seen]:
    """A server that sends ``frames`` after the 101 and finishes as above;
    with ``answer`` it sends a close frame of its own after the client's."""
    seen = Seen()

    async def handler(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            peer.send(frames)
            await finish(peer, record)
            if answer:
                peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        finally:
            seen.runs.append(record)
            seen.done.release()

    return raw(handler), seen


def run(server: Raw, seen: Seen, scenario: Callable[[Api, str, Record], None]) -> Any:
    def with_server(api: Api, url: str, r: Record) -> None:
        scenario(api, url, r)
        for label, value in seen.wait():
            r.add(f"server {label}", value)

    return both(server.url, with_server, masked=True)


def reading(api: Api, url: str, r: Record, **kwargs: Any) -> None:
    """Read until the end; record each message, and how it ended."""
    with api.connect(url, **{**FAST, **kwargs}) as ws:
        for i in range(5):
            if r.outcome(f"recv {i}", lambda: ws.recv(timeout=5)) is None:
                pass
            if isinstance(r.events[-1][1], tuple) and r.events[-1][1][0] == "raised":
                break
        r.state(ws, "end")


HOSTILE = [
    ("masked frame", bytes([0x81, 0x82]) + b"\x01\x02\x03\x04" + b"hi"),
    ("reserved opcode", server_frame(0x3, b"x")),
    ("RSV2 set", server_frame(OP_TEXT, b"x", rsv=0x20)),
    ("fragmented ping", server_frame(OP_PING, b"", fin=False)),
    ("close code 999", server_frame(OP_CLOSE, close_payload(999))),
    ("1-byte close", server_frame(OP_CLOSE, b"\x03")),
    ("continuation first", server_frame(0x0, b"x")),
]


@pytest.mark.parametrize(("name", "frames"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_protocol_errors(raw: Callable[..., Raw], name: str, frames: bytes) -> None:
    server, seen = scripted(raw, server_frame(OP_TEXT, b"before") + frames)
    result = run(server, seen, reading)
    assert_same(result, "protocol error half-closes")
    assert ("server close frame", (1002, "<failure reason>")) in result["aiows"]


def test_invalid_utf8_is_1007(raw: Callable[..., Raw]) -> None:
    server, seen = scripted(raw, server_frame(OP_TEXT, b"\xff\xfe"))
    result = run(server, seen, reading)
    assert_same(result, "invalid UTF-8")


def test_a_message_too_big_is_1009(raw: Callable[..., Raw]) -> None:
    server, seen = scripted(raw, server_frame(OP_BINARY, b"x" * 200))
    result = run(server, seen, lambda api, url, r: reading(api, url, r, max_size=100))
    assert_same(result, "too big")


def test_recv_decode_true_on_bytes_that_are_not_utf8(raw: Callable[..., Raw]) -> None:
    server, seen = scripted(raw, server_frame(OP_BINARY, b"ok\xff"))

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            r.outcome("recv(decode=True)", lambda: ws.recv(timeout=5, decode=True))
            r.state(ws, "after")

    assert_same(run(server, seen, scenario), "decode=True")


def test_the_server_pings_and_answers_pongs(raw: Callable[..., Raw]) -> None:
    seen = Seen()

    async def handler(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            peer.send(server_frame(OP_PING, b"p1") + server_frame(OP_TEXT, b"msg"))
            frame = await peer.read_frame()
            record.append(("pong", (frame.opcode, frame.payload)))
            # An unsolicited pong and one for a ping the client never sent.
            peer.send(server_frame(OP_PONG, b"??") + server_frame(OP_TEXT, b"more"))
            await finish(peer, record)
            peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        finally:
            seen.runs.append(record)
            seen.done.release()

    server = raw(handler)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            r.outcome("recv", lambda: ws.recv(timeout=5))
            r.outcome("recv", lambda: ws.recv(timeout=5))

    assert_same(run(server, seen, scenario), "server pings")


def test_data_after_the_client_close_is_delivered(raw: Callable[..., Raw]) -> None:
    seen = Seen()

    async def handler(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            code, _ = await peer.read_close(5)
            record.append(("close frame", code))
            peer.send(server_frame(OP_TEXT, b"late"))
            peer.send(server_frame(OP_CLOSE, close_payload(1000, b"ok")))
        finally:
            seen.runs.append(record)
            seen.done.release()

    server = raw(handler)

    def scenario(api: Api, url: str, r: Record) -> None:
        ws = api.connect(url, **FAST).__enter__()
        done = threading.Event()

        def close() -> None:
            ws.close()
            done.set()

        thread = threading.Thread(target=close)
        thread.start()
        r.outcome("recv during the close", lambda: ws.recv(timeout=5))
        r.outcome("recv after", lambda: ws.recv(timeout=5))
        thread.join(5)
        r.state(ws, "closed")

    assert_same(run(server, seen, scenario), "late data")


def test_the_server_never_answers_the_close(raw: Callable[..., Raw]) -> None:
    seen = Seen()
    release = threading.Event()

    async def handler(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            code, _ = await peer.read_close(5)
            record.append(("close frame", code))
            while not release.is_set():
                await asyncio.sleep(0.05)
        finally:
            seen.runs.append(record)
            seen.done.release()

    server = raw(handler)

    def scenario(api: Api, url: str, r: Record) -> None:
        release.clear()
        ws = api.connect(url, **{**FAST, "close_timeout": 0.5}).__enter__()
        started = time.monotonic()
        closer = threading.Thread(target=ws.close)
        closer.start()
        settle(lambda: ws.state.name != "OPEN")
        r.state(ws, "during the close")
        closer.join(5)
        r.add("close() took the close timeout", 0.45 < time.monotonic() - started < 3)
        r.state(ws, "closed")
        r.outcome("recv", ws.recv)
        release.set()

    assert_same(run(server, seen, scenario), "no close answer")


def resetting(raw: Callable[..., Raw]) -> tuple[Raw, Seen]:
    """A server that reads one frame, then resets the connection (RST)."""
    seen = Seen()

    async def handler(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            frame = await peer.read_frame()
            record.append(("got", frame.payload))
            sock = peer.writer.get_extra_info("socket")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            peer.writer.transport.abort()
        finally:
            seen.runs.append(record)
            seen.done.release()

    return raw(handler), seen


def test_a_reset_while_the_client_reads(raw: Callable[..., Raw]) -> None:
    server, seen = resetting(raw)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("go")
            r.outcome("recv", lambda: ws.recv(timeout=5))
            r.state(ws, "after")
            r.outcome("send", lambda: ws.send("x"))

    assert_same(run(server, seen, scenario), "reset while reading")


def test_a_reset_while_nobody_reads(raw: Callable[..., Raw]) -> None:
    server, seen = resetting(raw)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("go")
            settle(lambda: ws.state.name == "CLOSED")
            r.outcome("recv", lambda: ws.recv(timeout=5))
            r.outcome("ping", ws.ping)

    assert_same(run(server, seen, scenario), "reset while idle")


def test_recv_times_out_during_a_ping_flood(raw: Callable[..., Raw]) -> None:
    """Pings keep the socket readable, and no message comes: recv(timeout)
    still ends at its timeout."""
    seen = Seen()
    stop = threading.Event()
    ping = server_frame(OP_PING, b"p" * 10)

    async def flood(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []

        async def drain() -> tuple[int | None, bytes]:
            return await peer.read_close(10)  # the pongs, then the close

        draining = asyncio.ensure_future(drain())
        try:
            # About 4000 pings a second: both clients keep up.
            while not stop.is_set():
                peer.send(ping * 20)
                await peer.writer.drain()
                await asyncio.sleep(0.005)
            peer.send(server_frame(OP_CLOSE, close_payload(1000)))
            code, _ = await asyncio.wait_for(draining, 10)
            record.append(("close frame", code))
        finally:
            draining.cancel()
            seen.runs.append(record)
            seen.done.release()

    server = raw(flood)

    def scenario(api: Api, url: str, r: Record) -> None:
        stop.clear()
        with api.connect(url, **FAST) as ws:
            started = time.monotonic()
            r.outcome("recv(timeout=0.3)", lambda: ws.recv(timeout=0.3))
            r.add("at its timeout", 0.25 < time.monotonic() - started < 2)
            stop.set()
            r.outcome("recv", lambda: ws.recv(timeout=5))

    assert_same(run(server, seen, scenario), "ping flood")


def test_streaming_piece_by_piece(raw: Callable[..., Raw]) -> None:
    # The three frames go in one write, so aiows reads them at once.
    fragments = (
        server_frame(OP_TEXT, b"fra", fin=False)
        + server_frame(0x0, b"gm", fin=False)
        + server_frame(0x0, b"ent")
    )
    server, seen = scripted(raw, fragments)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            r.add("pieces", list(ws.recv_streaming()))

    assert_same(run(server, seen, scenario), "streaming piece by piece")


def test_the_stream_ends_in_the_middle_of_a_message(raw: Callable[..., Raw]) -> None:
    seen = Seen()

    async def half(peer: RawPeer) -> None:
        try:
            peer.send(server_frame(OP_TEXT, b"fra", fin=False))
            await peer.writer.drain()
            peer.writer.close()  # TCP ends; no close frame
        finally:
            seen.runs.append([])
            seen.done.release()

    server = raw(half)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            pieces: list[Any] = []
            try:
                for piece in ws.recv_streaming():
                    pieces.append(piece)
            except Exception as exc:
                r.error("recv_streaming", exc)
            r.add("pieces", pieces)
            r.outcome("recv_streaming again", lambda: list(ws.recv_streaming()))
            r.state(ws, "after")

    assert_same(run(server, seen, scenario), "half a message")


def test_a_second_ping_with_the_same_payload(raw: Callable[..., Raw]) -> None:
    async def no_pongs(peer: RawPeer) -> None:
        record: list[tuple[str, Any]] = []
        try:
            frame = await peer.read_frame()
            record.append(("ping", (frame.opcode, frame.payload)))
            await finish(peer, record)
            peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        finally:
            seen.runs.append(record)
            seen.done.release()

    seen = Seen()
    server = raw(no_pongs)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            event = ws.ping(b"same")
            r.outcome("same payload twice", lambda: ws.ping(b"same"))
            r.add("no pong", event.is_set())

    assert_same(run(server, seen, scenario), "same ping payload")
