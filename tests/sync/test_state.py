"""One ``State`` for every websockets-style face, as websockets has one for
its asyncio and threading clients."""

from __future__ import annotations

import asyncio

import aiows
import aiows.sync
from tests.sync.conftest import WsServer


def test_one_state_for_both_faces() -> None:
    assert aiows.sync.State is aiows.State


def test_a_threading_connection_reads_as_aiows_state(ws_server: WsServer) -> None:
    with aiows.sync.connect(f"{ws_server.url}/echo") as ws:
        assert ws.state is aiows.State.OPEN
        assert ws.protocol.state is aiows.State.OPEN
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
    assert ws.state is aiows.State.CLOSED


async def test_both_faces_give_the_same_headers_class(ws_server: WsServer) -> None:
    """``ws.request.headers`` has websockets' ``get_all`` and ``raw_items``
    on both faces, and is one class (``aiows.sync.Headers``)."""
    url = f"{ws_server.url}/echo"
    async with aiows.connect(url) as ws:
        asyncio_headers = ws.response.headers

    def threaded() -> aiows.sync.Headers:
        with aiows.sync.connect(url) as ws:
            return ws.response.headers

    for headers in (asyncio_headers, await asyncio.to_thread(threaded)):
        assert type(headers) is aiows.sync.Headers
        assert headers.get_all("Upgrade") == ["websocket"]
        assert ("Upgrade", "websocket") in list(headers.raw_items())
