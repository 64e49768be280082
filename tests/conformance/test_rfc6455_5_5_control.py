"""RFC 6455 §5.5: control frames — ping, pong, and their limits.

Already covered in ``tests/connection/test_keepalive.py``: a 125-byte ping
answered with an identical pong (``test_ping_with_125_byte_payload``), an
empty ping, ten pings answered in order (``test_ten_pings_answered_in_order``),
an unsolicited pong between messages (``test_pings_between_messages_keep_
message_order``, ``test_unsolicited_pong_resolves_nothing``), a ping answered
while the application is not receiving.  Oversized and fragmented control
frames fail with 1002 in ``tests/connection/test_protocol_errors.py``.

This module adds: every payload size class and all 256 byte values echoed
exactly; a ping inside a fragmented message answered *before* the message
ends; pings interleaved with each fragment; unsolicited pongs of every size
ignored without effect on the stream; ping bursts split across reads.
"""

from __future__ import annotations

import pytest

import aiows
from tests.conftest import RawPeer

from ._wire import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    bounded,
    read_wire_frame,
    server_frame,
)
from .conftest import Scripted, expect_failure


@pytest.mark.parametrize("size", [1, 2, 64, 124, 125])
async def test_ping_payload_echoed_exactly(scripted: Scripted, size: int) -> None:
    payload = bytes((i * 37 + size) % 256 for i in range(size))

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, payload))
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.fin, frame.rsv, frame.masked) == (
            OP_PONG,
            True,
            0,
            True,
        )
        assert frame.length_field == size
        assert frame.payload == payload

    await scripted(server)


async def test_pong_echoes_every_byte_value(scripted: Scripted) -> None:
    payloads = [bytes(range(i, min(i + 125, 256))) for i in range(0, 256, 125)]

    async def server(peer: RawPeer) -> None:
        peer.send(b"".join(server_frame(OP_PING, p) for p in payloads))
        got = [(await read_wire_frame(peer)).payload for _ in payloads]
        assert got == payloads

    await scripted(server)


async def test_ping_inside_fragmented_message_answered_at_once(
    scripted: Scripted,
) -> None:
    """The pong comes back before the server sends the message's last frame."""

    async def server(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"first ", fin=False)
            + server_frame(OP_PING, b"mid-message")
        )
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.payload) == (OP_PONG, b"mid-message")
        peer.send(server_frame(OP_CONT, b"last"))
        echo = await read_wire_frame(peer)
        assert (echo.opcode, echo.payload) == (OP_TEXT, b"first last")

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_str(await bounded(ws.receive_str()))

    await scripted(server, client)


async def test_ping_between_every_fragment(scripted: Scripted) -> None:
    """Ten fragments, a ping after each; each pong before the next fragment."""
    parts = [bytes([65 + i]) * (i + 1) for i in range(10)]

    async def server(peer: RawPeer) -> None:
        for i, part in enumerate(parts):
            opcode = OP_BINARY if i == 0 else OP_CONT
            peer.send(
                server_frame(opcode, part, fin=i == len(parts) - 1)
                + server_frame(OP_PING, b"%d" % i)
            )
            if i < len(parts) - 1:
                frame = await read_wire_frame(peer)
                assert (frame.opcode, frame.payload) == (OP_PONG, b"%d" % i)
        frames = [await read_wire_frame(peer) for _ in range(2)]
        # The last pong and the echo may come in either order.
        got = sorted((f.opcode, f.payload) for f in frames)
        assert got == sorted([(OP_PONG, b"9"), (OP_BINARY, b"".join(parts))])

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_bytes(await bounded(ws.receive_bytes()))

    await scripted(server, client)


@pytest.mark.parametrize("size", [0, 1, 125])
async def test_unsolicited_pong_ignored(scripted: Scripted, size: int) -> None:
    """An unsolicited pong (§5.5.3) gets no answer and changes nothing."""

    async def server(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_PONG, b"u" * size)
            + server_frame(OP_PONG, b"u" * size)
            + server_frame(OP_TEXT, b"after")
        )
        frame = await read_wire_frame(peer)
        # The first frame back is the echo: no pong answers a pong.
        assert (frame.opcode, frame.payload) == (OP_TEXT, b"after")

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_str(await bounded(ws.receive_str()))
        assert not ws.closed
        assert ws.exception() is None

    await scripted(server, client)


async def test_unsolicited_pong_inside_fragmented_message(scripted: Scripted) -> None:
    async def server(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_BINARY, b"ab", fin=False)
            + server_frame(OP_PONG, b"unasked")
            + server_frame(OP_CONT, b"cd")
        )
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.payload) == (OP_BINARY, b"abcd")

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_bytes(await bounded(ws.receive_bytes()))

    await scripted(server, client)


async def test_burst_of_pings_each_split_across_reads(scripted: Scripted) -> None:
    """Ten 125-byte pings sent one byte at a time, answered in order."""
    stream = b"".join(server_frame(OP_PING, bytes([i]) * 125) for i in range(10))

    async def server(peer: RawPeer) -> None:
        for i in range(len(stream)):
            peer.send(stream[i : i + 1])
            await peer.writer.drain()
        got = [await read_wire_frame(peer) for _ in range(10)]
        assert [(f.opcode, f.payload) for f in got] == [
            (OP_PONG, bytes([i]) * 125) for i in range(10)
        ]

    await scripted(server)


async def test_pong_with_126_bytes_announced_fails_from_header(
    scripted: Scripted,
) -> None:
    """A control frame with a 16-bit length: 1002 before any payload arrives."""
    header = bytes([0x80 | OP_PING, 126]) + (126).to_bytes(2, "big")
    await expect_failure(scripted, header, 1002)


async def test_client_ping_on_the_wire(scripted: Scripted) -> None:
    """``ping()`` sends a masked ping; the server's pong resolves it."""

    async def server(peer: RawPeer) -> None:
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.fin, frame.masked) == (OP_PING, True, True)
        assert frame.payload == b"x" * 125
        peer.send(server_frame(OP_PONG, frame.payload))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        waiter = await ws.ping(b"x" * 125)
        assert await bounded(waiter) >= 0.0

    await scripted(server, client)
