"""websockets 17 as the oracle for ``connect()``'s arguments, proxies and
credentials: the same call through ``websockets.asyncio.client.connect`` and
``aiows.connect``, against the same local servers and proxies, compared.

What is compared is what a program sees: the exception's class (by name),
its message (websockets' ``str()``; aiows's ``message`` for its handshake
errors, which read as aiohttp's ``ClientResponseError`` in ``str()``, and
``msg`` for ``InvalidURI``/``InvalidProxy`` as in websockets), its
``__cause__``'s class, and whether a connection was made first.  Where
aiows differs on purpose, the test says so and asserts the difference
(see docs/from_websockets.rst).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import python_socks
import websockets.exceptions
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.client import unix_connect as websockets_unix_connect
from websockets.asyncio.server import ServerConnection, serve

import aiows

from .socks_server import SocksServer


@dataclass
class Listener:
    """A TCP port on 127.0.0.1 that accepts and counts connections."""

    port: int
    accepted: int = 0


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    state = Listener(0)
    writers: list[asyncio.StreamWriter] = []

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        writers.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


def described(exc: BaseException) -> tuple[str, str, str | None]:
    """(class name, message, class name of the cause) of ``exc``."""
    if isinstance(
        exc,
        (
            aiows.InvalidURI,
            aiows.InvalidProxy,
            websockets.exceptions.InvalidURI,
            websockets.exceptions.InvalidProxy,
        ),
    ):
        text = exc.msg
    elif isinstance(exc, aiows.InvalidHandshake):
        text = exc.message
    else:
        text = str(exc)
    cause = None if exc.__cause__ is None else type(exc.__cause__).__name__
    return type(exc).__name__, text, cause


@dataclass
class Outcome:
    """What one call did: its exception (described), and whether it raised
    at the call (before anything was awaited) and connected first."""

    error: tuple[str, str, str | None] | None = None
    at_call: bool = False
    connections: int = 0
    cause: BaseException | None = field(default=None, repr=False)


async def attempt(call: Callable[[], Any], listener: Listener | None) -> Outcome:
    before = listener.accepted if listener is not None else 0
    outcome = Outcome()
    try:
        pending = call()
    except Exception as exc:
        outcome.error, outcome.at_call, outcome.cause = described(exc), True, exc
    else:
        try:
            ws = await asyncio.wait_for(_awaited(pending), 5)
        except Exception as exc:
            outcome.error, outcome.cause = described(exc), exc.__cause__
        else:
            await ws.close()
    if listener is not None:
        # Connections made by then have been accepted by now: one loop turn
        # for the accept callback of the last one.
        await asyncio.sleep(0)
        outcome.connections = listener.accepted - before
    return outcome


async def _awaited(pending: Awaitable[Any]) -> Any:
    return await pending


# -- arguments checked before any connection (issue 20) -----------------------------


def ctx() -> ssl.SSLContext:
    return ssl.create_default_context()


#: (scenario, keywords for connect() given the listener's port).
SAME = {
    "wss:// with ssl=False": lambda port: {
        "uri": f"wss://127.0.0.1:{port}/",
        "ssl": False,
    },
    "wss:// with ssl=None": lambda port: {
        "uri": f"wss://127.0.0.1:{port}/",
        "ssl": None,
    },
    "ws:// with ssl=": lambda port: {"uri": f"ws://127.0.0.1:{port}/", "ssl": ctx()},
    "proxy_ssl with an http:// proxy": lambda port: {
        "proxy": f"http://127.0.0.1:{port}",
        "proxy_ssl": ctx(),
    },
    "proxy_ssl=False with an http:// proxy": lambda port: {
        "proxy": f"http://127.0.0.1:{port}",
        "proxy_ssl": False,
    },
    "proxy_server_hostname with an http:// proxy": lambda port: {
        "proxy": f"http://127.0.0.1:{port}",
        "proxy_server_hostname": "proxy.test",
    },
    "proxy_ssl=None with an https:// proxy": lambda port: {
        "proxy": f"https://127.0.0.1:{port}",
        "proxy_ssl": None,
    },
    "a fragment in the URI": lambda port: {"uri": f"ws://127.0.0.1:{port}/#top"},
    "a user without a password in the URI": lambda port: {
        "uri": f"ws://me@127.0.0.1:{port}/"
    },
    "an ftp:// proxy": lambda port: {"proxy": f"ftp://127.0.0.1:{port}"},
    "a proxy with a path": lambda port: {"proxy": f"http://127.0.0.1:{port}/p"},
    "a proxy with a query": lambda port: {"proxy": f"http://127.0.0.1:{port}/?q=1"},
    "a proxy with a fragment": lambda port: {"proxy": f"http://127.0.0.1:{port}/#f"},
    "a proxy user without a password": lambda port: {
        "proxy": f"http://me@127.0.0.1:{port}"
    },
}


def _call(connect: Any, port: int, keywords: dict[str, Any]) -> Callable[[], Any]:
    keywords = dict(keywords)
    uri = keywords.pop("uri", f"ws://127.0.0.1:{port}/")
    keywords.setdefault("proxy", None)
    keywords.setdefault("open_timeout", 2)
    return lambda: connect(uri, **keywords)


@pytest.mark.parametrize("scenario", list(SAME))
async def test_bad_arguments_fail_as_in_websockets_before_connecting(
    listener: Listener, scenario: str
) -> None:
    keywords = SAME[scenario](listener.port)
    oracle = await attempt(_call(websockets_connect, listener.port, keywords), listener)
    ours = await attempt(_call(aiows.connect, listener.port, keywords), listener)
    assert oracle.error is not None and oracle.connections == 0, oracle
    # The same class and message; aiows raises at the call (a documented
    # difference: "Arguments are checked at the call").
    assert ours.error == oracle.error
    assert ours.at_call and ours.connections == 0


async def test_an_https_proxy_with_proxy_ssl_false_is_refused(
    listener: Listener,
) -> None:
    """A difference: websockets takes ``proxy_ssl=False`` as "no TLS" and
    speaks clear text, credentials included, to a proxy declared
    ``https://``; aiows refuses it before connecting, as it refuses
    ``ssl=False`` for ``wss://``."""
    keywords = {
        "proxy": f"https://user:secret@127.0.0.1:{listener.port}",
        "proxy_ssl": False,
        "open_timeout": 0.5,
    }
    oracle = await attempt(_call(websockets_connect, listener.port, keywords), listener)
    ours = await attempt(_call(aiows.connect, listener.port, keywords), listener)
    assert oracle.connections == 1  # in clear text
    assert oracle.error is not None and oracle.error[0] == "TimeoutError"
    assert ours.error == (
        "ValueError",
        "proxy_ssl=False is incompatible with an https:// proxy",
        None,
    )
    assert ours.at_call and ours.connections == 0


