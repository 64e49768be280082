"""The engine's connection: debug logging, and failing the connection."""

from __future__ import annotations

import asyncio
import logging

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
)


async def test_debug_logging_names_frames(
    wire_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"ab", fin=False) + server_frame(OP_CONT, b"cd")
        )
        peer.send(server_frame(OP_BINARY, b"xyz"))
        code, _ = await peer.read_close()
        assert code == 1000
        peer.send(server_frame(OP_CLOSE, close_payload(1000, b"ok")))

    caplog.set_level(logging.DEBUG, logger="aiows.client")
    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await bounded(ws.receive_str()) == "abcd"
        assert await bounded(ws.receive_bytes()) == b"xyz"
    text = "\n".join(r.getMessage() for r in caplog.records)
    # Both fragments arrived in one read, so they come out as one message.
    assert "< TEXT length=4" in text
    assert "BINARY length=3" in text
    assert "> frame opcode=0x8" in text
    assert "CLOSE code=1000 reason='ok'" in text
    assert "connection closed" in text


async def test_debug_logging_costs_nothing_when_off(
    wire_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"quiet"))
        await peer.read_close()

    calls: list[str] = []
    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        logger = ws._engine.logger
        assert not logger.isEnabledFor(logging.DEBUG)
        monkeypatch.setattr(logger, "debug", lambda *a, **k: calls.append("debug"))
        await ws.send_str("x")
        assert await bounded(ws.receive_str()) == "quiet"
    assert calls.count("debug") <= 1  # only the final "connection closed"


async def test_websockets_face_logs_to_its_logger(
    wire_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"hi"))
        await peer.read_close()

    custom = logging.getLogger("tests.engine.custom")
    caplog.set_level(logging.DEBUG, logger="tests.engine.custom")
    server = await wire_server(handler)
    async with aiows.connect(
        server.url, compression=None, ping_interval=None, logger=custom
    ) as ws:
        assert ws.logger.logger is custom  # websockets: an adapter over it
        assert await bounded(ws.recv()) == "hi"
    records = [r for r in caplog.records if r.name == "tests.engine.custom"]
    assert any("< TEXT length=2" in r.getMessage() for r in records)


async def test_failure_reason_is_cut_to_123_bytes_on_a_character_boundary(
    wire_server: StartServer,
) -> None:
    closes: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        closes.set_result(await peer.read_close())

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url, timeout=aiows.ClientWSTimeout(ws_close=0.5))
    ws._engine.fail(1011, "\u00e9" * 100)  # 200 bytes of UTF-8
    code, reason = await bounded(closes)
    await bounded(ws.wait_closed())
    assert code == 1011
    assert len(reason) == 122  # 61 whole characters; half of one is dropped
    assert reason.decode("utf-8") == "\u00e9" * 61
