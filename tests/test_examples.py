"""Run every script in ``examples/`` against local servers and check the results.

Each example runs as its own process (``python examples/<name>.py URL``),
the way a reader would run it, against an aiohttp.web server started here
that records what it saw: request headers, tokens, close codes.  TLS uses a
trustme CA; the proxy example goes through a real proxy.py process.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUN_TIMEOUT = 15.0

ServerFactory = Callable[..., Awaitable[TestServer]]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for an example: no proxy settings leak in from outside."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.lower().endswith("_proxy")
        and not name.startswith(("AIOWS_EXAMPLE", "AIOWS_PROXY"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def example_command(name: str, *args: str) -> list[str]:
    # -X dev shows ResourceWarnings and never-awaited coroutines on stderr,
    # which the tests require to be empty.
    return [sys.executable, "-X", "dev", str(EXAMPLES / name), *args]


async def run_example(
    name: str, *args: str, env: dict[str, str] | None = None, ok: bool = True
) -> tuple[str, str]:
    """Run an example to completion; return its stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        *example_command(name, *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or clean_env(),
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    stdout, stderr = out.decode(), err.decode()
    if ok:
        assert process.returncode == 0, stderr
        assert stderr == ""
    else:
        assert process.returncode != 0, stdout
    return stdout, stderr


# ----------------------------------------------------------------------
# The server the examples talk to


@dataclass
class Recorder:
    """An aiohttp.web app with the endpoints of examples/server.py, recording."""

    #: Request headers of every WebSocket upgrade, in order.
    upgrades: list[CIMultiDictProxy[str]] = field(default_factory=list)
    #: Close code of each finished /ws connection, as the server saw it.
    closes: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)
    #: Tokens issued by POST /token, and the Authorization of each /feed try.
    issued: list[str] = field(default_factory=list)
    feed_attempts: list[tuple[str, int]] = field(default_factory=list)
    #: /feed refuses these tokens with 401, to exercise the retry rule.
    revoked: set[str] = field(default_factory=set)
    _numbers: Any = field(default_factory=lambda: count(1))

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self.echo)
        app.router.add_post("/token", self.token)
        app.router.add_get("/feed", self.feed)
        return app

    async def echo(self, request: web.Request) -> web.WebSocketResponse:
        self.upgrades.append(request.headers)
        ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"))
        ws.headers["X-Server"] = "recorder"
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT and msg.data == "bye":
                await ws.close(code=1000, message=b"bye")
            elif msg.type == web.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == web.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        self.closes.put_nowait(ws.close_code)
        return ws

    async def token(self, request: web.Request) -> web.Response:
        token = f"tok-{next(self._numbers)}"
        self.issued.append(token)
        return web.json_response({"token": token})

    async def feed(self, request: web.Request) -> web.WebSocketResponse:
        self.upgrades.append(request.headers)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            self.feed_attempts.append((auth, 401))
            raise web.HTTPUnauthorized()
        self.feed_attempts.append((auth, 101))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for n in (1, 2):
            await ws.send_str(f"tick {n} for {token}")
        await ws.close(code=4001, message=b"token expired")
        return ws


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def server(aiohttp_server: ServerFactory, recorder: Recorder) -> TestServer:
    return await aiohttp_server(recorder.app)


def base_url(server: TestServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.port}"


# ----------------------------------------------------------------------
# Plain examples


async def test_rest_and_ws(server: TestServer, recorder: Recorder) -> None:
    out, _ = await run_example("rest_and_ws.py", base_url(server))
    assert out.splitlines() == [
        "REST: got token tok-1",
        "WS: echoed {'hello': 'world'}",
        "WS: closed with code 1000",
    ]
    # The session's default header and the token went with the upgrade.
    (headers,) = recorder.upgrades
    assert headers["X-Client"] == "rest-and-ws"
    assert headers["Authorization"] == "Bearer tok-1"
    assert await recorder.closes.get() == 1000


async def test_one_shot(server: TestServer, recorder: Recorder) -> None:
    out, _ = await run_example("one_shot.py", base_url(server, "ws") + "/ws")
    assert out.splitlines() == [
        "subprotocol: chat.v2",
        "received: hello",
        "close code: 1000",
    ]
    assert recorder.upgrades[0]["Sec-WebSocket-Protocol"] == "chat.v2, chat.v1"
    assert await recorder.closes.get() == 1000