@pytest.mark.parametrize("proxy", [None, "socks5"])
async def test_proxy_ssl_without_an_http_proxy_is_a_type_error(
    listener: Listener, proxy: str | None
) -> None:
    """websockets hands ``proxy_ssl`` to ``loop.create_connection``, which
    has no such keyword: a ``TypeError`` in the loop's words (after the
    SOCKS handshake, for a SOCKS proxy).  aiows raises a ``TypeError`` at
    the call, in its own words: the loop's depend on the loop."""
    socks = await SocksServer().start()
    try:
        keywords: dict[str, Any] = {"proxy_ssl": ctx()}
        if proxy is not None:
            keywords["proxy"] = f"socks5://127.0.0.1:{socks.port}"
        with warnings.catch_warnings():
            # websockets leaves the SOCKS socket it got to the garbage
            # collector when create_connection() refuses proxy_ssl.
            warnings.simplefilter("ignore", ResourceWarning)
            oracle = await attempt(
                _call(websockets_connect, listener.port, keywords), listener
            )
            gc.collect()
        ours = await attempt(_call(aiows.connect, listener.port, keywords), listener)
    finally:
        await socks.close()
    assert oracle.error is not None and oracle.error[0] == "TypeError"
    assert "proxy_ssl" in oracle.error[1]
    where = "a connection without a proxy" if proxy is None else "a socks5:// proxy"
    assert ours.error == (
        "TypeError",
        f"proxy_ssl argument is incompatible with {where}",
        None,
    )
    assert ours.at_call and ours.connections == 0
    assert oracle.connections == (0 if proxy is None else 1)


async def test_unix_connect_without_or_with_both_path_and_sock(tmp_path: Path) -> None:
    """asyncio's words, which websockets lets through: a ``ValueError``."""
    path = str(tmp_path / "none.sock")
    with socket.socket(socket.AF_UNIX) as sock:
        calls: list[Callable[[Any], Any]] = [
            lambda connect: connect(),
            lambda connect: connect(uri="ws://localhost/"),
            lambda connect: connect(path, sock=sock),
        ]
        for call in calls:
            oracle = await attempt(partial(call, websockets_unix_connect), None)
            ours = await attempt(partial(call, aiows.unix_connect), None)
            assert oracle.error is not None and oracle.error[0] == "ValueError"
            assert ours.error == oracle.error
            assert ours.at_call


