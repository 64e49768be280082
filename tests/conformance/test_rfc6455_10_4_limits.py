"""RFC 6455 §10.4: limits on frame and message size (``max_msg_size``).

The announced length is checked before anything is buffered: in each test
the server sends only a frame header (or a header and a little payload) and
the client must answer 1009 without waiting for the rest.

Already covered in ``tests/connection/test_protocol_errors.py``: the header
of a 1 TiB binary frame with a 1 KiB limit, the second fragment's header
pushing a message over the limit, and messages of exactly the limit and one
byte below it.  Inflation bombs are covered through the parser in
``tests/core/test_deflate.py``; here one goes over the wire.
"""

from __future__ import annotations

import zlib

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer

from ._wire import (
    OP_BINARY,
    OP_CONT,
    OP_TEXT,
    RSV1,
    bounded,
    deflate_response,
    first_message_payload,
    read_wire_frame,
    server_frame,
)
from .conftest import Scripted, expect_failure

LIMIT = 1000


def header(opcode: int, length: int, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A frame header alone, with the minimal length encoding."""
    b0 = (0x80 if fin else 0) | rsv | opcode
    if length < 126:
        return bytes([b0, length])
    if length < 65536:
        return bytes([b0, 126]) + length.to_bytes(2, "big")
    return bytes([b0, 127]) + length.to_bytes(8, "big")


HEADERS = {
    "7bit-over-small-limit": (header(OP_BINARY, 101), 100),
    "16bit-one-over": (header(OP_BINARY, LIMIT + 1), LIMIT),
    "16bit-max": (header(OP_TEXT, 65535), LIMIT),
    "64bit-one-over-default-4MiB": (header(OP_BINARY, 4 * 1024 * 1024 + 1), None),
    "64bit-2^62": (header(OP_BINARY, 1 << 62), LIMIT),
    "64bit-max": (header(OP_BINARY, (1 << 63) - 1), LIMIT),
    "first-fragment": (header(OP_TEXT, LIMIT + 1, fin=False), LIMIT),
    "empty-first-then-big-continuation": (
        server_frame(OP_BINARY, b"", fin=False) + header(OP_CONT, LIMIT + 1),
        LIMIT,
    ),
    "many-small-fragments": (
        b"".join(
            server_frame(OP_BINARY if i == 0 else OP_CONT, b"x" * 100, fin=False)
            for i in range(10)
        )
        + header(OP_CONT, 1),
        LIMIT,
    ),
}


@pytest.mark.parametrize(("head", "limit"), HEADERS.values(), ids=HEADERS.keys())
async def test_header_alone_triggers_1009(
    scripted: Scripted, head: bytes, limit: int | None
) -> None:
    options = {} if limit is None else {"max_msg_size": limit}
    await expect_failure(scripted, head, 1009, **options)


async def test_limit_zero_means_unlimited(scripted: Scripted) -> None:
    """``max_msg_size=0`` accepts a 5 MiB message (over the 4 MiB default)."""
    payload = b"\xab" * (5 * 1024 * 1024)

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, payload))
        frame = await read_wire_frame(peer, timeout=20)
        assert frame.payload == b"%d" % len(payload)

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        data = await bounded(ws.receive_bytes(), 20)
        assert data == payload
        await ws.send_bytes(b"%d" % len(data))

    await scripted(server, client, max_msg_size=0, timeout=20)


async def test_compressed_bomb_fails_before_the_rest_is_sent(
    scripted: Scripted,
) -> None:
    """A compressed first fragment inflating past the limit: 1009 arrives
    before the server sends the rest of the message."""
    compressor = zlib.compressobj(wbits=-15)
    bomb = compressor.compress(b"\x00" * (LIMIT * 50)) + compressor.flush(
        zlib.Z_SYNC_FLUSH
    )
    assert len(bomb) < LIMIT // 5

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, bomb, fin=False, rsv=RSV1))
        code, _ = await peer.read_close()
        assert code == 1009
        peer.send(server_frame(OP_CONT, b"\x00"))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        error = await bounded(ws.receive())
        assert type(error.data) is aiohttp.WebSocketError
        assert ws.close_code == 1009

    await scripted(
        server,
        client,
        compress=15,
        max_msg_size=LIMIT,
        response=deflate_response("permessage-deflate"),
    )


async def test_compressed_message_at_limit_accepted(scripted: Scripted) -> None:
    data = b"\x00" * LIMIT
    compressor = zlib.compressobj(wbits=-15)
    payload = (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, payload, rsv=RSV1))
        assert first_message_payload(await read_wire_frame(peer)) == b"ok"

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert await bounded(ws.receive_bytes()) == data
        await ws.send_bytes(b"ok")

    await scripted(
        server,
        client,
        compress=15,
        max_msg_size=LIMIT,
        response=deflate_response("permessage-deflate"),
    )
