"""Fixtures of the threading face's tests: real servers on 127.0.0.1.

The clients under test block, so the servers run on an asyncio loop in a
thread of its own (``server_loop``):

* ``ws_server`` — websockets' own server, running :func:`commands`;
* ``aiohttp_ws`` — an ``aiohttp.web`` echo server;
* ``raw`` — a scripted server writing exact bytes, for hostile input;
* the session tests' ``tls`` CA, and ``http_proxy`` (proxy.py).

Every test must leave no thread behind (the I/O thread ends with the last
connection) and no socket open (``ResourceWarning`` is an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve

from aiows.sync import hub
from tests.conftest import RawPeer, read_request, upgrade_response
from tests.session.conftest import TLS, HttpProxy, http_proxy, tls

__all__ = ["TLS", "HttpProxy", "http_proxy", "tls"]

T = TypeVar("T")

#: How long a test waits for anything before it counts as hanging.
WAIT = 10.0


def settle(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait until ``condition()`` holds, or fail: for states that no event
    signals (another process's writes, a thread inside a blocking call)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


class ServerLoop:
    """An asyncio loop in a thread of its own, where the servers run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="test-servers", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """Run ``coro`` on the loop; its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture(scope="session")
def server_loop() -> Iterator[ServerLoop]:
    loop = ServerLoop()
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test started has ended by its end (the I/O thread
    ends with the last connection)."""
    before = set(threading.enumerate())
    yield
    io_thread = hub.running()
    if io_thread is not None and io_thread not in before:
        io_thread.join(WAIT)
    # The servers' loop resolves names in its executor ("asyncio_N" threads,
    # kept for the next lookup): not the client's.
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith("asyncio_")
    ]
    for thread in leaked:
        thread.join(WAIT)
    assert [t.name for t in leaked if t.is_alive()] == []


# -- websockets' server ----------------------------------------------------------------


@dataclass
class ServerLog:
    """What the server saw, by run (the ``run`` query parameter)."""

    runs: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    done: dict[str, threading.Event] = field(default_factory=dict)

    def add(self, run: str, label: str, value: Any) -> None:
        self.runs.setdefault(run, []).append((label, value))

    def started(self, run: str) -> None:
        self.done.setdefault(run, threading.Event())

    def finished(self, run: str) -> None:
        self.done.setdefault(run, threading.Event()).set()

    def process_response(self, connection: Any, request: Any, response: Any) -> None:
        """websockets' ``process_response`` hook: a run's record begins before
        its 101 goes out, so a client that fails at once cannot ask for the
        record before the server's handler has even started."""
        if response.status_code == 101:
            self.started(run_of(request.path))

    def wait(self, run: str) -> list[tuple[str, Any]]:
        """The server's record of ``run``, once its handler returned."""
        if run in self.done:
            assert self.done[run].wait(WAIT), f"the server's run {run} hangs"
        return self.runs.get(run, [])


def run_of(path: str) -> str:
    """The ``run`` query parameter of ``path``."""
    return dict(parse_qsl(urlsplit(path).query)).get("run", "?")


def close_frame(close: Any) -> tuple[int, str] | None:
    return None if close is None else (int(close.code), close.reason)


