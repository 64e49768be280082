"""How ``aiows.connect()`` reaches the server, as websockets does.

Through an HTTP proxy with a CONNECT tunnel (for ``ws://`` too), over TLS to
an ``https://`` proxy, through a SOCKS5 proxy, on a socket the caller
connected, to a fixed TCP destination; each against real servers.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import socket
import ssl
import sys
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme
from aiohttp import web

import aiows
from tests.conftest import RawPeer
from tests.helpers import answer_once

from .recording_proxy import RecordingProxy
from .socks_server import SocksServer

SEEN = web.AppKey("seen", list)


async def echo(request: web.Request) -> web.WebSocketResponse:
    request.app[SEEN].append(dict(request.headers))
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def server(aiohttp_server: Any) -> Any:
    app = web.Application()
    app[SEEN] = []
    app.router.add_get("/", echo)
    test_server = await aiohttp_server(app)
    test_server.seen = app[SEEN]
    return test_server


@pytest.fixture
async def tls_server(aiohttp_server: Any, ca: trustme.CA) -> Any:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    app = web.Application()
    app[SEEN] = []
    app.router.add_get("/", echo)
    return await aiohttp_server(app, ssl=context)


@pytest.fixture
async def proxy() -> AsyncIterator[RecordingProxy]:
    recording = await RecordingProxy().start()
    yield recording
    await recording.close()


@pytest.fixture
async def socks() -> AsyncIterator[SocksServer]:
    server = await SocksServer().start()
    yield server
    await server.close()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def echo_once(ws: aiows.ClientConnection) -> str | bytes:
    await ws.send("hi")
    return await ws.recv()


async def test_ws_through_an_http_proxy_uses_a_connect_tunnel(
    server: Any, proxy: RecordingProxy
) -> None:
    url = proxy.url.replace("http://", "http://user:s%40cret@")
    async with aiows.connect(f"ws://127.0.0.1:{server.port}/", proxy=url) as ws:
        assert await echo_once(ws) == "hi"
    (seen,) = proxy.seen
    assert (seen.method, seen.target) == ("CONNECT", f"127.0.0.1:{server.port}")
    token = base64.b64encode(b"user:s@cret").decode()
    assert seen.headers["Proxy-Authorization"] == f"Basic {token}"
    # Inside the tunnel the server gets an ordinary request, no credentials.
    assert "Proxy-Authorization" not in server.seen[0]


async def https_proxy(ca: trustme.CA) -> RecordingProxy:
    """A recording proxy that speaks TLS, as ``proxy.test``."""
    proxy_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("proxy.test").configure_cert(proxy_context)
    recording = RecordingProxy()
    recording.server = await asyncio.start_server(
        recording._client, "127.0.0.1", 0, ssl=proxy_context
    )
    return recording


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="TLS inside TLS: asyncio's TLS transport can carry a second TLS "
    "session (loop.start_tls() on it) from Python 3.11 on (bpo-37179)",
)
async def test_wss_through_an_https_proxy(tls_server: Any, ca: trustme.CA) -> None:
    recording = await https_proxy(ca)
    try:
        proxy_url = recording.url.replace("http://", "https://")
        async with aiows.connect(
            f"wss://localhost:{tls_server.port}/",
            proxy=proxy_url,
            ssl=client_context(ca),
            proxy_ssl=client_context(ca),
            proxy_server_hostname="proxy.test",
        ) as ws:
            assert await echo_once(ws) == "hi"
        assert [(s.method, s.target) for s in recording.seen] == [
            ("CONNECT", f"localhost:{tls_server.port}")
        ]
    finally:
        await recording.close()


@pytest.mark.skipif(
    sys.version_info >= (3, 11),
    reason="asyncio carries TLS inside TLS from Python 3.11 on",
)
async def test_wss_through_an_https_proxy_names_what_python_310_lacks(
    tls_server: Any, ca: trustme.CA
) -> None:
    # asyncio's own error, as websockets lets it through, is "transport
    # <asyncio.sslproto._SSLProtocolTransport ...> is not supported by
    # start_tls()"; aiows's says what is missing and what works instead.
    recording = await https_proxy(ca)
    try:
        proxy_url = recording.url.replace("http://", "https://user:pw@")
        with pytest.raises(TypeError, match="TLS inside TLS") as info:
            await aiows.connect(
                f"wss://localhost:{tls_server.port}/",
                proxy=proxy_url,
                ssl=client_context(ca),
                proxy_ssl=client_context(ca),
                proxy_server_hostname="proxy.test",
            )
        message = str(info.value)
        assert "Python 3.11" in message
        assert "http:// proxy" in message
        assert "pw" not in message  # the proxy's credentials stay out of it
        assert "not supported by start_tls()" in str(info.value.__cause__)
        # The tunnel was asked for before TLS inside it was attempted.
        assert [(s.method, s.target) for s in recording.seen] == [
            ("CONNECT", f"localhost:{tls_server.port}")
        ]
    finally:
        await recording.close()


async def test_proxy_refusals_are_websockets_errors(raw_server: Any) -> None:
    refuse = answer_once(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")

    garbage = answer_once(b"SSH-2.0-OpenSSH\r\n\r\n")

    for handler, cls in (
        (refuse, aiows.InvalidProxyStatus),
        (garbage, aiows.InvalidProxyMessage),
    ):
        proxy_server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = proxy_server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(cls) as info:
                await aiows.connect(
                    "ws://127.0.0.1:9/", proxy=f"http://127.0.0.1:{port}"
                )
            assert isinstance(info.value, aiows.ProxyError)
            if cls is aiows.InvalidProxyStatus:
                assert info.value.status == 407
        finally:
            proxy_server.close()
            await proxy_server.wait_closed()


def test_a_proxy_url_that_does_not_parse_is_invalid_proxy() -> None:
    with pytest.raises(aiows.InvalidProxy) as info:
        aiows.connect("ws://127.0.0.1/", proxy="http://[::1")
    assert info.value.proxy == "http://[::1"
    assert info.value.msg.startswith("not a URL: ")


async def test_socks5_proxy(server: Any, socks: SocksServer) -> None:
    async with aiows.connect(
        f"ws://127.0.0.1:{server.port}/", proxy=f"socks5://127.0.0.1:{socks.port}"
    ) as ws:
        assert await echo_once(ws) == "hi"
    assert socks.targets == [("127.0.0.1", server.port)]


async def test_socks5h_with_a_password_from_the_environment(
    server: Any, socks: SocksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    socks.password = "pw"
    for name in ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("ws_proxy", f"socks5h://me:pw@127.0.0.1:{socks.port}")
    async with aiows.connect(f"ws://localhost:{server.port}/") as ws:
        assert await echo_once(ws) == "hi"
    assert socks.users == ["me"]
    assert socks.targets == [("localhost", server.port)]


async def test_socks_without_the_extra_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_python_socks(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("python_socks"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_python_socks)
    with pytest.raises(aiows.InvalidProxy, match=r"aiows-client\[socks\]"):
        aiows.connect("ws://127.0.0.1/", proxy="socks5://127.0.0.1:1080")


@pytest.mark.parametrize("proxy", ["other://p:1", "ftp://p:21", "http://"])
def test_unsupported_proxies_are_invalid(proxy: str) -> None:
    with pytest.raises(aiows.InvalidProxy) as info:
        aiows.connect("ws://127.0.0.1/", proxy=proxy)
    assert info.value.proxy == proxy


async def test_a_connected_socket(server: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    async with aiows.connect("ws://example.invalid/", sock=sock) as ws:
        assert await echo_once(ws) == "hi"
    # The URI's host named the server; the socket took the bytes.
    assert server.seen[0]["Host"] == "example.invalid"


async def test_host_and_port_fix_the_destination(server: Any) -> None:
    async with aiows.connect(
        "ws://api.example/",
        host="127.0.0.1",
        port=server.port,
        local_addr=("127.0.0.1", 0),
    ) as ws:
        assert await echo_once(ws) == "hi"
        assert ws.local_address[0] == "127.0.0.1"
    assert server.seen[0]["Host"] == "api.example"


async def test_a_fixed_destination_refuses_a_cross_origin_redirect(
    raw_server: Any,
) -> None:
    def moved(key: str) -> bytes:
        return (
            b"HTTP/1.1 301 Moved\r\nLocation: ws://elsewhere.example/\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=moved)
    with pytest.raises(ValueError, match=r"redirect to elsewhere\.example"):
        await aiows.connect("ws://api.example/", host="127.0.0.1", port=srv.port)


async def test_a_connected_socket_cannot_follow_a_redirect(raw_server: Any) -> None:
    def moved(key: str) -> bytes:
        return b"HTTP/1.1 301 Moved\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n"

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=moved)
    sock = socket.create_connection(("127.0.0.1", srv.port))
    # Even to the same origin: the socket served its one connection.
    with pytest.raises(
        ValueError, match=r"redirect to 127\.0\.0\.1 with a preexisting"
    ):
        await aiows.connect(srv.url, sock=sock)
    assert len(srv.peers) == 1
    assert sock.fileno() == -1  # closed with the connection it carried


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"uri": "http://127.0.0.1/"}, aiows.InvalidURI, "scheme isn't ws or wss"),
        ({"uri": "ws://127.0.0.1/", "ssl": True}, ValueError, "incompatible"),
        (
            {"uri": "ws://127.0.0.1/", "subprotocols": "chat"},
            TypeError,
            "single string",
        ),
        ({"uri": "ws://127.0.0.1/", "sock": object(), "host": "h"}, ValueError, "sock"),
    ],
)
def test_bad_arguments_get_websockets_errors(
    kwargs: dict[str, Any], error: type[BaseException], match: str
) -> None:
    uri = kwargs.pop("uri")
    with pytest.raises(error, match=match):
        aiows.connect(uri, **kwargs)


async def test_ws_through_proxy_py_with_a_connect_tunnel(
    server: Any, http_proxy: Any
) -> None:
    # A real third-party proxy: proxy.py, with Basic auth.
    user, password = http_proxy.auth.login, http_proxy.auth.password
    proxy_url = str(http_proxy.url.with_user(user).with_password(password))
    async with aiows.connect(f"ws://127.0.0.1:{server.port}/", proxy=proxy_url) as ws:
        assert await echo_once(ws) == "hi"
        await ws.send("again")
        assert await ws.recv() == "again"
    assert "Proxy-Authorization" not in server.seen[0]


async def test_a_tls_server_that_hangs_up_before_its_101_leaves_no_open_transport(
    ca: trustme.CA,
) -> None:
    """Python 3.10's TLS transport does not count as closed when the peer
    hangs up (3.11 marks it so) and warns "unclosed transport" when it is
    collected, unless aiows closes it (regression: found by the proxy
    fuzzer on 3.10)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    client = ssl.create_default_context()
    ca.configure_trust(client)

    hang_up = answer_once(b"HTTP/1.1 101 Swi")

    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            with pytest.raises(aiows.InvalidMessage) as failure:
                await aiows.connect(f"wss://127.0.0.1:{port}/", ssl=client)
            del failure
            gc.collect()
    finally:
        listener.close()
        await listener.wait_closed()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
