"""``aiows.install()``: libraries that call aiohttp's ``ws_connect`` get aiows.

Tested with a real third-party client from the package index, gql (a
GraphQL client whose aiohttp transport opens its own aiohttp session and
compares message types with ``is``), against a local GraphQL-over-WebSocket
server speaking the graphql-transport-ws protocol.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows
from aiows.session import install as install_module

gql = pytest.importorskip("gql")
# gql's aiohttp WebSocket transport needs aiohttp 3.11 or newer; on aiohttp
# 3.10 pip installs an older gql without it.
transports = pytest.importorskip(
    "gql.transport.aiohttp_websockets",
    reason="this gql has no aiohttp WebSocket transport",
)
AIOHTTPWebsocketsTransport = transports.AIOHTTPWebsocketsTransport

OPENED = web.AppKey("opened", list)


async def graphql_ws(request: web.Request) -> web.WebSocketResponse:
    """A tiny graphql-transport-ws server: ``subscription { count }`` yields 0-4."""
    ws = web.WebSocketResponse(protocols=("graphql-transport-ws",))
    await ws.prepare(request)
    request.app[OPENED].append(request.headers.get("User-Agent"))
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            continue
        message = json.loads(msg.data)
        if message["type"] == "connection_init":
            await ws.send_json({"type": "connection_ack"})
        elif message["type"] == "ping":
            await ws.send_json({"type": "pong"})
        elif message["type"] == "subscribe":
            ident = message["id"]
            for i in range(5):
                payload = {"data": {"count": i}}
                await ws.send_json({"id": ident, "type": "next", "payload": payload})
            await ws.send_json({"id": ident, "type": "complete"})
    return ws


@pytest.fixture
async def graphql_url(aiohttp_server: Any) -> str:
    app = web.Application()
    app[OPENED] = []
    app.router.add_get("/graphql", graphql_ws)
    server = await aiohttp_server(app)
    return f"ws://127.0.0.1:{server.port}/graphql"


@pytest.fixture
def installed() -> AsyncIterator[None]:
    aiows.install()
    yield
    aiows.uninstall()


async def subscribe(url: str) -> tuple[list[Any], type]:
    transport = AIOHTTPWebsocketsTransport(url=url)
    client = gql.Client(transport=transport)
    counts = []
    async with client as session:
        websocket = transport.adapter.websocket
        async for result in session.subscribe(gql.gql("subscription { count }")):
            counts.append(result["count"])
    return counts, type(websocket)


@pytest.mark.usefixtures("installed")
async def test_gql_subscription_runs_on_aiows(graphql_url: str) -> None:
    counts, websocket_type = await subscribe(graphql_url)
    assert counts == [0, 1, 2, 3, 4]
    assert websocket_type is aiows.ClientWebSocketResponse
    assert install_module.installed()


async def test_uninstall_gives_aiohttp_back(graphql_url: str) -> None:
    original = aiohttp.ClientSession.ws_connect
    aiows.install()
    aiows.install()  # idempotent
    assert aiohttp.ClientSession.ws_connect is not original
    assert aiohttp.ClientSession.ws_connect.__name__ == "ws_connect"
    aiows.uninstall()
    aiows.uninstall()
    assert aiohttp.ClientSession.ws_connect is original
    counts, websocket_type = await subscribe(graphql_url)
    assert counts == [0, 1, 2, 3, 4]
    assert websocket_type is aiohttp.ClientWebSocketResponse


@pytest.mark.usefixtures("installed")
async def test_installed_ws_connect_uses_the_callers_session(
    aiohttp_server: Any,
) -> None:
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        seen.append(request.headers.get("X-Session"))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hi")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession(headers={"X-Session": "mine"}) as session:
        async with session.ws_connect(f"http://127.0.0.1:{server.port}/") as ws:
            assert isinstance(ws, aiows.ClientWebSocketResponse)
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT and msg.data == "hi"
        with pytest.raises(ValueError, match="heartbeat must be"):
            session.ws_connect("ws://127.0.0.1:1/", heartbeat=-1)
    assert seen == ["mine"]
