"""Redirects before the upgrade: followed, but never down to clear text."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiows
from tests.session.conftest import TLS


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_json(
        {
            "authorization": request.headers.get("Authorization"),
            "cookie": request.headers.get("Cookie"),
            "x": request.headers.get("X-Extra"),
        }
    )
    await ws.receive()
    return ws


def redirecting_app(target: str) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_get("/start", redirect)
    app.router.add_get("/ws", ws_echo)
    return app


async def test_wss_to_ws_redirect_is_refused(aiohttp_server, tls: TLS) -> None:  # type: ignore[no-untyped-def]
    hits: list[str] = []

    async def spy(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        return await ws_echo(request)

    plain_app = web.Application()
    plain_app.router.add_get("/ws", spy)
    plain: TestServer = await aiohttp_server(plain_app)
    secure: TestServer = await aiohttp_server(
        redirecting_app(f"ws://127.0.0.1:{plain.port}/ws"), ssl=tls.server
    )
    async with aiows.ClientSession() as session:
        # The clear-text server is reachable: the refusal is aiows's doing.
        async with session.ws_connect(f"ws://127.0.0.1:{plain.port}/ws") as ws:
            await ws.receive_json()
        assert hits == ["/ws"]
        with pytest.raises(aiows.SecurityError, match="clear text") as info:
            await session.ws_connect(
                f"wss://127.0.0.1:{secure.port}/start",
                ssl=tls.client,
                headers={"Authorization": "Bearer secret"},
            )
        assert info.value.status == 302
        assert session.connector is not None
        assert not session.connector._acquired
    assert hits == ["/ws"]  # nothing more reached the clear-text server


async def test_https_location_is_read_as_wss(aiohttp_server, tls: TLS) -> None:  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_get("/ws", ws_echo)
    secure: TestServer = await aiohttp_server(app, ssl=tls.server)

    async def to_https(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"https://127.0.0.1:{secure.port}/ws")

    entry = web.Application()
    entry.router.add_get("/start", to_https)
    first: TestServer = await aiohttp_server(entry, ssl=tls.server)
    async with (
        aiows.ClientSession() as session,
        session.ws_connect(f"wss://127.0.0.1:{first.port}/start", ssl=tls.client) as ws,
    ):
        assert (await ws.receive_json())["x"] is None
        assert ws.response.url.scheme == "wss"
        assert ws.response.url.port == secure.port
        assert [r.status for r in ws.response.history] == [302]


async def test_credentials_are_not_sent_to_another_origin(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    other: TestServer = await aiohttp_server(redirecting_app("/unused"))
    first: TestServer = await aiohttp_server(
        redirecting_app(f"http://127.0.0.1:{other.port}/ws")
    )
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiows.ClientSession(cookie_jar=jar) as session,
        session.ws_connect(
            f"ws://127.0.0.1:{first.port}/start",
            headers={
                "Authorization": "Bearer secret",
                "Cookie": "sid=secret",
                "X-Extra": "kept",
            },
        ) as ws,
    ):
        seen = await ws.receive_json()
    assert seen == {"authorization": None, "cookie": None, "x": "kept"}


async def test_same_origin_redirect_keeps_credentials(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    server: TestServer = await aiohttp_server(redirecting_app("/ws"))
    async with (
        aiows.ClientSession() as session,
        session.ws_connect(
            f"ws://127.0.0.1:{server.port}/start",
            auth=aiows.BasicAuth("user", "pw"),
        ) as ws,
    ):
        seen = await ws.receive_json()
    assert seen["authorization"] == aiows.BasicAuth("user", "pw").encode()


async def test_redirect_limits(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://127.0.0.1/file")

    app = web.Application()
    app.router.add_get("/loop", loop)
    app.router.add_get("/ftp", elsewhere)
    server: TestServer = await aiohttp_server(app)
    async with aiows.ClientSession() as session:
        with pytest.raises(
            aiows.InvalidHandshake, match="more than 3 redirects"
        ) as info:
            await session.ws_connect(
                f"ws://127.0.0.1:{server.port}/loop", max_redirects=3
            )
        assert len(info.value.history) == 4
        with pytest.raises(aiows.InvalidHandshake, match="not a WebSocket URI"):
            await session.ws_connect(f"ws://127.0.0.1:{server.port}/ftp")
        assert session.connector is not None
        assert not session.connector._acquired


@pytest.mark.parametrize(
    "defaults",
    [{"Cookie": "sid=secret"}, {"Authorization": "Bearer secret"}],
    ids=["cookie", "authorization"],
)
async def test_a_wrapped_sessions_default_credentials_never_leave_the_origin(
    aiohttp_server: Any,
    defaults: dict[str, str],
) -> None:
    # aiohttp adds its own session's defaults to every request, whatever the
    # origin; aiows cannot take them back, so it refuses the redirect.
    hits: list[str | None] = []

    async def spy(request: web.Request) -> web.StreamResponse:
        hits.append(
            request.headers.get("Cookie") or request.headers.get("Authorization")
        )
        return await ws_echo(request)

    other_app = web.Application()
    other_app.router.add_get("/ws", spy)
    other: TestServer = await aiohttp_server(other_app)
    first: TestServer = await aiohttp_server(
        redirecting_app(f"ws://127.0.0.1:{other.port}/ws")
    )
    async with (
        aiohttp.ClientSession(headers=defaults) as http,
        aiows.ClientSession(http) as session,
    ):
        with pytest.raises(aiows.InvalidHandshake, match="default credentials") as info:
            await session.ws_connect(f"ws://127.0.0.1:{first.port}/start")
        assert info.value.status == 302
        assert [r.status for r in info.value.history] == [302]
        # The same session may still go there directly, by the caller's choice.
        async with session.ws_connect(f"ws://127.0.0.1:{other.port}/ws") as ws:
            await ws.receive_json()
    # Only the direct request reached the other origin.
    assert hits == list(defaults.values())


AIOHTTP_3_10 = tuple(map(int, aiohttp.__version__.split(".")[:2])) < (3, 11)


async def test_a_session_with_base_url_follows_redirects(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    """On the base's origin always; to another origin where aiohttp's
    ``request()`` takes an absolute URL beside ``base_url`` (3.11 on), and
    on aiohttp 3.10 a clear :class:`~aiows.InvalidURI` instead."""
    other: TestServer = await aiohttp_server(redirecting_app("/ws"))
    app = redirecting_app(f"http://127.0.0.1:{other.port}/ws")

    async def local(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ws")

    app.router.add_get("/local", local)
    here: TestServer = await aiohttp_server(app)
    base = f"http://127.0.0.1:{here.port}/"
    async with aiows.ClientSession(base_url=base) as session:
        async with session.ws_connect("/local") as ws:
            assert (await ws.receive_json())["x"] is None
        if AIOHTTP_3_10:
            with pytest.raises(aiows.InvalidURI, match=r"aiohttp 3\.10"):
                await session.ws_connect("/start")
        else:
            async with session.ws_connect("/start") as ws:
                assert (await ws.receive_json())["x"] is None
