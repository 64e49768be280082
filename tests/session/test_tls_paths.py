"""No path on which a ``wss://`` URI or an ``ssl=`` argument ends in clear text.

One test per entry point: ``ws_connect`` (session and one-shot),
``ws_listen``, ``connect``, ``unix_connect``, the reconnect iterator, an
installed aiohttp ``ws_connect``, and a redirect.  Asking for TLS where it
would not be used is an error at the call, before anything is sent.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import aiows

CONTEXT = ssl.create_default_context()

ENTRY_POINTS: dict[str, Callable[[aiows.ClientSession], Any]] = {
    "ClientSession.ws_connect": lambda s: s.ws_connect(
        "ws://127.0.0.1:9/", ssl=CONTEXT
    ),
    "ClientSession.ws_listen": lambda s: s.ws_listen(
        "ws://127.0.0.1:9/", aiows.Listener(), ssl=CONTEXT
    ),
    "ws_connect": lambda s: aiows.ws_connect("ws://127.0.0.1:9/", ssl=CONTEXT),
    "connect": lambda s: aiows.connect("ws://127.0.0.1:9/", ssl=CONTEXT),
    "connect(session=)": lambda s: aiows.connect(
        "ws://127.0.0.1:9/", ssl=CONTEXT, session=s
    ),
    "unix_connect": lambda s: aiows.unix_connect("/tmp/none", "ws://h/", ssl=CONTEXT),
    "fingerprint": lambda s: aiows.ws_connect(
        "ws://127.0.0.1:9/", ssl=aiohttp.Fingerprint(b"\0" * 32)
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
async def test_tls_settings_for_a_clear_text_uri_fail_at_the_call(entry: str) -> None:
    async with aiows.ClientSession() as session:
        with pytest.raises(ValueError, match="ws://"):
            ENTRY_POINTS[entry](session)


async def test_the_reconnect_iterator_fails_before_any_attempt() -> None:
    attempts = 0

    def count(exc: Exception) -> Exception | None:
        nonlocal attempts
        attempts += 1
        return exc

    with pytest.raises(ValueError, match="ws://"):
        async for _ in aiows.ws_connect(
            "ws://127.0.0.1:9/", ssl=CONTEXT, process_exception=count
        ):
            pass
    assert attempts == 0


async def test_an_installed_aiohttp_ws_connect_fails_too() -> None:
    aiows.install()
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(ValueError, match="ws://"):
                session.ws_connect("ws://127.0.0.1:9/", ssl=CONTEXT)
    finally:
        aiows.uninstall()


async def test_subprotocol_offered_through_headers_is_accepted(
    aiohttp_server: Any,
) -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("chat",))
        await ws.prepare(request)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    server = await aiohttp_server(app)
    async with aiows.ws_connect(
        f"ws://127.0.0.1:{server.port}/", headers={"Sec-WebSocket-Protocol": "chat"}
    ) as ws:
        assert ws.protocol == "chat"


def test_a_negative_size_limit_names_itself() -> None:
    with pytest.raises(ValueError, match="max_msg_size must be"):
        aiows.ws_connect("ws://127.0.0.1:9/", max_msg_size=-1)
    with pytest.raises(ValueError, match="max_size must be"):
        aiows.connect("ws://127.0.0.1:9/", max_size=-1)
