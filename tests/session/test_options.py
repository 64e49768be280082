"""ws_connect options: aiohttp's deprecated spellings, validation, pass-through."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer
from tests.helpers import StartServer


async def test_float_timeout_is_deprecated_but_honoured(raw_server) -> None:  # type: ignore[no-untyped-def]
    # The server reads the client's close and never answers it: close()
    # returns once the float timeout (ws_close) has run out.
    closes: list[tuple[int | None, bytes]] = []
    done = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        closes.append(await peer.read_close())
        await peer.expect_eof()
        done.set()

    server = await raw_server(handler)
    with pytest.warns(DeprecationWarning, match="ClientWSTimeout"):
        ws = await aiows.ws_connect(server.url, timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await ws.close() is True
    elapsed = loop.time() - started
    assert 0.3 <= elapsed < 1.5
    assert ws.close_code == aiohttp.WSCloseCode.ABNORMAL_CLOSURE
    await asyncio.wait_for(done.wait(), 5)
    assert closes == [(1000, b"")]


async def test_receive_timeout_sets_ws_receive(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url, receive_timeout=0.05) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive()
        assert not ws.closed  # a receive timeout leaves the connection open
        await ws.send_str("still here")
        assert await ws.receive_str() == "still here"


@pytest.mark.parametrize(
    "url", ["not a uri", "ftp://example.com/", "ws:///no-host", "http://[::1"]
)
async def test_invalid_uri(url: str) -> None:
    with pytest.raises(aiows.InvalidURI) as info:
        await aiows.ws_connect(url)
    assert isinstance(info.value, aiohttp.InvalidURL)
    assert isinstance(info.value, ValueError)


async def test_no_open_timeout(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url, open_timeout=None) as ws:
        await ws.send_str("x")
        assert await ws.receive_str() == "x"


async def test_auth_and_authorization_header_conflict(echo_url: str) -> None:
    with pytest.raises(ValueError, match="not both"):
        await aiows.ws_connect(
            echo_url, auth=aiows.BasicAuth("u", "p"), headers={"Authorization": "x"}
        )
    with pytest.raises(ValueError, match="not both"):
        aiows.ClientSession(
            auth=aiows.BasicAuth("u", "p"), headers={"Authorization": "x"}
        )


def test_basic_auth_refuses_a_colon_in_the_login() -> None:
    with pytest.raises(ValueError, match="RFC 7617"):
        aiows.BasicAuth("a:b", "p").encode()
    assert aiows.BasicAuth("u").encode() == "Basic dTo="


def test_unknown_keyword_is_named() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*colour"):
        aiows.ws_connect("ws://127.0.0.1/", colour="blue")


async def test_wrapping_and_kwargs_are_exclusive() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(TypeError, match="not both"):
            aiows.ClientSession(http, headers={"a": "b"})
        session = aiows.ClientSession(http)
        assert session.aiohttp_session is http
        await session.close()
        assert not http.closed


async def test_head_and_options_are_forwarded(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    seen: list[str] = []

    async def any_method(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/r", any_method)
    server = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/r"
    async with aiows.ClientSession() as session:
        async with session.head(url) as r:
            assert r.status == 200
        async with session.options(url) as r:
            assert r.status == 200
        async with session.request("PUT", url) as r:
            assert r.status == 200
    assert seen == ["HEAD", "OPTIONS", "PUT"]


async def test_query_params_apply_to_the_first_url_only(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    queries: list[str] = []

    async def start(request: web.Request) -> web.Response:
        queries.append(request.query_string)
        raise web.HTTPFound("/ws")

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        queries.append(request.query_string)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        return ws

    app = web.Application()
    app.router.add_get("/start", start)
    app.router.add_get("/ws", ws_handler)
    server = await aiohttp_server(app)
    async with aiows.ws_connect(
        f"ws://127.0.0.1:{server.port}/start", params={"token": "abc"}
    ) as ws:
        assert ws.response.status == 101
    assert queries == ["token=abc", ""]


async def test_connect_logger_and_unix_connect_arguments(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from websockets.asyncio.server import unix_serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    path = str(tmp_path / "s.sock")
    custom = logging.getLogger("my.app.ws")
    async with unix_serve(echo, path), aiows.unix_connect(path, logger=custom) as ws:
        assert isinstance(ws.logger, logging.LoggerAdapter)
        assert ws.logger.logger is custom
        assert ws.logger.extra == {"websocket": ws}
        await ws.send("u")
        assert await ws.recv() == "u"
    # websockets' (asyncio's) words: neither a path nor a socket.
    with pytest.raises(ValueError, match=r"^no path and sock were specified$"):
        aiows.unix_connect()
    with pytest.raises(TypeError, match="host"):
        aiows.unix_connect(path, host="127.0.0.1")


async def test_session_credentials_on_rest_calls(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    seen: list[dict[str, str | None]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(
            {
                "authorization": request.headers.get("Authorization"),
                "cookie": request.headers.get("Cookie"),
                "x": request.headers.get("X-Default"),
            }
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/r", record)
    server = await aiohttp_server(app)
    url = f"http://127.0.0.1:{server.port}/r"
    session = aiows.ClientSession(
        auth=aiows.BasicAuth("user", "pw"),
        headers={"Cookie": "sid=1", "X-Default": "d"},
    )
    async with session:
        # Credentials are not aiohttp session defaults (so redirects can drop
        # them), yet every request carries them.
        assert "Authorization" not in session.headers
        assert "Cookie" not in session.headers
        assert session.headers["X-Default"] == "d"
        async with session.get(url) as r:
            assert r.status == 200
        async with session.get(url, headers={"Cookie": "sid=2"}) as r:
            assert r.status == 200
        async with session.get(url, auth=aiohttp.BasicAuth("other", "x")) as r:
            assert r.status == 200
    basic = aiows.BasicAuth("user", "pw").encode()
    assert seen[0] == {"authorization": basic, "cookie": "sid=1", "x": "d"}
    assert seen[1] == {"authorization": basic, "cookie": "sid=2", "x": "d"}
    assert seen[2]["authorization"] == aiows.BasicAuth("other", "x").encode()
    assert seen[2]["cookie"] == "sid=1"


WS_CONNECT_MISTAKES = [
    pytest.param({"protocols": "chat"}, TypeError, "protocols", id="protocols-str"),
    pytest.param({"protocols": ["a b"]}, ValueError, "protocols", id="protocols-token"),
    pytest.param({"max_msg_size": -1}, ValueError, "max_msg_size", id="max_msg_size"),
    pytest.param({"max_queue": 0}, ValueError, "max_queue", id="max_queue"),
    pytest.param({"write_limit": -1}, ValueError, "write_limit", id="write_limit"),
    pytest.param({"heartbeat": 0}, ValueError, "heartbeat", id="heartbeat-zero"),
    pytest.param({"heartbeat": "5"}, ValueError, "heartbeat", id="heartbeat-str"),
    pytest.param({"ping_timeout": -1}, ValueError, "ping_timeout", id="ping_timeout"),
    pytest.param({"open_timeout": 0}, ValueError, "open_timeout", id="open_timeout"),
    pytest.param({"compress": 8}, ValueError, "compress", id="compress"),
    pytest.param({"autoclose": "yes"}, TypeError, "autoclose", id="autoclose"),
    pytest.param({"autoping": 1}, TypeError, "autoping", id="autoping"),
    pytest.param({"decode_text": None}, TypeError, "decode_text", id="decode_text"),
    pytest.param(
        {"allow_redirects": 0}, TypeError, "allow_redirects", id="allow_redirects"
    ),
    pytest.param({"max_redirects": -1}, ValueError, "max_redirects", id="redirects"),
    pytest.param({"ssl": "no"}, TypeError, "ssl", id="ssl"),
    pytest.param({"method": 1}, TypeError, "method", id="method"),
    pytest.param({"backoff": 1.5}, TypeError, "backoff", id="backoff"),
    pytest.param(
        {"timeout": aiows.ClientWSTimeout(ws_close=-1)},
        ValueError,
        r"timeout\.ws_close",
        id="ws_close",
    ),
    pytest.param(
        {"timeout": aiows.ClientWSTimeout(ws_receive=-1)},
        ValueError,
        r"timeout\.ws_receive",
        id="ws_receive",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), WS_CONNECT_MISTAKES)
async def test_ws_connect_checks_each_argument_at_the_call(
    kwargs: dict[str, object], error: type[Exception], name: str
) -> None:
    # Raised by the call itself, before it is awaited and before anything
    # is sent, naming the argument.
    with pytest.raises(error, match=name):
        aiows.ws_connect("ws://127.0.0.1:9/", **kwargs)
    async with aiows.ClientSession() as session:
        with pytest.raises(error, match=name):
            session.ws_connect("ws://127.0.0.1:9/", **kwargs)


CONNECT_MISTAKES = [
    pytest.param({"subprotocols": "chat"}, TypeError, "subprotocols", id="str"),
    pytest.param({"max_size": -1}, ValueError, "max_size", id="max_size"),
    pytest.param({"max_queue": 0}, ValueError, "max_queue", id="max_queue"),
    pytest.param({"write_limit": -1}, ValueError, "write_limit", id="write_limit"),
    pytest.param({"ping_interval": 0}, ValueError, "ping_interval", id="interval"),
    pytest.param({"ping_timeout": -1}, ValueError, "ping_timeout", id="ping_timeout"),
    pytest.param({"close_timeout": -1}, ValueError, "close_timeout", id="close"),
    pytest.param({"open_timeout": 0}, ValueError, "open_timeout", id="open_timeout"),
    pytest.param({"compression": "zstd"}, ValueError, "compression", id="zstd"),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), CONNECT_MISTAKES)
def test_connect_checks_each_argument_at_the_call(
    kwargs: dict[str, object], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        aiows.connect("ws://127.0.0.1:9/", **kwargs)  # type: ignore[arg-type]


async def test_tls_settings_for_a_cleartext_uri_are_refused() -> None:
    # Asking for TLS and not getting it is an error, never a quiet downgrade.
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="ws://"):
        await aiows.ws_connect("ws://127.0.0.1:9/", ssl=context)
    with pytest.raises(ValueError, match="ws://"):
        await aiows.connect("ws://127.0.0.1:9/", ssl=context)


def test_deprecated_ssl_spellings_are_exclusive() -> None:
    with (
        pytest.warns(DeprecationWarning, match="verify_ssl"),
        pytest.raises(ValueError, match="mutually exclusive"),
    ):
        aiows.ws_connect("wss://127.0.0.1:9/", ssl=False, verify_ssl=False)


def test_options_are_frozen() -> None:
    from aiows.session.aiohttp_args import ws_connect_options

    options = ws_connect_options({"protocols": ["chat"], "max_msg_size": 10})
    assert options.upgrade.protocols == ("chat",)
    assert options.connection.max_msg_size == 10
    # A reconnect reuses them as they are: nothing can change them.
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.upgrade.protocols = ("other",)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.connection.max_msg_size = 0  # type: ignore[misc]


async def test_a_session_timeout_is_named_not_taken_for_open_timeout() -> None:
    import asyncio as _asyncio

    import aiohttp as _aiohttp

    release = _asyncio.Event()

    async def never_answers(reader, writer):  # type: ignore[no-untyped-def]
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        writer.close()

    server = await _asyncio.start_server(never_answers, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with aiows.ClientSession(timeout=_aiohttp.ClientTimeout(total=0.2)) as s:
            with pytest.raises(aiows.OpenTimeout) as info:
                await s.ws_connect(f"ws://127.0.0.1:{port}/", open_timeout=30)
        message = str(info.value)
        assert "session's timeout" in message and "total=0.2" in message
        assert "30" not in message
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def test_a_session_timeout_with_its_own_message_is_aiohttps(
    raw_server: StartServer,
) -> None:
    # sock_read names itself: aiohttp's error comes through as it is, with
    # neither open_timeout's message nor the session's.
    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=lambda key: b"")
    timeout = aiohttp.ClientTimeout(sock_read=0.1)
    async with aiows.ClientSession(timeout=timeout) as s:
        with pytest.raises(aiohttp.SocketTimeoutError) as info:
            await s.ws_connect(srv.url, open_timeout=5)
    assert not isinstance(info.value, aiows.OpenTimeout)
    assert str(info.value) == "Timeout on reading data from socket"
