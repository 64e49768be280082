"""``connect()``: websockets' legacy spellings, and websockets' errors.

Legacy keywords keep working with a DeprecationWarning naming the current
one; failures during the handshake come as websockets' exception classes,
never as aiohttp's.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

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


async def test_legacy_extensions_turn_compression_on(server: Any) -> None:
    class Deflate:
        name = "permessage-deflate"
        server_max_window_bits = 12

    with pytest.warns(DeprecationWarning, match="compression="):
        context = aiows.connect(
            f"ws://127.0.0.1:{server.port}/", extensions=[Deflate()]
        )
    async with context as ws:
        assert (
            "server_max_window_bits=12"
            in ws.request_headers["Sec-WebSocket-Extensions"]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="permessage-deflate only"):
            aiows.connect("ws://h/", extensions=[object()])


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