async def test_listener(server: TestServer, recorder: Recorder) -> None:
    out, _ = await run_example("listener.py", base_url(server, "ws") + "/ws")
    assert out.splitlines() == ["echoed: 1000", "closed: 1000"]
    assert await recorder.closes.get() == 1000


async def test_message_loop(server: TestServer, recorder: Recorder) -> None:
    out, _ = await run_example("message_loop.py", base_url(server, "ws") + "/ws")
    assert out.splitlines() == [
        "text: some text",
        "binary: 000102",
        "json: {'price': 42}",
        "closed: code=1000 reason='bye'",
    ]
    # The server closed (after "bye"), and the client echoed its code.
    assert await recorder.closes.get() == 1000


async def test_demo() -> None:
    # Self-contained: it starts its own server.
    out, _ = await run_example("demo.py")
    lines = out.splitlines()
    assert lines[:4] == [
        "REST  -> {'token': 't0ps3cret'}",
        "WS    <- subprotocol v2 | compression 15",
        "WS    <- welcome, cookie session=abc123",
        "WS    <- echo: hello",
    ]
    assert re.fullmatch(r"WS    ping round trip \d+ µs", lines[4]), lines[4]
    assert lines[5:] == ["WS    closed with code 1000"]


async def test_headers_auth(server: TestServer, recorder: Recorder) -> None:
    out, _ = await run_example("headers_auth.py", base_url(server, "ws") + "/ws")
    assert out.splitlines() == [
        "sent User-Agent: my-app/1.0",
        "sent X-Tenant: acme",
        "sent X-Request-Id: 42",
        "sent Origin: https://my-app.example",
        "sent Authorization: Basic ...",
        "status: 101",
        "server header X-Server: recorder",
    ]
    (headers,) = recorder.upgrades
    assert headers["User-Agent"] == "my-app/1.0"
    assert headers["X-Tenant"] == "acme"
    assert headers["X-Request-Id"] == "42"
    assert headers["Origin"] == "https://my-app.example"
    assert headers["Authorization"] == "Basic YWxpY2U6czNjcmV0"  # alice:s3cret
    assert await recorder.closes.get() == 1000


async def test_reconnect_token(server: TestServer, recorder: Recorder) -> None:
    # The first token is refused: the example's process_exception retries
    # the 401, and the callable headers fetch a new token for each attempt.
    recorder.revoked.add("tok-1")
    out, _ = await run_example("reconnect_token.py", base_url(server), "3")
    expected = []
    for n, token in ((1, "tok-2"), (2, "tok-3"), (3, "tok-4")):
        expected += [
            f"connection {n}: open",
            f"connection {n}: tick 1 for {token}",
            f"connection {n}: tick 2 for {token}",
            f"connection {n}: closed with 4001 token expired",
        ]
    assert out.splitlines() == expected
    assert recorder.issued == ["tok-1", "tok-2", "tok-3", "tok-4"]
    assert recorder.feed_attempts == [
        ("Bearer tok-1", 401),
        ("Bearer tok-2", 101),
        ("Bearer tok-3", 101),
        ("Bearer tok-4", 101),
    ]


async def test_sigterm_shutdown(server: TestServer, recorder: Recorder) -> None:
    process = await asyncio.create_subprocess_exec(
        *example_command("sigterm_shutdown.py", base_url(server, "ws") + "/ws"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        # The example prints this line once the WebSocket is open.
        first = await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)
        assert first.decode() == (
            f"connected (pid {process.pid}); send SIGTERM to stop\n"
        )
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert err == b""
    assert out.decode() == "closed cleanly with code 1000\n"
    # The server received a close frame with 1000, not a dropped connection.
    assert await asyncio.wait_for(recorder.closes.get(), RUN_TIMEOUT) == 1000


async def test_example_server(recorder: Recorder) -> None:
    """examples/server.py serves the other examples."""
    process = await asyncio.create_subprocess_exec(
        *example_command("server.py", "--port", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line.decode())
        assert match is not None, line
        base = match[1]
        out, _ = await run_example("reconnect_token.py", base, "2")
        assert "connection 2: tick 2 for tok-2" in out.splitlines()
        ws_url = base.replace("http", "ws", 1) + "/ws"
        out, _ = await run_example("message_loop.py", ws_url)
        assert out.splitlines()[-1] == "closed: code=1000 reason='bye'"
        # The server logs each /ws connection's close code.
        logged = await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)
        assert logged.decode() == "/ws: client left with close code 1000\n"
    finally:
        process.terminate()
        await process.communicate()


# ----------------------------------------------------------------------
# TLS and proxy


@dataclass(frozen=True)
class TLSFiles:
    server: ssl.SSLContext
    cafile: Path
    other_cafile: Path


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    cafile = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    other_cafile = directory / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_cafile))
    return TLSFiles(server, cafile, other_cafile)


