"""aiows.ClientSession: WebSockets that share everything with aiohttp's session.

Cookies, default headers, auth, redirects, trace configs, TLS, Unix sockets
and proxies all come from aiohttp; these tests check that the upgrade really
goes through them, against aiohttp.web (and proxy.py) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

import aiows
from tests.conftest import RawPeer, RawServer, echo_handler, server_frame
from tests.session.conftest import TLS, HttpProxy

# aiohttp 3.14 deprecates aiohttp.BasicAuth; aiows still takes it (and has its
# own aiows.BasicAuth), so the tests use both.
pytestmark = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning"
)

ServerFactory = Callable[..., Awaitable[TestServer]]
RawServerFactory = Callable[..., Awaitable[RawServer]]


class Recorder:
    """An aiohttp.web app whose WebSocket at /ws records each handshake.

    The handler echoes text.  What it saw is in ``requests``, ``headers`` and
    ``cookies`` (one entry per handshake); ``closed`` resolves to the close
    code of the first WebSocket that ends.
    """

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.headers: list[CIMultiDictProxy[str]] = []
        self.cookies: list[dict[str, str]] = []
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self.app = web.Application()
        self.app.router.add_get("/ws", self.ws)

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        self.requests.append(request)
        self.headers.append(request.headers)
        self.cookies.append(dict(request.cookies))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        if not self.closed.done():
            self.closed.set_result(ws.close_code)
        return ws


def ws_url(server: TestServer, path: str = "/ws", scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{server.port}{path}"


async def echo_once(ws: aiows.ClientWebSocketResponse, text: str) -> str:
    await ws.send_str(text)
    return await ws.receive_str()


# -- cookies -----------------------------------------------------------------


async def test_cookie_from_rest_response_is_sent_on_upgrade(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="welcome")
        response.set_cookie("sid", "s3cr3t")
        return response

    recorder.app.router.add_post("/login", login)
    server = await aiohttp_server(recorder.app)
    # The default jar refuses cookies from IP addresses; unsafe=True allows it.
    async with aiows.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.post(server.make_url("/login")) as response:
            assert await response.text() == "welcome"
        async with s.ws_connect(ws_url(server)) as ws:
            assert await echo_once(ws, "hi") == "hi"
    assert recorder.cookies == [{"sid": "s3cr3t"}]
    assert ws.request_headers["Cookie"] == "sid=s3cr3t"


async def test_set_cookie_on_101_lands_in_jar(aiohttp_server: ServerFactory) -> None:
    seen: list[dict[str, str]] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        ws.set_cookie("ws_ticket", "t-42")
        await ws.prepare(request)
        await ws.send_str("ready")
        await ws.receive()
        return ws

    async def whoami(request: web.Request) -> web.Response:
        seen.append(dict(request.cookies))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/whoami", whoami)
    server = await aiohttp_server(app)
    async with aiows.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.ws_connect(ws_url(server)) as ws:
            assert ws.response.status == 101
            assert ws.response.cookies["ws_ticket"].value == "t-42"
            assert await ws.receive_str() == "ready"
        cookies = s.cookie_jar.filter_cookies(URL(ws_url(server)))
        assert cookies["ws_ticket"].value == "t-42"
        async with s.get(server.make_url("/whoami")) as response:
            assert response.status == 200
    assert seen == [{"ws_ticket": "t-42"}]


# -- headers and auth ----------------------------------------------------------


async def test_default_headers_and_ws_connect_auth_are_sent(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app)
    async with aiows.ClientSession(
        headers={"X-Tenant": "acme", "User-Agent": "aiows-tests/1"}
    ) as s:
        assert s.headers["X-Tenant"] == "acme"
        async with s.ws_connect(
            ws_url(server),
            auth=aiohttp.BasicAuth("alice", "wonder land"),
            headers={"X-Call": "1"},
            origin="https://app.example",
        ) as ws:
            assert await echo_once(ws, "x") == "x"
    (headers,) = recorder.headers
    assert headers["X-Tenant"] == "acme"
    assert headers["User-Agent"] == "aiows-tests/1"
    assert headers["X-Call"] == "1"
    assert headers["Origin"] == "https://app.example"
    assert (
        headers["Authorization"] == aiohttp.BasicAuth("alice", "wonder land").encode()
    )
    assert aiohttp.BasicAuth.decode(headers["Authorization"]).login == "alice"
    assert headers["Upgrade"] == "websocket"


async def test_session_level_basic_auth_is_sent(aiohttp_server: ServerFactory) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app)
    for auth in (aiohttp.BasicAuth("bob", "pw"), aiows.BasicAuth("bob", "pw")):
        session = aiows.ClientSession(auth=auth)
        async with session, session.ws_connect(ws_url(server)) as ws:
            assert await echo_once(ws, "x") == "x"
    assert [h["Authorization"] for h in recorder.headers] == ["Basic Ym9iOnB3"] * 2


async def test_ws_connect_auth_overrides_session_auth(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app)
    session = aiows.ClientSession(auth=aiows.BasicAuth("bob", "pw"))
    carol = aiohttp.BasicAuth("carol", "pw2")
    async with session, session.ws_connect(ws_url(server), auth=carol) as ws:
        assert await echo_once(ws, "x") == "x"
    assert recorder.headers[0]["Authorization"] == carol.encode()


# -- redirects and traces --------------------------------------------------------


async def test_redirect_before_upgrade_is_followed(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()

    async def old(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/ws?from=old&{request.query_string}")

    async def older(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/old?hop=2")

    recorder.app.router.add_get("/old", old)
    recorder.app.router.add_get("/older", older)
    server = await aiohttp_server(recorder.app)
    async with aiows.ClientSession() as s:
        async with s.ws_connect(ws_url(server, "/older")) as ws:
            assert ws.response.status == 101
            assert [r.status for r in ws.response.history] == [307, 302]
            assert ws.response.url == URL(ws_url(server, "/ws?from=old&hop=2"))
            assert await echo_once(ws, "after redirect") == "after redirect"
        # Without redirects, the 307 is what the handshake got.
        with pytest.raises(aiows.InvalidStatus) as info:
            await s.ws_connect(ws_url(server, "/older"), allow_redirects=False)
        assert info.value.status == 307
        assert info.value.headers is not None
        assert info.value.headers["Location"] == "/old?hop=2"
    (request,) = recorder.requests
    assert request.path_qs == "/ws?from=old&hop=2"
    assert recorder.headers[0]["Upgrade"] == "websocket"


async def test_trace_configs_see_the_upgrade(aiohttp_server: ServerFactory) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app)
    events: list[tuple[str, str, str, Any]] = []

    async def on_start(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        events.append(("start", params.method, str(params.url), ctx.trace_request_ctx))

    async def on_headers_sent(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        events.append(("headers", params.method, str(params.url), params.headers))

    async def on_end(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        events.append(("end", params.method, str(params.url), params.response.status))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_headers_sent.append(on_headers_sent)
    trace.on_request_end.append(on_end)
    url = ws_url(server, "/ws?room=1")
    session = aiows.ClientSession(trace_configs=[trace])
    async with session, session.ws_connect(url) as ws:
        assert await echo_once(ws, "traced") == "traced"
    assert [(kind, method, u) for kind, method, u, _ in events] == [
        ("start", "GET", url),
        ("headers", "GET", url),
        ("end", "GET", url),
    ]
    sent_headers = events[1][3]
    assert sent_headers["Sec-WebSocket-Key"] == ws.request_headers["Sec-WebSocket-Key"]
    assert events[2][3] == 101


# -- transports: TLS, Unix sockets ---------------------------------------------


async def tls_echo_server(aiohttp_server: ServerFactory, tls: TLS) -> TestServer:
    app = web.Application()
    app.router.add_get("/ws", echo_handler)
    return await aiohttp_server(app, ssl=tls.server)


async def test_wss_with_local_ca(aiohttp_server: ServerFactory, tls: TLS) -> None:
    server = await tls_echo_server(aiohttp_server, tls)
    url = ws_url(server, scheme="wss")
    async with aiows.ClientSession() as s:
        async with s.ws_connect(url, ssl=tls.client) as ws:
            assert await echo_once(ws, "secure") == "secure"
            ssl_object = ws.get_extra_info("ssl_object")
            assert isinstance(ssl_object, ssl.SSLObject)
            assert ssl_object.getpeercert()["subjectAltName"] == (
                ("IP Address", "127.0.0.1"),
                ("DNS", "localhost"),
            )
        assert ws.close_code == 1000
    # The same through the connector's default context.
    connector = aiows.TCPConnector(ssl=tls.client)
    session = aiows.ClientSession(connector=connector)
    async with session, session.ws_connect(url) as ws:
        assert await echo_once(ws, "again") == "again"


async def test_wss_transport_is_closed_when_the_server_ends_tcp(
    aiohttp_server: ServerFactory, tls: TLS
) -> None:
    # Regression (Python 3.10): asyncio's TLS transport there does not count
    # as closed when the peer ends the connection, and warned "unclosed
    # transport" when collected.  The server closes TCP first (RFC 6455
    # section 7.1.1), here after the close handshake.
    server = await tls_echo_server(aiohttp_server, tls)
    async with aiows.ClientSession() as s:
        async with s.ws_connect(ws_url(server, scheme="wss"), ssl=tls.client) as ws:
            transport = ws._engine.transport
            assert transport is not None
            assert await echo_once(ws, "secure") == "secure"
        assert ws.close_code == 1000
        assert transport.is_closing()


async def test_wss_verifies_certificates_by_default(
    aiohttp_server: ServerFactory, tls: TLS
) -> None:
    server = await tls_echo_server(aiohttp_server, tls)
    async with aiows.ClientSession() as s:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
            await s.ws_connect(ws_url(server, scheme="wss"))
        assert info.value.host == "127.0.0.1"
        assert info.value.port == server.port
        assert isinstance(info.value.certificate_error, ssl.SSLCertVerificationError)
        assert s.connector is not None
        assert not s.connector._acquired
        # ssl=False turns verification off, as in aiohttp.
        async with s.ws_connect(ws_url(server, scheme="wss"), ssl=False) as ws:
            assert await echo_once(ws, "unverified") == "unverified"


async def test_unix_connector(tmp_path: Path) -> None:
    recorder = Recorder()
    runner = web.AppRunner(recorder.app)
    await runner.setup()
    path = str(tmp_path / "ws.sock")
    site = web.UnixSite(runner, path)
    await site.start()
    try:
        connector = aiows.UnixConnector(path=path)
        async with aiows.ClientSession(connector=connector) as s:
            assert s.connector is connector
            async with s.ws_connect("ws://unix.invalid/ws") as ws:
                assert await echo_once(ws, "over unix") == "over unix"
                assert len(connector._acquired) == 1
            assert ws.close_code == 1000
            assert not connector._acquired
        assert await recorder.closed == 1000
        assert recorder.headers[0]["Host"] == "unix.invalid"
    finally:
        await runner.cleanup()


# -- proxies --------------------------------------------------------------------


async def test_wss_through_http_proxy_connect(
    aiohttp_server: ServerFactory, tls: TLS, http_proxy: HttpProxy
) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app, ssl=tls.server)
    url = ws_url(server, scheme="wss")
    async with aiows.ClientSession() as s:
        async with s.ws_connect(
            url,
            ssl=tls.client,
            proxy=http_proxy.url,
            proxy_auth=http_proxy.auth,
            headers={"X-Through": "proxy"},
        ) as ws:
            assert await echo_once(ws, "tunnelled") == "tunnelled"
        assert ws.close_code == 1000
        assert await recorder.closed == 1000
        # The proxy is really in the path: without credentials it refuses.
        with pytest.raises(aiohttp.ClientHttpProxyError) as info:
            await s.ws_connect(url, ssl=tls.client, proxy=http_proxy.url)
        assert info.value.status == 407
        assert s.connector is not None
        assert not s.connector._acquired
    headers = recorder.headers[0]
    assert headers["X-Through"] == "proxy"
    # Inside a CONNECT tunnel the origin sees no proxy headers.
    assert "Proxy-Authorization" not in headers
    assert "Via" not in headers


async def test_ws_through_http_proxy_sends_absolute_form(
    raw_server: RawServerFactory,
) -> None:
    """What aiows sends to a proxy for ws://: ``GET http://host:port/path``.

    A forward proxy expects an http:// URL in the request line (aiohttp on
    its own would send ws://, which proxies refuse).  A scripted server
    stands in for the proxy here, to check the exact bytes.
    """
    close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"from proxy"))
        close.set_result(await peer.read_close())
        peer.close()

    proxy = await raw_server(handler)
    target = "ws://target.invalid:8123/feed?x=1"
    session = aiows.ClientSession()
    proxy_url = f"http://127.0.0.1:{proxy.port}"
    async with session, session.ws_connect(target, proxy=proxy_url) as ws:
        assert await ws.receive_str() == "from proxy"
        assert ws.response.url == URL(target).with_scheme("http")
    assert await close == (1000, b"")
    (peer,) = proxy.peers
    assert peer.request_line == "GET http://target.invalid:8123/feed?x=1 HTTP/1.1"
    assert peer.request_headers["host"] == "target.invalid:8123"
    assert peer.request_headers["upgrade"] == "websocket"
    assert (
        peer.request_headers["sec-websocket-key"]
        == ws.request_headers["Sec-WebSocket-Key"]
    )


@pytest.mark.skipif(
    tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) < (3, 11),
    reason="aiohttp 3.10 does not keep a proxied connection alive, so the "
    "upgrade opens a fresh one, on which proxy.py 2.4.10 does not relay the "
    "client's frames; the request form is checked by the scripted-proxy test",
)
async def test_ws_url_through_real_http_proxy_after_rest(
    aiohttp_server: ServerFactory, http_proxy: HttpProxy
) -> None:
    """REST, then a ws:// WebSocket, through proxy.py, both directions.

    proxy.py (2.4.10) relays an upgrade both ways when it arrives on a
    connection that already carried a request, which is the case this
    library is for: the session's REST call leaves a kept-alive connection
    to the proxy, and the upgrade reuses it.  (On a fresh connection it
    forwards the upgrade but not the client's frames after it.)
    """
    seen: list[CIMultiDictProxy[str]] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        seen.append(request.headers)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(f"echo: {msg.data}")
        return ws

    async def rest(request: web.Request) -> web.Response:
        return web.json_response({"token": "t"})

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/rest", rest)
    server = await aiohttp_server(app)
    async with aiows.ClientSession(connector=aiows.TCPConnector(limit=1)) as s:
        async with s.get(
            f"http://127.0.0.1:{server.port}/rest",
            proxy=http_proxy.url,
            headers={"Proxy-Authorization": http_proxy.auth.encode()},
        ) as r:
            assert await r.json() == {"token": "t"}
        async with s.ws_connect(
            ws_url(server),
            proxy=http_proxy.url,
            proxy_auth=http_proxy.auth,
            timeout=aiows.ClientWSTimeout(ws_close=2),
        ) as ws:
            # The client's socket is the one to the proxy.
            assert ws.get_extra_info("peername")[1] == http_proxy.url.port
            for text in ("one", "two"):
                await ws.send_str(text)
                assert await ws.receive_str() == f"echo: {text}"
    (headers,) = seen
    assert headers["Upgrade"] == "websocket"
    # proxy.py (2.4.10) passes Proxy-Authorization on to the server for a
    # request that reuses a connection, against RFC 9110 §11.7.2; aiows sent
    # it to the proxy, where it belongs, so that is not asserted here.


async def test_proxy_auth_reaches_plain_http_proxy(
    raw_server: RawServerFactory,
) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.read_close()
        peer.close()

    proxy = await raw_server(handler)
    async with (
        aiows.ClientSession() as s,
        s.ws_connect(
            "ws://target.invalid/feed",
            proxy=f"http://127.0.0.1:{proxy.port}",
            proxy_auth=aiohttp.BasicAuth("u", "p"),
        ) as ws,
    ):
        assert ws.response.status == 101
    (peer,) = proxy.peers
    assert peer.request_headers["proxy-authorization"] == "Basic dTpw"


async def test_http_url_upgrade_through_http_proxy(
    aiohttp_server: ServerFactory, http_proxy: HttpProxy
) -> None:
    """A plain-HTTP upgrade through proxy.py, using an http:// URL.

    proxy.py forwards ``GET http://...`` with the Upgrade headers and relays
    the server's bytes, but (2.4.10) does not relay the client's frames after
    an upgrade on the first request of a connection, so only the handshake
    and server-to-client data are checked.
    """
    greeted: asyncio.Future[CIMultiDictProxy[str]] = (
        asyncio.get_running_loop().create_future()
    )

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("hello through proxy")
        greeted.set_result(request.headers)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    server = await aiohttp_server(app)
    async with aiows.ClientSession() as s:
        # proxy.py reads the credentials and removes them before forwarding.
        ws = await s.ws_connect(
            ws_url(server, scheme="http"),
            proxy=http_proxy.url,
            proxy_auth=http_proxy.auth,
            timeout=aiows.ClientWSTimeout(ws_close=0.2),
        )
        assert ws.response.status == 101
        assert await ws.receive_str() == "hello through proxy"
        await ws.close()
        assert ws.closed
    headers = await greeted
    assert "proxy.py" in headers["Via"]
    assert "Proxy-Authorization" not in headers
    assert headers["Upgrade"] == "websocket"


# -- wrapping, pass-through, REST alongside -----------------------------------


async def test_wrapping_an_aiohttp_session_leaves_it_open(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text=f"pong {request.headers.get('X-Shared')}")

    recorder.app.router.add_get("/ping", ping)
    server = await aiohttp_server(recorder.app)
    async with aiohttp.ClientSession(headers={"X-Shared": "yes"}) as inner:
        session = aiows.ClientSession(inner)
        assert session.aiohttp_session is inner
        assert session.connector is inner.connector
        assert session.cookie_jar is inner.cookie_jar
        ws = await session.ws_connect(ws_url(server))
        assert await echo_once(ws, "wrapped") == "wrapped"
        await session.close()
        # Its WebSockets are closed (going away), the wrapped session is not.
        assert ws.closed
        assert await recorder.closed == 1001
        assert not inner.closed
        assert not session.closed
        async with session.get(server.make_url("/ping")) as response:
            assert await response.text() == "pong yes"
        async with inner.get(server.make_url("/ping")) as response:
            assert response.status == 200
    assert session.closed
    assert recorder.headers[0]["X-Shared"] == "yes"
    with pytest.raises(TypeError):
        aiows.ClientSession(inner, headers={"a": "b"})


async def test_kwargs_pass_through_and_rest_alongside(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()

    async def echo_json(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {"body": body, "header": request.headers.get("X-App"), "m": request.method}
        )

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        recorder.app.router.add_route(method, "/api", echo_json)
    server = await aiohttp_server(recorder.app)
    connector = aiows.TCPConnector(limit=3)
    session = aiows.ClientSession(connector=connector, headers={"X-App": "a1"})
    async with session as s:
        assert s.connector is connector
        assert connector.limit == 3
        assert s.headers == CIMultiDict({"X-App": "a1"})
        async with s.ws_connect(ws_url(server)) as ws:
            assert len(connector._acquired) == 1
            # REST on the same session while the WebSocket is open.
            for method in ("post", "put", "patch", "delete"):
                call = getattr(s, method)
                async with call(server.make_url("/api"), json={"n": 1}) as response:
                    assert await response.json() == {
                        "body": {"n": 1},
                        "header": "a1",
                        "m": method.upper(),
                    }
            assert await echo_once(ws, "still open") == "still open"
        assert not connector._acquired
    assert s.closed
    assert connector.closed
    assert recorder.headers[0]["X-App"] == "a1"


# -- closing ------------------------------------------------------------------------


async def test_closing_session_closes_websockets_with_1001(
    aiohttp_server: ServerFactory,
) -> None:
    recorders = [Recorder(), Recorder()]
    servers = [await aiohttp_server(r.app) for r in recorders]
    session = aiows.ClientSession()
    first = await session.ws_connect(ws_url(servers[0]))
    second = await session.ws_connect(ws_url(servers[1]))
    assert await echo_once(first, "1") == "1"
    assert await echo_once(second, "2") == "2"
    await session.close()
    assert session.closed
    assert first.closed and second.closed
    assert [await r.closed for r in recorders] == [1001, 1001]


async def test_closed_websocket_is_forgotten_by_session(
    aiohttp_server: ServerFactory,
) -> None:
    recorder = Recorder()
    server = await aiohttp_server(recorder.app)
    async with aiows.ClientSession() as s:
        async with s.ws_connect(ws_url(server)) as ws:
            assert await echo_once(ws, "bye") == "bye"
        assert await recorder.closed == 1000
    # Closing the session later sends nothing more on the closed socket.
    assert ws.close_code == 1000
