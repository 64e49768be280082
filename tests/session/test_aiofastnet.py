"""aiows on aiofastnet's transports (``aiofastnet.patch_loop``).

aiows opens through the event loop (aiohttp's connector calls the loop's
``create_connection``), so a loop whose networking methods are aiofastnet's
runs aiows on aiofastnet's transports with no change in aiows: the
hand-over, reading into aiows's buffer, TLS and the close.  Each case runs
on a fresh loop, asyncio's and uvloop, patched, against a real aiohttp.web
server on 127.0.0.1, in clear text and over TLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiofastnet
import pytest
import uvloop
from aiohttp import WSMsgType, web

import aiows
from tests.session.conftest import TLS

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def _round_trips(tls: TLS | None) -> list[object]:
    app = web.Application()
    app.router.add_get("/", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", 0, ssl_context=None if tls is None else tls.server
    )
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "ws" if tls is None else "wss"
    ssl = True if tls is None else tls.client
    url = f"{scheme}://127.0.0.1:{port}/"
    seen: list[object] = []
    try:
        async with aiows.ClientSession() as session:
            async with session.ws_connect(url, ssl=ssl) as ws:
                transport = ws._engine.transport
                seen.append(type(transport).__module__.split(".")[0])
                await ws.send_str("hi")
                seen.append((await ws.receive()).data)
                big = bytes(range(256)) * 4096  # 1 MiB: read in place
                await ws.send_bytes(big)
                seen.append((await ws.receive()).data == big)
            seen.append(ws.close_code)
        async with aiows.connect(url, ssl=None if tls is None else tls.client) as conn:
            await conn.send(b"websockets face")
            seen.append(await conn.recv())
        seen.append(conn.close_code)
    finally:
        await runner.cleanup()
    return seen


@pytest.mark.parametrize("secure", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize("loop_name", list(LOOPS))
def test_aiows_runs_on_aiofastnet_transports(
    loop_name: str, secure: bool, tls: TLS
) -> None:
    loop = LOOPS[loop_name]()
    aiofastnet.patch_loop(loop)
    try:
        seen = loop.run_until_complete(_round_trips(tls if secure else None))
    finally:
        loop.close()
    assert seen == ["aiofastnet", "hi", True, 1000, b"websockets face", 1000]
