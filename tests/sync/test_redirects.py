"""Redirects of the upgrade, with the asyncio faces' credential rules.

A redirect is followed up to websockets' limit; never from ``wss://`` down
to ``ws://`` (nothing is sent in clear text); ``Authorization`` and
``Cookie`` stay behind when it leaves the origin, and so does
``Proxy-Authorization``, an application header as in websockets.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

import aiows
from aiows.sync import connect, unix_connect
from tests.conftest import RawPeer, upgrade_response
from tests.helpers import answer_once
from tests.sync.conftest import TLS, Raw

CREDENTIALS = {
    "Authorization": "Bearer secret",
    "Cookie": "session=secret",
    "Proxy-Authorization": "Basic proxy-secret",
    "X-Token": "kept",
}


async def closing(peer: RawPeer) -> None:
    """Let the client close: answer its close frame."""
    code, _ = await peer.read_close()
    peer.send(b"\x88\x02" + (code or 1000).to_bytes(2, "big"))


def redirecting(raw: Callable[..., Raw], location: str, **kwargs: object) -> Raw:
    def response(key: str) -> bytes:
        return (
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    async def nothing(peer: RawPeer) -> None:
        await asyncio.sleep(0)

    return raw(nothing, response=response, **kwargs)


def test_same_origin_keeps_credentials(raw: Callable[..., Raw]) -> None:
    target = raw(closing)
    # Same scheme, host and port: a relative Location on the same server.
    hops: list[str] = []

    def response(key: str) -> bytes:
        hops.append(key)
        if len(hops) == 1:
            return b"HTTP/1.1 307 Temporary\r\nLocation: /next?x=1\r\n\r\n"
        return upgrade_response(key)

    server = raw(closing, response=response)
    del target
    with connect(server.url, additional_headers=CREDENTIALS) as ws:
        assert ws.request.path == "/next?x=1"
    second = server.peers[-1]
    assert second.request_line == "GET /next?x=1 HTTP/1.1"
    headers = second.request_headers
    assert headers["authorization"] == "Bearer secret"
    assert headers["cookie"] == "session=secret"
    assert headers["x-token"] == "kept"
    assert headers["proxy-authorization"] == "Basic proxy-secret"


def test_cross_origin_drops_authorization_cookie_and_proxy_authorization(
    raw: Callable[..., Raw],
) -> None:
    target = raw(closing)
    server = redirecting(raw, f"{target.url}elsewhere")
    with connect(server.url, additional_headers=CREDENTIALS) as ws:
        assert ws.request.path == "/elsewhere"
        assert "Authorization" not in ws.request.headers
    headers = target.peers[0].request_headers
    assert "authorization" not in headers
    assert "cookie" not in headers
    assert "proxy-authorization" not in headers
    assert headers["x-token"] == "kept"
    assert server.peers[0].request_headers["authorization"] == "Bearer secret"


def test_http_locations_map_to_websocket_ones(raw: Callable[..., Raw]) -> None:
    target = raw(closing)
    server = redirecting(raw, f"http://127.0.0.1:{target.port}/mapped")
    with connect(server.url) as ws:
        assert ws.request.path == "/mapped"
    assert target.peers[0].request_line == "GET /mapped HTTP/1.1"


def test_never_from_wss_down_to_ws(raw: Callable[..., Raw], tls: TLS) -> None:
    target = raw(closing)
    server = redirecting(raw, f"ws://127.0.0.1:{target.port}/clear", ssl=tls.server)
    with (
        pytest.raises(aiows.SecurityError) as info,
        connect(server.url, ssl=tls.client, additional_headers=CREDENTIALS),
    ):
        pass
    # websockets' words, aiows's account as the detail, caused by the status.
    assert str(info.value) == (
        f"cannot follow redirect to non-secure URI ws://127.0.0.1:{target.port}/clear"
    )
    assert "wss:// to ws://" in info.value.detail
    assert type(info.value.__cause__) is aiows.InvalidStatus
    assert str(info.value.__cause__) == "server rejected WebSocket connection: HTTP 302"
    assert info.value.response is not None
    assert info.value.response.status_code == 302
    # Nothing went in clear text: the target never heard from the client.
    assert target.peers == []
    assert "secret" not in repr(info.value.request_info)


def test_not_a_websocket_location(raw: Callable[..., Raw]) -> None:
    server = redirecting(raw, "ftp://127.0.0.1/file")
    with (
        pytest.raises(aiows.InvalidHandshake, match="not a WebSocket URI"),
        connect(server.url),
    ):
        pass


def test_too_many_redirects(raw: Callable[..., Raw]) -> None:
    server = redirecting(raw, "/again")
    with (
        pytest.raises(aiows.SecurityError, match="more than 10 redirects"),
        connect(server.url),
    ):
        pass
    assert len(server.peers) == 10  # websockets' ten requests


def test_no_redirect_with_a_given_socket(raw: Callable[..., Raw]) -> None:
    server = redirecting(raw, "/again")
    sock = socket.create_connection(("127.0.0.1", server.port))
    with (
        pytest.raises(ValueError, match="preexisting socket"),
        connect(server.url, sock=sock),
    ):
        pass
    assert sock.fileno() == -1  # closed with the attempt


def test_no_cross_origin_redirect_with_a_fixed_address(raw: Callable[..., Raw]) -> None:
    target = raw(closing)
    server = redirecting(raw, f"ws://localhost:{target.port}/")
    with (
        pytest.raises(ValueError, match="explicit host and port"),
        connect(
            f"ws://example.invalid:{server.port}/", address=("127.0.0.1", server.port)
        ),
    ):
        pass


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets")
def test_no_cross_origin_redirect_over_a_unix_socket(
    server_loop: object, tmp_path: object, raw: Callable[..., Raw]
) -> None:
    import pathlib

    from tests.sync.conftest import ServerLoop

    assert isinstance(server_loop, ServerLoop)
    path = str(pathlib.Path(str(tmp_path)) / "ws.sock")

    on_client = answer_once(
        b"HTTP/1.1 302 Found\r\nLocation: ws://other.example/\r\n\r\n"
    )

    server = server_loop.run(asyncio.start_unix_server(on_client, path))
    try:
        with pytest.raises(ValueError, match="Unix socket"), unix_connect(path):
            pass
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        server_loop.run(stop())


def test_credentials_in_the_uri_are_basic_auth(raw: Callable[..., Raw]) -> None:
    server = raw(closing)
    url = server.url.replace("ws://", "ws://user:pa%20ss@")
    with connect(url) as ws:
        value = ws.request.headers["Authorization"]
    import base64

    assert value == "Basic " + base64.b64encode(b"user:pa ss").decode()
    assert server.peers[0].request_headers["authorization"] == value
