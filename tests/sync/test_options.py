"""connect()'s arguments: checked at the call, with errors that name them;
and what the connection reports about itself."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, unix_serve

import aiows
from aiows.sync import (
    ClientConnection,
    Connect,
    State,
    connect,
    reconnect,
    unix_connect,
    unix_reconnect,
)
from tests.sync.conftest import ServerLoop, WsServer


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"unknown": 1}, TypeError, "unexpected keyword argument"),
        ({"proxy": 3}, TypeError, "proxy must be"),
        ({"backoff": 3}, TypeError, "backoff must be an aiows.Backoff"),
        ({"process_exception": 3}, TypeError, "process_exception must be callable"),
        ({"create_connection": 3}, TypeError, "create_connection must be callable"),
        ({"open_timeout": -1}, ValueError, "open_timeout"),
        ({"close_timeout": "1"}, ValueError, "close_timeout"),
        ({"max_size": -1}, ValueError, "max_size"),
        ({"max_queue": "16"}, TypeError, "max_queue"),
        ({"max_queue": (-1, None)}, ValueError, "low must be positive"),
        ({"subprotocols": ["a b"]}, ValueError, "not a valid subprotocol"),
        ({"subprotocols": ["*"]}, ValueError, "not a valid subprotocol"),
        ({"extensions": [object()]}, TypeError, "client extension factories"),
        ({"extensions": "x-noop"}, TypeError, "sequence of extension factories"),
    ],
)
def test_bad_arguments_fail_at_the_call(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        connect("ws://h.example/", **kwargs)


def test_ssl_context_is_the_old_name_of_ssl() -> None:
    with pytest.warns(DeprecationWarning, match="ssl_context was renamed to ssl"):
        client = connect(
            "wss://h.example/", ssl_context=ssl.create_default_context(), legacy=False
        )
    assert isinstance(client, Connect)


def test_sizes_and_queues_take_websockets_pairs(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo", max_size=(64, 16), max_queue=(8, 2)) as ws:
        ws.send("x" * 64)
        assert ws.recv(timeout=5) == "x" * 64
    with connect(f"{ws_server.url}/echo", max_size=(64, None)) as ws:
        ws.send("x" * 65)
        with pytest.raises(aiows.ConnectionClosedError) as info:
            ws.recv(timeout=5)
    assert info.value.sent is not None and info.value.sent.code == 1009
    # A low water mark alone: the high one is four times it.
    with connect(f"{ws_server.url}/echo", max_queue=(None, 4)) as ws:
        inbox = ws._driver.inbox
        assert (inbox._high, inbox._low) == (16, 4)


def test_websockets_deflate_factory_keeps_the_fast_path(ws_server: WsServer) -> None:
    from websockets.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
    )

    from aiows.core.deflate import PerMessageDeflate
    from aiows.core.extensions import ExtensionParser

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # extensions= no longer warns
        client = connect(
            f"{ws_server.url}/echo",
            compression=None,
            extensions=[ClientPerMessageDeflateFactory()],
        )
    with client as ws:
        offer = ws.request.headers["Sec-WebSocket-Extensions"]
        assert offer.startswith("permessage-deflate")
        assert [type(e) for e in ws.protocol.extensions] == [PerMessageDeflate]
        assert not isinstance(ws._driver.protocol._parser, ExtensionParser)
        ws.send("squeezed " * 100)
        assert ws.recv(timeout=5) == "squeezed " * 100


def test_legacy_and_reconnect_spellings(ws_server: WsServer) -> None:
    ws = connect(f"{ws_server.url}/echo", legacy=True)
    try:
        assert isinstance(ws, ClientConnection)
    finally:
        ws.close()
    assert isinstance(reconnect(f"{ws_server.url}/echo"), Connect)
    client = connect(f"{ws_server.url}/echo", legacy=False)
    with client as ws, pytest.raises(RuntimeError, match="isn't reentrant"), client:
        pass
    with client as again:  # once left, it can be entered again
        assert again is not ws


def test_the_connection_describes_itself(ws_server: WsServer) -> None:
    logger = logging.getLogger("test.sync")
    with connect(
        f"{ws_server.url}/echo", logger=logger, user_agent_header="me/1"
    ) as ws:
        assert isinstance(ws.id, uuid.UUID)
        assert ws.logger.logger is logger
        assert ws.logger.extra == {"websocket": ws}
        assert ws.state is State.OPEN and State.OPEN == 1
        assert ws.local_address[0] == "127.0.0.1"
        assert ws.remote_address == ("127.0.0.1", ws_server.port)
        assert ws.request.headers["User-Agent"] == "me/1"
        assert ws.request.headers["Host"] == f"127.0.0.1:{ws_server.port}"
        assert next(iter(ws.request.headers.raw_items())) == (
            "Host",
            f"127.0.0.1:{ws_server.port}",
        )
        assert (ws.close_code, ws.close_reason) == (None, None)
        assert ws.latency == 0.0
    # Known after the close too.
    assert ws.remote_address == ("127.0.0.1", ws_server.port)
    assert ws.state is State.CLOSED


def test_no_user_agent_no_compression(ws_server: WsServer) -> None:
    with connect(
        f"{ws_server.url}/echo", user_agent_header=None, compression=None
    ) as ws:
        assert "User-Agent" not in ws.request.headers
        assert "Sec-WebSocket-Extensions" not in ws.request.headers
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


def test_the_host_header(server_loop: ServerLoop) -> None:
    seen: list[str] = []

    async def on_client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.decode().split("\r\nHost: ")[1].split("\r\n")[0])
        writer.close()

    async def start() -> Any:
        return await asyncio.start_server(on_client, "::1", 0)

    try:
        server = server_loop.run(start())
    except OSError:
        pytest.skip("no IPv6 on this machine")
    port = server.sockets[0].getsockname()[1]
    try:
        for uri in (f"ws://[::1]:{port}/", f"ws://localhost:{port}/"):
            with (
                pytest.raises(aiows.InvalidMessage),
                connect(uri, address=("::1", port)),
            ):
                pass
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        server_loop.run(stop())
    assert seen == [f"[::1]:{port}", f"localhost:{port}"]


def test_a_connected_socket(ws_server: WsServer) -> None:
    sock = socket.create_connection(("127.0.0.1", ws_server.port))
    with connect(f"ws://anything.example:{ws_server.port}/echo", sock=sock) as ws:
        ws.send("given")
        assert ws.recv(timeout=5) == "given"
    assert sock.fileno() == -1


@pytest.fixture
def unix_server(server_loop: ServerLoop, tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "ws.sock")

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def start() -> Any:
        return await unix_serve(echo, path)

    server = server_loop.run(start())
    yield path

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    server_loop.run(stop())


def test_unix_connect(unix_server: str) -> None:
    with unix_connect(unix_server) as ws:
        assert ws.request.headers["Host"] == "localhost"
        ws.send("over a unix socket")
        assert ws.recv(timeout=5) == "over a unix socket"
    ws = unix_connect(unix_server, "ws://named.example/path", legacy=True)
    try:
        assert ws.request.path == "/path"
        assert ws.request.headers["Host"] == "named.example"
    finally:
        ws.close()
    for ws in unix_reconnect(unix_server):
        ws.send("once")
        assert ws.recv(timeout=5) == "once"
        break


def test_unix_connect_arguments() -> None:
    with pytest.raises(ValueError, match="missing path"):
        unix_connect()
    left, right = socket.socketpair()
    try:
        with pytest.raises(ValueError, match="incompatible with sock"):
            unix_connect("/tmp/x", sock=left)
    finally:
        left.close()
        right.close()
    client = unix_connect("/tmp/x", ssl=ssl.create_default_context(), legacy=False)
    assert isinstance(client, Connect)
    assert client._settings.uri == "wss://localhost/"


def test_additional_headers_in_every_shape(ws_server: WsServer) -> None:
    from websockets.datastructures import Headers

    shapes: list[Any] = [
        [("X-Token", "pairs"), ("X-Token", "twice")],
        Headers([("X-Token", "websockets"), ("Host", f"override:{ws_server.port}")]),
        lambda: {"X-Token": "called"},
    ]
    seen = []
    for headers in shapes:
        with connect(f"{ws_server.url}/echo", additional_headers=headers) as ws:
            seen.append(ws.request.headers.get_all("X-Token"))
    assert seen == [["pairs", "twice"], ["websockets"], ["called"]]
    # A Host given replaces the URI's (one Host header, the given one).


def test_a_host_header_given_replaces_the_uris(ws_server: WsServer) -> None:
    with connect(
        f"{ws_server.url}/echo", additional_headers={"Host": "elsewhere.example"}
    ) as ws:
        assert ws.request.headers.get_all("Host") == ["elsewhere.example"]


def test_create_connection_must_make_a_connection(ws_server: WsServer) -> None:
    with pytest.raises(
        TypeError, match=r"must return an aiows\.sync\.ClientConnection"
    ):
        connect(
            f"{ws_server.url}/echo",
            create_connection=lambda *args, **kwargs: object(),
            legacy=True,
        )
