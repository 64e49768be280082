"""RFC 6455 §5.2: base framing, the payload length encodings, split frames.

Each payload length is sent by a raw server, received by aiows, echoed with
``send_bytes``/``send_str``, and the echoed frame is checked byte for byte:
masked, FIN set, the minimal length encoding (7-bit up to 125, 16-bit up to
65535, 64-bit above), the same payload.

Already covered elsewhere, not repeated here:

* masked server frame, 64-bit length with the top bit set:
  ``tests/connection/test_protocol_errors.py`` (``VIOLATIONS``);
* splitting at every byte of the parser input, and every chunking of long
  streams: ``tests/core/test_properties.py`` and ``tests/core/test_parser.py``.
"""

from __future__ import annotations

import random

import pytest

import aiows
from tests.conftest import RawPeer

from ._wire import (
    OP_BINARY,
    OP_TEXT,
    bounded,
    minimal_length_field,
    read_message,
    read_wire_frame,
    send_then_sync,
    server_frame,
)
from .conftest import Scripted

MIB = 1024 * 1024

LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 16 * MIB]


def payload_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", LENGTHS)
async def test_binary_length_boundaries_echoed(scripted: Scripted, size: int) -> None:
    payload = payload_of(size)

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, payload))
        frame = await read_wire_frame(peer, timeout=30)
        assert (frame.fin, frame.rsv, frame.opcode, frame.masked) == (
            True,
            0,
            OP_BINARY,
            True,
        )
        assert frame.length_field == minimal_length_field(size)
        assert len(frame.header) == {125: 6, 126: 8, 127: 14}.get(frame.length_field, 6)
        assert frame.payload == payload

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        msg = await bounded(ws.receive(), 30)
        assert msg.type == aiows.WSMsgType.BINARY
        assert msg.data == payload
        await ws.send_bytes(msg.data)

    await scripted(server, client, max_msg_size=0, timeout=30)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
async def test_text_length_boundaries_echoed(scripted: Scripted, size: int) -> None:
    # Two-byte characters shift the character count away from the byte count.
    text = ("\u00e9" * (size // 2) + "x" * (size % 2)).encode()
    assert len(text) == size

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, text))
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.fin, frame.masked) == (OP_TEXT, True, True)
        assert frame.length_field == minimal_length_field(size)
        assert frame.payload == text

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_str(await bounded(ws.receive_str()))

    await scripted(server, client)


async def test_client_masks_with_fresh_keys(scripted: Scripted) -> None:
    """§5.3: every frame is masked, and the keys are not all the same."""

    async def server(peer: RawPeer) -> set[bytes]:
        keys: set[bytes] = set()
        for _ in range(20):
            frame = await read_wire_frame(peer)
            assert frame.masked
            assert frame.payload == b"same"
            keys.add(frame.header[-4:])
        return keys

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        for _ in range(20):
            await ws.send_bytes(b"same")

    assert len(await scripted(server, client)) > 1


# A small frame of each length encoding the parser must reassemble when the
# bytes arrive in two reads, split at every position.
SPLIT_FRAMES = {
    "text-7bit": server_frame(OP_TEXT, "h\u00e9llo \u20ac".encode()),
    "binary-7bit-empty": server_frame(OP_BINARY, b""),
    "binary-16bit": server_frame(OP_BINARY, bytes(range(126)) + b"\x00\xff"),
    "text-16bit-multibyte": server_frame(OP_TEXT, "\U0001f600".encode() * 40),
}


@pytest.mark.parametrize("frame", SPLIT_FRAMES.values(), ids=SPLIT_FRAMES.keys())
async def test_frame_split_at_every_byte(scripted: Scripted, frame: bytes) -> None:
    """The frame arrives in two reads, split at each position in turn.

    A ping/pong round trip separates the two writes (see ``send_then_sync``), so
    the client's parser really sees the two parts in different reads.
    """
    length = frame[1] & 0x7F
    header = 2 + {126: 2, 127: 8}.get(length, 0)
    payload = frame[header:]
    opcode = frame[0] & 0x0F

    async def server(peer: RawPeer) -> None:
        for cut in range(1, len(frame)):
            await send_then_sync(peer, frame[:cut], b"cut %d" % cut)
            peer.send(frame[cut:])
            got_opcode, frames = await read_message(peer)
            assert (got_opcode, len(frames)) == (opcode, 1), cut
            assert frames[0].payload == payload, cut

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        for _ in range(1, len(frame)):
            msg = await bounded(ws.receive())
            if msg.type == aiows.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            else:
                assert msg.type == aiows.WSMsgType.BINARY
                await ws.send_bytes(msg.data)

    await scripted(server, client)


async def test_many_frames_in_one_segment(scripted: Scripted) -> None:
    """200 frames of every 7/16-bit size class in one write, echoed in order."""
    sizes = [i % 130 for i in range(200)]
    payloads = [payload_of(size) for size in sizes]

    async def server(peer: RawPeer) -> None:
        peer.send(b"".join(server_frame(OP_BINARY, p) for p in payloads))
        for payload in payloads:
            _, frames = await read_message(peer)
            assert frames[0].payload == payload
            assert frames[0].length_field == minimal_length_field(len(payload))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        for _ in payloads:
            await ws.send_bytes(await bounded(ws.receive_bytes()))

    await scripted(server, client)
