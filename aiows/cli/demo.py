"""``aiows --demo``: an echo server of its own on 127.0.0.1, and the short
scripted exchange played when there is nothing on standard input."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Final

import aiohttp

from .. import WSMsgType
from .session import PING_TIMEOUT, Session

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["play_scripted_exchange", "start_demo_server"]

GREETING: Final = "Hello from aiows!"
DOCUMENT: Final = json.dumps({"type": "greeting", "from": "aiows", "id": 1})


async def start_demo_server() -> tuple[web.AppRunner, str]:
    """Start an echo server on 127.0.0.1 at a free port; return it and its URL.

    It echoes TEXT and BINARY messages and accepts any subprotocol offered.
    """
    from aiohttp import web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        ws = web.WebSocketResponse(protocols=protocols)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"ws://{host}:{port}/"


async def play_scripted_exchange(session: Session) -> None:
    """With no input at all: show a short exchange, then close."""
    console = session.console
    console.pretty = True
    console.note("no input on stdin: playing a scripted exchange")
    for text in (GREETING, DOCUMENT):
        session.received.clear()
        await session.ws.send_str(text)
        console.sent(WSMsgType.TEXT, text)
        await asyncio.wait_for(session.received.wait(), PING_TIMEOUT)
    await session.ping()
    console.note("closing with 1000")
    await session.close(1000, "demo over")
