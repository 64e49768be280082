"""Which credentials go where: every redirect shape, with a proxy and without.

``Authorization`` and ``Cookie`` belong to one origin; ``Proxy-Authorization``
belongs to the proxy.  A ``ws://`` server redirects the upgrade either to
itself or to a ``wss://`` server of another origin; the request goes through
a recording proxy or straight.  Each server and the proxy record what they
received.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

import aiows

from .recording_proxy import RecordingProxy

PROXY_CREDENTIAL = "Basic " + base64.b64encode(b"user:secret").decode()
SECRETS = ("Authorization", "Cookie", "Proxy-Authorization")
SEEN = web.AppKey("seen", list)


@dataclass
class Origins:
    plain: str  # ws://127.0.0.1:P
    secure: str  # wss://localhost:Q
    plain_seen: list[tuple[str, dict[str, str]]]
    secure_seen: list[tuple[str, dict[str, str]]]
    client_ssl: ssl.SSLContext


def app(name: str) -> web.Application:
    async def start(request: web.Request) -> web.Response:
        request.app[SEEN].append(("start", dict(request.headers)))
        raise web.HTTPMovedPermanently(request.query["to"])

    async def ws(request: web.Request) -> web.WebSocketResponse:
        request.app[SEEN].append(("ws", dict(request.headers)))
        response = web.WebSocketResponse()
        await response.prepare(request)
        await response.send_str(f"hello from {name}")
        await response.close()
        return response

    application = web.Application()
    application[SEEN] = []
    application.router.add_get("/start", start)
    application.router.add_get("/ws", ws)
    return application


@pytest.fixture
async def origins(aiohttp_server: Any) -> Origins:
    ca = trustme.CA()
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ssl)
    client_ssl = ssl.create_default_context()
    ca.configure_trust(client_ssl)
    plain_app, secure_app = app("plain"), app("secure")
    plain = await aiohttp_server(plain_app)
    secure = await aiohttp_server(secure_app, ssl=server_ssl)
    return Origins(
        f"ws://127.0.0.1:{plain.port}",
        f"wss://localhost:{secure.port}",
        plain_app[SEEN],
        secure_app[SEEN],
        client_ssl,
    )


@pytest.fixture
async def proxy() -> AsyncIterator[RecordingProxy]:
    recording = await RecordingProxy().start()
    yield recording
    await recording.close()


def secrets(headers: dict[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in SECRETS if name in headers}


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "proxy"])
@pytest.mark.parametrize("cross_origin", [False, True], ids=["same-origin", "cross"])
async def test_credentials_go_only_where_they_belong(
    origins: Origins, proxy: RecordingProxy, via_proxy: bool, cross_origin: bool
) -> None:
    target = f"{origins.secure}/ws" if cross_origin else f"{origins.plain}/ws"
    start = f"{origins.plain}/start?to={target}"
    connector = aiohttp.TCPConnector(ssl=origins.client_ssl)
    async with (
        aiows.ClientSession(connector=connector) as session,
        session.ws_connect(
            start,
            headers={"Authorization": "Bearer token", "Cookie": "id=1"},
            proxy=proxy.url if via_proxy else None,
            proxy_auth=aiows.BasicAuth("user", "secret"),
        ) as ws,
    ):
        msg = await ws.receive()
    assert msg.data == ("hello from secure" if cross_origin else "hello from plain")
    own = {"Authorization": "Bearer token", "Cookie": "id=1"}
    # The first origin gets its credentials, never the proxy's.
    first = origins.plain_seen[0]
    assert first[0] == "start" and secrets(first[1]) == own
    if cross_origin:
        # The other origin gets none of them.
        ((kind, headers),) = origins.secure_seen
        assert kind == "ws" and secrets(headers) == {}
    else:
        kind, headers = origins.plain_seen[1]
        assert kind == "ws" and secrets(headers) == own
    if not via_proxy:
        assert proxy.seen == []
        return
    # The proxy gets its credentials on every request it handles, and the
    # tunnel's CONNECT carries nothing for the origin.
    assert [seen.headers.get("Proxy-Authorization") for seen in proxy.seen] == [
        PROXY_CREDENTIAL
    ] * len(proxy.seen)
    methods = [seen.method for seen in proxy.seen]
    if cross_origin:
        assert methods == ["GET", "CONNECT"]
        assert proxy.seen[1].target == origins.secure.removeprefix("wss://")
        assert secrets(proxy.seen[1].headers) == {
            "Proxy-Authorization": PROXY_CREDENTIAL
        }
    else:
        assert methods == ["GET", "GET"]


async def test_proxy_authorization_in_headers_goes_to_the_proxy_only(
    origins: Origins, proxy: RecordingProxy
) -> None:
    target = f"{origins.secure}/ws"
    connector = aiohttp.TCPConnector(ssl=origins.client_ssl)
    async with aiows.ClientSession(connector=connector) as session:
        async with session.ws_connect(
            f"{origins.plain}/start?to={target}",
            headers={"Proxy-Authorization": PROXY_CREDENTIAL},
            proxy=proxy.url,
        ) as ws:
            await ws.receive()
        # Without a proxy it goes nowhere at all.
        async with session.ws_connect(
            f"{origins.plain}/ws", headers={"Proxy-Authorization": PROXY_CREDENTIAL}
        ) as ws:
            await ws.receive()
    for _, headers in origins.plain_seen + origins.secure_seen:
        assert "Proxy-Authorization" not in headers
    assert [seen.method for seen in proxy.seen] == ["GET", "CONNECT"]
    assert all(
        seen.headers["Proxy-Authorization"] == PROXY_CREDENTIAL for seen in proxy.seen
    )


async def test_proxy_credentials_given_twice_are_refused(origins: Origins) -> None:
    with pytest.raises(ValueError, match="not both"):
        await aiows.ws_connect(
            f"{origins.plain}/ws",
            headers={"Proxy-Authorization": PROXY_CREDENTIAL},
            proxy_auth=aiows.BasicAuth("user", "secret"),
        )
