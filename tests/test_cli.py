"""The ``aiows`` command, end to end: ``python -m aiows`` in a subprocess
against real aiohttp.web servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import trustme
from aiohttp import web

from aiows.cli import (
    EXIT_ABNORMAL,
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)

from .conftest import server_frame

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
async def server(aiohttp_server):  # type: ignore[no-untyped-def]
    """An echo server that records headers and close codes; /forbidden is 403."""
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


def url_of(srv, path: str = "/ws") -> str:  # type: ignore[no-untyped-def]
    return f"ws://127.0.0.1:{srv.port}{path}"


async def client_close_code(srv) -> int | None:  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(srv.recorder.close_codes.get(), TIMEOUT)


# ----------------------------------------------------------------------
# Pipe mode


async def test_pipe_lines_in_echoes_out(server) -> None:  # type: ignore[no-untyped-def]
    # The server's close ends the session, so --wait is never what ends it.
    result = await run_cli(
        url_of(server),
        "--wait",
        "5",
        stdin=b"hello\nwide \xc3\xa9t\xc3\xa9\r\nclose:1000:bye\n",
    )
    assert result.out == "hello\nwide été\n"
    assert result.status == EXIT_OK
    assert result.err == ""


async def test_pipe_end_of_input_waits_then_closes_1000(server) -> None:  # type: ignore[no-untyped-def]
    # Default --wait (1 s) for the replies to "one" and "two".
    result = await run_cli(url_of(server), stdin=b"one\ntwo")
    assert result.out == "one\ntwo\n"
    assert result.status == EXIT_OK
    assert await client_close_code(server) == 1000


async def test_pipe_binary_and_json_commands(server) -> None:  # type: ignore[no-untyped-def]
    stdin = b'/binary 00ff 10\n/json {"a": [1, 2]}\n//slash\nclose:1000:\n'
    result = await run_cli(url_of(server), "--wait", "5", stdin=stdin)
    assert result.out.splitlines() == ["00ff10", '{"a": [1, 2]}', "/slash"]
    assert result.status == EXIT_OK


async def test_pipe_invalid_command_is_reported_and_not_sent(server) -> None:  # type: ignore[no-untyped-def]
    stdin = b"/json {nope\n/binary zz\n/frobnicate\nok\nclose:1000:\n"
    result = await run_cli(url_of(server), "--wait", "5", stdin=stdin)
    assert result.out == "ok\n"
    assert "/json: not valid JSON" in result.err
    assert "/binary: not hexadecimal" in result.err
    assert "unknown command /frobnicate" in result.err
    assert result.status == EXIT_ERROR


async def test_pipe_close_command_sends_code(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(
        url_of(server), "--wait", "5", stdin=b"hi\n/close 4000 done here\nnever\n"
    )
    assert result.status == EXIT_OK
    assert result.out == "hi\n" or result.out == ""  # closing drops late replies
    assert await client_close_code(server) == 4000


async def test_pipe_ping_reports_latency_on_stderr(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(url_of(server), "--wait", "5", stdin=b"/ping\nclose:1000:\n")
    assert result.status == EXIT_OK
    assert result.out == ""
    assert re.search(r"latency \d+\.\d+ ms", result.err)


async def test_server_close_4001_is_an_error(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(
        url_of(server), "--wait", "5", stdin=b"a\nclose:4001:not allowed\n"
    )
    assert result.out == "a\n"
    assert result.status == EXIT_ABNORMAL
    assert result.err == (
        "aiows: error: server closed the connection with code 4001 (not allowed)\n"
    )


async def test_protocol_error_is_an_abnormal_close(raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(peer) -> None:  # type: ignore[no-untyped-def]
        peer.send(server_frame(0x3, b"reserved opcode"))
        await peer.read_close()

    srv = await raw_server(handler)
    result = await run_cli(srv.url, "--wait", "5", stdin=b"")
    assert result.status == EXIT_ABNORMAL
    assert "protocol error (1002)" in result.err
    assert "Traceback" not in result.err


async def test_connection_lost_is_an_abnormal_close(raw_server) -> None:  # type: ignore[no-untyped-def]
    async def handler(peer) -> None:  # type: ignore[no-untyped-def]
        await peer.read_frame()  # the client's first message
        peer.close()  # drop TCP with no close frame

    srv = await raw_server(handler)
    result = await run_cli(srv.url, "--wait", "5", stdin=b"hi\n")
    assert result.status == EXIT_ABNORMAL
    assert result.err == (
        "aiows: error: connection lost without a closing handshake (1006)\n"
    )


async def test_interrupt_closes_with_1001(server) -> None:  # type: ignore[no-untyped-def]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiows",
        url_of(server),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"hi\n")
        # The echo proves the session (and its Ctrl-C handler) is running.
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        assert line == b"hi\n"
        proc.send_signal(signal.SIGINT)
        status = await asyncio.wait_for(proc.wait(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        proc.stdin.close()
    assert status == EXIT_INTERRUPTED
    assert await client_close_code(server) == 1001


async def test_header_and_subprotocol_reach_the_server(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(
        url_of(server),
        "--header",
        "X-Token: s3cret",
        "-H",
        "X-Other:2",
        "--subprotocol",
        "superchat",
        "--compress",
        "--wait",
        "5",
        stdin=b"close:1000:\n",
    )
    assert result.status == EXIT_OK
    (headers,) = server.recorder.headers
    assert headers["X-Token"] == "s3cret"
    assert headers["X-Other"] == "2"
    assert headers["Sec-WebSocket-Protocol"] == "superchat"
    assert "permessage-deflate" in headers["Sec-WebSocket-Extensions"]


async def test_max_size_rejects_big_message(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(
        url_of(server), "--max-size", "10", "--wait", "5", stdin=b"x" * 50 + b"\n"
    )
    assert result.status == EXIT_ABNORMAL
    assert "message too big (1009)" in result.err


# ----------------------------------------------------------------------
# Errors


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("aiows: error: ")


async def test_refused_connection() -> None:
    result = await run_cli(f"ws://127.0.0.1:{closed_port()}/", stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    assert "cannot connect to 127.0.0.1" in result.err
    assert result.out == ""


async def test_handshake_refused(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli(url_of(server, "/forbidden"), stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert result.err == "aiows: error: server refused the upgrade: HTTP 403\n"


async def test_debug_shows_traceback(server) -> None:  # type: ignore[no-untyped-def]
    result = await run_cli("--debug", url_of(server, "/forbidden"), stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert "Traceback (most recent call last)" in result.err
    assert "InvalidStatus" in result.err
    assert result.err.endswith("aiows: error: server refused the upgrade: HTTP 403\n")


async def test_invalid_url() -> None:
    result = await run_cli("ftp://example.org/", stdin=b"")
    assert result.status == EXIT_USAGE
    assert_one_line(result.err)
    assert "invalid URL 'ftp://example.org/'" in result.err


async def test_bad_header_is_a_usage_error() -> None:
    result = await run_cli("ws://127.0.0.1:1/", "--header", "no-colon", stdin=b"")
    assert result.status == EXIT_USAGE
    assert "expected NAME:VALUE" in result.err


@pytest.fixture
async def tls_url() -> AsyncIterator[str]:
    """A wss:// echo URL whose certificate comes from a CA nobody trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)

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
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"wss://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_untrusted_certificate(tls_url: str) -> None:
    result = await run_cli(tls_url, stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    assert "TLS certificate of 127.0.0.1 not trusted" in result.err
    assert "--insecure" in result.err


async def test_insecure_skips_verification(tls_url: str) -> None:
    result = await run_cli(tls_url, "--insecure", "--wait", "1", stdin=b"secret\n")
    assert result.status == EXIT_OK, result.err
    assert result.out == "secret\n"


# ----------------------------------------------------------------------
# Demo


async def test_demo_without_input_plays_a_scripted_exchange() -> None:
    result = await run_cli("--demo", stdin=None)
    assert result.status == EXIT_OK, result.err
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} < TEXT Hello from aiows!", result.out)
    document = json.dumps({"type": "greeting", "from": "aiows", "id": 1})
    assert f"< TEXT {document}" in result.out
    assert re.search(r"latency \d+\.\d+ ms", result.out)
    assert "started an echo server at ws://127.0.0.1:" in result.err


