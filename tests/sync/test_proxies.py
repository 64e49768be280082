"""Through proxies: CONNECT tunnels (proxy.py, a recording proxy, TLS to the
proxy, TLS inside TLS), SOCKS5, and proxies that misbehave.

The proxy's answer is read with the core's strict HTTP/1.1 reader; every
failure of the proxy is one of aiows's proxy exceptions, with the error
behind it as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

import aiows
from aiows.sync import connect
from tests.session.recording_proxy import RecordingProxy
from tests.session.socks_server import SocksServer
from tests.sync.conftest import TLS, HttpProxy, ServerLoop, WsServer
from tests.sync.differential import Api, Record, assert_same, both


def echo_once(ws: Any) -> Any:
    ws.send("hi")
    return ws.recv(timeout=5)


@pytest.fixture
def recording(server_loop: ServerLoop) -> Iterator[RecordingProxy]:
    proxy = server_loop.run(RecordingProxy().start())
    yield proxy
    server_loop.run(proxy.close())


def test_ws_through_proxy_py_both_clients(
    ws_server: WsServer, http_proxy: HttpProxy
) -> None:
    # A real third-party proxy with Basic auth, credentials in its URL.
    proxy_url = str(
        http_proxy.url.with_user(http_proxy.auth.login).with_password(
            http_proxy.auth.password
        )
    )

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, proxy=proxy_url, open_timeout=10) as ws:
            r.outcome("echo", lambda: echo_once(ws))
            r.add("path", ws.request.path)

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "proxy.py")


def test_proxy_py_refuses_without_credentials(
    ws_server: WsServer, http_proxy: HttpProxy
) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, proxy=str(http_proxy.url), open_timeout=10):
                pass
        except Exception as exc:
            r.error("connect", exc)
            r.add("status", exc.response.status_code)  # type: ignore[attr-defined]

    result = both(f"{ws_server.url}/echo", scenario)
    kinds = {name: events[0][1][1]["kind"][0] for name, events in result.items()}
    assert kinds == {"websockets": "InvalidProxyStatus", "aiows": "InvalidProxyStatus"}
    assert result["websockets"][1:] == result["aiows"][1:] == [("status", 407)]


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_both_schemes_go_through_a_connect_tunnel(
    recording: RecordingProxy, server_loop: ServerLoop, tls: TLS, scheme: str
) -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def start() -> Any:
        return await serve(
            echo, "127.0.0.1", 0, ssl=tls.server if scheme == "wss" else None
        )

    server = server_loop.run(start())
    port = server.sockets[0].getsockname()[1]
    try:
        proxy = recording.url.replace("http://", "http://who:pw@")
        with connect(
            f"{scheme}://localhost:{port}/",
            proxy=proxy,
            ssl=tls.client if scheme == "wss" else None,
            additional_headers={"X-Id": "1"},
        ) as ws:
            assert echo_once(ws) == "hi"
            # The proxy's credentials went to the proxy, never the server.
            assert "Proxy-Authorization" not in ws.request.headers
        (seen,) = recording.seen
        assert (seen.method, seen.target) == ("CONNECT", f"localhost:{port}")
        token = base64.b64encode(b"who:pw").decode()
        assert seen.headers["Proxy-Authorization"] == f"Basic {token}"
        assert "X-Id" not in seen.headers
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        server_loop.run(stop())


def test_a_proxy_authorization_header_is_an_application_header(
    recording: RecordingProxy, ws_server: WsServer
) -> None:
    # As in websockets: additional_headers go to the server, this one too;
    # the proxy's credentials come from the proxy's URL only.
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(
            url,
            proxy=recording.url,
            additional_headers={"Proxy-Authorization": "Basic abc"},
        ) as ws:
            r.outcome("echo", lambda: echo_once(ws))
            r.add("to the server", ws.request.headers.get("Proxy-Authorization"))
        r.add("to the proxy", recording.seen[-1].headers.get("Proxy-Authorization"))

    result = both(f"{ws_server.url}/echo", scenario)
    assert_same(result, "proxy authorization header")
    assert ("to the server", "Basic abc") in result["aiows"]
    assert ("to the proxy", None) in result["aiows"]


def test_wss_through_an_https_proxy_is_tls_inside_tls(
    server_loop: ServerLoop, tls: TLS
) -> None:
    # No event loop is involved: every Python version carries it.
    recording = RecordingProxy()

    async def start() -> tuple[Any, Any]:
        recording.server = await asyncio.start_server(
            recording._client, "127.0.0.1", 0, ssl=tls.server
        )

        async def echo(ws: ServerConnection) -> None:
            async for message in ws:
                await ws.send(message)

        return recording.server, await serve(echo, "127.0.0.1", 0, ssl=tls.server)

    _, target = server_loop.run(start())
    port = target.sockets[0].getsockname()[1]
    try:
        with connect(
            f"wss://localhost:{port}/",
            ssl=tls.client,
            proxy=recording.url.replace("http://", "https://"),
            proxy_ssl=tls.client,
            proxy_server_hostname="localhost",
        ) as ws:
            assert echo_once(ws) == "hi"
            ws.send(b"x" * 300_000)
            assert ws.recv(timeout=5) == b"x" * 300_000
        assert [(s.method, s.target) for s in recording.seen] == [
            ("CONNECT", f"localhost:{port}")
        ]
    finally:

        async def stop() -> None:
            target.close()
            await target.wait_closed()
            await recording.close()

        server_loop.run(stop())


def misbehaving(server_loop: ServerLoop, answer: bytes, hang_up: bool) -> Any:
    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
            if not hang_up:
                await reader.read()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def start() -> Any:
        return await asyncio.start_server(proxy, "127.0.0.1", 0)

    return server_loop.run(start())


@pytest.fixture
def bad_proxy(server_loop: ServerLoop) -> Iterator[Callable[..., str]]:
    """Factory: ``bad_proxy(answer, hang_up=False)``, the URL of a proxy that
    answers CONNECT with ``answer``, then waits for the client to close, or
    closes at once with ``hang_up``."""
    servers: list[Any] = []

    def start(answer: bytes, hang_up: bool = False) -> str:
        server = misbehaving(server_loop, answer, hang_up)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start

    async def stop() -> None:
        for server in servers:
            server.close()
            await server.wait_closed()

    server_loop.run(stop())


def test_bytes_after_the_proxy_answer_are_refused(
    bad_proxy: Callable[[bytes], str],
) -> None:
    # A proxy that would pass its own 101 off as the server's.
    forged = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    proxy = bad_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n" + forged)
    with (
        pytest.raises(aiows.InvalidProxyMessage, match="after its answer to CONNECT"),
        connect("ws://server.example/", proxy=proxy),
    ):
        pass


def test_a_proxy_refusal_is_invalid_proxy_status(
    bad_proxy: Callable[[bytes], str],
) -> None:
    proxy = bad_proxy(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"
    )
    with (
        pytest.raises(aiows.InvalidProxyStatus) as info,
        connect("ws://server.example/", proxy=proxy.replace("//", "//u:secret@")),
    ):
        pass
    assert info.value.response is not None
    assert info.value.response.status_code == 407
    assert info.value.status == 407
    assert isinstance(info.value, aiows.ProxyError)
    assert "secret" not in repr(info.value.request_info)


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2_00 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\n\n",
        b"HTTP/1.1 099 Early\r\n\r\n",
    ],
)
def test_a_proxy_answer_that_is_not_http(
    bad_proxy: Callable[[bytes], str], answer: bytes
) -> None:
    proxy = bad_proxy(answer)
    with (
        pytest.raises(aiows.InvalidProxyMessage) as info,
        connect("ws://server.example/", proxy=proxy),
    ):
        pass
    # websockets' words and cause class; what was wrong, in aiows's words.
    assert str(info.value) == "did not receive a valid HTTP response from proxy"
    assert type(info.value.__cause__) is ValueError
    assert info.value.detail.startswith(
        "the proxy's answer to CONNECT is not valid HTTP: "
    )
    assert str(info.value.__cause__) in info.value.detail


def test_a_proxy_that_hangs_up(bad_proxy: Callable[[bytes], str]) -> None:
    proxy = bad_proxy(b"")
    # It answers nothing and closes once the client stops writing... the
    # client waits: open_timeout bounds it.
    with (
        pytest.raises(aiows.OpenTimeout),
        connect("ws://server.example/", proxy=proxy, open_timeout=0.3),
    ):
        pass


@pytest.fixture
def socks(server_loop: ServerLoop) -> Iterator[SocksServer]:
    server = server_loop.run(SocksServer().start())
    yield server
    server_loop.run(server.close())


PROXY_ANSWERS = [
    (
        "407",
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b"Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
        False,
    ),
    (
        "502 with a body",
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad",
        False,
    ),
    ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", False),
    ("status 600", b"HTTP/1.1 600 Beyond\r\n\r\n", False),
    (
        "a head over 64 KiB",
        b"HTTP/1.1 200 OK\r\n" + (b"X-Pad: " + b"p" * 8000 + b"\r\n") * 9 + b"\r\n",
        False,
    ),
    ("hangs up at once", b"", True),
    ("hangs up mid-answer", b"HTTP/1.1 200 Connection", True),
    # A proxy that would pass its own 101 off as the server's.
    (
        "bytes after the 200",
        b"HTTP/1.1 200 Connection established\r\n\r\n"
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        False,
    ),
]


@pytest.mark.parametrize(
    ("label", "answer", "hang_up"), PROXY_ANSWERS, ids=[a[0] for a in PROXY_ANSWERS]
)
def test_misbehaving_proxies_both_clients(
    bad_proxy: Callable[..., str], label: str, answer: bytes, hang_up: bool
) -> None:
    proxy = bad_proxy(answer, hang_up)
    # websockets drops the forged 101 (it came in the answer's read), then
    # waits for the server's answer.
    timeout = 1 if label == "bytes after the 200" else 5

    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, proxy=proxy, open_timeout=timeout):
                pass
        except Exception as exc:
            r.error(label, exc)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            r.add("response status", status)
            r.add("says", str(exc))
            cause = exc.__cause__
            r.add("cause", None if cause is None else type(cause).__name__)

    assert_same(both("ws://server.example/", scenario), f"proxy: {label}")


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks5(ws_server: WsServer, socks: SocksServer, scheme: str) -> None:
    with connect(
        f"ws://localhost:{ws_server.port}/echo",
        proxy=f"{scheme}://127.0.0.1:{socks.port}",
    ) as ws:
        assert echo_once(ws) == "hi"
    # socks5h:// lets the proxy resolve the name.
    host = "localhost" if scheme == "socks5h" else "127.0.0.1"
    assert socks.targets == [(host, ws_server.port)]


def test_socks5_both_clients(ws_server: WsServer, socks: SocksServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, proxy=f"socks5h://127.0.0.1:{socks.port}") as ws:
            r.outcome("echo", lambda: echo_once(ws))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "socks5")


def test_a_socks_refusal_is_proxy_error(
    ws_server: WsServer, socks: SocksServer
) -> None:
    from python_socks import ProxyError as SocksError

    socks.password = "right"
    with (
        pytest.raises(aiows.ProxyError) as info,
        connect(
            f"ws://127.0.0.1:{ws_server.port}/echo",
            proxy=f"socks5://user:wrong@127.0.0.1:{socks.port}",
        ),
    ):
        pass
    assert isinstance(info.value.__cause__, SocksError)
    assert "wrong" not in str(info.value)
    assert socks.users == ["user"]


def test_an_unreachable_proxy_is_an_oserror() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        pytest.raises(OSError),
        connect("ws://server.example/", proxy=f"http://127.0.0.1:{port}"),
    ):
        pass


BAD_PROXY_URLS = [
    "ftp://proxy.example",
    "http://",
    "http://proxy.example:8080/path",
    "http://proxy.example:8080/?q=1",
    "http://proxy.example:8080/#f",
    "http://user@proxy.example:8080",
]


@pytest.mark.parametrize("proxy", BAD_PROXY_URLS)
def test_bad_proxy_urls_both_clients(proxy: str) -> None:
    # The core's checks, in websockets' words (the asyncio faces' too).
    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, proxy=proxy, open_timeout=2):
                pass
        except Exception as exc:
            r.error("connect", exc)
            r.add("says", getattr(exc, "msg", str(exc)))

    assert_same(both("ws://server.example/", scenario), f"bad proxy URL {proxy}")


def test_a_proxy_port_out_of_range_is_invalid_proxy() -> None:
    with (
        pytest.raises(aiows.InvalidProxy, match="not a URL"),
        connect("ws://server.example/", proxy="http://proxy.example:99999"),
    ):
        pass


def test_proxy_ssl_needs_an_https_proxy() -> None:
    with pytest.raises(ValueError, match="proxy_ssl"):
        connect(
            "ws://h/",
            proxy="http://proxy.example",
            proxy_ssl=ssl.create_default_context(),
        )


def test_the_environment_proxy(
    recording: RecordingProxy, ws_server: WsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("ws_proxy", recording.url)
    with connect(f"{ws_server.url}/echo") as ws:  # proxy=True by default
        assert echo_once(ws) == "hi"
    assert [s.method for s in recording.seen] == ["CONNECT"]
    with connect(f"{ws_server.url}/echo", proxy=None) as ws:
        assert echo_once(ws) == "hi"
    assert len(recording.seen) == 1
