"""``connect()``: websockets' legacy spellings, and websockets' errors.

Legacy keywords keep working with a DeprecationWarning naming the current
one; failures during the handshake come as websockets' exception classes,
never as aiohttp's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows
from tests.conftest import RawPeer

SEEN = web.AppKey("seen", list)


@pytest.fixture
async def server(aiohttp_server: Any) -> Any:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        request.app[SEEN].append(dict(request.headers))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(msg.data)
        return ws

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="not you", reason="Go Away")

    app = web.Application()
    app[SEEN] = []
    app.router.add_get("/", echo)
    app.router.add_get("/refuse", refuse)
    test_server = await aiohttp_server(app)
    test_server.seen = app[SEEN]
    return test_server


class Custom(aiows.ClientConnection):
    """A subclass, as websockets' create_connection takes."""

    __slots__ = ()


@pytest.mark.parametrize(
    ("old", "value", "new"),
    [
        ("extra_headers", {"X-Old": "1"}, "additional_headers"),
        ("timeout", 5, "close_timeout"),
        ("read_limit", 2**16, "max_queue"),
        ("loop", None, "running loop"),
        ("klass", Custom, "create_connection"),
        ("create_protocol", Custom, "create_connection"),
    ],
)
async def test_legacy_spellings_warn_and_work(
    server: Any, old: str, value: Any, new: str
) -> None:
    with pytest.warns(DeprecationWarning, match=f"{old}=.*{new}") as record:
        context = aiows.connect(f"ws://127.0.0.1:{server.port}/", **{old: value})
    assert record[0].filename == __file__
    async with context as ws:
        await ws.send("x")
        assert await ws.recv() == "x"
        if old in ("klass", "create_protocol"):
            assert type(ws) is Custom
    if old == "extra_headers":
        assert server.seen[0]["X-Old"] == "1"


async def test_reconnect_delays_are_websockets(server: Any) -> None:
    def delays() -> Any:
        yield 0.0
        yield 0.0

    context = aiows.connect(
        f"ws://127.0.0.1:{server.port}/refuse", reconnect_delays=delays
    )
    with pytest.raises(aiows.InvalidStatus):
        async for _ in context:
            pass


async def test_a_refusal_is_invalid_status_with_websockets_response(
    server: Any,
) -> None:
    with pytest.raises(aiows.InvalidStatus) as info:
        await aiows.connect(f"ws://127.0.0.1:{server.port}/refuse")
    response = info.value.response
    assert response is not None
    assert (response.status_code, response.reason_phrase) == (403, "Go Away")
    assert response.body == b"not you"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert info.value.status == 403  # aiohttp's name too


async def test_eof_during_the_handshake_is_invalid_message(raw_server: Any) -> None:
    def nothing(key: str) -> bytes:
        return b""

    async def handler(peer: RawPeer) -> None:
        peer.close()

    srv = await raw_server(handler, response=nothing)
    with pytest.raises(aiows.InvalidMessage) as info:
        await aiows.connect(srv.url)
    assert isinstance(info.value, aiows.InvalidHandshake)


async def test_a_reply_that_is_not_http_is_invalid_message(raw_server: Any) -> None:
    def garbage(key: str) -> bytes:
        return b"SSH-2.0-OpenSSH_9.0\r\n\r\n"

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=garbage)
    with pytest.raises(aiows.InvalidMessage, match="valid HTTP response"):
        await aiows.connect(srv.url)


async def test_refused_connections_are_oserrors() -> None:
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        await aiows.connect(f"ws://127.0.0.1:{port}/")


async def test_bad_headers_are_invalid_header_with_name_and_value(
    raw_server: Any,
) -> None:
    def no_upgrade(key: str) -> bytes:
        from tests.conftest import upgrade_response

        return upgrade_response(key, upgrade="h2c")

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=no_upgrade)
    with pytest.raises(aiows.InvalidUpgrade) as info:
        await aiows.connect(srv.url)
    assert isinstance(info.value, aiows.InvalidHeader)
    assert (info.value.name, info.value.value) == ("Upgrade", "h2c")


