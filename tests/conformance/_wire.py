"""Wire-level helpers of the conformance suite, independent of aiows's core.

Frames are built and read here by hand from RFC 6455 §5.2, so a test that
passes does not merely show that aiows agrees with itself.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tests.conftest import RawPeer, server_frame, unmask, upgrade_response

T = TypeVar("T")

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10

#: Upper bound of any single wait; the tests never sleep.
TIMEOUT = 5.0

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "RSV1",
    "RSV2",
    "RSV3",
    "TIMEOUT",
    "WireFrame",
    "bounded",
    "close_payload",
    "deflate_response",
    "first_message_payload",
    "read_wire_frame",
    "server_frame",
]


@dataclass(frozen=True)
class WireFrame:
    """One client frame exactly as it crossed the wire."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    #: The 7-bit length field: the payload length, 126 or 127.
    length_field: int
    #: The whole header, mask key included.
    header: bytes
    #: The payload, unmasked.
    payload: bytes


def deflate_response(extensions: str) -> Callable[[str], bytes]:
    """A correct 101 answer carrying ``Sec-WebSocket-Extensions: extensions``."""

    def response(key: str) -> bytes:
        return upgrade_response(
            key, extra_headers=f"Sec-WebSocket-Extensions: {extensions}\r\n"
        )

    return response


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """The payload of a close frame, built by hand."""
    return code.to_bytes(2, "big") + reason


def first_message_payload(frame: WireFrame) -> bytes:
    """The payload of the client's first message, inflated if RSV1 is set.

    An acknowledgement the client sends with compression negotiated may be
    compressed or not (aiohttp compresses even with ``compress=0``); being
    the first message, it inflates with a fresh 15-bit window.
    """
    if not frame.rsv & RSV1:
        return frame.payload
    inflater = zlib.decompressobj(-15)
    return inflater.decompress(frame.payload + b"\x00\x00\xff\xff")


async def bounded(awaitable: Awaitable[T], timeout: float = TIMEOUT) -> T:
    """Await ``awaitable`` but fail the test instead of hanging."""
    return await asyncio.wait_for(awaitable, timeout)


async def read_wire_frame(peer: RawPeer, timeout: float = TIMEOUT) -> WireFrame:
    """Read one client frame, keeping its header for encoding checks."""

    async def read() -> WireFrame:
        reader = peer.reader
        head = await reader.readexactly(2)
        length = head[1] & 0x7F
        extended = b""
        if length == 126:
            extended = await reader.readexactly(2)
        elif length == 127:
            extended = await reader.readexactly(8)
        size = int.from_bytes(extended, "big") if extended else length
        masked = bool(head[1] & 0x80)
        key = await reader.readexactly(4) if masked else b""
        body = await reader.readexactly(size)
        return WireFrame(
            fin=bool(head[0] & 0x80),
            rsv=head[0] & 0x70,
            opcode=head[0] & 0x0F,
            masked=masked,
            length_field=length,
            header=head + extended + key,
            payload=unmask(key, body) if masked else body,
        )

    return await asyncio.wait_for(read(), timeout)


async def read_message(
    peer: RawPeer, timeout: float = TIMEOUT
) -> tuple[int, list[WireFrame]]:
    """Read one whole client data message (skipping pongs); its frames."""
    frames: list[WireFrame] = []
    while True:
        frame = await read_wire_frame(peer, timeout)
        if frame.opcode == OP_PONG:
            continue
        frames.append(frame)
        if frame.opcode >= 0x8 or frame.fin:
            return frames[0].opcode, frames


def minimal_length_field(size: int) -> int:
    """The 7-bit length field RFC 6455 §5.2 requires for ``size`` bytes."""
    if size < 126:
        return size
    return 126 if size < 65536 else 127


async def send_then_sync(peer: RawPeer, data: bytes, token: bytes) -> None:
    """Write a ping followed by ``data`` in one write; wait for the pong.

    The ping and ``data`` leave in one segment, so once the pong is back the
    client has read ``data`` too, and what the server writes next reaches the
    client in a later read: this is how a test splits the byte stream at an
    exact point (even inside a frame) without sleeping.
    """
    peer.send(server_frame(OP_PING, token) + data)
    await peer.writer.drain()
    frame = await read_wire_frame(peer)
    if frame.opcode != OP_PONG or frame.payload != token:
        raise AssertionError(f"expected the pong {token!r}, got {frame!r}")
