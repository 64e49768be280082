"""The ``scripted`` fixtures: one raw server script against one aiows client.

``await scripted(server, client, **ws_connect_options)`` starts a raw server
that answers the upgrade (optionally with ``response=``) and runs
``server(peer)``; the client connects with ``aiows.ws_connect`` (the aiohttp
face) and runs ``client(ws)``.  ``scripted_connect`` is the same with
``aiows.connect`` (the websockets face), for the tests of ``send()`` and
``recv()``; it turns off what ``connect()`` does unasked (compression,
keepalive pings) unless the test passes them.  Both must finish within the
timeout.  The server script's return value is returned, and an assertion
failing inside it fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, RawServer

from ._wire import TIMEOUT

T = TypeVar("T")

ServerScript = Callable[[RawPeer], Awaitable[T]]
ClientScript = Callable[[aiows.ClientWebSocketResponse], Awaitable[None]]
ConnectScript = Callable[[aiows.ClientConnection], Awaitable[None]]
StartServer = Callable[..., Awaitable[RawServer]]


class Scripted(Protocol):
    async def __call__(
        self,
        server: ServerScript[T],
        client: ClientScript | None = None,
        *,
        response: Callable[[str], bytes] | None = None,
        timeout: float = TIMEOUT,
        **options: Any,
    ) -> T: ...


class ScriptedConnect(Protocol):
    async def __call__(
        self,
        server: ServerScript[T],
        client: ConnectScript,
        *,
        response: Callable[[str], bytes] | None = None,
        timeout: float = TIMEOUT,
        **options: Any,
    ) -> T: ...


async def _nothing(ws: aiows.ClientWebSocketResponse) -> None:
    return None


async def _start(
    raw_server: StartServer,
    server: ServerScript[T],
    response: Callable[[str], bytes] | None,
) -> tuple[RawServer, asyncio.Future[T]]:
    """Start a raw server running ``server``; its result lands in the future."""
    result: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        try:
            value = await server(peer)
        except BaseException as exc:
            if not result.done():
                result.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            result.set_result(value)

    return await raw_server(handler, response=response), result


@pytest.fixture
def scripted(raw_server: StartServer) -> Scripted:
    async def run(
        server: ServerScript[T],
        client: ClientScript | None = None,
        *,
        response: Callable[[str], bytes] | None = None,
        timeout: float = TIMEOUT,
        **options: Any,
    ) -> T:
        raw, result = await _start(raw_server, server, response)
        options.setdefault("timeout", aiows.ClientWSTimeout(ws_close=2.0))
        try:
            async with aiows.ws_connect(raw.url, **options) as ws:
                await asyncio.wait_for((client or _nothing)(ws), timeout)
                return await asyncio.wait_for(result, timeout)
        finally:
            # Retrieve a server failure that the client's failure hid.
            if result.done() and not result.cancelled():
                result.exception()

    return run


@pytest.fixture
def scripted_connect(raw_server: StartServer) -> ScriptedConnect:
    async def run(
        server: ServerScript[T],
        client: ConnectScript,
        *,
        response: Callable[[str], bytes] | None = None,
        timeout: float = TIMEOUT,
        **options: Any,
    ) -> T:
        raw, result = await _start(raw_server, server, response)
        options.setdefault("compression", None)
        options.setdefault("ping_interval", None)
        options.setdefault("close_timeout", 2.0)
        try:
            async with aiows.connect(raw.url, **options) as ws:
                await asyncio.wait_for(client(ws), timeout)
                return await asyncio.wait_for(result, timeout)
        finally:
            if result.done() and not result.cancelled():
                result.exception()

    return run


async def expect_failure(
    scripted: Scripted,
    bad: bytes,
    code: int,
    *,
    before: bytes = b"",
    delivered: int = 0,
    **options: Any,
) -> bytes:
    """Send ``before + bad``; the client must fail with ``code`` on the wire.

    ``delivered`` messages (from ``before``) must reach the application
    first, then an ERROR carrying an ``aiohttp.WebSocketError`` with ``code``.
    Returns the reason bytes of the client's close frame.
    """

    async def server(peer: RawPeer) -> bytes:
        peer.send(before + bad)
        wire_code, reason = await peer.read_close()
        assert wire_code == code
        reason.decode("utf-8")  # a close reason is always UTF-8
        assert len(reason) <= 123
        return reason

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        for _ in range(delivered):
            msg = await ws.receive()
            assert msg.type in (aiows.WSMsgType.TEXT, aiows.WSMsgType.BINARY)
        error = await ws.receive()
        assert error.type == aiows.WSMsgType.ERROR, error
        assert type(error.data) is aiohttp.WebSocketError
        assert error.data.code == code
        assert ws.close_code == code

    return await scripted(server, client, **options)
