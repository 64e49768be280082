"""The websockets face: recv() and send() on the wire.

``aiows.connect()`` has websockets' semantics: ``recv()`` returns ``str`` or
``bytes``, ``send()`` takes either or an (async) iterable of them, sent as
one fragmented message: each fragment as the iterator yields it, then an
empty final continuation frame, as websockets does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
)


def connect(url: str, **kwargs: Any) -> Any:
    """``aiows.connect`` without compression or keepalive pings, for raw servers."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("ping_interval", None)
    return aiows.connect(url, **kwargs)


async def test_recv_returns_str_and_bytes(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, "h\u00e9llo".encode())
            + server_frame(OP_BINARY, b"\x00\xff")
        )
        peer.send(server_frame(OP_PING, b"ping") + server_frame(OP_TEXT, b"after"))
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert await bounded(ws.recv()) == "h\u00e9llo"
        assert await bounded(ws.recv()) == b"\x00\xff"
        assert await bounded(ws.recv()) == "after"  # control frames never returned


async def test_recv_skips_pings_and_pongs(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"p") + server_frame(OP_PONG, b"q"))
        peer.send(server_frame(OP_TEXT, b"data"))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert await bounded(ws.recv()) == "data"


async def test_recv_returns_data_and_raises_when_closed(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"text")
            + server_frame(OP_PING, b"")
            + server_frame(OP_BINARY, b"bin")
            + server_frame(OP_CLOSE, close_payload(4000, b"app"))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert await bounded(ws.recv()) == "text"
        assert await bounded(ws.recv()) == b"bin"
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await bounded(ws.recv())
        assert info.value.code == 4000
        assert info.value.reason == "app"


async def test_concurrent_recv_raises(echo_url: str) -> None:
    async with aiows.connect(echo_url) as ws:
        first = asyncio.ensure_future(ws.recv())
        await asyncio.sleep(0)
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv()
        assert isinstance(aiows.ConcurrencyError(), RuntimeError)
        await ws.send("still works")
        assert await bounded(first) == "still works"


async def test_send_refuses_mappings_and_other_types(echo_url: str) -> None:
    async with aiows.connect(echo_url) as ws:
        with pytest.raises(TypeError, match="mapping"):
            await ws.send({"a": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="int"):
            await ws.send(42)  # type: ignore[arg-type]
        await ws.send("still open")
        assert await bounded(ws.recv()) == "still open"


async def test_send_on_the_wire(wire_server: StartServer) -> None:
    frames: asyncio.Future[list[tuple[int, bool, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        got = []
        for _ in range(6):
            f = await peer.read_frame()
            assert f.masked
            got.append((f.opcode, f.fin, f.payload))
        frames.set_result(got)
        assert await peer.read_close() == (1000, b"")

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        await ws.send("caf\u00e9")
        await ws.send(b"\x00\xff")
        await ws.send(bytearray(b"ba"))
        await ws.send(["a", "b"])
        assert await bounded(frames) == [
            (OP_TEXT, True, "caf\u00e9".encode()),
            (OP_BINARY, True, b"\x00\xff"),
            (OP_BINARY, True, b"ba"),
            (OP_TEXT, False, b"a"),
            (OP_CONT, False, b"b"),
            (OP_CONT, True, b""),
        ]


async def test_mixed_fragments_fail_with_1011(wire_server: StartServer) -> None:
    frames: list[tuple[int, bool, bytes]] = []
    close_code: list[int | None] = []

    async def handler(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == OP_CLOSE:
                close_code.append(int.from_bytes(frame.payload[:2], "big"))
                return
            frames.append((frame.opcode, frame.fin, frame.payload))

    server = await wire_server(handler)
    ws = await connect(server.url, close_timeout=0.5)
    with pytest.raises(TypeError, match="all str or all bytes"):
        await ws.send(["text", b"bytes"])
    await bounded(ws.wait_closed())
    # The str fragment went out unfinished; then the 1011 close, nothing else.
    assert frames == [(OP_TEXT, False, b"text")]
    assert close_code == [1011]
    # The server sent no close frame: websockets reports 1006.
    assert ws.close_code == 1006
    with pytest.raises(aiows.ConnectionClosedError):
        await ws.send("x")


async def test_mixed_first_fragment_type_checked_before_sending(
    wire_server: StartServer,
) -> None:
    seen: list[int] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        seen.append(frame.opcode)
        if frame.opcode == OP_CLOSE:
            seen.append(int.from_bytes(frame.payload[:2], "big"))

    server = await wire_server(handler)
    ws = await connect(server.url, close_timeout=0.5)
    with pytest.raises(TypeError):
        await ws.send([1, 2])  # type: ignore[list-item]
    await bounded(ws.wait_closed())
    assert seen == [OP_CLOSE, 1011]


async def test_async_iterable_is_one_fragmented_message(echo_url: str) -> None:
    async def parts() -> AsyncIterator[str]:
        for part in ("frag", "men", "ts"):
            yield part
            await asyncio.sleep(0)

    async with aiows.connect(echo_url) as ws:
        await ws.send(parts())
        assert await bounded(ws.recv()) == "fragments"
        await ws.send([b"\x01", b"\x02"])
        assert await bounded(ws.recv()) == b"\x01\x02"
        await ws.send([])  # nothing to send
        await ws.send("next")
        assert await bounded(ws.recv()) == "next"


async def test_ping_latency_and_pong_acknowledges_earlier_pings(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        first = await peer.read_frame()
        second = await peer.read_frame()
        assert (first.opcode, first.payload) == (OP_PING, b"one")
        assert second.opcode == OP_PING
        assert len(second.payload) == 4  # a unique payload when none is given
        peer.send(server_frame(OP_PONG, b"unsolicited"))
        peer.send(server_frame(OP_PONG, second.payload))  # answers both
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert ws.latency == 0.0
        one = await ws.ping(b"one")
        with pytest.raises(aiows.ConcurrencyError) as info:
            await ws.ping(b"one")
        assert isinstance(info.value, RuntimeError)
        two = await ws.ping()
        assert await bounded(one) > 0
        assert await bounded(two) > 0
        assert ws.latency == await two


async def test_unsolicited_pong_goes_out(wire_server: StartServer) -> None:
    frame: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        f = await peer.read_frame()
        frame.set_result((f.opcode, f.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        await ws.pong("heartbeat")
        assert await bounded(frame) == (OP_PONG, b"heartbeat")


async def test_close_reason_and_addresses(wire_server: StartServer) -> None:
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        peer.send(
            server_frame(OP_CLOSE, close_payload(1001, "\u00e0 bient\u00f4t".encode()))
        )
        await peer.read_close()

    server = await wire_server(handler)
    async with connect(server.url) as ws:
        assert ws.close_code is None
        assert ws.close_reason is None
        assert ws.remote_address[:2] == ("127.0.0.1", server.port)
        assert ws.local_address[0] == "127.0.0.1"
        go.set()
        with pytest.raises(aiows.ConnectionClosedOK):
            await bounded(ws.recv())
        assert ws.close_code == 1001
        assert ws.close_reason == "\u00e0 bient\u00f4t"
