"""The aiohttp face: receive(), receive_str/bytes/json and ``async for``."""

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
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    receive_in_task,
)


async def test_echo_round_trip(echo_url: str) -> None:
    """A first round trip through every layer, against aiohttp.web."""
    async with aiows.ClientSession() as session:
        async with session.ws_connect(echo_url) as ws:
            await ws.send_str("hello")
            msg = await ws.receive()
            assert msg.type == aiows.WSMsgType.TEXT
            assert msg.data == "hello"
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_bytes() == b"\x00\x01"
        assert ws.closed
        assert ws.close_code == 1000
        assert session.connector is not None
        assert not session.connector._acquired  # the slot is released


async def test_bytes_after_101_are_kept(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.read_close()

    server = await wire_server(
        handler,
        after_101=server_frame(OP_TEXT, b"first") + server_frame(OP_BINARY, b"second"),
    )
    async with aiows.ws_connect(server.url) as ws:
        assert await bounded(ws.receive_str()) == "first"
        assert await bounded(ws.receive_bytes()) == b"second"


async def test_data_messages_have_an_empty_extra(echo_url: str) -> None:
    """aiohttp puts "" in the extra field of TEXT and BINARY messages."""
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_str("t")
        await ws.send_bytes(b"b")
        text = await bounded(ws.receive())
        binary = await bounded(ws.receive())
        assert (text.type, text.data, text.extra) == (aiows.WSMsgType.TEXT, "t", "")
        assert (binary.type, binary.data, binary.extra) == (
            aiows.WSMsgType.BINARY,
            b"b",
            "",
        )


async def test_receive_timeout_leaves_connection_open(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.1)
        assert not ws.closed
        # aiows's difference: aiohttp sets 1006 here although nothing closed.
        assert ws.close_code is None
        assert ws.exception() is None
        await ws.send_str("after timeout")
        assert await bounded(ws.receive_str()) == "after timeout"
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_str(timeout=0.05)
        assert not ws.closed


async def test_ws_receive_timeout_option(echo_url: str) -> None:
    timeout = aiows.ClientWSTimeout(ws_receive=0.1, ws_close=2.0)
    async with aiows.ws_connect(echo_url, timeout=timeout) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await bounded(ws.receive())
        assert not ws.closed
        await ws.send_bytes(b"x")
        assert await bounded(ws.receive_bytes()) == b"x"


async def test_concurrent_receive_raises(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        first = await receive_in_task(ws)
        with pytest.raises(aiows.ConcurrencyError) as info:
            await ws.receive()
        assert isinstance(info.value, RuntimeError)
        # The first reader is unaffected and still gets the message.
        await ws.send_str("for the first")
        msg = await bounded(first)
        assert (msg.type, msg.data) == (aiows.WSMsgType.TEXT, "for the first")


async def test_async_for_yields_messages_and_stops_at_close(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"one")
            + server_frame(OP_BINARY, b"two")
            + server_frame(OP_TEXT, b"th", fin=False)
            + server_frame(OP_CONT, b"ree")
            + server_frame(OP_CLOSE, close_payload(1000, b"end"))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        seen = [(msg.type, msg.data) async for msg in ws]
        assert seen == [
            (aiows.WSMsgType.TEXT, "one"),
            (aiows.WSMsgType.BINARY, b"two"),
            (aiows.WSMsgType.TEXT, "three"),
        ]
        assert ws.close_code == 1000
        # Iterating again ends at once.
        assert [msg async for msg in ws] == []


async def test_async_for_stops_when_tcp_drops(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"only"))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert [msg.data async for msg in ws] == ["only"]
        assert ws.close_code == 1006


async def test_send_json_receive_json(echo_url: str) -> None:
    data = {"a": [1, 2.5, None, True], "b": "\u00e9\u20ac"}
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_json(data)
        assert await bounded(ws.receive_json()) == data
        await ws.send_json([1, 2], dumps=lambda v: "[3, 4]")
        assert await bounded(ws.receive_json(loads=lambda s: ("raw", s))) == (
            "raw",
            "[3, 4]",
        )
        await ws.send_str('{"x": 1}')
        msg = await bounded(ws.receive())
        assert msg.json() == {"x": 1}


async def test_receive_str_and_bytes_check_the_type(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_bytes(b"\x01")
        with pytest.raises(aiows.WSMessageTypeError, match=r"is not WSMsgType\.TEXT"):
            await ws.receive_str()
        await ws.send_str("t")
        with pytest.raises(
            aiows.WSMessageTypeError, match=r"is not WSMsgType\.BINARY"
        ) as info:
            await ws.receive_bytes()
        assert isinstance(info.value, TypeError)
        await ws.send_bytes(b"{}")
        with pytest.raises(aiows.WSMessageTypeError):
            await ws.receive_json()
        assert not ws.closed
        assert ws.client_notakeover is False
        assert ws.get_extra_info("peername")[0] == "127.0.0.1"
        assert ws.get_extra_info("no-such-thing", "dflt") == "dflt"


async def test_receive_after_error_returns_error_then_closed(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x5, b""))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        types = [(await bounded(ws.receive())).type for _ in range(3)]
        assert types == [
            aiows.WSMsgType.ERROR,
            aiows.WSMsgType.CLOSED,
            aiows.WSMsgType.CLOSED,
        ]
        with pytest.raises(aiohttp.ClientConnectionResetError):
            await ws.send_str("x")
        assert ws.close_code == 1002
