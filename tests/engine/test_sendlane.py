"""The engine's send lane: corked writes, and the lock that keeps a
fragmented message's frames together (RFC 6455 §5.4).

Driven through the faces over real sockets.  The corking tests count the
transport's ``write()`` calls with a pass-through recorder (the real
transport still writes every byte), since how a kernel splits a stream into
reads cannot show it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import aiows
from aiows.engine.sendlane import CORK_LIMIT, SCRATCH_LIMIT, scratch_for
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_TEXT,
    StartServer,
    bounded,
)


def connect(url: str, **kwargs: Any) -> Any:
    """``aiows.connect`` without compression or keepalive pings, for raw servers."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("ping_interval", None)
    return aiows.connect(url, **kwargs)


def record_writes(transport: Any) -> list[int]:
    """Record the size of each ``transport.write()``; the writes still happen."""
    sizes: list[int] = []
    write: Callable[[bytes], None] = transport.write

    def recording(data: bytes) -> None:
        sizes.append(len(data))
        write(data)

    transport.write = recording
    return sizes


async def read_messages(peer: RawPeer, count: int) -> list[tuple[int, bytes]]:
    got = []
    for _ in range(count):
        frame = await peer.read_frame()
        got.append((frame.opcode, frame.payload))
    return got


# -- corking ------------------------------------------------------------------------


async def test_a_burst_goes_out_in_two_writes(wire_server: StartServer) -> None:
    """The first write at once; the rest of the iteration's frames together."""
    received: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await read_messages(peer, 20))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        sizes = record_writes(ws._engine.transport)
        for i in range(20):  # none of these suspends: one iteration
            await ws.send_str(f"m{i}")
        assert len(sizes) == 1  # the first frame went at once
        got = await bounded(received)
        assert got == [(OP_TEXT, f"m{i}".encode()) for i in range(20)]
        assert len(sizes) == 2
        assert sum(sizes) == sum(len(f"m{i}") + 6 for i in range(20))


async def test_a_lone_message_is_not_delayed(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        peer.send(server_frame(OP_TEXT, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        sizes = record_writes(ws._engine.transport)
        await ws.send_str("alone")
        # Written before send_str() returned, not at the next iteration.
        assert sizes == [len("alone") + 6]
        assert await bounded(ws.receive_str()) == "alone"


async def test_corked_frames_go_out_at_the_cork_limit(
    wire_server: StartServer,
) -> None:
    """A big burst is not held whole: it meets the transport's backpressure."""
    count = 40
    size = 8 * 1024
    received: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await read_messages(peer, count))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=0) as ws:
        sizes = record_writes(ws._engine.transport)
        for i in range(count):
            await ws.send_bytes(bytes([i]) * size)
        got = await bounded(received)
        assert got == [(OP_BINARY, bytes([i]) * size) for i in range(count)]
        frame = size + 8  # 2-byte header, 2-byte length, 4-byte mask key
        assert sum(sizes) == count * frame
        assert len(sizes) > 2
        assert max(sizes) <= CORK_LIMIT + frame


async def test_pongs_for_a_batch_of_pings_are_corked(
    wire_server: StartServer,
) -> None:
    pongs: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )
    start = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await start.wait()
        # One write of ten pings: their pongs go out corked.
        peer.send(b"".join(server_frame(0x9, b"a%d" % i) for i in range(10)))
        await peer.writer.drain()
        pongs.set_result(await read_messages(peer, 10))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        sizes = record_writes(ws._engine.transport)
        start.set()
        assert await bounded(pongs) == [(0xA, b"a%d" % i) for i in range(10)]
        # Ten pongs from at most a few reads: far fewer writes than frames.
        assert 1 <= len(sizes) < 10


# -- the fragment lock ----------------------------------------------------------------


async def test_fragmented_send_waits_for_other_sends(wire_server: StartServer) -> None:
    """A message sent during a fragmented send goes out after its last frame."""
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )
    gate = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        got = []
        for _ in range(5):
            f = await peer.read_frame()
            got.append((f.opcode, f.fin, f.payload))
        frames.set_result(got)
        await peer.read_close()

    inside = asyncio.Event()
    other_entered = asyncio.Event()

    async def pieces() -> AsyncIterator[bytes]:
        yield b"a"
        inside.set()  # send() sent the first piece and waits for the next
        await gate.wait()
        yield b"b"
        yield b"c"

    server = await wire_server(handler)
    async with connect(server.url) as ws:

        async def send_other() -> None:
            other_entered.set()
            await ws.send(b"whole")  # runs up to its wait in this step

        fragmented = asyncio.ensure_future(ws.send(pieces()))
        await bounded(inside.wait())
        assert ws._engine.lane.busy
        other = asyncio.ensure_future(send_other())
        await bounded(other_entered.wait())
        assert not other.done()
        gate.set()
        await bounded(fragmented)
        await bounded(other)
        assert await bounded(frames) == [
            (OP_BINARY, False, b"a"),
            (OP_CONT, False, b"b"),
            (OP_CONT, False, b"c"),
            (OP_CONT, True, b""),
            (OP_BINARY, True, b"whole"),
        ]
        assert not ws._engine.lane.busy


