"""The aiohttp face: send_str, send_bytes, send_json, send_frame on the wire."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer
from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)


async def test_send_json_is_a_text_frame(wire_server: StartServer) -> None:
    frame: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        frame.set_result((f.opcode, f.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_json({"k": 1})
        assert await bounded(frame) == (OP_TEXT, b'{"k": 1}')


async def test_send_type_errors(wire_server: StartServer) -> None:
    first: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        first.set_result((f.opcode, f.payload))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        with pytest.raises(TypeError, match="must be str"):
            await ws.send_str(b"bytes")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be byte-ish"):
            await ws.send_bytes("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await ws.send_json({"a": {1, 2}})  # a set is not JSON
        assert not ws.closed
    # None of the refused sends reached the wire: the first frame is the close.
    assert await bounded(first) == (OP_CLOSE, close_payload(1000))


async def test_send_frame(wire_server: StartServer) -> None:
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        got = []
        for _ in range(5):
            f = await peer.read_frame()
            assert f.masked
            got.append((f.opcode, f.fin, f.payload))
        frames.set_result(got)

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        await ws.send_frame(b"raw", aiohttp.WSMsgType.BINARY)
        await ws.send_frame("caf\u00e9".encode(), aiohttp.WSMsgType.TEXT)
        await ws.send_frame(b"pp", aiohttp.WSMsgType.PING)
        await ws.send_frame(b"qq", aiohttp.WSMsgType.PONG)
        await ws.send_frame(close_payload(4000, b"bye"), aiohttp.WSMsgType.CLOSE)
        assert await bounded(frames) == [
            (OP_BINARY, True, b"raw"),
            (OP_TEXT, True, "caf\u00e9".encode()),
            (OP_PING, True, b"pp"),
            (OP_PONG, True, b"qq"),
            (OP_CLOSE, True, close_payload(4000, b"bye")),
        ]
        assert ws.closed


async def test_send_frame_refuses_other_opcodes(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(ValueError):
            await ws.send_frame(b"x", aiohttp.WSMsgType.CONTINUATION)
        assert not ws.closed


async def test_send_accepts_bytearray_and_memoryview(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_bytes(bytearray(b"ba"))
        await ws.send_bytes(memoryview(b"xmvx")[1:3])
        assert await bounded(ws.receive_bytes()) == b"ba"
        assert await bounded(ws.receive_bytes()) == b"mv"
