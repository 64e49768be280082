"""The aiohttp face: protocol violations by the server fail the connection.

For each violation the client must report an ERROR message (after the
messages that arrived before it) whose data is exactly an
``aiohttp.WebSocketError`` with the close code, send a close frame with
that code when the application reads the ERROR, then report CLOSED, as
aiohttp 3.14 does.  As in aiohttp, ``exception()`` stays None: the error is
the ERROR message's data.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    hold,
)


def masked_text(payload: bytes) -> bytes:
    key = b"\x01\x02\x03\x04"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | OP_TEXT, 0x80 | len(payload)]) + key + body


BEFORE = server_frame(OP_TEXT, b"before")

VIOLATIONS: dict[str, tuple[bytes, int]] = {
    "masked-frame": (masked_text(b"hi"), 1002),
    "rsv1-not-negotiated": (server_frame(OP_TEXT, b"hi", rsv=0x40), 1002),
    "rsv2": (server_frame(OP_BINARY, b"hi", rsv=0x20), 1002),
    "rsv3": (server_frame(OP_BINARY, b"hi", rsv=0x10), 1002),
    "rsv1-on-ping": (server_frame(OP_PING, b"", rsv=0x40), 1002),
    "opcode-0x3": (server_frame(0x3, b"x"), 1002),
    "opcode-0x7": (server_frame(0x7, b"x"), 1002),
    "opcode-0xb": (server_frame(0xB, b"x"), 1002),
    "opcode-0xf": (server_frame(0xF, b""), 1002),
    "ping-126-bytes": (server_frame(OP_PING, b"p" * 126), 1002),
    "pong-126-bytes": (server_frame(OP_PONG, b"p" * 126), 1002),
    "close-126-bytes": (server_frame(OP_CLOSE, close_payload(1000, b"r" * 124)), 1002),
    "fragmented-ping": (server_frame(OP_PING, b"a", fin=False), 1002),
    "fragmented-close": (server_frame(OP_CLOSE, close_payload(1000), fin=False), 1002),
    "lone-continuation": (server_frame(OP_CONT, b"orphan"), 1002),
    "lone-final-continuation-empty": (server_frame(OP_CONT, b""), 1002),
    "text-inside-fragmented": (
        server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_TEXT, b"b"),
        1002,
    ),
    "binary-inside-fragmented": (
        server_frame(OP_BINARY, b"a", fin=False) + server_frame(OP_BINARY, b"b"),
        1002,
    ),
    "64-bit-length-top-bit": (
        bytes([0x80 | OP_BINARY, 127]) + (1 << 63).to_bytes(8, "big"),
        1002,
    ),
    "close-1-byte": (server_frame(OP_CLOSE, b"\x03"), 1002),
    "close-reason-not-utf8": (
        server_frame(OP_CLOSE, close_payload(1000, b"\xff\xfe")),
        1007,
    ),
    "text-not-utf8": (server_frame(OP_TEXT, b"ok\xff"), 1007),
    "text-surrogate": (server_frame(OP_TEXT, b"\xed\xa0\x80"), 1007),
    "text-truncated-sequence": (server_frame(OP_TEXT, b"caf\xc3"), 1007),
    "fragmented-text-not-utf8": (
        server_frame(OP_TEXT, b"ab", fin=False) + server_frame(OP_CONT, b"\xc3"),
        1007,
    ),
}

INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2999, 5000, 65535]


async def expect_failure(
    wire_server: StartServer,
    bad: bytes,
    code: int,
    *,
    before: bytes = BEFORE,
    **options: object,
) -> tuple[int | None, bytes]:
    """Send ``before + bad``; check the client's reaction; return its close."""
    sent_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(before + bad)
        sent_close.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url, **options)
        first = await bounded(ws.receive())
        assert first.type == aiows.WSMsgType.TEXT
        assert first.data == "before"
        error = await bounded(ws.receive())
        assert error.type == aiows.WSMsgType.ERROR
        assert ws.closed
        assert ws.close_code == code
        exc = error.data
        # Exactly aiohttp's class, as aiohttp's own tests check it.
        assert type(exc) is aiohttp.WebSocketError
        assert exc.code == code
        assert ws.exception() is None
        wire_code, wire_reason = await bounded(sent_close)
        assert wire_code == code
        assert len(wire_reason) <= 123
        wire_reason.decode("utf-8")  # a close reason is always UTF-8
        # The server closes TCP after reading the close frame: CLOSED follows.
        closed = await bounded(ws.receive())
        assert closed.type == aiows.WSMsgType.CLOSED
        assert (await ws.receive()).type == aiows.WSMsgType.CLOSED
        assert ws.close_code == code
        assert await ws.close() is False
        assert session.connector is not None
        assert not session.connector._acquired
    return wire_code, wire_reason