async def test_unix_connect_over_a_connected_socket(tmp_path: Path) -> None:
    from websockets.asyncio.server import unix_serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    path = str(tmp_path / "ws.sock")
    async with unix_serve(echo, path):
        for connect in (websockets_unix_connect, aiows.unix_connect):
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            async with connect(sock=sock) as ws:
                await ws.send("over sock")
                assert await ws.recv() == "over sock"
            assert sock.fileno() == -1  # closed with the connection


# -- SOCKS proxies that fail (issue 20) ----------------------------------------------


@pytest.fixture
async def origin_url() -> AsyncIterator[str]:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


@pytest.mark.both_loops
async def test_a_socks_proxy_refusing_the_password_is_proxy_error(
    origin_url: str,
) -> None:
    socks = await SocksServer(password="right").start()
    try:
        proxy = f"socks5://me:wrong@127.0.0.1:{socks.port}"
        oracle = await attempt(
            lambda: websockets_connect(origin_url, proxy=proxy), None
        )
        ours = await attempt(lambda: aiows.connect(origin_url, proxy=proxy), None)
    finally:
        await socks.close()
    assert (
        ours.error
        == oracle.error
        == (
            "ProxyError",
            "failed to connect to SOCKS proxy",
            "ProxyError",
        )
    )
    assert isinstance(ours.cause, python_socks.ProxyError)
    assert socks.users == ["me", "me"] and socks.targets == []


@pytest.mark.both_loops
async def test_a_socks_proxy_that_hangs_up_is_proxy_error(origin_url: str) -> None:
    async def hang_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readexactly(3)  # the greeting
        writer.write(b"\x05")  # half an answer
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    proxy = f"socks5://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        oracle = await attempt(
            lambda: websockets_connect(origin_url, proxy=proxy), None
        )
        ours = await attempt(lambda: aiows.connect(origin_url, proxy=proxy), None)
    finally:
        server.close()
        await server.wait_closed()
    assert ours.error == oracle.error
    assert ours.error is not None and ours.error[:2] == (
        "ProxyError",
        "failed to connect to SOCKS proxy",
    )


async def test_an_unreachable_socks_proxy_is_an_os_error(origin_url: str) -> None:
    """As in websockets: the proxy cannot be reached, an ``OSError``
    (python-socks' ProxyConnectionError), not a ProxyError."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proxy = f"socks5://127.0.0.1:{port}"
    oracle = await attempt(partial(websockets_connect, origin_url, proxy=proxy), None)
    ours = await attempt(partial(aiows.connect, origin_url, proxy=proxy), None)
    assert ours.error == oracle.error
    assert ours.error is not None and ours.error[0] == "ProxyConnectionError"


# -- credentials on redirects (issue 20) ---------------------------------------------


@pytest.mark.parametrize("to", ["same-origin", "cross-origin"])
async def test_application_headers_on_a_redirect(to: str) -> None:
    """Every header of ``additional_headers`` goes to the server, also on a
    same-origin redirect, ``Proxy-Authorization`` included (websockets has
    no special case for it); ``Authorization``, ``Cookie`` and
    ``Proxy-Authorization`` stay behind on a cross-origin one."""
    seen: list[tuple[str, dict[str, list[str]]]] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send("ok")

    def process_request(connection: ServerConnection, request: Any) -> Any:
        seen.append(
            (
                request.path,
                {
                    name: request.headers.get_all(name)
                    for name in (
                        "Authorization",
                        "Proxy-Authorization",
                        "Cookie",
                        "X-App",
                    )
                },
            )
        )
        if request.path == "/start":
            response = connection.respond(HTTPStatus.FOUND, "")
            host = "127.0.0.1" if to == "same-origin" else "localhost"
            response.headers["Location"] = f"ws://{host}:{port}/end"
            return response
        return None

    headers = {
        "Authorization": "Bearer app",
        "Proxy-Authorization": "Basic YXBwOnNlY3JldA==",
        "Cookie": "id=1",
        "X-App": "1",
    }
    records = {}
    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as srv:
        port = srv.sockets[0].getsockname()[1]
        for name, connect in (
            ("websockets", websockets_connect),
            ("aiows", aiows.connect),
        ):
            seen.clear()
            async with connect(
                f"ws://127.0.0.1:{port}/start", proxy=None, additional_headers=headers
            ) as ws:
                assert await ws.recv() == "ok"
            records[name] = list(seen)
    assert records["aiows"] == records["websockets"]
    first, second = records["aiows"]
    assert first[1]["Proxy-Authorization"] == ["Basic YXBwOnNlY3JldA=="]
    if to == "same-origin":
        assert second[1] == first[1]
    else:
        assert second[1] == {
            "Authorization": [],
            "Proxy-Authorization": [],
            "Cookie": [],
            "X-App": ["1"],
        }
