"""RFC 6455 §5.5.1, §7.1.5 and §7.4: close frames, codes and reasons.

Already covered in ``tests/connection/test_closing.py`` and
``test_protocol_errors.py``: codes 1000, 1003, 1007, 1014, 3000, 4999
echoed; invalid codes 0, 999, 1004-1006, 1015, 1016, 1100, 2999, 5000,
65535 failing with 1002; the empty close answered with an empty close;
a 1-byte close payload; a reason that is not UTF-8 (0xFF 0xFE); frames
after the close ignored; the server dropping TCP (clean FIN and reset) with
close code 1006; the client's own close with code and reason.

This module adds every other valid code, more invalid codes, the whole
0-65535 range through the parser, the 123-byte reason limit in both
directions, a table of invalid UTF-8 reasons, and TCP dropped in the middle
of a frame or of a fragmented message.
"""

from __future__ import annotations

import contextlib

import pytest

import aiows
from aiows.core.parser import FrameParser
from tests.conftest import RawPeer

from ._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_TEXT,
    bounded,
    close_payload,
    read_wire_frame,
    server_frame,
)
from .conftest import Scripted, expect_failure

COVERED_VALID = {1000, 1003, 1007, 1014, 3000, 4999}
VALID_CODES = sorted(
    {*range(1000, 1004), *range(1007, 1015), 3001, 3333, 3999, 4000, 4001, 4567}
    - COVERED_VALID
)
INVALID_CODES = [1, 500, 998, 1017, 1999, 2000, 2500, 2998, 5001, 6000, 32768, 65534]


def is_valid(code: int) -> bool:
    """RFC 6455 §7.4.1 plus the IANA registry, written out independently."""
    return code in range(1000, 1004) or code in range(1007, 1015) or 3000 <= code < 5000


@pytest.mark.parametrize("code", VALID_CODES)
async def test_valid_code_is_echoed(scripted: Scripted, code: int) -> None:
    async def server(peer: RawPeer) -> tuple[int | None, bytes]:
        peer.send(server_frame(OP_CLOSE, close_payload(code, b"reason")))
        return await peer.read_close()

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        msg = await bounded(ws.receive())
        assert (msg.type, msg.data, msg.extra) == (
            aiows.WSMsgType.CLOSE,
            code,
            "reason",
        )

    assert await scripted(server, client) == (code, b"")


@pytest.mark.parametrize("code", INVALID_CODES)
async def test_invalid_code_fails_with_1002(scripted: Scripted, code: int) -> None:
    await expect_failure(scripted, server_frame(OP_CLOSE, close_payload(code)), 1002)


def test_every_code_through_the_parser() -> None:
    """All 65536 two-byte codes: a CLOSE message exactly when valid."""
    for code in range(65536):
        parser = FrameParser()
        out = parser.feed(server_frame(OP_CLOSE, close_payload(code)))
        if is_valid(code):
            assert [(m.type, m.data) for m in out] == [(aiows.WSMsgType.CLOSE, code)]
            assert parser.exc is None
        else:
            assert out == []
            assert parser.exc is not None
            assert parser.exc.code == 1002, code


@pytest.mark.parametrize(
    "reason",
    [b"r" * 123, ("\u00e9" * 61 + "x").encode(), "\U0001f600".encode() * 30 + b"abc"],
    ids=["ascii-123", "2-byte-123", "4-byte-123"],
)
async def test_123_byte_reason_from_server(scripted: Scripted, reason: bytes) -> None:
    assert len(reason) == 123

    async def server(peer: RawPeer) -> tuple[int | None, bytes]:
        peer.send(server_frame(OP_CLOSE, close_payload(4000, reason)))
        return await peer.read_close()

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        msg = await bounded(ws.receive())
        # The aiohttp face has no close_reason: the CLOSE message carries it.
        assert (msg.type, msg.data, msg.extra) == (
            aiows.WSMsgType.CLOSE,
            4000,
            reason.decode(),
        )
        assert ws.close_code == 4000

    assert await scripted(server, client) == (4000, b"")


