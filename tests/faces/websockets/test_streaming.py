"""The websockets face: recv_streaming() hands out a message piece by piece.

The parser gives at most one piece per read of a fragmented message, so a
message whose fragments arrive in one read comes out as one piece; tests of
per-piece delivery send each fragment in its own write, after the client
showed it has the previous one.
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


async def test_recv_streaming_yields_fragments_as_they_arrive(
    wire_server: StartServer,
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, "premi\u00e8re ".encode(), fin=False))
        await go_on.wait()
        peer.send(
            server_frame(OP_CONT, b"partie", fin=False) + server_frame(OP_CONT, b"!")
        )
        peer.send(server_frame(OP_BINARY, b"whole"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        pieces: list[str | bytes] = []
        async for piece in ws.recv_streaming():
            pieces.append(piece)
            go_on.set()  # the rest is sent only after the first piece arrived
        # The last two fragments arrived in one read: one piece.
        assert pieces == ["premi\u00e8re ", "partie!"]
        assert [p async for p in ws.recv_streaming()] == [b"whole"]


async def test_recv_streaming_skips_control_frames_and_ends_on_close(
    wire_server: StartServer,
) -> None:
    streamed = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"p"))
        peer.send(
            server_frame(OP_BINARY, b"a", fin=False) + server_frame(OP_CONT, b"b")
        )
        await streamed.wait()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        # Both fragments arrived in one read: they come out as one piece.
        assert [p async for p in ws.recv_streaming()] == [b"ab"]
        streamed.set()
        await bounded(ws.wait_closed())
        with pytest.raises(aiows.ConnectionClosedOK):
            async for _ in ws.recv_streaming():
                pass


async def test_stream_skips_rest_of_abandoned_message(
    wire_server: StartServer,
) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"a", fin=False))
        await first_read.wait()
        peer.send(server_frame(OP_CONT, b"b", fin=False) + server_frame(OP_CONT, b"c"))
        peer.send(
            server_frame(OP_BINARY, b"next", fin=False) + server_frame(OP_CONT, b"!")
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        first = ws.recv_streaming()
        assert await bounded(first.__anext__()) == b"a"
        first_read.set()
        # A new stream takes over: the rest of the first message is skipped.
        rest = [p async for p in ws.recv_streaming()]
        assert b"".join(rest) == b"next!"  # type: ignore[arg-type]


async def test_leaving_recv_streaming_early_discards_the_rest(
    wire_server: StartServer,
) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"a", fin=False))
        await first_read.wait()
        peer.send(
            server_frame(OP_CONT, b"b", fin=False)
            + server_frame(OP_CONT, b"c")
            + server_frame(OP_TEXT, b"next")
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        async for piece in ws.recv_streaming():
            assert piece == "a"
            first_read.set()
            break
        assert await bounded(ws.recv()) == "next"


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
        with pytest.raises(aiows.ConnectionClosedError):
            await ws.recv()


async def test_a_read_takes_over_an_idle_stream(wire_server: StartServer) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"a", fin=False))
        await first_read.wait()
        peer.send(server_frame(OP_CONT, b"b"))
        peer.send(server_frame(OP_TEXT, b"next"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        stream = ws.recv_streaming()
        assert await bounded(stream.__anext__()) == "a"
        first_read.set()
        # The stream is idle between pieces: recv() takes over and skips "b".
        assert await bounded(ws.recv()) == "next"
        with pytest.raises(aiows.ConcurrencyError, match="took over"):
            await stream.__anext__()
