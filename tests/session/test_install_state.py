"""``aiows.install()`` and ``uninstall()``: threads, other libraries' patches,
and sessions with a ``base_url``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows
from aiows.session import install as install_module

PATHS = web.AppKey("paths", list)


async def echo(request: web.Request) -> web.WebSocketResponse:
    request.app[PATHS].append(request.path)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(f"echo {msg.data}")
    return ws


@pytest.fixture
async def server(aiohttp_server: Any) -> Any:
    app = web.Application()
    app[PATHS] = []
    app.router.add_get("/ws", echo)
    app.router.add_get("/api/ws", echo)
    test_server = await aiohttp_server(app)
    test_server.paths = app[PATHS]
    return test_server


@pytest.fixture(autouse=True)
def aiohttp_restored() -> Iterator[None]:
    """Whatever a test does, aiohttp's class is left as it was."""
    original = aiohttp.ClientSession.__dict__["ws_connect"]
    yield
    aiows.uninstall()
    aiohttp.ClientSession.ws_connect = original  # type: ignore[method-assign]
    install_module._original = install_module._replacement = None
    install_module._active = False


class Gate:
    """A stand-in for ``aiohttp.ClientSession.ws_connect`` that holds the
    first thread reading it until a second thread reads it too (or a moment
    has passed); the second read sees the attribute as it is by the time
    the first thread is done: a thread switch at the worst moment."""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.readers = 0
        self.second = threading.Event()
        self.first_done = threading.Event()

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is not None:
            return self.original.__get__(obj, cls)
        self.readers += 1
        if self.readers == 1:
            self.second.wait(0.5)  # the other thread comes in, if it can
            return self.original
        self.second.set()
        self.first_done.wait(5)
        current = aiohttp.ClientSession.__dict__["ws_connect"]
        return self.original if current is self else current


def test_install_from_two_threads_at_once_then_uninstall_gives_aiohttp_back() -> None:
    """Before: both threads saw "not installed", the second took the first
    one's patch for aiohttp's method, and uninstall() left aiows's method in
    aiohttp's class for good."""
    original = aiohttp.ClientSession.__dict__["ws_connect"]
    gate = Gate(original)
    aiohttp.ClientSession.ws_connect = gate  # type: ignore[assignment,method-assign]

    def first() -> None:
        aiows.install()
        gate.first_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=aiows.install)]
    threads[0].start()
    while gate.readers == 0:  # the first thread is inside install()
        threading.Event().wait(0.001)
    threads[1].start()
    for thread in threads:
        thread.join(10)
    assert install_module.installed()
    assert aiohttp.ClientSession.__dict__["ws_connect"] is not gate
    aiows.uninstall()
    # aiohttp's method is back (read through the stand-in, as install() did).
    assert aiohttp.ClientSession.__dict__["ws_connect"] is original
    assert not install_module.installed()


async def test_uninstall_keeps_another_librarys_later_patch(server: Any) -> None:
    """A library that wraps ``ws_connect`` after ``install()`` keeps its
    wrapper through ``uninstall()``; the call it passes on gets aiohttp's
    method again.  Before: uninstall() put aiohttp's method back over the
    library's wrapper."""
    calls: list[str] = []
    aiows.install()
    installed = aiohttp.ClientSession.ws_connect

    def tracing(self: aiohttp.ClientSession, url: Any, **kwargs: Any) -> Any:
        calls.append(str(url))
        return installed(self, url, **kwargs)

    aiohttp.ClientSession.ws_connect = tracing  # type: ignore[method-assign]
    url = f"http://127.0.0.1:{server.port}/ws"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            assert isinstance(ws, aiows.ClientWebSocketResponse)
        aiows.uninstall()
        assert aiohttp.ClientSession.ws_connect is tracing
        assert not install_module.installed()
        async with session.ws_connect(url) as ws:
            assert type(ws) is aiohttp.ClientWebSocketResponse
        aiows.install()  # back, under the library's wrapper
        assert aiohttp.ClientSession.ws_connect is tracing
        async with session.ws_connect(url) as ws:
            assert isinstance(ws, aiows.ClientWebSocketResponse)
    assert calls == [url] * 3


