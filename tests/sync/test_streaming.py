"""Fragmented messages: a timeout in the middle loses nothing, streaming
yields one piece per frame as it comes, and a stream left early leaves the
connection's reads unusable, as in websockets (closing still works)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

import aiows
from aiows.sync import connect
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
)
from tests.sync.conftest import Raw


def stepped(raw: Callable[..., Raw], *steps: bytes) -> tuple[Raw, threading.Event]:
    """A server sending ``steps`` one at a time, each after the test says go."""
    go = threading.Event()
    gone = threading.Semaphore(0)
    received: list[tuple[int | None, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        for step in steps:
            while not go.is_set():
                await asyncio.sleep(0.01)
            go.clear()
            peer.send(step)
            gone.release()
        received.append(await peer.read_close())
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.close()

    server = raw(handler)

    class Go(threading.Event):
        #: The close frames the server received (code, reason).
        closes = received

        def set(self) -> None:
            go.set()
            assert gone.acquire(timeout=5)

    return server, Go()


def test_a_timeout_in_the_middle_of_a_message_loses_nothing(
    raw: Callable[..., Raw],
) -> None:
    server, step = stepped(
        raw,
        server_frame(OP_TEXT, b"hel", fin=False),
        server_frame(OP_CONT, b"lo", fin=False) + server_frame(OP_CONT, b"!"),
    )
    with connect(server.url) as ws:
        step.set()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)  # the first piece came, not the rest
        step.set()
        assert ws.recv(timeout=5) == "hello!"


def test_streaming_after_a_timeout_yields_what_was_set_aside(
    raw: Callable[..., Raw],
) -> None:
    server, step = stepped(
        raw,
        server_frame(OP_BINARY, b"ab", fin=False),
        server_frame(OP_CONT, b"cd"),
    )
    with connect(server.url) as ws:
        step.set()
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        pieces = ws.recv_streaming()
        assert next(pieces) == b"ab"
        step.set()
        assert list(pieces) == [b"cd"]


def test_streaming_decodes_across_pieces(raw: Callable[..., Raw]) -> None:
    text = "é€".encode()  # a character split between frames
    server, step = stepped(
        raw,
        server_frame(OP_BINARY, text[:1], fin=False),
        server_frame(OP_CONT, text[1:4], fin=False),
        server_frame(OP_CONT, text[4:]) + server_frame(OP_TEXT, b"txt"),
    )
    with connect(server.url) as ws:
        pieces = ws.recv_streaming(decode=True)
        step.set()
        got = [next(pieces)]
        step.set()
        got.append(next(pieces))
        step.set()
        got += list(pieces)
        assert "".join(got) == "é€"
        assert list(ws.recv_streaming(decode=False)) == [b"txt"]


def test_streaming_binary_that_is_not_utf8_fails_with_1007(
    raw: Callable[..., Raw],
) -> None:
    server, step = stepped(raw, server_frame(OP_BINARY, b"\xff\xfe"))
    with connect(server.url) as ws:
        step.set()
        with pytest.raises(aiows.ConnectionClosedError) as info:
            list(ws.recv_streaming(decode=True))
    assert info.value.sent is not None and info.value.sent.code == 1007
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_a_stream_left_early_blocks_later_reads_but_not_close(
    raw: Callable[..., Raw],
) -> None:
    server, step = stepped(
        raw,
        server_frame(OP_TEXT, b"skip", fin=False),
        server_frame(OP_CONT, b" this", fin=False),
        server_frame(OP_CONT, b" too") + server_frame(OP_TEXT, b"next"),
    )
    with connect(server.url) as ws:
        step.set()
        for piece in ws.recv_streaming():
            assert piece == "skip"
            break
        step.set()
        step.set()
        with pytest.raises(aiows.ConcurrencyError, match="cannot call recv "):
            ws.recv(timeout=5)
        with pytest.raises(aiows.ConcurrencyError, match="cannot call recv_streaming"):
            next(ws.recv_streaming())
        ws.close()
    assert ws.close_code == 1000
    assert step.closes == [(1000, b"")]


def test_one_piece_per_frame_an_empty_frame_too(raw: Callable[..., Raw]) -> None:
    emoji = "😀".encode()
    server, step = stepped(
        raw,
        server_frame(OP_TEXT, emoji[:2], fin=False)
        + server_frame(OP_CONT, emoji[2:] + emoji, fin=False)
        + server_frame(OP_CONT, b""),
    )
    with connect(server.url) as ws:
        step.set()
        # A character split between frames comes whole in the piece that
        # completes it, as websockets' decoder gives it.
        assert list(ws.recv_streaming()) == ["", "😀😀", ""]


def test_the_connection_ending_in_the_middle_of_a_stream(
    raw: Callable[..., Raw],
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"half", fin=False))
        await asyncio.sleep(0.2)
        peer.writer.transport.abort()

    server = raw(handler)
    with connect(server.url) as ws:
        pieces = ws.recv_streaming()
        assert next(pieces) == "half"
        with pytest.raises(aiows.ConnectionClosedError) as info:
            next(pieces)
    assert isinstance(info.value.__cause__, EOFError)
    assert ws.close_code == 1006


def test_two_streams_at_once(raw: Callable[..., Raw]) -> None:
    server, step = stepped(raw, server_frame(OP_TEXT, b"a", fin=False))
    with connect(server.url) as ws:
        step.set()
        first = ws.recv_streaming()
        assert next(first) == "a"
        with pytest.raises(aiows.ConcurrencyError):
            next(ws.recv_streaming())
        with pytest.raises(aiows.ConcurrencyError):
            ws.recv(timeout=0)
        first.close()


# -- floods of frames: the parser hands out 64 pieces per read, the rest waits --


def fragmented(count: int, piece: bytes = b"a") -> bytes:
    """A text message of ``count`` frames of ``piece`` each."""
    return (
        server_frame(OP_TEXT, piece, fin=False)
        + server_frame(OP_CONT, piece, fin=False) * (count - 2)
        + server_frame(OP_CONT, piece)
    )


def test_a_flood_of_fragments_is_read_whole_and_streamed(
    raw: Callable[..., Raw],
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(fragmented(20_000) + fragmented(5_000, b"b") + fragmented(3, b"c"))
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        peer.close()

    with connect(raw(handler).url) as ws:
        assert ws.recv(timeout=10) == "a" * 20_000
        pieces = list(ws.recv_streaming())
        assert len(pieces) == 5_000
        assert set(pieces) == {"b"}
        assert ws.recv(timeout=10) == "ccc"


@pytest.mark.parametrize("behind", ["ping", "close"])
def test_what_follows_a_flood_of_fragments_is_answered_without_a_reader(
    raw: Callable[..., Raw], behind: str
) -> None:
    # 64 frames make 64 pieces, the parser's budget for one read: the ping
    # or close behind them is left in the parser, with nothing more for the
    # socket to bring.  The I/O thread must go on parsing it once the
    # application took the message, although no thread reads any more.
    answered = threading.Event()
    got: list[tuple[int, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        if behind == "ping":
            peer.send(fragmented(64) + server_frame(OP_PING, b"behind"))
            frame = await peer.read_frame(timeout=10)
            got.append((frame.opcode, frame.payload))
            answered.set()
            await peer.read_close()
            peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        else:
            peer.send(fragmented(64) + server_frame(OP_CLOSE, close_payload(1001)))
            code, reason = await peer.read_close(timeout=10)
            got.append((OP_CLOSE, close_payload(code or 0) + reason))
            answered.set()
        peer.close()

    with connect(raw(handler).url) as ws:
        assert ws.recv(timeout=10) == "a" * 64
        assert answered.wait(10)
        if behind == "close":
            ws.wait_closed(10)
            assert ws.close_code == 1001
    assert got == (
        [(OP_PONG, b"behind")]
        if behind == "ping"
        else [(OP_CLOSE, close_payload(1001))]
    )
