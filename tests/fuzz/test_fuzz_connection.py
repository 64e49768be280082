"""The connection-layer fuzzer, run for a few seconds inside the normal test run,
and the regressions it found.

``AIOWS_FUZZ_CONNECTION_SECONDS`` sets the duration (default 8; 0 skips it)
and ``AIOWS_FUZZ_SEED`` fixes the seed to replay a failure.  Run it longer
with ``python -m tests.fuzz.fuzz_connection`` (see that module and
``docs/reliability.rst``, "Bounds").
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_CLOSE, StartServer, bounded, close_payload, hold

from .fuzz_connection import fuzz
from .fuzz_parser import settings_from_env


def test_fuzz_connection_layer(tmp_path: Path) -> None:
    seconds = float(os.environ.get("AIOWS_FUZZ_CONNECTION_SECONDS", 8))
    if seconds <= 0:
        pytest.skip("AIOWS_FUZZ_CONNECTION_SECONDS=0")
    _, seed = settings_from_env(seconds)
    report = fuzz(seconds, seed, tmp_path)
    print(f"AIOWS_FUZZ_SEED={seed}\n{report.summary()}")
    assert set(report.by_face) == {"aiohttp", "websockets"}
    outcomes = " ".join(report.outcomes)
    # Valid streams and each kind of violation must be reached: a fuzzer
    # stuck on one side tests little.
    for reached in ("server closed", "server EOF", "failed 1002", "mutated"):
        assert reached in outcomes, (reached, report.outcomes)
    assert report.messages > 0


# -- regressions the fuzzer found -------------------------------------------------


async def test_receive_returns_the_close_without_waiting_for_tcp(
    wire_server: StartServer,
) -> None:
    """aiohttp's ``receive()`` returns the server's CLOSE once its reply is
    written (``close()`` returns at once when the close code is known), so
    a ``wait_for`` around it cannot cancel it after it took the CLOSE and
    lose it.  Found by the connection fuzzer."""
    replied = asyncio.Event()
    stop = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(1011, b"bye")))
        code, _ = await peer.read_close()
        assert code == 1011  # the echo
        replied.set()
        await hold(stop, 5)  # TCP stays open a while, as a slow server's may

    server = await wire_server(handler)
    ws = await aiows.ws_connect(
        server.url, timeout=aiows.ClientWSTimeout(ws_receive=None, ws_close=5)
    )
    try:
        try:
            msg = await asyncio.wait_for(ws.receive(), 1.0)
        except asyncio.TimeoutError:
            msg = None
        await bounded(replied.wait())  # the echo went out
        assert ws.close_code == 1011, ws.close_code
        assert msg is not None
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1011
    finally:
        stop.set()
        await bounded(ws.close())