# -- base_url ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws", "ws"])
async def test_ws_connect_joins_a_relative_url_with_base_url(
    server: Any, path: str
) -> None:
    """As aiohttp's ``ws_connect``: the oracle, on the same server."""
    base = f"http://127.0.0.1:{server.port}/api/"
    try:
        await aiohttp.ClientSession(base_url=base).close()
    except AssertionError as refused:
        # aiohttp 3.10 takes no path in base_url; aiows's session is one of
        # aiohttp's, so it refuses in the same words.
        with pytest.raises(AssertionError) as caught:
            aiows.ClientSession(base_url=base)
        assert str(caught.value) == str(refused)
        return
    async with (
        aiohttp.ClientSession(base_url=base) as session,
        session.ws_connect(path) as ws,
    ):
        await ws.send_str("hi")
        assert (await ws.receive()).data == "echo hi"
    oracle = list(server.paths)
    server.paths.clear()
    async with (
        aiows.ClientSession(base_url=base) as session,
        session.ws_connect(path) as ws,
    ):
        await ws.send_str("hi")
        assert (await ws.receive()).data == "echo hi"
    assert server.paths == oracle == [path if path.startswith("/") else "/api/ws"]


async def test_ws_listen_and_a_wrapped_session_join_with_base_url(server: Any) -> None:
    base = f"http://127.0.0.1:{server.port}/"
    async with aiohttp.ClientSession(base_url=base) as http:
        session = aiows.ClientSession(http)
        async with session.ws_connect("/ws") as ws:
            await ws.send_str("wrapped")
            assert (await ws.receive()).data == "echo wrapped"
        ws = await session.ws_listen("/ws", aiows.Listener())
        await ws.send_str("listened")
        await ws.close()
    assert server.paths == ["/ws", "/ws"]


async def test_install_joins_with_the_callers_base_url(server: Any) -> None:
    aiows.install()
    base = f"http://127.0.0.1:{server.port}/"
    async with (
        aiohttp.ClientSession(base_url=base) as session,
        session.ws_connect("/ws") as ws,
    ):
        assert isinstance(ws, aiows.ClientWebSocketResponse)
        await ws.send_str("hi")
        assert (await ws.receive()).data == "echo hi"
    assert server.paths == ["/ws"]


async def test_a_relative_url_without_base_url_is_still_invalid() -> None:
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.InvalidURI):
            session.ws_connect("/ws")


# -- the context of a session's bookkeeping callbacks --------------------------------


def test_each_threads_loop_gets_its_own_context_for_session_callbacks() -> None:
    """``aiows.ClientSession`` registers its bookkeeping callback (forget a
    WebSocket once it is gone) in an empty context.  Before, one Context
    served every thread; a Context can be entered by one thread at a time,
    so on a free-threaded Python two loops running those callbacks at once
    would fail with "cannot enter context" (shown here with a callback that
    waits) and never forget the WebSocket."""
    contexts: list[Any] = []

    async def open_one() -> None:
        # A server of this thread's own, in this thread's loop.
        app = web.Application()
        app[PATHS] = []
        app.router.add_get("/ws", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiows.ClientSession() as session:
                ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws")
                contexts.extend(
                    context
                    for callback, context in ws._engine.closed._callbacks
                    if getattr(callback, "__self__", None) is session._websockets
                )
                await ws.close()
            assert session._websockets == {}
        finally:
            await runner.cleanup()

    threads = [
        threading.Thread(target=asyncio.run, args=(open_one(),)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(contexts) == 2
    assert contexts[0] is not contexts[1]
    assert len(contexts[0]) == len(contexts[1]) == 0  # empty: nothing leaks in

    # Why one shared Context is a hazard: while one thread is inside it,
    # another cannot enter it.
    shared = contexts[0]
    inside, release = threading.Event(), threading.Event()

    def stay() -> None:
        inside.set()
        release.wait(5)

    holder = threading.Thread(target=shared.run, args=(stay,))
    holder.start()
    inside.wait(5)
    try:
        with pytest.raises(RuntimeError, match="cannot enter context"):
            shared.run(lambda: None)
    finally:
        release.set()
        holder.join(5)


async def test_a_fragment_in_ws_connect_is_left_out_as_aiohttp_does(
    server: Any,
) -> None:
    """aiohttp's ``ws_connect`` takes a URL with a fragment and leaves the
    fragment out of the request; so does aiows's (``connect()`` refuses
    one, as websockets does: see test_websockets_oracle.py)."""
    url = f"http://127.0.0.1:{server.port}/ws#part"
    async with aiohttp.ClientSession() as session, session.ws_connect(url):
        pass
    async with aiows.ClientSession() as session, session.ws_connect(url):
        pass
    assert server.paths == ["/ws", "/ws"]