async def test_demo_with_piped_input_echoes() -> None:
    result = await run_cli(stdin=b"ping me\n/binary 0102\n")
    assert result.status == EXIT_OK, result.err
    assert result.out == "ping me\n0102\n"


# ----------------------------------------------------------------------
# Terminal mode


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

    def close(self) -> None:
        if not self.eof:
            self._loop.remove_reader(self.master)
        os.close(self.master)


@pytest.fixture
async def terminal() -> AsyncIterator[tuple[int, PtyReader]]:
    master, slave = os.openpty()
    reader = PtyReader(master)
    try:
        yield slave, reader
    finally:
        reader.close()


async def start_in_terminal(slave: int, *args: str) -> asyncio.subprocess.Process:
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
    )
    os.close(slave)
    return proc


async def wait_exit(proc: asyncio.subprocess.Process) -> int:
    try:
        return await asyncio.wait_for(proc.wait(), TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise


async def test_terminal_session(server, terminal) -> None:  # type: ignore[no-untyped-def]
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    await out.expect(r"\* connected to ws://")
    os.write(out.master, b"hello there\r")
    await out.expect(r"\d\d:\d\d:\d\d\.\d{3} < TEXT hello there")
    os.write(out.master, b"/binary 0aff\r")
    await out.expect(r"< BINARY 0aff \(2 bytes\)")
    os.write(out.master, b"/ping\r")
    await out.expect(r"pong: latency \d+\.\d+ ms")
    os.write(out.master, b"/close 1000 bye\r")
    assert await wait_exit(proc) == EXIT_OK
    assert await client_close_code(server) == 1000
    assert "Traceback" not in out.data


async def test_terminal_server_close_while_idle(server, terminal) -> None:  # type: ignore[no-untyped-def]
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    await out.expect(r"\* connected to ws://")
    os.write(out.master, b"close:4001:kicked\r")
    assert await wait_exit(proc) == EXIT_ABNORMAL
    await out.expect(r"error: server closed the connection with code 4001 \(kicked\)")


async def test_terminal_end_of_input_closes(server, terminal) -> None:  # type: ignore[no-untyped-def]
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    # Ctrl-D only means end of input once the line editor reads the terminal.
    await out.expect(r"/help for commands\r?\n> ")
    os.write(out.master, b"\x04")  # Ctrl-D on an empty line
    assert await wait_exit(proc) == EXIT_OK
    assert await client_close_code(server) == 1000
