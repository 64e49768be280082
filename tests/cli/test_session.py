"""``aiows.cli.session``: what a connection sends and shows, its commands,
and Ctrl-C, end to end through a pipe."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from typing import Any

from aiows.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from aiows.cli.connect import CLOSE_TIMEOUT

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
    assert await client_close_code(server) == 4000, result


async def test_pipe_ping_reports_latency_on_stderr(server: Any) -> None:
    result = await run_cli(url_of(server), "--wait", "5", stdin=b"/ping\nclose:1000:\n")
    assert result.status == EXIT_OK
    assert result.out == ""
    assert re.search(r"latency \d+\.\d+ ms", result.err)


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


async def test_second_interrupt_quits_without_waiting(raw_server: Any) -> None:
    closes: asyncio.Queue[int | None] = asyncio.Queue()

    async def handler(peer: Any) -> None:
        frame = await peer.read_frame()
        peer.send(server_frame(0x1, frame.payload))  # echo, then
        code, _ = await peer.read_close()
        closes.put_nowait(code)
        await peer.expect_eof(TIMEOUT)  # never answer the close

    srv = await raw_server(handler)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiows",
        srv.url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stderr is not None
    try:
        proc.stdin.write(b"hi\n")
        assert await asyncio.wait_for(proc.stdout.readline(), TIMEOUT) == b"hi\n"
        proc.send_signal(signal.SIGINT)
        note = await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)
        assert note == (
            b"interrupted: closing with 1001, waiting up to 10 s for the server "
            b"to answer (Ctrl-C again to quit now)\n"
        )
        assert await asyncio.wait_for(closes.get(), TIMEOUT) == 1001
        loop = asyncio.get_running_loop()
        start = loop.time()
        proc.send_signal(signal.SIGINT)
        status = await asyncio.wait_for(proc.wait(), TIMEOUT)
        elapsed = loop.time() - start
        rest = await asyncio.wait_for(proc.stderr.read(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        proc.stdin.close()
    assert status == EXIT_INTERRUPTED
    assert rest == b"interrupted again: quitting now\n"
    # Well before the 10 s the first Ctrl-C would have waited.
    assert elapsed < CLOSE_TIMEOUT / 2
