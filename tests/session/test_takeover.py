"""Taking the upgraded socket over from aiohttp (``aiows/session/takeover.py``),
and what of aiohttp's request an open WebSocket keeps.

Each idle connection should keep only what it uses: these tests look at
the aiohttp objects behind a real connection to an aiohttp.web server.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiows
from tests.conftest import echo_handler
from tests.helpers import bounded

ServerFactory = Any


async def redirecting_server(aiohttp_server: ServerFactory, delay: float) -> TestServer:
    """/a redirects to /b and /b to /ws (an echo), each after ``delay``."""

    async def hop(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        target = {"/a": "/b", "/b": "/ws"}[request.path]
        raise web.HTTPTemporaryRedirect(target)

    app = web.Application()
    app.router.add_get("/a", hop)
    app.router.add_get("/b", hop)
    app.router.add_get("/ws", echo_handler)
    server: TestServer = await aiohttp_server(app)
    return server


async def test_the_upgraded_socket_keeps_none_of_aiohttps_http_readers(
    aiohttp_server: ServerFactory,
) -> None:
    server = await redirecting_server(aiohttp_server, 0)
    async with aiows.ClientSession() as s:
        async with (
            s.ws_connect(server.make_url("/ws")) as ws,
            s.ws_connect(server.make_url("/ws")) as other,
        ):
            readers = []
            for each in (ws, other):
                connection = each._response.connection
                assert connection is not None
                http_protocol: Any = connection.protocol
                assert http_protocol._parser is None  # internal 8
                assert isinstance(http_protocol._buffer, deque)  # internal 8
                assert http_protocol._buffer.maxlen == 0
                readers.append(http_protocol._payload_parser)
            # Without a tail aiohttp keeps the stand-in that took it out, one
            # per thread: no connection holds one of its own.
            assert readers[0] is readers[1] is not None
            await ws.send_str("still works")
            msg = await bounded(ws.receive())
            assert msg.data == "still works"
        assert ws.close_code == 1000
        assert s.connector is not None and not s.connector._acquired


async def test_no_timer_of_the_upgrade_request_stays_in_the_loop(
    aiohttp_server: ServerFactory,
) -> None:
    """aiohttp's timer for the session's total timeout lived, with its
    context, as long as the WebSocket; aiows bounds the upgrade itself."""
    server = await redirecting_server(aiohttp_server, 0)
    loop: Any = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=300)

    def due_in_about_300_s() -> list[Any]:
        now = loop.time()
        return [
            h for h in loop._scheduled if not h.cancelled() and h.when() - now > 250
        ]

    # The oracle: aiohttp's own ws_connect leaves its timer scheduled.
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.ws_connect(server.make_url("/ws")),
    ):
        assert len(due_in_about_300_s()) == 1
    assert due_in_about_300_s() == []
    async with (
        aiows.ClientSession(timeout=timeout) as s,
        s.ws_connect(server.make_url("/ws")),
    ):
        assert due_in_about_300_s() == []


async def test_the_session_total_bounds_every_hop_of_the_upgrade_together(
    aiohttp_server: ServerFactory,
) -> None:
    """Two redirects of 0.3 s each, under a total of 0.45 s: each hop fits,
    the upgrade does not, as with aiohttp (one total for the request and
    its redirects)."""
    server = await redirecting_server(aiohttp_server, 0.3)
    timeout = aiohttp.ClientTimeout(total=0.45)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.ws_connect(server.make_url("/a"))
    async with aiows.ClientSession(timeout=timeout) as s:
        with pytest.raises(aiows.OpenTimeout) as info:
            await s.ws_connect(server.make_url("/a"))
    assert "session's timeout" in str(info.value) and "total=0.45" in str(info.value)
    # Given time, the same redirects lead to the echo.
    async with (
        aiows.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s,
        s.ws_connect(server.make_url("/a")) as ws,
    ):
        assert ws._response.url.path == "/ws"
        assert [r.status for r in ws._response.history] == [307, 307]


async def test_open_timeout_below_the_session_total_is_named_as_itself(
    aiohttp_server: ServerFactory,
) -> None:
    server = await redirecting_server(aiohttp_server, 0.3)
    timeout = aiohttp.ClientTimeout(total=30, sock_connect=5)
    async with aiows.ClientSession(timeout=timeout) as s:
        with pytest.raises(aiows.OpenTimeout) as info:
            await s.ws_connect(server.make_url("/a"), open_timeout=0.45)
    assert str(info.value) == (
        "opening handshake with 127.0.0.1 did not finish within 0.45 s"
    )
