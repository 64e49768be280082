"""``aiows.connect()`` and ``aiows.unix_connect()`` against the websockets server."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.server import ServerConnection, serve, unix_serve
from yarl import URL

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import answer_once
from tests.session.conftest import TLS


@dataclass
class Seen:
    """What the websockets server observed."""

    headers: list[dict[str, str]] = field(default_factory=list)
    closes: list[tuple[int | None, str | None]] = field(default_factory=list)


def make_handler(seen: Seen):  # type: ignore[no-untyped-def]
    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.headers.append(dict(ws.request.headers.raw_items()))
        try:
            async for message in ws:
                if isinstance(message, str) and message.startswith("close:"):
                    _, code, reason = message.split(":", 2)
                    await ws.close(int(code), reason)
                    return
                await ws.send(message)
        finally:
            await ws.wait_closed()
            rcvd = ws.protocol.close_rcvd
            seen.closes.append((rcvd.code, rcvd.reason) if rcvd else (None, None))

    return handler


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    async with serve(make_handler(seen), "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/path", seen


async def test_defaults_match_websockets(server: tuple[str, Seen]) -> None:
    uri, seen = server
    async with aiows.connect(uri) as ws:
        await ws.send("hi")
        assert await ws.recv() == "hi"
        # compression="deflate" by default; websockets answers with 12 bits.
        assert ws.response_headers["Sec-WebSocket-Extensions"] == (
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        )
        assert ws.request_headers["User-Agent"].startswith("Python/")
        assert "aiows/" in ws.request_headers["User-Agent"]
        assert ws.subprotocol is None
    assert seen.headers[0]["Sec-WebSocket-Extensions"] == (
        "permessage-deflate; client_max_window_bits"
    )


async def test_options_reach_the_server(server: tuple[str, Seen]) -> None:
    uri, seen = server
    async with aiows.connect(
        uri,
        origin="https://app.example",
        compression=None,
        additional_headers={"X-Token": "abc"},
        user_agent_header=None,
    ) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response_headers
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"
    headers = seen.headers[0]
    assert headers["Origin"] == "https://app.example"
    assert headers["X-Token"] == "abc"
    assert "User-Agent" not in headers
    assert "Sec-WebSocket-Extensions" not in headers


# The server echoes the three messages and closes at once, so its frames
# reach the client together (every run on loopback so far).
async def test_iteration_yields_data_and_ends_on_normal_close(
    server: tuple[str, Seen],
) -> None:
    uri, _ = server
    async with aiows.connect(uri) as ws:
        for message in ("a", b"b", "c"):
            await ws.send(message)
        await ws.send("close:1001:going")
        received = [message async for message in ws]
    assert received == ["a", b"b", "c"]
    assert ws.close_code == 1001
    assert ws.close_reason == "going"


async def test_messages_in_the_same_read_as_the_close_stay_readable(
    raw_server,  # type: ignore[no-untyped-def]
) -> None:
    replies: list[tuple[int | None, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(0x1, b"a")
            + server_frame(0x2, b"b")
            + server_frame(0x1, b"c")
            + server_frame(0x8, (1001).to_bytes(2, "big") + b"going")
        )
        replies.append(await peer.read_close())
        peer.close()

    server = await raw_server(handler)
    async with aiows.connect(server.url, compression=None, ping_interval=None) as ws:
        received = [message async for message in ws]
    assert received == ["a", b"b", "c"]
    assert ws.close_code == 1001
    assert ws.close_reason == "going"
    # Echoed with its reason, as websockets does.
    assert replies == [(1001, b"going")]


async def test_iteration_raises_on_error_close(server: tuple[str, Seen]) -> None:
    uri, _ = server
    async with aiows.connect(uri) as ws:
        await ws.send("close:4001:bad")
        with pytest.raises(aiows.ConnectionClosedError) as info:
            async for _message in ws:
                pytest.fail("no message expected")
    assert info.value.code == 4001
    assert info.value.reason == "bad"
    assert info.value.rcvd == aiows.Close(4001, "bad")
    assert info.value.sent == aiows.Close(4001, "bad")
    assert info.value.rcvd_then_sent is True
    # One except clause catches it in either style.
    assert isinstance(info.value, aiohttp.ClientConnectionResetError)


async def test_recv_after_close_raises_ok(server: tuple[str, Seen]) -> None:
    uri, seen = server
    ws = await aiows.connect(uri)
    await ws.close(1000, "bye")
    with pytest.raises(aiows.ConnectionClosedOK) as info:
        await ws.recv()
    assert info.value.sent == aiows.Close(1000, "bye")
    with pytest.raises(aiows.ConnectionClosedOK):
        await ws.send("late")
    await ws.wait_closed()
    assert seen.closes == [(1000, "bye")]


async def test_host_and_port_change_only_the_destination(
    server: tuple[str, Seen],
) -> None:
    uri, seen = server
    port = int(uri.split(":")[2].split("/")[0])
    async with aiows.connect(
        f"ws://feed.example.invalid:{port}/x", host="127.0.0.1", port=port
    ) as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
    assert seen.headers[0]["Host"] == f"feed.example.invalid:{port}"


async def test_unsupported_keywords_are_named() -> None:
    with pytest.raises(TypeError, match="create_connection"):
        aiows.connect("ws://127.0.0.1/", create_connection=object)
    with pytest.raises(TypeError, match="colour"):
        aiows.connect("ws://127.0.0.1/", colour="blue")
    with pytest.raises(ValueError, match="unsupported compression: zstd"):
        aiows.connect("ws://127.0.0.1/", compression="zstd")


async def test_connect_on_a_shared_session(server: tuple[str, Seen]) -> None:
    uri, seen = server
    async with aiohttp.ClientSession(headers={"X-Session": "1"}) as http:
        async with aiows.connect(uri, session=http) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
        assert not http.closed
    assert seen.headers[0]["X-Session"] == "1"
    with pytest.raises(TypeError, match="session"):
        aiows.connect(uri, session=http, host="127.0.0.1")


async def test_reconnect_iterator_with_connect(server: tuple[str, Seen]) -> None:
    uri, seen = server
    connections = 0
    policy = aiows.Backoff(sleep=lambda delay: asyncio.sleep(0))
    async for ws in aiows.connect(uri, backoff=policy):
        connections += 1
        await ws.send("close:1000:again" if connections < 3 else "stay")
        try:
            async for message in ws:
                assert message == "stay"
                break
        except aiows.ConnectionClosed:
            pytest.fail("a normal close ends iteration quietly")
        if connections == 3:
            await ws.close()
            break
    assert connections == 3
    assert len(seen.headers) == 3


async def test_unix_connect(tmp_path: Path) -> None:
    seen = Seen()
    path = str(tmp_path / "ws.sock")
    async with unix_serve(make_handler(seen), path):
        async with aiows.unix_connect(path) as ws:
            await ws.send("over unix")
            assert await ws.recv() == "over unix"
        async with aiows.unix_connect(path, "ws://service.local/feed") as ws:
            await ws.send("named")
            assert await ws.recv() == "named"
    assert seen.headers[0]["Host"] == "localhost"
    assert seen.headers[1]["Host"] == "service.local"


async def test_sigterm_closes_cleanly_while_iterating(server: tuple[str, Seen]) -> None:
    # The websockets FAQ's shutdown recipe, with aiows names.
    uri, seen = server
    received: list[str | bytes] = []
    loop = asyncio.get_running_loop()
    async with aiows.connect(uri) as websocket:
        loop.add_signal_handler(signal.SIGTERM, loop.create_task, websocket.close())
        try:
            await websocket.send("before")
            async for message in websocket:
                received.append(message)
                os.kill(os.getpid(), signal.SIGTERM)
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
    assert received == ["before"]
    assert websocket.close_code == 1000
    assert seen.closes == [(1000, "")]


async def test_open_timeout_and_close_timeout_names() -> None:
    eof = asyncio.Event()

    async def silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await reader.read()  # never answers; returns when the client gives up
            eof.set()
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(aiows.OpenTimeout) as info:
            await aiows.connect(f"ws://127.0.0.1:{port}/", open_timeout=0.2)
        assert isinstance(info.value, asyncio.TimeoutError)
        # The client closed its socket: nothing is left half-open.
        await asyncio.wait_for(eof.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("env", "uri", "expected"),
    [
        (
            {"https_proxy": "http://tls-proxy:3128"},
            "wss://h.example/",
            "http://tls-proxy:3128",
        ),
        ({"http_proxy": "http://plain:3128"}, "wss://h.example/", None),
        ({"http_proxy": "http://plain:3128"}, "ws://h.example/", "http://plain:3128"),
        (
            {"http_proxy": "http://plain:3128", "https_proxy": "http://tls:3128"},
            "ws://h.example/",
            "http://tls:3128",
        ),
        (
            {"ws_proxy": "http://ws-only:1", "https_proxy": "http://tls:3128"},
            "ws://h/",
            "http://ws-only:1",
        ),
        (
            {"https_proxy": "http://tls:3128", "no_proxy": "h.example"},
            "wss://h.example/",
            None,
        ),
        ({}, "wss://h.example/", None),
    ],
)
def test_proxy_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], uri: str, expected: str | None
) -> None:
    from aiows.session.websockets_compat import proxy_from_environment

    for name in (
        "http_proxy",
        "https_proxy",
        "ws_proxy",
        "wss_proxy",
        "no_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert proxy_from_environment(URL(uri)) == expected


def test_socks_proxy_from_environment_is_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiows.session.websockets_compat import proxy_from_environment

    for name in ("http_proxy", "https_proxy", "ws_proxy", "wss_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("https_proxy", "socks5h://127.0.0.1:1080")
    assert proxy_from_environment(URL("wss://h.example/")) == "socks5h://127.0.0.1:1080"


def test_a_system_socks_proxy_is_socks5h(monkeypatch: pytest.MonkeyPatch) -> None:
    # The operating system declares SOCKS as socks=http://host:port;
    # websockets reads it as SOCKS5 with names resolved by the proxy.
    from aiows.session.websockets_compat import proxy_from_environment

    for name in (
        "http_proxy",
        "https_proxy",
        "ws_proxy",
        "wss_proxy",
        "no_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("socks_proxy", "http://127.0.0.1:1080")
    assert proxy_from_environment(URL("wss://h.example/")) == "socks5h://127.0.0.1:1080"
    assert proxy_from_environment(URL("ws://h.example/")) == "socks5h://127.0.0.1:1080"


async def test_connect_on_an_aiows_session_sends_its_credentials(
    aiohttp_server,  # type: ignore[no-untyped-def]
) -> None:
    # Regression: aiows.ClientSession keeps Authorization and Cookie out of
    # aiohttp's defaults (so a redirect to another origin drops them), and
    # connect(session=...) sent the upgrade without them.
    from aiohttp import web

    seen: list[dict[str, str | None]] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        seen.append(
            {
                name: request.headers.get(name)
                for name in ("Authorization", "Cookie", "X-Default")
            }
        )
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    server = await aiohttp_server(app)
    uri = f"ws://127.0.0.1:{server.port}/ws"
    session = aiows.ClientSession(
        headers={"Authorization": "Bearer t0k3n", "Cookie": "sid=1", "X-Default": "d"}
    )
    async with session:
        async with aiows.connect(uri, session=session, compression=None) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
            assert ws.request_headers["Authorization"] == "Bearer t0k3n"
        # The call's own headers override the session's of the same name.
        async with aiows.connect(
            uri,
            session=session,
            compression=None,
            additional_headers={"Authorization": "Bearer other"},
        ):
            pass
        assert not session.closed
    basic = aiows.BasicAuth("user", "pw")
    async with (
        aiows.ClientSession(auth=basic) as session,
        aiows.connect(uri, session=session, compression=None),
    ):
        pass
    assert seen == [
        {"Authorization": "Bearer t0k3n", "Cookie": "sid=1", "X-Default": "d"},
        {"Authorization": "Bearer other", "Cookie": "sid=1", "X-Default": "d"},
        {"Authorization": basic.encode(), "Cookie": None, "X-Default": None},
    ]


# -- refusals before anything is sent -------------------------------------------


def test_unix_connect_refuses_a_proxy(tmp_path: Path) -> None:
    # Nothing of the environment's proxies applies to a Unix socket, and an
    # explicit one is an error rather than silently ignored.
    with pytest.raises(TypeError, match="does not take a proxy"):
        aiows.unix_connect(str(tmp_path / "ws.sock"), proxy="http://127.0.0.1:3128")


async def test_a_socks_proxy_with_session_belongs_on_its_connector() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiows.InvalidProxy) as info:
            aiows.connect(
                "ws://127.0.0.1/", session=http, proxy="socks5://127.0.0.1:1080"
            )
    assert info.value.proxy == "socks5://127.0.0.1:1080"
    assert "ProxyConnector" in info.value.msg


# -- connect(session=...) through the session's own machinery -------------------


async def test_session_with_an_http_proxy_sends_the_upgrade_through_it(
    server: tuple[str, Seen],
) -> None:
    from tests.session.recording_proxy import RecordingProxy

    uri, seen = server
    proxy = await RecordingProxy().start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            aiows.connect(uri, session=http, proxy=proxy.url) as ws,
        ):
            await ws.send("via proxy")
            assert await ws.recv() == "via proxy"
    finally:
        await proxy.close()
    # aiohttp forwards ws:// as an absolute-form request, in http:// terms.
    ((method, target),) = [(s.method, s.target) for s in proxy.seen]
    assert (method, target) == ("GET", uri.replace("ws://", "http://"))
    assert len(seen.headers) == 1


async def test_session_proxy_refusing_connect_is_invalid_proxy_status() -> None:
    refuse = answer_once(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")

    proxy = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiows.InvalidProxyStatus) as info:
                # wss:// makes aiohttp open a CONNECT tunnel, which is refused.
                await aiows.connect(
                    "wss://127.0.0.1:9/", session=http, proxy=f"http://127.0.0.1:{port}"
                )
    finally:
        proxy.close()
        await proxy.wait_closed()
    assert info.value.status == 407
    assert isinstance(info.value, aiows.ProxyError)
    assert isinstance(info.value.__cause__, aiohttp.ClientHttpProxyError)


async def test_session_certificate_failure_is_the_ssl_error(
    aiohttp_server: Any,
    tls: TLS,
) -> None:
    # As websockets raises it: the SSLCertVerificationError, not aiohttp's
    # ClientConnectorCertificateError around it.
    import ssl

    from aiohttp import web

    app = web.Application()
    server = await aiohttp_server(app, ssl=tls.server)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            await aiows.connect(f"wss://127.0.0.1:{server.port}/", session=http)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorCertificateError)


async def test_a_reset_during_the_handshake_is_connection_reset_error(
    raw_server: Any,
) -> None:
    import socket
    import struct

    def reset(key: str) -> bytes:
        return b""

    async def handler(peer: RawPeer) -> None:
        # SO_LINGER 0: closing sends RST instead of FIN.
        sock = peer.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.writer.transport.abort()

    srv = await raw_server(handler, response=reset)
    with pytest.raises(ConnectionResetError) as info:
        await aiows.connect(srv.url)
    assert type(info.value) is ConnectionResetError  # not aiohttp's ClientOSError
    assert info.value.errno == 104


async def test_a_session_read_timeout_stays_a_timeout(
    raw_server: Any,
) -> None:
    def silent(key: str) -> bytes:
        return b""

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=silent)
    timeout = aiohttp.ClientTimeout(sock_read=0.1)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        with pytest.raises(Exception) as info:
            await aiows.connect(srv.url, session=http, open_timeout=5)
    assert isinstance(info.value.__cause__, aiohttp.SocketTimeoutError)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, aiows.OpenTimeout)
    assert str(info.value) == (
        "timed out during opening handshake: Timeout on reading data from socket"
    )
