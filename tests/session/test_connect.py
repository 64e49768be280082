"""Opening a WebSocket: handshake validation, open_timeout, the one-shot helper.

Every server here is real: ``raw_server`` answers the upgrade with exactly
the bytes a case needs, and reports whether the client closed its socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiohttp.http_parser
import pytest

import aiows
from tests.conftest import (
    RawPeer,
    RawServer,
    accept_for,
    server_frame,
    upgrade_response,
)

RawServerFactory = Callable[..., Awaitable[RawServer]]


def plain_response(status: str, headers: str = "", body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


@dataclass(frozen=True)
class Failure:
    """A wrong answer to the upgrade and what aiows must make of it."""

    response: Callable[[str], bytes]
    error: type[aiows.InvalidHandshake]
    status: int
    header: tuple[str, str | None]  # a response header and its expected value
    ws_kwargs: tuple[tuple[str, object], ...] = ()


FAILURES: dict[str, Failure] = {
    "status-403": Failure(
        lambda key: plain_response("403 Forbidden", "X-Why: no entry\r\n", b"go away"),
        aiows.InvalidStatus,
        403,
        ("X-Why", "no entry"),
    ),
    "status-500": Failure(
        lambda key: plain_response("500 Internal Server Error", "X-Trace: t-1\r\n"),
        aiows.InvalidStatus,
        500,
        ("X-Trace", "t-1"),
    ),
    "status-403-body-pending": Failure(
        # Content-Length promises more than arrives: the body is unfinished
        # when the handshake fails.
        lambda key: (
            b"HTTP/1.1 403 Forbidden\r\nX-Why: no entry\r\n"
            b"Content-Length: 100\r\n\r\ngo away"
        ),
        aiows.InvalidStatus,
        403,
        ("X-Why", "no entry"),
    ),
    "status-200": Failure(
        lambda key: plain_response("200 OK", "Content-Type: text/plain\r\n", b"hi"),
        aiows.InvalidStatus,
        200,
        ("Content-Type", "text/plain"),
    ),
    "upgrade-missing": Failure(
        lambda key: upgrade_response(key, upgrade=None),
        aiows.InvalidUpgrade,
        101,
        ("Upgrade", None),
    ),
    "upgrade-wrong": Failure(
        lambda key: upgrade_response(key, upgrade="h2c"),
        aiows.InvalidUpgrade,
        101,
        ("Upgrade", "h2c"),
    ),
    "connection-missing": Failure(
        lambda key: upgrade_response(key, connection=None),
        aiows.InvalidUpgrade,
        101,
        ("Connection", None),
    ),
    "connection-wrong": Failure(
        lambda key: upgrade_response(key, connection="keep-alive"),
        aiows.InvalidUpgrade,
        101,
        ("Connection", "keep-alive"),
    ),
    "accept-wrong": Failure(
        lambda key: upgrade_response(key, accept=accept_for("x" + key)),
        aiows.InvalidAccept,
        101,
        ("Upgrade", "websocket"),
    ),
    "accept-empty": Failure(
        lambda key: upgrade_response(key, accept=""),
        aiows.InvalidAccept,
        101,
        ("Sec-WebSocket-Accept", ""),
    ),
    "subprotocol-none-offered": Failure(
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Protocol: chat\r\n"
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Protocol", "chat"),
    ),
    "subprotocol-not-offered": Failure(
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Protocol: superchat\r\n"
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Protocol", "superchat"),
        (("protocols", ("chat", "v2.chat")),),
    ),
    "extension-not-offered": Failure(
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n"
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ),
    "extension-unknown": Failure(
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: x-webkit-frob\r\n"
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Extensions", "x-webkit-frob"),
        (("compress", 15),),
    ),
    "deflate-window-out-of-range": Failure(
        lambda key: upgrade_response(
            key,
            extra_headers="Sec-WebSocket-Extensions: permessage-deflate; "
            "server_max_window_bits=20\r\n",
        ),
        aiows.NegotiationError,
        101,
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_max_window_bits=20",
        ),
        (("compress", 15),),
    ),
    "deflate-window-above-offer": Failure(
        # The client offered server_max_window_bits=10; 12 is larger.
        lambda key: upgrade_response(
            key,
            extra_headers="Sec-WebSocket-Extensions: permessage-deflate; "
            "server_max_window_bits=12\r\n",
        ),
        aiows.NegotiationError,
        101,
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_max_window_bits=12",
        ),
        (("compress", 10),),
    ),
    "deflate-unknown-parameter": Failure(
        lambda key: upgrade_response(
            key,
            extra_headers="Sec-WebSocket-Extensions: permessage-deflate; "
            "mystery_knob\r\n",
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Extensions", "permessage-deflate; mystery_knob"),
        (("compress", 15),),
    ),
    "deflate-twice": Failure(
        lambda key: upgrade_response(
            key,
            extra_headers="Sec-WebSocket-Extensions: permessage-deflate, "
            "permessage-deflate\r\n",
        ),
        aiows.NegotiationError,
        101,
        ("Sec-WebSocket-Extensions", "permessage-deflate, permessage-deflate"),
        (("compress", 15),),
    ),
}


def failure_params() -> list[object]:
    return [pytest.param(case, id=name) for name, case in FAILURES.items()]


@pytest.mark.parametrize("case", failure_params())
async def test_handshake_failure_raises_and_releases(
    raw_server: RawServerFactory, case: Failure
) -> None:
    eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        eof.set_result(await peer.expect_eof())

    server = await raw_server(handler, response=case.response)
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.InvalidHandshake) as info:
            await session.ws_connect(server.url, **dict(case.ws_kwargs))
        exc = info.value
        assert type(exc) is case.error
        assert isinstance(exc, aiohttp.WSServerHandshakeError)
        assert exc.status == case.status
        name, value = case.header
        assert exc.headers is not None
        assert exc.headers.get(name) == value
        assert exc.request_info.url.port == server.port
        # The connection is given back and its socket closed by the failure
        # itself, before the session closes.
        assert session.connector is not None
        assert not session.connector._acquired
        # The socket is closed by the failure itself, before the session
        # closes, even where aiohttp had already put it in its keep-alive
        # pool (a 101 without Upgrade is no longer HTTP on that socket).
        assert await asyncio.wait_for(eof, 5) == b""
        assert all(
            not protocol.is_connected()
            for entries in session.connector._conns.values()
            for protocol, _ in entries
        )
        assert len(server.peers) == 1


async def test_a_refusal_whose_body_is_cut_short_is_still_invalid_status(
    raw_server: RawServerFactory,
) -> None:
    # The server promises a body and hangs up before it: the refusal is
    # still reported as such, not as aiohttp's payload error.
    def cut_short(key: str) -> bytes:
        return b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\n"

    async def handler(peer: RawPeer) -> None:
        peer.close()

    server = await raw_server(handler, response=cut_short)
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.InvalidStatus) as info:
            await session.ws_connect(server.url)
        assert info.value.status == 503
        assert info.value.response is not None
        assert info.value.response.body == b""
        assert session.connector is not None
        assert not session.connector._acquired


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """Every ``aiohttp.ClientSession`` created during the test, in order.

    The one-shot helpers make a private session and must close it with the
    connection; this is how a test sees that session.
    """
    made: list[aiohttp.ClientSession] = []
    init = aiohttp.ClientSession.__init__

    def recording(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(aiohttp.ClientSession, "__init__", recording)
    return made


@pytest.mark.parametrize("given", [False, True], ids=["own-connector", "connector="])
async def test_handshake_failure_on_one_shot_closes_everything(
    raw_server: RawServerFactory,
    sessions_made: list[aiohttp.ClientSession],
    given: bool,
) -> None:
    eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        eof.set_result(await peer.expect_eof())

    server = await raw_server(
        handler, response=lambda key: plain_response("404 Not Found")
    )
    connector = aiows.TCPConnector()
    try:
        with pytest.raises(aiows.InvalidStatus) as info:
            if given:
                await aiows.ws_connect(server.url, connector=connector)
            else:
                await aiows.ws_connect(server.url)
        assert info.value.status == 404
        (private,) = (s for s in sessions_made if s.connector is not connector)
        assert private.closed  # the private session is closed with the failure
        assert not connector._acquired
        # The caller's connector is the caller's: it is left open.
        assert not connector.closed
        assert await asyncio.wait_for(eof, 5) == b""
    finally:
        await connector.close()


async def test_open_timeout_when_server_never_answers(
    raw_server: RawServerFactory,
) -> None:
    eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        eof.set_result(await peer.expect_eof(timeout=10))

    # The server reads the request and answers nothing.
    server = await raw_server(handler, response=lambda key: b"")
    loop = asyncio.get_running_loop()
    async with aiows.ClientSession() as session:
        started = loop.time()
        with pytest.raises(aiows.OpenTimeout) as info:
            await session.ws_connect(server.url, open_timeout=0.3)
        elapsed = loop.time() - started
        assert isinstance(info.value, asyncio.TimeoutError)
        assert isinstance(info.value, aiohttp.ServerTimeoutError)
        assert 0.3 <= elapsed < 1.5
        assert session.connector is not None
        assert not session.connector._acquired
        assert await asyncio.wait_for(eof, 5) == b""
        # The request did reach the server: the timeout covered the wait.
        assert server.peers[0].request_line == "GET / HTTP/1.1"


async def test_one_shot_exposes_handshake(
    raw_server: RawServerFactory, sessions_made: list[aiohttp.ClientSession]
) -> None:
    close: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        close.set_result(await peer.read_close())
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big")))
        peer.close()  # the server closes TCP first (RFC 6455 section 7.1.1)

    server = await raw_server(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers="X-Served-By: raw\r\n"
        ),
    )
    connector = aiows.TCPConnector()
    ws_context = aiows.ws_connect(
        server.url + "path?q=1", connector=connector, headers={"X-Client": "c1"}
    )
    async with ws_context as ws:
        assert ws.response.status == 101
        peer = server.peers[0]
        assert peer.request_line == "GET /path?q=1 HTTP/1.1"
        sent_key = ws.request_headers["Sec-WebSocket-Key"]
        assert sent_key == peer.request_headers["sec-websocket-key"]
        assert ws.request_headers["Sec-WebSocket-Version"] == "13"
        assert ws.request_headers["X-Client"] == "c1"
        assert ws.response_headers["Sec-WebSocket-Accept"] == accept_for(sent_key)
        assert ws.response_headers["X-Served-By"] == "raw"
        (private,) = sessions_made
        assert private.connector is connector
        assert len(connector._acquired) == 1
    assert await close == (1000, b"")
    assert ws.close_code == 1000
    assert private.closed  # the private session closed with the connection
    assert not connector._acquired
    assert not connector.closed  # the caller's connector is left open
    await connector.close()


@pytest.mark.parametrize("given", [False, True], ids=["own-connector", "connector="])
async def test_one_shot_closes_session_when_server_closes_first(
    raw_server: RawServerFactory,
    sessions_made: list[aiohttp.ClientSession],
    given: bool,
) -> None:
    reply: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x8, (4000).to_bytes(2, "big") + b"bye"))
        reply.set_result(await peer.read_close())
        peer.close()

    server = await raw_server(handler)
    connector = aiows.TCPConnector()
    if given:
        ws = await aiows.ws_connect(server.url, connector=connector)
    else:
        ws = await aiows.ws_connect(server.url)
    (private,) = sessions_made
    used = private.connector
    assert used is not None
    assert (used is connector) is given
    msg = await ws.receive()
    assert msg.type == aiows.WSMsgType.CLOSE
    assert msg.data == 4000
    assert await reply == (4000, b"")  # the client echoed the code
    await ws.wait_closed()
    assert ws.closed
    assert ws.close_code == 4000
    assert private.closed  # closed with the connection, by wait_closed()
    assert not used._acquired
    # The private session's own connector is closed with it; the caller's is
    # left open.
    assert used.closed is not given
    assert not connector.closed
    await connector.close()


@pytest.mark.parametrize("face", ["ws_connect", "connect"])
async def test_one_shot_closes_session_when_server_drops_after_upgrade(
    raw_server: RawServerFactory,
    sessions_made: list[aiohttp.ClientSession],
    face: str,
) -> None:
    # Regression (Python 3.10): the server closes TCP right behind its 101.
    # With wait_for() bounding the upgrade, the transport was gone before
    # the private session hooked itself to the connection, and the session
    # was left open.
    async def handler(peer: RawPeer) -> None:
        return None  # returning closes the socket, with no close frame

    server = await raw_server(handler)
    if face == "ws_connect":
        async with aiows.ws_connect(server.url) as ws:
            assert (await ws.receive()).type == aiows.WSMsgType.CLOSED
            assert ws.close_code == 1006
    else:
        async with aiows.connect(server.url, compression=None) as conn:
            with pytest.raises(aiows.ConnectionClosedError):
                await conn.recv()
    (private,) = sessions_made
    assert private.closed


async def test_one_shots_on_one_connector_leave_it_open(echo_url: str) -> None:
    # Regression: the first one-shot connection closed the caller's
    # connector, so the second failed and the caller lost its pool.
    connector = aiows.TCPConnector()
    try:
        for text in ("first", "second"):
            async with aiows.ws_connect(echo_url, connector=connector) as ws:
                await ws.send_str(text)
                assert await ws.receive_str() == text
            assert not connector.closed
        # Two at once on the same connector, each on its own private session.
        async with (
            aiows.ws_connect(echo_url, connector=connector) as a,
            aiows.ws_connect(echo_url, connector=connector) as b,
        ):
            assert len(connector._acquired) == 2
            await a.send_str("a")
            await b.send_str("b")
            assert await a.receive_str() == "a"
            assert await b.receive_str() == "b"
        assert not connector.closed
        assert not connector._acquired
    finally:
        await connector.close()


async def test_one_shot_connect_closes_its_session(
    echo_url: str, sessions_made: list[aiohttp.ClientSession]
) -> None:
    # aiows.connect() without session= runs on a private session too, with
    # a connector of its own; both close with the connection.
    async with aiows.connect(echo_url, compression=None) as ws:
        await ws.send("x")
        assert await ws.recv() == "x"
        (private,) = sessions_made
        connector = private.connector
        assert connector is not None
        assert not connector.closed
    assert private.closed
    assert connector.closed