@pytest.fixture
async def tls_server(
    aiohttp_server: ServerFactory, recorder: Recorder, tls_files: TLSFiles
) -> TestServer:
    return await aiohttp_server(recorder.app, ssl=tls_files.server)


async def test_tls_custom_ca(
    tls_server: TestServer, recorder: Recorder, tls_files: TLSFiles
) -> None:
    url = base_url(tls_server, "wss") + "/ws"
    out, _ = await run_example("tls_custom_ca.py", url, str(tls_files.cafile))
    lines = out.splitlines()
    assert re.fullmatch(r"TLS version: TLSv1\.[23]", lines[0])
    assert lines[1:] == ["received: over TLS"]
    assert await recorder.closes.get() == 1000
    # Verification is real: a CA that did not sign the certificate fails.
    _, err = await run_example(
        "tls_custom_ca.py", url, str(tls_files.other_cafile), ok=False
    )
    assert "CERTIFICATE_VERIFY_FAILED" in err
    assert len(recorder.upgrades) == 1


@dataclass
class Proxy:
    url: str
    log: list[str]
    new_line: asyncio.Event


PROXY_USER, PROXY_PASSWORD = "proxy-user", "proxy-secret"


@pytest.fixture
async def http_proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    """A proxy.py process requiring Basic auth; its log lines are collected."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        "--hostname",
        "127.0.0.1",
        "--port",
        "0",
        "--num-acceptors",
        "1",
        "--num-workers",
        "1",
        "--basic-auth",
        f"{PROXY_USER}:{PROXY_PASSWORD}",
        "--log-level",
        "DEBUG",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert process.stdout is not None
    stdout = process.stdout
    log: list[str] = []
    new_line = asyncio.Event()

    async def read_log() -> None:
        async for raw in stdout:
            log.append(raw.decode(errors="replace"))
            new_line.set()

    async def wait_for(pattern: str) -> re.Match[str]:
        while True:
            for line in log:
                if match := re.search(pattern, line):
                    return match
            new_line.clear()
            await new_line.wait()

    reader = asyncio.create_task(read_log())
    try:
        listening = await asyncio.wait_for(
            wait_for(r"Listening on 127\.0\.0\.1:(\d+)"), RUN_TIMEOUT
        )
        await asyncio.wait_for(wait_for(r"Started 1 acceptors"), RUN_TIMEOUT)
        yield Proxy(f"http://127.0.0.1:{listening[1]}", log, new_line)
    finally:
        process.terminate()
        await process.wait()
        await reader


async def test_through_proxy(
    tls_server: TestServer, recorder: Recorder, tls_files: TLSFiles, http_proxy: Proxy
) -> None:
    url = base_url(tls_server, "wss") + "/ws"
    env = clean_env(
        AIOWS_EXAMPLE_CA=str(tls_files.cafile),
        AIOWS_PROXY_USER=PROXY_USER,
        AIOWS_PROXY_PASSWORD=PROXY_PASSWORD,
    )
    out, _ = await run_example("through_proxy.py", url, http_proxy.url, env=env)
    assert out.splitlines() == [
        f"connected through {http_proxy.url}",
        "received: through the tunnel",
    ]
    assert await recorder.closes.get() == 1000
    # The origin server saw the connection come from the proxy's tunnel,
    # and the proxy logged the CONNECT to it.
    (headers,) = recorder.upgrades
    assert "Proxy-Authorization" not in headers
    connect = f"CONNECT 127.0.0.1:{tls_server.port}"
    while not any(connect in line for line in http_proxy.log):
        http_proxy.new_line.clear()
        await asyncio.wait_for(http_proxy.new_line.wait(), RUN_TIMEOUT)
    # Without the credentials the proxy refuses the tunnel (407).
    bare = clean_env(AIOWS_EXAMPLE_CA=str(tls_files.cafile))
    _, err = await run_example(
        "through_proxy.py", url, http_proxy.url, env=bare, ok=False
    )
    assert "407" in err
    assert len(recorder.upgrades) == 1
