"""A small local server for trying the other examples.

It is plain aiohttp.web (not aiows: aiows is a client library) and offers:

* ``GET /ws``: an echo WebSocket. It speaks the subprotocols ``chat.v2`` and
  ``chat.v1``, echoes text and binary messages, and closes with 1000 when it
  receives the text ``bye``.
* ``POST /token``: a JSON body ``{"token": "tok-1"}``, a new token each call.
* ``GET /feed``: a WebSocket that needs ``Authorization: Bearer <token>``
  with a token from ``/token``. It sends two ticks, then closes with 4001
  ("token expired"), so clients have to reconnect with a fresh token.

Run it, then point the examples at it::

    python examples/server.py                  # http://127.0.0.1:8080
    python examples/server.py --port 0         # any free port (printed)
    python -m trustme                          # server.pem, server.key, client.pem
    python examples/server.py --port 8443 --certfile server.pem --keyfile server.key
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
from itertools import count

from aiohttp import web

TOKENS: set[str] = set()
NEXT_TOKEN = count(1)


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"))
    ws.headers["X-Server"] = "aiows-example-server"  # a custom response header
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT and msg.data == "bye":
            await ws.close(code=1000, message=b"bye")
        elif msg.type == web.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    print(f"{request.path}: client left with close code {ws.close_code}", flush=True)
    return ws


async def token(request: web.Request) -> web.Response:
    new = f"tok-{next(NEXT_TOKEN)}"
    TOKENS.add(new)
    return web.json_response({"token": new})


async def feed(request: web.Request) -> web.WebSocketResponse:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or value not in TOKENS:
        raise web.HTTPUnauthorized()
    TOKENS.discard(value)  # each token is good for one connection
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for n in (1, 2):
        await ws.send_str(f"tick {n} for {value}")
    await ws.close(code=4001, message=b"token expired")
    return ws


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", echo)
    app.router.add_post("/token", token)
    app.router.add_get("/feed", feed)
    return app


async def main(port: int, certfile: str | None, keyfile: str | None) -> None:
    context = None
    if certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile, keyfile)
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=context)
    await site.start()
    host, bound_port = runner.addresses[0][:2]
    scheme = "https" if context else "http"
    print(f"listening on {scheme}://{host}:{bound_port}", flush=True)
    try:
        await asyncio.Event().wait()  # serve until interrupted
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--certfile", help="serve TLS with this certificate")
    parser.add_argument("--keyfile", help="the certificate's private key")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the server
        asyncio.run(main(args.port, args.certfile, args.keyfile))
