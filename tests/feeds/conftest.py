"""Servers for the feed tests: real sockets on 127.0.0.1, driven by the test.

* :class:`FeedServer`: an aiohttp.web server whose connections the test
  takes one by one (``await server.accept()``), reads what the client sent
  on each (``await conn.expect(...)``: the subscriptions seen per
  connection), writes to, closes with any code, aborts, and restarts on the
  same port (stop listening, start again), as a deployment does.
* :class:`FakeTime`: an injectable clock and sleep for ``aiows.Backoff``:
  the delays between attempts are recorded, never slept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import aiows

TIMEOUT = 5.0


class FakeTime:
    """A clock that moves only when slept on (or told to).

    ``hold()`` makes sleeps wait until ``release()``: the test then acts
    while the feed is between connections.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._started: asyncio.Queue[float] = asyncio.Queue()
        self._gate: asyncio.Event | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        self._started.put_nowait(delay)
        if self._gate is not None:
            await self._gate.wait()
        await asyncio.sleep(0)

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def next_sleep(self) -> float:
        """The delay of the next sleep, once it has begun."""
        return await asyncio.wait_for(self._started.get(), TIMEOUT)

    def backoff(self, **kwargs: float) -> aiows.Backoff:
        """A backoff on this clock; random() is 0.5, so jitter is neutral and
        the first delay is ``initial / 2``."""
        settings: dict[str, Any] = {
            "initial": 1.0,
            "minimum": 2.0,
            "factor": 2.0,
            "maximum": 30.0,
            "jitter": 0.0,
            "reset_after": 10.0,
        }
        settings.update(kwargs)
        return aiows.Backoff(
            sleep=self.sleep, clock=self.clock, random=lambda: 0.5, **settings
        )


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@dataclass
class Conn:
    """One WebSocket connection, as the server sees it."""

    number: int
    #: Which start of the server accepted it (1, then 2 after a restart).
    generation: int
    request: web.Request
    ws: web.WebSocketResponse
    #: Every message the client sent, in order.
    received: list[Any] = field(default_factory=list)
    inbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    #: The close code the server saw when the connection ended.
    closed: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def recv(self) -> Any:
        return await asyncio.wait_for(self.inbox.get(), TIMEOUT)

    async def expect(self, *messages: Any) -> None:
        """The client sends ``messages`` next, in this order."""
        got = [await self.recv() for _ in messages]
        assert got == list(messages)

    async def send(self, *messages: str | bytes) -> None:
        """Send ``messages``; nothing once the connection is closing (as a
        publisher that skips a departed subscriber)."""
        for message in messages:
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionResetError):
                if isinstance(message, str):
                    await self.ws.send_str(message)
                else:
                    await self.ws.send_bytes(message)

    async def close(self, code: int = 1000, reason: bytes = b"") -> None:
        await self.ws.close(code=code, message=reason)

    def abort(self) -> None:
        """Drop TCP without a close frame (the client sees 1006)."""
        transport = self.request.transport
        assert transport is not None
        transport.abort()

    async def wait_closed(self) -> int | None:
        return await asyncio.wait_for(asyncio.shield(self.closed), TIMEOUT)


class FeedServer:
    """An aiohttp.web server the test drives, restartable on its port."""

    def __init__(self, *, protocols: tuple[str, ...] = ()) -> None:
        self.protocols = protocols
        self.connections: list[Conn] = []
        self.generation = 0
        #: Request headers of every upgrade, in order.
        self.upgrades: list[dict[str, str]] = []
        #: What happened, in order, on every connection: ("recv", number,
        #: message) and ("closed", number, code).
        self.log: list[tuple[str, int, Any]] = []
        #: Statuses to refuse the next upgrades with (then accept).
        self.refuse: list[tuple[int, dict[str, str]]] = []
        self._accepted: asyncio.Queue[Conn] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        if self._runner is None:
            app = web.Application()
            app.router.add_get("/ws", self._handler)
            self._runner = web.AppRunner(app, handle_signals=False)
            await self._runner.setup()
        self.generation += 1
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def stop_listening(self) -> None:
        """Refuse new connections; the open ones go on."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def restart(self, *, code: int | None = None) -> None:
        """Stop listening, end every open connection (with ``code``, or by
        dropping TCP), and listen again on the same port."""
        await self.stop_listening()
        for conn in self.connections:
            if not conn.closed.done():
                if code is None:
                    conn.abort()
                else:
                    await conn.close(code)
        await self.start()

    async def accept(self) -> Conn:
        """The next connection the server accepts."""
        return await asyncio.wait_for(self._accepted.get(), TIMEOUT)

    async def cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        self.upgrades.append(dict(request.headers))
        if self.refuse:
            status, headers = self.refuse.pop(0)
            return web.Response(status=status, headers=headers)
        ws = web.WebSocketResponse(protocols=self.protocols, autoping=True)
        await ws.prepare(request)
        conn = Conn(len(self.connections) + 1, self.generation, request, ws)
        self.connections.append(conn)
        self._accepted.put_nowait(conn)
        try:
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    conn.received.append(msg.data)
                    conn.inbox.put_nowait(msg.data)
                    self.log.append(("recv", conn.number, msg.data))
        finally:
            self.log.append(("closed", conn.number, ws.close_code))
            if not conn.closed.done():
                conn.closed.set_result(ws.close_code)
        return ws


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed_server = FeedServer()
    await feed_server.start()
    try:
        yield feed_server
    finally:
        await feed_server.cleanup()


async def next_item(feed: Any) -> Any:
    """The feed's next item, within the test's timeout."""
    return await asyncio.wait_for(feed.recv(), TIMEOUT)


async def items(feed: Any, n: int) -> list[Any]:
    return [await next_item(feed) for _ in range(n)]


def data(item: Any) -> Any:
    """A message's payload, whichever the face (an aiohttp WSMessage's
    ``data``)."""
    return item.data if isinstance(item, aiohttp.WSMessage) else item


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition that has no event to await (the state of a socket
    buffer), every 10 ms, for at most the test timeout."""
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
