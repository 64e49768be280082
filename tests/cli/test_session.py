"""``aiows.cli.session``: what a connection sends, shows, and how it ends,
end to end through a pipe."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from typing import Any

import aiows
from aiows.cli import EXIT_ABNORMAL, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from aiows.cli.session import connection_error

from ..conftest import server_frame
from .conftest import TIMEOUT, client_close_code, run_cli, url_of


async def test_pipe_lines_in_echoes_out(server: Any) -> None:
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


async def test_pipe_end_of_input_waits_then_closes_1000(server: Any) -> None:
    # Default --wait (1 s) for the replies to "one" and "two".
    result = await run_cli(url_of(server), stdin=b"one\ntwo")
    assert result.out == "one\ntwo\n"
    assert result.status == EXIT_OK
    assert await client_close_code(server) == 1000


async def test_pipe_binary_and_json_commands(server: Any) -> None:
    stdin = b'/binary 00ff 10\n/json {"a": [1, 2]}\n//slash\nclose:1000:\n'
    result = await run_cli(url_of(server), "--wait", "5", stdin=stdin)
    assert result.out.splitlines() == ["00ff10", '{"a": [1, 2]}', "/slash"]
    assert result.status == EXIT_OK


async def test_pipe_invalid_command_is_reported_and_not_sent(server: Any) -> None:
    stdin = b"/json {nope\n/binary zz\n/frobnicate\nok\nclose:1000:\n"
    result = await run_cli(url_of(server), "--wait", "5", stdin=stdin)
    assert result.out == "ok\n"
    assert "/json: not valid JSON" in result.err
    assert "/binary: not hexadecimal" in result.err
    assert "unknown command /frobnicate" in result.err
    assert result.status == EXIT_ERROR


async def test_pipe_close_command_sends_code(server: Any) -> None:
    result = await run_cli(
        url_of(server), "--wait", "5", stdin=b"hi\n/close 4000 done here\nnever\n"
    )
    assert result.status == EXIT_OK
    assert result.out == "hi\n" or result.out == ""  # closing drops late replies
    assert await client_close_code(server) == 4000


async def test_pipe_ping_reports_latency_on_stderr(server: Any) -> None:
    result = await run_cli(url_of(server), "--wait", "5", stdin=b"/ping\nclose:1000:\n")
    assert result.status == EXIT_OK
    assert result.out == ""
    assert re.search(r"latency \d+\.\d+ ms", result.err)


async def test_server_close_4001_is_an_error(server: Any) -> None:
    result = await run_cli(
        url_of(server), "--wait", "5", stdin=b"a\nclose:4001:not allowed\n"
    )
    assert result.out == "a\n"
    assert result.status == EXIT_ABNORMAL
    assert result.err == (
        "aiows: error: server closed the connection with code 4001 (not allowed)\n"
    )


async def test_protocol_error_is_an_abnormal_close(raw_server: Any) -> None:
    async def handler(peer: Any) -> None:
        peer.send(server_frame(0x3, b"reserved opcode"))
        await peer.read_close()

    srv = await raw_server(handler)
    result = await run_cli(srv.url, "--wait", "5", stdin=b"")
    assert result.status == EXIT_ABNORMAL
    assert "protocol error (1002)" in result.err
    assert "Traceback" not in result.err


async def test_connection_lost_is_an_abnormal_close(raw_server: Any) -> None:
    async def handler(peer: Any) -> None:
        await peer.read_frame()  # the client's first message
        peer.close()  # drop TCP with no close frame

    srv = await raw_server(handler)
    result = await run_cli(srv.url, "--wait", "5", stdin=b"hi\n")
    assert result.status == EXIT_ABNORMAL
    assert result.err == (
        "aiows: error: connection lost without a closing handshake (1006)\n"
    )


async def test_interrupt_closes_with_1001(server: Any) -> None:
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


async def test_max_size_rejects_big_message(server: Any) -> None:
    result = await run_cli(
        url_of(server), "--max-size", "10", "--wait", "5", stdin=b"x" * 50 + b"\n"
    )
    assert result.status == EXIT_ABNORMAL
    assert "message too big (1009)" in result.err


def test_connection_error_descriptions() -> None:
    assert connection_error(aiows.ProtocolError(1002, "bad")).startswith(
        "protocol error (1002)"
    )
    assert connection_error(aiows.PongTimeout("silent")) == ("keepalive failed: silent")
    assert connection_error(None) == "connection failed: unknown error"