async def commands(ws: ServerConnection, log: ServerLog, run: str) -> None:
    """Echo, except for commands: ``close CODE REASON``, ``three CODE`` (three
    messages, then a close), ``fragments`` / ``bin-fragments`` (a fragmented
    message), ``ping`` (a ping, then ``pinged``), ``drop`` (TCP abort),
    ``burst N`` (N messages), ``big N SIZE`` (N binary messages of SIZE
    bytes), ``hold`` (nothing)."""
    async for message in ws:
        log.add(run, "got", (type(message).__name__, message))
        if not isinstance(message, str):
            await ws.send(message)
            continue
        verb, _, rest = message.partition(" ")
        if verb == "close":
            code, _, reason = rest.partition(" ")
            await ws.close(int(code), reason)
        elif verb == "three":
            for text in ("one", "two", "three"):
                await ws.send(text)
            await ws.close(int(rest), "bye")
        elif verb == "fragments":
            await ws.send(["fra", "gm", "ent"])
        elif verb == "bin-fragments":
            await ws.send([b"fra", b"gm", b"ent"])
        elif verb == "ping":
            await ws.ping(b"srv")
            await ws.send("pinged")
        elif verb == "drop":
            assert ws.transport is not None
            ws.transport.abort()
        elif verb == "burst":
            for i in range(int(rest)):
                await ws.send(f"m{i}")
        elif verb == "binary":
            await ws.send(bytes.fromhex(rest))
        elif verb == "big":
            count, _, size = rest.partition(" ")
            for i in range(int(count)):
                await ws.send(i.to_bytes(4, "big") * (int(size) // 4))
        elif verb != "hold":
            await ws.send(message)


@dataclass
class WsServer:
    url: str
    log: ServerLog
    port: int


@pytest.fixture
def ws_server(server_loop: ServerLoop) -> Iterator[WsServer]:
    """websockets' server: ``/echo`` runs :func:`commands`, ``/deny`` refuses
    with 403, ``/redirect`` sends a 302 to ``/echo``; ``chat`` is selected
    when offered."""
    yield from serve_commands(server_loop)


@pytest.fixture
def wss_server(server_loop: ServerLoop, tls: TLS) -> Iterator[WsServer]:
    """:func:`ws_server` over TLS (the ``tls`` fixture's certificate)."""
    yield from serve_commands(server_loop, tls.server)


def serve_commands(server_loop: ServerLoop, ssl: Any = None) -> Iterator[WsServer]:
    from http import HTTPStatus

    log = ServerLog()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        run = run_of(path)
        log.add(run, "path", path)
        log.add(run, "X-Token", ws.request.headers.get("X-Token"))
        try:
            await commands(ws, log, run)
        except Exception:
            pass
        finally:
            await ws.wait_closed()
            log.add(run, "close rcvd", close_frame(ws.protocol.close_rcvd))
            log.add(run, "close sent", close_frame(ws.protocol.close_sent))
            log.finished(run)

    def process_request(connection: ServerConnection, request: Any) -> Any:
        path, _, query = request.path.partition("?")
        if path == "/deny":
            response = connection.respond(HTTPStatus.FORBIDDEN, "no entry\n")
            response.headers["X-Why"] = "test"
            return response
        if path == "/redirect":
            response = connection.respond(HTTPStatus.FOUND, "")
            response.headers["Location"] = "/echo?" + query
            return response
        return None

    def select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
        return "chat" if "chat" in offered else None

    async def start() -> Any:
        return await serve(
            handler,
            "127.0.0.1",
            0,
            process_request=process_request,
            process_response=log.process_response,
            select_subprotocol=select_subprotocol,
            ssl=ssl,
        )

    server = server_loop.run(start())
    port = server.sockets[0].getsockname()[1]
    yield WsServer(f"{'ws' if ssl is None else 'wss'}://127.0.0.1:{port}", log, port)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    server_loop.run(stop())


# -- an aiohttp.web server ---------------------------------------------------------


async def aiohttp_echo(request: web.Request) -> web.WebSocketResponse:
    """Echo; ``close:<code>:<reason>`` makes the server close."""
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            if msg.data.startswith("close:"):
                _, code, reason = msg.data.split(":", 2)
                await ws.close(code=int(code), message=reason.encode())
            else:
                await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


@pytest.fixture
def aiohttp_ws(server_loop: ServerLoop) -> Iterator[str]:
    """An ``aiohttp.web`` echo server; its URL (``/ws``)."""
    app = web.Application()
    app.router.add_get("/ws", aiohttp_echo)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = server_loop.run(start())
    yield f"ws://127.0.0.1:{port}/ws"
    server_loop.run(runner.cleanup())


# -- a scripted server -------------------------------------------------------------

Handler = Callable[[RawPeer], Awaitable[None]]


@dataclass
class Raw:
    """A scripted server: answers the upgrade as told, then runs a handler."""

    url: str
    port: int
    peers: list[RawPeer]
    #: Set when a handler returned or failed.
    finished: threading.Event


@pytest.fixture
def raw(server_loop: ServerLoop) -> Iterator[Callable[..., Raw]]:
    """Factory: ``raw(handler, response=..., after_101=b"")``; a handler's
    failed assertion fails the test."""
    servers: list[asyncio.AbstractServer] = []
    tasks: set[asyncio.Task[None]] = set()
    errors: list[BaseException] = []

    def start(
        handler: Handler,
        *,
        response: Callable[[str], bytes] | None = None,
        after_101: bytes = b"",
        ssl: Any = None,
    ) -> Raw:
        peers: list[RawPeer] = []
        finished = threading.Event()

        async def on_client(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                line, headers = await read_request(reader)
                peer = RawPeer(reader, writer, headers, line)
                peers.append(peer)
                key = headers.get("sec-websocket-key", "")
                answer = (
                    response(key) if response is not None else upgrade_response(key)
                )
                writer.write(answer + after_101)
                await handler(peer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                errors.append(exc)
            finally:
                writer.close()
                tasks.discard(task)
                finished.set()

        async def listen() -> asyncio.AbstractServer:
            return await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=ssl)

        server = server_loop.run(listen())
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        scheme = "ws" if ssl is None else "wss"
        return Raw(f"{scheme}://127.0.0.1:{port}/", port, peers, finished)

    yield start

    async def stop() -> None:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    server_loop.run(stop())
    if errors:
        raise AssertionError(f"server handler failed: {errors[0]!r}") from errors[0]
