"""The aiohttp face answers a close, or fails the connection, only once read.

aiohttp reads up to the server's close (or the bad frame) before it answers,
so a reply the application sends to an earlier message still goes out first
(RFC 6455 §5.5.1 lets an endpoint finish sending before it answers a close).
aiows keeps that, and bounds the wait by ``ws_close`` for an application that
never reads.
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
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)

WS_CLOSE = 0.5
# Scheduling slack on a loaded machine; the bound itself is WS_CLOSE.
MARGIN = 0.4
MAX_MSG_SIZE = 64


def masked_text(payload: bytes) -> bytes:
    """A TEXT frame with the mask bit set: a server must never send one."""
    key = b"\x01\x02\x03\x04"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | OP_TEXT, 0x80 | len(payload)]) + key + body


# What follows the valid message in the same write, and the close code that
# must come back: the server's own (echoed), or the failure's.
ENDINGS: dict[str, tuple[bytes, int]] = {
    "close": (server_frame(OP_CLOSE, close_payload(4321, b"bye")), 4321),
    "masked-frame": (masked_text(b"hi"), 1002),
    "invalid-utf8": (server_frame(OP_TEXT, b"ok\xff"), 1007),
    "over-max-msg-size": (server_frame(OP_BINARY, b"x" * (MAX_MSG_SIZE + 1)), 1009),
}


@pytest.mark.parametrize(("ending", "code"), ENDINGS.values(), ids=ENDINGS.keys())
async def test_reply_to_last_message_goes_before_the_close(
    wire_server: StartServer, ending: bytes, code: int
) -> None:
    frames: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"question") + ending)
        got = []
        while True:
            frame = await peer.read_frame()
            got.append((frame.opcode, frame.payload))
            if frame.opcode == OP_CLOSE:
                break
        frames.set_result(got)

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_receive=None, ws_close=5.0)
    async with aiows.ws_connect(
        server.url, timeout=timeout, max_msg_size=MAX_MSG_SIZE
    ) as ws:
        assert await bounded(ws.receive_str()) == "question"
        await ws.send_str("question")  # the application's echo
        msg = await bounded(ws.receive())
        if code == 4321:
            assert (msg.type, msg.data, msg.extra) == (
                aiows.WSMsgType.CLOSE,
                4321,
                "bye",
            )
        else:
            assert msg.type == aiows.WSMsgType.ERROR
            assert isinstance(msg.data, aiohttp.WebSocketError)
            assert msg.data.code == code
        got = await bounded(frames)
        # The echo first, then the close: nothing after it.
        assert got[0] == (OP_TEXT, b"question")
        assert len(got) == 2
        opcode, payload = got[1]
        assert opcode == OP_CLOSE
        assert int.from_bytes(payload[:2], "big") == code
        assert ws.close_code == code


@pytest.mark.parametrize(("ending", "code"), ENDINGS.values(), ids=ENDINGS.keys())
async def test_idle_application_still_answers_within_ws_close(
    wire_server: StartServer, ending: bytes, code: int
) -> None:
    """An application that never reads: the close goes out after ws_close."""
    answered: asyncio.Future[tuple[int | None, float]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        peer.send(server_frame(OP_TEXT, b"unread") + ending)
        code, _ = await peer.read_close(timeout=WS_CLOSE + 3)
        answered.set_result((code, loop.time() - sent_at))

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_close=WS_CLOSE)
    ws = await aiows.ws_connect(server.url, timeout=timeout, max_msg_size=MAX_MSG_SIZE)
    try:
        wire_code, elapsed = await bounded(answered)
        assert wire_code == code
        assert elapsed <= WS_CLOSE + MARGIN
        # Not read yet: the connection is not closed for the application.
        assert not ws.closed
    finally:
        assert await bounded(ws.close()) is True
    # As in aiohttp: the server's code, or 1006 when close() finds the error
    # unread (the failure's close went out already).
    assert ws.close_code == (code if code == 4321 else 1006)
    assert (await ws.receive()).type == aiows.WSMsgType.CLOSED


async def test_close_with_the_error_unread_reports_the_error(
    wire_server: StartServer,
) -> None:
    closed_by_server = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"unread") + server_frame(0x3, b""))
        assert (await peer.read_close())[0] == 1002
        closed_by_server.set()  # the fixture closes TCP now

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_close=WS_CLOSE)
    ws = await aiows.ws_connect(server.url, timeout=timeout)
    await bounded(closed_by_server.wait())
    assert await bounded(ws.close()) is True
    assert ws.close_code == 1006
    exc = ws.exception()
    assert isinstance(exc, aiohttp.WebSocketError)
    assert exc.code == 1002


async def test_idle_application_pong_is_not_held_back(
    wire_server: StartServer,
) -> None:
    """Only the close waits for the application; a ping is answered at once."""
    pong: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        peer.send(server_frame(OP_TEXT, b"unread") + server_frame(0x9, b"p"))
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (0xA, b"p")
        pong.set_result(loop.time() - sent_at)
        await peer.read_close()

    server = await wire_server(handler)
    timeout = aiows.ClientWSTimeout(ws_close=5.0)
    async with aiows.ws_connect(server.url, timeout=timeout):
        assert await bounded(pong) < 2.0
