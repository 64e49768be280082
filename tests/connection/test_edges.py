"""Less travelled paths of the connection: logging, type checks, streaming corners."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

import aiows
from tests.conftest import RawPeer, RawServer, server_frame

RawServerFactory = Callable[..., Awaitable[RawServer]]


async def test_debug_logging_names_frames(
    raw_server: RawServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"ab", fin=False) + server_frame(0x0, b"cd"))
        peer.send(server_frame(0x2, b"xyz"))
        code, _ = await peer.read_close()
        assert code == 1000
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big") + b"ok"))

    caplog.set_level(logging.DEBUG, logger="aiows.client")
    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await ws.receive_str() == "abcd"
        assert await ws.receive_bytes() == b"xyz"
    text = "\n".join(r.getMessage() for r in caplog.records)
    # Both fragments arrived in one read, so they come out as one message.
    assert "< TEXT length=4" in text
    assert "BINARY length=3" in text
    assert "> frame opcode=0x8" in text
    assert "CLOSE code=1000 reason='ok'" in text
    assert "connection closed with code 1000" in text


async def test_debug_logging_costs_nothing_when_off(
    raw_server: RawServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"quiet"))
        await peer.read_close()

    calls: list[str] = []
    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        monkeypatch.setattr(ws.logger, "debug", lambda *a, **k: calls.append("debug"))
        await ws.send_str("x")
        assert await ws.receive_str() == "quiet"
    assert calls.count("debug") <= 1  # only the final "connection closed"


async def test_receive_str_and_bytes_check_the_type(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_bytes(b"\x01")
        with pytest.raises(TypeError, match="BINARY message, expected TEXT"):
            await ws.receive_str()
        await ws.send_str("t")
        with pytest.raises(TypeError, match="TEXT message, expected BINARY"):
            await ws.receive_bytes()
        assert ws.client_notakeover is False
        assert ws.get_extra_info("peername")[0] == "127.0.0.1"
        assert ws.get_extra_info("no-such-thing", "dflt") == "dflt"


async def test_recv_skips_control_frames_delivered_by_autoping_false(
    raw_server: RawServerFactory,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x9, b"p") + server_frame(0xA, b"q"))
        peer.send(server_frame(0x1, b"data"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url, autoping=False) as ws:
        assert await ws.recv() == "data"


async def test_recv_streaming_after_a_cancelled_receive(
    raw_server: RawServerFactory,
) -> None:
    more = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x2, b"a", fin=False))
        await more.wait()
        peer.send(server_frame(0x0, b"b"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        task = asyncio.ensure_future(ws.receive())
        while not ws._partial:  # the first fragment was taken
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stream = ws.recv_streaming()
        assert await stream.__anext__() == b"a"  # kept, not lost
        more.set()
        assert await stream.__anext__() == b"b"


async def test_recv_streaming_skips_control_frames_and_ends_on_close(
    raw_server: RawServerFactory,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x9, b"p"))
        peer.send(server_frame(0x2, b"a", fin=False) + server_frame(0x0, b"b"))
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big")))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url, autoping=False) as ws:
        # Both fragments arrived in one read: they come out as one piece.
        assert [p async for p in ws.recv_streaming()] == [b"ab"]
        await ws.wait_closed()
        with pytest.raises(aiows.ConnectionClosedOK):
            async for _ in ws.recv_streaming():
                pass


async def test_stream_skips_rest_of_abandoned_message(
    raw_server: RawServerFactory,
) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x2, b"a", fin=False))
        await first_read.wait()
        peer.send(server_frame(0x0, b"b", fin=False) + server_frame(0x0, b"c"))
        peer.send(server_frame(0x2, b"next", fin=False) + server_frame(0x0, b"!"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        first = ws.recv_streaming()
        assert await first.__anext__() == b"a"
        first_read.set()
        # A new stream takes over: the rest of the first message is skipped.
        assert b"".join([p async for p in ws.recv_streaming()]) == b"next!"  # type: ignore[arg-type]


async def test_connection_closed_without_frames_describes_itself() -> None:
    exc = aiows.ConnectionClosedError(None, None)
    assert exc.code == 1006
    assert exc.reason == ""
    assert str(exc) == "no close frame received or sent"
    sent_only = aiows.ConnectionClosedError(None, aiows.Close(1000, "bye"))
    assert "sent close frame with code 1000 and reason 'bye'" in str(sent_only)
    rcvd_only = aiows.ConnectionClosedOK(aiows.Close(1001), None)
    assert str(rcvd_only) == "received close frame with code 1001; no close frame sent"
    both = aiows.ConnectionClosedOK(aiows.Close(1000), aiows.Close(1000), False)
    assert str(both).startswith("sent close frame with code 1000; then received")
    assert aiows.Close(1000) == aiows.Close(1000, "")
    assert aiows.Close(1000) != "x"
    assert len({aiows.Close(1000), aiows.Close(1000)}) == 1
    assert repr(aiows.Close(4000, "r")) == "Close(4000, 'r')"


async def test_failure_reason_is_cut_to_123_bytes_on_a_character_boundary(
    raw_server: RawServerFactory,
) -> None:
    closes: list[tuple[int | None, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        closes.append(await peer.read_close())

    server = await raw_server(handler)
    ws = await aiows.ws_connect(server.url, timeout=aiows.ClientWSTimeout(ws_close=0.5))
    ws._fail(1011, "é" * 100, RuntimeError("internal"))  # 200 bytes of UTF-8
    await ws.wait_closed()
    ((code, reason),) = closes
    assert code == 1011
    assert len(reason) == 122  # 61 whole characters; half of one is dropped
    assert reason.decode("utf-8") == "é" * 61