async def test_messages_and_the_logger(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiows.client")
    async with aiows.connect(f"ws://127.0.0.1:{server.port}/") as ws:
        assert ws.state is aiows.faces.websockets_face.State.OPEN and ws.open
        assert ws.request.path == "/"
        assert ws.response.status_code == 101
        await ws.send(b"as text", text=True)
        assert await ws.recv() == "as text"
        await ws.send("bytes back")
        assert await ws.recv(decode=False) == b"bytes back"
        await ws.send([b"a", b"b"], text=True)
        assert await ws.recv() == "ab"
    assert ws.closed and ws.state is aiows.faces.websockets_face.State.CLOSED


def test_two_legacy_spellings_of_one_keyword_are_refused() -> None:
    with (
        pytest.warns(DeprecationWarning) as record,
        pytest.raises(
            TypeError, match="pass create_connection= or create_protocol=, not both"
        ),
    ):
        aiows.connect("ws://127.0.0.1/", klass=Custom, create_protocol=Custom)
    assert [str(w.message) for w in record] == [
        "klass= is deprecated; use create_connection=",
        "create_protocol= is deprecated; use create_connection=",
    ]


@pytest.mark.parametrize("connect", [aiows.connect, aiows.unix_connect])
@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("extra_headers", "additional_headers", {"X-Old": "1"}),
        ("klass", "create_connection", Custom),
        ("create_protocol", "create_connection", Custom),
    ],
)
def test_a_legacy_spelling_and_its_current_one_together_are_refused(
    connect: Any, old: str, new: str, value: Any
) -> None:
    first = ("/tmp/aiows-none.sock",) if connect is aiows.unix_connect else ()
    with (
        pytest.warns(DeprecationWarning, match=f"{old}="),
        pytest.raises(TypeError, match=f"pass {new}= or {old}=, not both"),
    ):
        connect(*first, "ws://127.0.0.1/", **{old: value, new: value})


@pytest.mark.parametrize("uri", ["ws://[::1", "ws://127.0.0.1:99999/"])
def test_a_uri_that_does_not_parse_is_invalid_uri(uri: str) -> None:
    with pytest.raises(aiows.InvalidURI) as info:
        aiows.connect(uri)
    # websockets' attribute names.
    assert info.value.uri == uri
    assert info.value.msg.startswith("not a URI: ")
    assert isinstance(info.value, ValueError)


def test_create_connection_must_be_callable() -> None:
    with pytest.raises(TypeError, match="create_connection must be callable, not 42"):
        aiows.connect("ws://127.0.0.1/", create_connection=42)


async def test_a_factory_that_makes_no_connection_fails_and_frees_the_socket(
    raw_server: Any,
) -> None:
    eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        eof.set_result(await peer.expect_eof())

    srv = await raw_server(handler)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(
            TypeError, match=r"must make an aiows\.ClientConnection, not dict"
        ):
            await aiows.connect(
                srv.url,
                session=http,
                create_connection=lambda *args, **kwargs: {"not": "a face"},
            )
        # The socket of the 101 is closed by the failure itself, while the
        # caller's session is still open: nothing is left to leak.
        assert await asyncio.wait_for(eof, 5) == b""
        assert http.connector is not None
        assert not http.connector._acquired


async def test_a_callable_additional_headers_without_user_agent(
    server: Any,
) -> None:
    calls: list[int] = []

    def headers() -> dict[str, str]:
        calls.append(len(calls))
        return {"X-Fresh": str(len(calls))}

    async with aiows.connect(
        f"ws://127.0.0.1:{server.port}/",
        additional_headers=headers,
        user_agent_header=None,
    ):
        pass
    assert calls == [0]
    assert server.seen[0]["X-Fresh"] == "1"
    assert "User-Agent" not in server.seen[0]


async def test_a_callable_additional_headers_keeps_the_user_agent(
    server: Any,
) -> None:
    async with aiows.connect(
        f"ws://127.0.0.1:{server.port}/",
        additional_headers=lambda: {"X-Fresh": "1"},
        user_agent_header="probe/1.0",
    ):
        pass
    assert server.seen[0]["X-Fresh"] == "1"
    assert server.seen[0]["User-Agent"] == "probe/1.0"


