"""The ``aiows`` command under test: ``python -m aiows`` in a subprocess,
through a pipe or a pseudo-terminal, against real servers on 127.0.0.1.

Helpers are imported by the test modules (``from .conftest import ...``);
the fixtures start the servers.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

#: Upper bound for any single wait on the command; the tests never sleep.
TIMEOUT = 10.0


@dataclass
class Result:
    status: int
    out: str
    err: str


async def run_cli(*args: str, stdin: bytes | None = b"") -> Result:
    """Run ``python -m aiows ARGS`` with ``stdin`` (None: /dev/null)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiows",
        *args,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@dataclass
class Recorder:
    """What the test server saw."""

    headers: list[dict[str, str]] = field(default_factory=list)
    #: Close codes the client sent, one per connection.
    close_codes: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def server(aiohttp_server: Any) -> Any:
    """An echo server that records headers and close codes; /forbidden is 403.

    The TEXT message ``close:<code>:<reason>`` makes it close with that code.
    """
    recorder = Recorder()

    async def echo(request: web.Request) -> web.WebSocketResponse:
        recorder.headers.append(dict(request.headers))
        ws = web.WebSocketResponse(protocols=("chat", "superchat"))
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                if msg.data.startswith("close:"):
                    _, code, reason = msg.data.split(":", 2)
                    await ws.close(code=int(code), message=reason.encode())
                else:
                    await ws.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        recorder.close_codes.put_nowait(ws.close_code)
        return ws

    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403, text="go away")

    app = web.Application()
    app.router.add_get("/ws", echo)
    app.router.add_get("/forbidden", forbidden)
    srv = await aiohttp_server(app)
    srv.recorder = recorder
    return srv


def url_of(srv: Any, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


async def client_close_code(srv: Any) -> int | None:
    return await asyncio.wait_for(srv.recorder.close_codes.get(), TIMEOUT)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("aiows: error: ")


@pytest.fixture
def tls_context() -> ssl.SSLContext:
    """A server TLS context whose certificate comes from a CA nobody trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
async def tls_url(tls_context: ssl.SSLContext) -> AsyncIterator[str]:
    """A wss:// echo URL whose certificate comes from a CA nobody trusts."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls_context)
    await site.start()
    try:
        yield f"wss://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


# ----------------------------------------------------------------------
# A pseudo-terminal


class PtyReader:
    """Collects what the child writes to a pseudo-terminal."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.data = ""
        self.eof = False
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        os.set_blocking(master, False)
        self._loop.add_reader(master, self._on_readable)

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if chunk:
            self.data += chunk.decode(errors="replace")
        else:
            self.eof = True
            self._loop.remove_reader(self.master)
        self._changed.set()

    async def expect(self, pattern: str) -> re.Match[str]:
        """Wait until ``pattern`` appears in the output."""

        async def wait() -> re.Match[str]:
            while True:
                match = re.search(pattern, self.data)
                if match:
                    return match
                if self.eof:
                    raise AssertionError(f"{pattern!r} not in {self.data!r}")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def until_eof(self) -> str:
        """Wait until the child has closed the terminal; all it wrote."""

        async def wait() -> None:
            while not self.eof:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)
        return self.data

    def close(self) -> None:
        if not self.eof:
            self._loop.remove_reader(self.master)
        os.close(self.master)


def screen_lines(data: str) -> list[str]:
    """The lines a terminal shows for ``data``: ``\\r`` returns to the
    start of the line, ``ESC [K`` erases to its end (all the CLI uses)."""
    lines: list[str] = []
    for raw in data.split("\n"):
        line = ""
        column = 0
        for part in re.split(r"(\r|\x1b\[K)", raw):
            if part == "\r":
                column = 0
            elif part == "\x1b[K":
                line = line[:column]
            else:
                line = line[:column] + part + line[column + len(part) :]
                column += len(part)
        lines.append(line)
    return lines


#: A prompt with a note, a message or an error written after it.
STRAY_PROMPT = re.compile(r"> (\d\d:\d\d:\d\d\.\d{3} |aiows: )")


#: Commands started by start_in_terminal(), ended by the terminal fixture.
_STARTED: list[asyncio.subprocess.Process] = []


@pytest.fixture
async def terminal() -> AsyncIterator[tuple[int, PtyReader]]:
    """A pseudo-terminal: the slave end for the command, a reader on the
    master end.  A command still running at the end of the test is killed."""
    master, slave = os.openpty()
    reader = PtyReader(master)
    try:
        yield slave, reader
    finally:
        while _STARTED:
            proc = _STARTED.pop()
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        reader.close()


async def start_in_terminal(slave: int, *args: str) -> asyncio.subprocess.Process:
    """Start ``python -m aiows ARGS`` with the terminal as its controlling tty.

    Ctrl-C (``\\x03``) written to the terminal then reaches the command as
    SIGINT, as it would from a keyboard.
    """
    env = dict(os.environ, TERM="dumb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiows",
        *args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    os.close(slave)
    _STARTED.append(proc)
    return proc


def _take_terminal() -> None:
    """In the child, after setsid(): make standard input the controlling tty."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def wait_exit(proc: asyncio.subprocess.Process) -> int:
    try:
        return await asyncio.wait_for(proc.wait(), TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
