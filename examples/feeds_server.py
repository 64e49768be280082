"""A local server for the feed examples, with the troubles feeds survive.

It is plain aiohttp.web (aiows is a client library) and plays one scripted
story per endpoint, counting connections from 1 (restart it to replay):

* ``GET /market``: market data.  Each connection waits for two
  subscriptions (``{"op": "subscribe", "symbol": ...}``), then streams
  ten tickers per symbol.  After connection 1 the server *restarts*: it
  stops listening, drops every connection, and listens again on the same
  port.  Connection 2 ends with 1001 (going away), connection 3 with a
  ``{"type": "done"}`` message.
* ``GET /graphql``: GraphQL over WebSocket (``graphql-transport-ws``).
  ``connection_init`` must come first (else 4401); ``subscribe`` to
  ``counter`` streams ``next`` messages from the ``from`` variable on.
  Connection 1 streams three and closes with 1012 (service restart);
  connection 2 pings the client, streams three, then ``complete``.
* ``POST /token`` and ``GET /chat``: a chat room.  ``/chat`` needs
  ``Authorization: Bearer <token>`` with a token from ``/token``, good for
  one connection.  After ``{"op": "join"}`` it sends the room's news and
  echoes what the client says; connection 1 then closes with 4001 (token
  expired).

Run it, then point the examples at it::

    python examples/feeds_server.py              # http://127.0.0.1:8081
    python examples/market_data.py ws://127.0.0.1:8081/market
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from itertools import count
from typing import Any

from aiohttp import web

SYMBOLS = {"BTC": 100.0, "ETH": 10.0}


class FeedsServer:
    """The three endpoints, and what each connection sent (for tests)."""

    def __init__(self) -> None:
        #: Per endpoint, per connection: the messages the client sent.
        self.seen: dict[str, list[list[Any]]] = {
            "market": [],
            "graphql": [],
            "chat": [],
        }
        #: The Authorization of every /chat attempt, and the tokens issued.
        self.chat_auth: list[str] = []
        self.issued: set[str] = set()
        self._tokens = count(1)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        # Open connections, by their request (to drop them on a restart).
        self._open: dict[web.WebSocketResponse, web.Request] = {}
        self._restarting: set[asyncio.Task[None]] = set()
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/market", self.market)
        app.router.add_get("/graphql", self.graphql)
        app.router.add_post("/token", self.token)
        app.router.add_get("/chat", self.chat)
        return app

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), handle_signals=False)
        await self._runner.setup()
        self.port = port
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        self.port = self._runner.addresses[-1][1]

    async def restart(self) -> None:
        """Stop listening, drop every connection, listen again."""
        assert self._site is not None
        await self._site.stop()
        for request in list(self._open.values()):
            if request.transport is not None:
                request.transport.abort()
        await self._listen()

    async def cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _accept(
        self, request: web.Request, name: str, protocols: tuple[str, ...] = ()
    ) -> tuple[web.WebSocketResponse, list[Any], int]:
        ws = web.WebSocketResponse(protocols=protocols)
        await ws.prepare(request)
        self._open[ws] = request
        seen: list[Any] = []
        self.seen[name].append(seen)
        return ws, seen, len(self.seen[name])

    # -- /market -----------------------------------------------------------------

    async def market(self, request: web.Request) -> web.WebSocketResponse:
        ws, seen, number = await self._accept(request, "market")
        try:
            async for msg in ws:
                message = json.loads(msg.data)
                seen.append(message)
                if len(seen) == len(SYMBOLS):
                    await self._stream_tickers(ws, number)
                    if number == 1:
                        task = asyncio.get_running_loop().create_task(self.restart())
                        self._restarting.add(task)
                        task.add_done_callback(self._restarting.discard)
                    elif number == 2:
                        await ws.close(code=1001, message=b"going away")
                    else:
                        await ws.send_json({"type": "done"})
        finally:
            self._open.pop(ws, None)
        return ws

    async def _stream_tickers(self, ws: web.WebSocketResponse, number: int) -> None:
        for tick in range(10):
            for symbol, base in SYMBOLS.items():
                price = base + (number - 1) * 10 + tick
                await ws.send_json({"type": "ticker", "symbol": symbol, "price": price})

    # -- /graphql ----------------------------------------------------------------

    async def graphql(self, request: web.Request) -> web.WebSocketResponse:
        ws, seen, number = await self._accept(
            request, "graphql", ("graphql-transport-ws",)
        )
        acknowledged = False
        subscription = None
        try:
            async for msg in ws:
                message = json.loads(msg.data)
                seen.append(message)
                kind = message.get("type")
                if kind == "connection_init":
                    acknowledged = True
                    await ws.send_json({"type": "connection_ack"})
                elif kind == "subscribe" and not acknowledged:
                    await ws.close(code=4401, message=b"Unauthorized")
                elif kind == "subscribe" and number == 1:
                    await self._count(ws, message, then_restart=True)
                elif kind == "subscribe":
                    # Counting starts once the client answers a ping.
                    subscription = message
                    await ws.send_json({"type": "ping"})
                elif kind == "pong" and subscription is not None:
                    await self._count(ws, subscription, then_restart=False)
        finally:
            self._open.pop(ws, None)
        return ws

    async def _count(
        self, ws: web.WebSocketResponse, subscribe: Any, *, then_restart: bool
    ) -> None:
        start = subscribe["payload"]["variables"]["from"]
        for value in range(start, start + 3):
            payload = {"data": {"counter": value}}
            await ws.send_json(
                {"id": subscribe["id"], "type": "next", "payload": payload}
            )
        if then_restart:
            await ws.close(code=1012, message=b"service restart")
        else:
            await ws.send_json({"id": subscribe["id"], "type": "complete"})

    # -- /token and /chat --------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        token = f"tok-{next(self._tokens)}"
        self.issued.add(token)
        return web.json_response({"token": token})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        self.chat_auth.append(auth)
        token = auth.removeprefix("Bearer ")
        if token not in self.issued:
            raise web.HTTPUnauthorized()
        self.issued.discard(token)  # good for one connection
        ws, seen, number = await self._accept(request, "chat")
        news = ["bob: hi alice"] if number == 1 else ["bob: welcome back"]
        try:
            async for msg in ws:
                message = json.loads(msg.data)
                seen.append(message)
                if message.get("op") == "join":
                    for line in news:
                        await ws.send_json({"room": message["room"], "text": line})
                elif message.get("op") == "say":
                    text = f"alice: {message['text']}"
                    await ws.send_json({"room": "general", "text": text})
                    if number == 1:
                        await ws.close(code=4001, message=b"token expired")
        finally:
            self._open.pop(ws, None)
        return ws


async def main(port: int) -> None:
    server = FeedsServer()
    await server.start(port)
    print(f"listening on http://127.0.0.1:{server.port}", flush=True)
    try:
        await asyncio.Event().wait()  # serve until interrupted
    finally:
        await server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.port))