async def test_a_coroutine_additional_headers_keeps_the_default_user_agent(
    server: Any,
) -> None:
    calls: list[int] = []

    async def headers() -> dict[str, str]:
        calls.append(len(calls))
        return {"X-Fresh": str(len(calls))}

    async with aiows.connect(
        f"ws://127.0.0.1:{server.port}/", additional_headers=headers
    ):
        pass
    assert calls == [0]
    assert server.seen[0]["X-Fresh"] == "1"
    assert server.seen[0]["User-Agent"] == aiows.session.websockets_compat.USER_AGENT


@pytest.mark.parametrize("callable_", [False, True], ids=["mapping", "callable"])
async def test_additional_headers_own_user_agent_wins_once(
    server: Any, callable_: bool
) -> None:
    # As websockets: the User-Agent only where the headers name none, in
    # any case of its name, and never twice.
    given = {"user-agent": "mine/2.0"}
    async with aiows.connect(
        f"ws://127.0.0.1:{server.port}/",
        additional_headers=(lambda: given) if callable_ else given,
        user_agent_header="probe/1.0",
    ):
        pass
    assert server.seen[0]["User-Agent"] == "mine/2.0"
    assert [name.lower() for name in server.seen[0]].count("user-agent") == 1


def upgrade_with(header: str) -> Any:
    from tests.conftest import upgrade_response

    return lambda key: upgrade_response(key, upgrade=None, extra_headers=header)


async def test_a_malformed_header_is_invalid_header_format(raw_server: Any) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=upgrade_with("Upgrade: web socket\r\n"))
    with pytest.raises(aiows.InvalidHeaderFormat) as info:
        await aiows.connect(srv.url)
    assert isinstance(info.value, aiows.InvalidHeader)
    assert info.value.status == 101
    assert "'web socket'" in info.value.message


async def test_invalid_header_format_names_the_header(raw_server: Any) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=upgrade_with("Upgrade: web socket\r\n"))
    with pytest.raises(aiows.InvalidHeaderFormat) as info:
        await aiows.connect(srv.url)
    assert (info.value.name, info.value.value) == ("Upgrade", "web socket")


async def test_an_over_long_status_line_is_a_security_error(raw_server: Any) -> None:
    def long_status(key: str) -> bytes:
        return b"HTTP/1.1 101 " + b"x" * 9000 + b"\r\n\r\n"

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=long_status)
    with pytest.raises(aiows.SecurityError, match="valid HTTP response"):
        await aiows.connect(srv.url)


LONG = "x" * 9000


def _parsers() -> list[Any]:
    from aiohttp import http_parser

    compiled = getattr(http_parser, "HttpResponseParserC", None)
    return [
        pytest.param(http_parser.HttpResponseParserPy, id="py-parser"),
        pytest.param(
            compiled,
            id="c-parser",
            marks=pytest.mark.skipif(compiled is None, reason="no C parser"),
        ),
    ]


@pytest.mark.parametrize("parser", _parsers())
@pytest.mark.parametrize(
    ("head", "cls"),
    [
        (f"HTTP/1.1 101 {LONG}\r\n", aiows.StatusLineTooLong),
        (f"HTTP/1.1 101 {LONG}\r\nUpgrade: websocket\r\n", aiows.StatusLineTooLong),
        (f"HTTP/1.1 101 OK\r\nX-Long: {LONG}\r\n", aiows.HeaderLineTooLong),
        (f"HTTP/1.1 101 OK\r\nX-{LONG}: 1\r\n", aiows.HeaderLineTooLong),
        (f"HTTP/1.1 101 OK\r\nVia: HTTP/1.1 {LONG}\r\n", aiows.HeaderLineTooLong),
    ],
    ids=["status", "status-then-headers", "header-value", "header-name", "via"],
)
async def test_an_over_long_status_line_is_status_line_too_long(
    raw_server: Any, monkeypatch: pytest.MonkeyPatch, parser: Any, head: str, cls: Any
) -> None:
    # As websockets: the status line or a header line, whichever was too long.
    monkeypatch.setattr("aiohttp.client_proto.HttpResponseParser", parser)

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=lambda key: f"{head}\r\n".encode())
    with pytest.raises(aiows.SecurityError) as info:
        await aiows.connect(srv.url)
    assert type(info.value) is cls
