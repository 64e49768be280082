"""The websockets face: recv_streaming() hands out a message frame by frame.

One piece per frame, as websockets does, however the frames arrive: in one
read or in many, empty ones too.  A stream must be consumed to the end of
its message: one left in the middle makes every later read raise
``ConcurrencyError`` (the rest of the message could reach no one), and one
cancelled before its first frame loses nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)


def connect(url: str, **kwargs: Any) -> Any:
    """``aiows.connect`` without compression or keepalive pings, for raw servers."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("ping_interval", None)
    return aiows.connect(url, **kwargs)


async def test_each_fragment_is_a_piece_as_it_arrives(
    wire_server: StartServer,
) -> None:
    events = [asyncio.Event() for _ in range(3)]

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"a", fin=False))
        await events[0].wait()
        peer.send(server_frame(OP_CONT, b"b", fin=False))
        await events[1].wait()
        peer.send(server_frame(OP_CONT, b"c"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        pieces = []
        async for piece in ws.recv_streaming():
            # The next fragment is sent only once this piece was handed out.
            events[len(pieces)].set()
            pieces.append(piece)
        assert pieces == [b"a", b"b", b"c"]


async def test_recv_streaming_yields_one_piece_per_frame(
    wire_server: StartServer,
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, "premi\u00e8re ".encode(), fin=False))
        await go_on.wait()
        peer.send(
            server_frame(OP_CONT, b"partie", fin=False)
            + server_frame(OP_CONT, b"", fin=False)
            + server_frame(OP_CONT, b"!", fin=False)
            + server_frame(OP_CONT, b"")
        )
        peer.send(server_frame(OP_BINARY, b"whole"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        pieces: list[str | bytes] = []
        async for piece in ws.recv_streaming():
            pieces.append(piece)
            go_on.set()  # the rest is sent only after the first piece arrived
        # The last four frames arrived in one read: still one piece each.
        assert pieces == ["premi\u00e8re ", "partie", "", "!", ""]
        assert [p async for p in ws.recv_streaming()] == [b"whole"]


async def test_recv_streaming_skips_control_frames_and_ends_on_close(
    wire_server: StartServer,
) -> None:
    streamed = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"p"))
        peer.send(
            server_frame(OP_BINARY, b"a", fin=False)
            + server_frame(OP_PING, b"q")
            + server_frame(OP_CONT, b"b")
        )
        await streamed.wait()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert [p async for p in ws.recv_streaming()] == [b"a", b"b"]
        streamed.set()
        await bounded(ws.wait_closed())
        with pytest.raises(aiows.ConnectionClosedOK):
            async for _ in ws.recv_streaming():
                pass


@pytest.mark.parametrize("how", ["break", "cancel"])
async def test_a_stream_left_in_the_middle_blocks_every_later_read(
    wire_server: StartServer, how: str
) -> None:
    """As websockets: the rest of the message could reach no one, so no
    later read may start; closing still works."""
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"a", fin=False))
        await first_read.wait()
        peer.send(server_frame(OP_CONT, b"b") + server_frame(OP_TEXT, b"next"))
        code, _ = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(code or 1000)))

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        if how == "break":
            async for piece in ws.recv_streaming():
                assert piece == "a"
                break
        else:
            stream = ws.recv_streaming()
            assert await bounded(stream.__anext__()) == "a"
            waiting = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        first_read.set()
        with pytest.raises(aiows.ConcurrencyError) as info:
            await bounded(ws.recv())
        assert str(info.value) == (
            "cannot call recv while another coroutine is already running recv "
            "or recv_streaming"
        )
        with pytest.raises(aiows.ConcurrencyError) as info:
            await bounded(ws.recv_streaming().__anext__())
        assert str(info.value) == (
            "cannot call recv_streaming while another coroutine is already "
            "running recv or recv_streaming"
        )
    assert ws.close_code == 1000


async def test_cancelling_before_the_first_frame_loses_nothing(
    wire_server: StartServer,
) -> None:
    send = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await send.wait()
        peer.send(server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_CONT, b"b"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        waiting = asyncio.ensure_future(ws.recv_streaming().__anext__())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        send.set()
        assert [p async for p in ws.recv_streaming()] == ["a", "b"]


async def test_recv_streaming_concurrency_and_close(
    wire_server: StartServer,
) -> None:
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"a", fin=False))
        await release.wait()
        peer.send(server_frame(OP_CLOSE, close_payload(4002, b"gone")))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        stream = ws.recv_streaming()
        assert await bounded(stream.__anext__()) == "a"
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        # The stream is waiting for its next piece: other reads must not race it.
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv()
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv_streaming().__anext__()
        release.set()
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(waiting)
        assert info.value.code == 4002


async def test_a_cancelled_recv_leaves_its_pieces_to_the_next_read(
    wire_server: StartServer,
) -> None:
    """A message of a thousand tiny frames, read whole by a recv() cancelled
    halfway: the next recv() gets all of it (the pieces were kept, folded
    into one buffer)."""
    count = 1000
    halfway = asyncio.Event()
    go_on = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"0", fin=False))
        peer.send(b"".join(server_frame(OP_CONT, b"x", fin=False) for _ in range(499)))
        halfway.set()
        await go_on.wait()
        peer.send(b"".join(server_frame(OP_CONT, b"y", fin=False) for _ in range(499)))
        peer.send(server_frame(OP_CONT, b"!"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        first = asyncio.ensure_future(ws.recv())
        await bounded(halfway.wait())
        while len(ws._engine.assembler.partial) == 0 or ws._engine.assembler.queue:
            await asyncio.sleep(0.001)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        go_on.set()
        message = await bounded(ws.recv())
        assert message == b"0" + b"x" * 499 + b"y" * 499 + b"!"
        assert len(message) == count