async def test_client_close_with_123_byte_reason(scripted: Scripted) -> None:
    reason = "\u00e9" * 61 + "x"

    async def server(peer: RawPeer) -> None:
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.fin, frame.masked) == (OP_CLOSE, True, True)
        assert frame.length_field == 125
        assert frame.payload == close_payload(3001, reason.encode())
        peer.send(server_frame(OP_CLOSE, close_payload(3001)))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert await ws.close(code=3001, message=reason.encode()) is True
        assert ws.close_code == 3001

    await scripted(server, client)


async def test_client_close_with_124_byte_reason_is_refused(
    scripted: Scripted,
) -> None:
    """Nothing goes on the wire; the connection stays usable."""

    async def server(peer: RawPeer) -> None:
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.payload) == (OP_TEXT, b"still open")

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        with pytest.raises(ValueError):
            await ws.close(code=1000, message=b"r" * 124)
        await ws.send_str("still open")

    await scripted(server, client)


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 2999, 5000])
async def test_client_refuses_to_send_reserved_code(
    scripted: Scripted, code: int
) -> None:
    async def server(peer: RawPeer) -> None:
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.payload) == (OP_TEXT, b"still open")

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        with pytest.raises(ValueError):
            await ws.close(code=code)
        await ws.send_str("still open")

    await scripted(server, client)


BAD_REASONS = {
    "lone-continuation": b"\x80",
    "overlong": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "above-U+10FFFF": b"\xf4\x90\x80\x80",
    "truncated-at-end": b"caf\xc3",
    "truncated-3-byte": b"\xe2\x82",
    "valid-then-ff": "d\u00e9j\u00e0".encode() + b"\xff",
}


@pytest.mark.parametrize("reason", BAD_REASONS.values(), ids=BAD_REASONS.keys())
async def test_invalid_utf8_reason_fails_with_1007(
    scripted: Scripted, reason: bytes
) -> None:
    await expect_failure(
        scripted, server_frame(OP_CLOSE, close_payload(1000, reason)), 1007
    )


async def test_data_after_close_in_later_segment_ignored(scripted: Scripted) -> None:
    """The client's close reply is the last frame it sends, whatever follows."""

    async def server(peer: RawPeer) -> bytes:
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
        assert await peer.read_close() == (1000, b"")
        peer.send(server_frame(OP_TEXT, b"late") + server_frame(OP_BINARY, b"late"))
        # The client may have closed TCP already, as aiohttp's does once it
        # has answered the close.
        with contextlib.suppress(OSError):
            peer.writer.write_eof()
        return await peer.expect_eof()

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSE
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED

    assert await scripted(server, client) == b""


DROPS = {
    "after-header": bytes([0x80 | OP_BINARY, 126]) + (300).to_bytes(2, "big"),
    "mid-payload": (bytes([0x80 | OP_BINARY, 126]) + (300).to_bytes(2, "big"))
    + b"x" * 100,
    "mid-fragmented": server_frame(OP_TEXT, b"part", fin=False)
    + server_frame(OP_CONT, b"more", fin=False),
    "mid-close-frame": server_frame(OP_CLOSE, close_payload(1000, b"bye"))[:4],
    "half-header": bytes([0x80 | OP_BINARY]),
}


@pytest.mark.parametrize("partial", DROPS.values(), ids=DROPS.keys())
async def test_tcp_dropped_without_close_is_1006(
    scripted: Scripted, partial: bytes
) -> None:
    """Nothing of the partial message is delivered; close_code is 1006."""

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"whole") + partial)
        await peer.writer.drain()
        # Returning closes the socket with no close frame.

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert await bounded(ws.receive_str()) == "whole"
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
        assert ws.close_code == 1006

    await scripted(server, client)