@pytest.mark.parametrize(("bad", "code"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
async def test_violation_fails_connection(
    wire_server: StartServer, bad: bytes, code: int
) -> None:
    await expect_failure(wire_server, bad, code)


@pytest.mark.parametrize("close_code", INVALID_CLOSE_CODES)
async def test_close_frame_with_invalid_code(
    wire_server: StartServer, close_code: int
) -> None:
    await expect_failure(
        wire_server, server_frame(OP_CLOSE, close_payload(close_code, b"x")), 1002
    )


@pytest.mark.parametrize("close_code", [1000, 1003, 1007, 1014, 3000, 4999])
async def test_close_frame_with_valid_code_is_echoed(
    wire_server: StartServer, close_code: int
) -> None:
    echoed: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(close_code, b"why")))
        echoed.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        msg = await bounded(ws.receive())
        assert msg.type == aiows.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (close_code, "why")
        assert await bounded(echoed) == (close_code, b"")
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
        assert ws.close_code == close_code
        assert ws.exception() is None


async def test_error_in_same_segment_as_many_messages(wire_server: StartServer) -> None:
    before = b"".join(server_frame(OP_TEXT, f"m{i}".encode()) for i in range(5))
    sent_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(before + server_frame(0x3, b""))
        sent_close.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_queue=2) as ws:
        got = [await bounded(ws.receive()) for _ in range(6)]
        assert [m.data for m in got[:5]] == [f"m{i}" for i in range(5)]
        assert got[5].type == aiows.WSMsgType.ERROR
        assert (await bounded(sent_close))[0] == 1002


async def test_message_over_max_msg_size_decided_from_header(
    wire_server: StartServer,
) -> None:
    """Only the header of a 1 TiB frame is sent; the client must answer 1009."""
    sent_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(
            BEFORE + bytes([0x80 | OP_BINARY, 127]) + (1 << 40).to_bytes(8, "big")
        )
        sent_close.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=1024) as ws:
        assert (await bounded(ws.receive())).data == "before"
        # The ERROR comes although not one payload byte was sent.
        error = await bounded(ws.receive())
        assert error.type == aiows.WSMsgType.ERROR
        assert type(error.data) is aiohttp.WebSocketError
        assert isinstance(error.data, aiohttp.WebSocketError)
        assert error.data.code == 1009
        # Reading it sent the close.
        code, _ = await bounded(sent_close)
        assert code == 1009
        assert ws.close_code == 1009
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED


async def test_fragmented_message_over_max_msg_size(wire_server: StartServer) -> None:
    """The second fragment's header pushes the total over the limit."""
    sent_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"a" * 600, fin=False))
        peer.send(bytes([OP_CONT | 0x80, 126]) + (600).to_bytes(2, "big"))
        sent_close.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=1024) as ws:
        error = await bounded(ws.receive())
        assert type(error.data) is aiohttp.WebSocketError
        assert (await bounded(sent_close))[0] == 1009
        assert ws.close_code == 1009


