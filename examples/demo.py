"""aiows in one screen: REST and a WebSocket through one session.

Starts a small aiohttp.web server on 127.0.0.1 (a REST endpoint that sets a
cookie, and an echo WebSocket that checks it), then talks to it with aiows.
No setup needed::

    python examples/demo.py
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

import aiows


async def token(request: web.Request) -> web.Response:
    response = web.json_response({"token": "t0ps3cret"})
    response.set_cookie("session", "abc123")
    return response


async def feed(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("v2",))
    await ws.prepare(request)
    await ws.send_str(f"welcome, cookie session={request.cookies.get('session')}")
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(f"echo: {msg.data}")
    return ws


async def main() -> None:
    app = web.Application()
    app.router.add_get("/token", token)
    app.router.add_get("/feed", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"  # the port the OS chose

    # aiohttp's keyword arguments pass through; unsafe=True lets the jar keep
    # cookies from an IP address such as 127.0.0.1.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiows.ClientSession(cookie_jar=jar) as session:
        async with session.get(f"{base}/token") as r:
            print("REST  ->", await r.json())
        url = base.replace("http://", "ws://") + "/feed"
        async with session.ws_connect(url, protocols=("v2",), compress=15) as ws:
            print("WS    <- subprotocol", ws.protocol, "| compression", ws.compress)
            print("WS    <-", await ws.receive_str())
            await ws.send_str("hello")
            print("WS    <-", await ws.receive_str())
            latency = await (await ws.ping())
            print(f"WS    ping round trip {latency * 1e6:.0f} µs")
        print("WS    closed with code", ws.close_code)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