async def test_concurrent_sends_never_interleave_fragments(
    wire_server: StartServer,
) -> None:
    frames: list[tuple[int, bool, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, frame.payload[:2]))
                return
            frames.append((frame.opcode, frame.fin, frame.payload))

    server = await wire_server(handler)

    async def slow_parts() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i])
            await asyncio.sleep(0)

    async with connect(server.url) as ws:
        await asyncio.gather(
            ws.send(slow_parts()),
            ws.send("whole"),
            ws.send(["a", "b"]),
            ws.send(b"z"),
            ws.send(iter([b"y", b"x"])),
        )
    # Reassemble: every fragmented message's frames are contiguous.
    messages: list[bytes] = []
    current: list[bytes] | None = None
    for opcode, fin, payload in frames:
        if opcode == OP_CONT:
            assert current is not None, "continuation without a start"
        else:
            assert current is None, "a new message began inside a fragmented one"
            current = []
        current.append(payload)
        if fin:
            messages.append(b"".join(current))
            current = None
    assert current is None
    assert sorted(messages) == sorted(
        [b"\x00\x01\x02\x03\x04", b"whole", b"ab", b"z", b"yx"]
    )


async def test_cancelled_fragmented_send_fails_the_connection(
    wire_server: StartServer,
) -> None:
    """Half a message can never be finished: the client fails with 1011."""
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )
    inside = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        got = []
        while True:
            f = await peer.read_frame()
            got.append((f.opcode, f.fin, f.payload[:2]))
            if f.opcode == OP_CLOSE:
                break
        frames.set_result(got)

    async def pieces() -> AsyncIterator[str]:
        yield "first"
        inside.set()
        await asyncio.Event().wait()  # never yields again
        yield "never"  # pragma: no cover

    server = await wire_server(handler)
    ws = await connect(server.url, close_timeout=0.5)
    send = asyncio.ensure_future(ws.send(pieces()))
    await bounded(inside.wait())
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    assert await bounded(frames) == [
        (OP_TEXT, False, b"fi"),
        (OP_CLOSE, True, (1011).to_bytes(2, "big")),
    ]
    await bounded(ws.wait_closed())
    assert not ws._engine.lane.busy


async def test_close_during_a_fragmented_send_fails_with_1011(
    wire_server: StartServer,
) -> None:
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )
    inside = asyncio.Event()
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        got = []
        while True:
            f = await peer.read_frame()
            got.append((f.opcode, f.fin, f.payload[:2]))
            if f.opcode == OP_CLOSE:
                break
        frames.set_result(got)

    async def pieces() -> AsyncIterator[bytes]:
        yield b"first"
        inside.set()
        await release.wait()
        yield b"late"

    server = await wire_server(handler)
    ws = await connect(server.url, close_timeout=0.5)
    send = asyncio.ensure_future(ws.send(pieces()))
    await bounded(inside.wait())
    await bounded(ws.close())
    release.set()
    with pytest.raises(aiows.ConnectionClosed):
        await bounded(send)
    assert await bounded(frames) == [
        (OP_BINARY, False, b"fi"),
        (OP_CLOSE, True, (1011).to_bytes(2, "big")),
    ]


# -- large frames, built in the thread's scratch buffer ---------------------------


def test_scratch_is_for_large_frames_only_and_is_reused() -> None:
    assert scratch_for(CORK_LIMIT - 1) is None  # small frames come from the heap
    assert scratch_for(SCRATCH_LIMIT + 1) is None  # bigger: memory of their own
    scratch = scratch_for(CORK_LIMIT)
    assert scratch is not None and len(scratch) >= CORK_LIMIT + 14
    assert scratch_for(CORK_LIMIT) is scratch
    assert scratch_for(len(scratch) - 14) is scratch  # the longest header fits
    grown = scratch_for(len(scratch))
    assert grown is not None and grown is not scratch
    assert len(grown) >= 2 * len(scratch)  # grown by doubling, not by a byte
    top = scratch_for(SCRATCH_LIMIT)
    assert top is not None and len(top) == SCRATCH_LIMIT + 14


async def test_a_large_message_goes_out_whole_after_the_corked_frames(
    wire_server: StartServer,
) -> None:
    size = CORK_LIMIT * 3
    received: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        received.set_result(await read_messages(peer, 4))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=0) as ws:
        sizes = record_writes(ws._engine.transport)
        # One iteration: the first goes at once, the second is corked, the
        # large one must follow it, and the last is corked after that.
        await ws.send_str("first")
        await ws.send_str("corked")
        await ws.send_bytes(b"L" * size)
        await ws.send_str("after")
        got = await bounded(received)
        assert got == [
            (OP_TEXT, b"first"),
            (OP_TEXT, b"corked"),
            (OP_BINARY, b"L" * size),
            (OP_TEXT, b"after"),
        ]
        assert sizes == [5 + 6, 6 + 6, size + 14, 5 + 6]


async def test_the_scratch_is_left_to_a_transport_that_keeps_part_of_a_frame(
    wire_server: StartServer,
) -> None:
    """Messages sent while the server is not reading arrive whole and in
    order, and the buffer the transport kept is never written again."""
    size = 1024 * 1024
    count = 4
    start = asyncio.Event()
    received: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        sock = peer.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        await start.wait()
        received.set_result(await read_messages(peer, count))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=0) as ws:
        transport = ws._engine.transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        kept = []
        for i in range(count):
            before = scratch_for(size)
            ws._engine.send_message(0x2, bytes([i]) * size)  # no drain: all at once
            assert transport.get_write_buffer_size() > 0  # a 16 KiB socket buffer
            if scratch_for(size) is before:
                kept.append(i)
        assert kept == []  # each frame got memory the transport does not hold
        start.set()
        got = await bounded(received, 30)
        assert got == [(OP_BINARY, bytes([i]) * size) for i in range(count)]