@pytest.mark.parametrize("size", [1024, 1023])
async def test_message_at_max_msg_size_is_accepted(
    wire_server: StartServer, size: int
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"z" * size))
        peer.send(server_frame(OP_BINARY, b"y" * (size // 2), fin=False))
        peer.send(server_frame(OP_CONT, b"y" * (size - size // 2)))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=1024) as ws:
        assert await bounded(ws.receive_bytes()) == b"z" * size
        assert await bounded(ws.receive_bytes()) == b"y" * size
        assert not ws.closed


async def test_invalid_utf8_first_fragment_fails_fast(wire_server: StartServer) -> None:
    """The ERROR, and the 1007 close, come before the rest is sent."""
    got_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"ok \xff\xfe", fin=False))
        got_close.set_result(await peer.read_close())
        # Only now the rest: the client must ignore it.
        peer.send(server_frame(OP_CONT, b"rest") + server_frame(OP_TEXT, b"later"))
        await peer.writer.drain()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        error = await bounded(ws.receive())
        assert error.type == aiows.WSMsgType.ERROR
        assert type(error.data) is aiohttp.WebSocketError
        assert error.data.code == 1007
        assert (await bounded(got_close))[0] == 1007
        assert ws.close_code == 1007
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED


async def test_invalid_utf8_start_of_long_frame_fails_fast(
    wire_server: StartServer,
) -> None:
    """A single frame announcing 100 kB whose first bytes are already invalid."""
    got_close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(bytes([0x80 | OP_TEXT, 127]) + (100_000).to_bytes(8, "big"))
        peer.send(b"\xc0\xaf")  # an overlong encoding: never valid
        got_close.set_result(await peer.read_close())

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        error = await bounded(ws.receive())
        assert type(error.data) is aiohttp.WebSocketError
        assert error.data.code == 1007
        assert (await bounded(got_close))[0] == 1007
        assert ws.close_code == 1007


async def test_utf8_sequence_split_across_fragments_is_valid(
    wire_server: StartServer,
) -> None:
    text = "h\u00e9llo \u20ac \U0001f600".encode()
    cut = text.index(b"\xe2") + 1  # inside the euro sign

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, text[:cut], fin=False))
        await peer.writer.drain()
        peer.send(server_frame(OP_CONT, text[cut:]))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await bounded(ws.receive_str()) == text.decode()


async def test_control_frames_inside_fragmented_message(
    wire_server: StartServer,
) -> None:
    """Pings may interleave with fragments (RFC 6455 §5.4): no error."""
    pong: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"ab", fin=False)
            + server_frame(OP_PING, b"mid")
            + server_frame(OP_CONT, b"cd")
        )
        frame = await peer.read_frame()
        pong.set_result(frame.payload if frame.opcode == OP_PONG else b"?")
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await bounded(ws.receive_str()) == "abcd"
        assert await bounded(pong) == b"mid"


async def test_server_close_after_failure_keeps_failure_code(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CONT, b"orphan"))
        code, _ = await peer.read_close()
        assert code == 1002
        peer.send(server_frame(OP_CLOSE, close_payload(1000, b"fine by me")))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        error = await bounded(ws.receive())
        assert error.type == aiows.WSMsgType.ERROR
        assert type(error.data) is aiohttp.WebSocketError
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
        assert ws.close_code == 1002


async def test_failure_with_silent_server_aborts_after_ws_close(
    wire_server: StartServer,
) -> None:
    got_close = asyncio.Event()
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x4, b""))
        assert (await peer.read_close())[0] == 1002
        got_close.set()
        await hold(release)  # no close frame, no FIN

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=0.3)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url, timeout=timeout)
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.ERROR
        await bounded(got_close.wait())
        start = asyncio.get_running_loop().time()
        assert (await bounded(ws.receive(), 2)).type == aiows.WSMsgType.CLOSED
        assert asyncio.get_running_loop().time() - start < 0.3 + 0.3
        assert ws.close_code == 1002
        assert session.connector is not None
        assert not session.connector._acquired
    release.set()
