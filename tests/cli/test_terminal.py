"""``aiows.cli.terminal``: the command at a prompt, in a real
pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Any

from aiows.cli import EXIT_ABNORMAL, EXIT_INTERRUPTED, EXIT_OK
from aiows.cli.connect import CLOSE_TIMEOUT

from .conftest import (
    STRAY_PROMPT,
    TIMEOUT,
    PtyReader,
    client_close_code,
    screen_lines,
    start_in_terminal,
    url_of,
    wait_exit,
)


async def test_terminal_session(server: Any, terminal: Any) -> None:
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


async def test_terminal_server_close_while_idle(server: Any, terminal: Any) -> None:
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    await out.expect(r"\* connected to ws://")
    os.write(out.master, b"close:4001:kicked\r")
    assert await wait_exit(proc) == EXIT_ABNORMAL
    await out.expect(r"error: server closed the connection with code 4001 \(kicked\)")


async def test_terminal_end_of_input_closes(server: Any, terminal: Any) -> None:
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    # Ctrl-D only means end of input once the line editor reads the terminal.
    await out.expect(r"/help for commands\r?\n> ")
    os.write(out.master, b"\x04")  # Ctrl-D on an empty line
    assert await wait_exit(proc) == EXIT_OK
    assert await client_close_code(server) == 1000


def test_screen_lines_applies_carriage_returns_and_erases() -> None:
    assert screen_lines("> ab\r\x1b[K12:00 x\n> ") == ["12:00 x", "> "]
    assert screen_lines("abc\rX") == ["Xbc"]


async def test_terminal_close_shows_codes_sent_and_received(
    server: Any, terminal: Any
) -> None:
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    await out.expect(r"/help for commands\r?\n> ")
    os.write(out.master, b"hello\r")
    await out.expect(r"< TEXT hello")
    os.write(out.master, b"/close 4000 bye now\r")
    assert await wait_exit(proc) == EXIT_OK
    assert await client_close_code(server) == 4000
    screen = screen_lines(await out.until_eof())
    # aiohttp's server answers a close frame with 1000.
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} \* connection closed: sent 4000 \(bye now\), "
        r"received 1000",
        screen[-2],
    ), screen
    assert screen[-1] == ""  # no prompt left after the last note
    assert not [line for line in screen if STRAY_PROMPT.search(line)], screen


async def test_terminal_error_comes_after_no_prompt(server: Any, terminal: Any) -> None:
    slave, out = terminal
    proc = await start_in_terminal(slave, url_of(server))
    await out.expect(r"/help for commands\r?\n> ")
    os.write(out.master, b"close:4001:kicked\r")
    assert await wait_exit(proc) == EXIT_ABNORMAL
    screen = screen_lines(await out.until_eof())
    assert screen[-2:] == [
        "aiows: error: server closed the connection with code 4001 (kicked)",
        "",
    ]
    assert not [line for line in screen if STRAY_PROMPT.search(line)], screen


async def test_terminal_input_with_piped_output_has_no_prompt(server: Any) -> None:
    master, slave = os.openpty()
    reader = PtyReader(master)
    try:
        env = dict(os.environ, TERM="dumb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiows",
            url_of(server),
            stdin=slave,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        assert proc.stdout is not None
        os.write(master, b"hello\r")
        line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        while b"< TEXT" not in line:
            line = await asyncio.wait_for(proc.stdout.readline(), TIMEOUT)
        assert re.fullmatch(rb"\d\d:\d\d:\d\d\.\d{3} < TEXT hello\n", line), line
        os.write(master, b"\x04")  # Ctrl-D
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        reader.close()
    assert proc.returncode == EXIT_OK
    assert b"> " not in out
    stamp = rb"\d\d:\d\d:\d\d\.\d{3}"
    assert re.fullmatch(
        stamp
        + rb" \* end of input; closing with 1000\n"
        + stamp
        + rb" \* connection closed: sent 1000, received 1000\n",
        out,
    ), out


async def test_terminal_ctrl_c_twice(raw_server: Any, terminal: Any) -> None:
    closes: asyncio.Queue[int | None] = asyncio.Queue()

    async def handler(peer: Any) -> None:
        code, _ = await peer.read_close()
        closes.put_nowait(code)
        await peer.expect_eof(TIMEOUT)  # never answer the close

    srv = await raw_server(handler)
    slave, out = terminal
    proc = await start_in_terminal(slave, srv.url)
    await out.expect(r"/help for commands\r?\n> ")
    os.write(out.master, b"\x03")  # Ctrl-C, through the terminal
    await out.expect(
        r"\* interrupted: closing with 1001, waiting up to 10 s for the server "
        r"to answer \(Ctrl-C again to quit now\)\r\n"
    )
    assert await asyncio.wait_for(closes.get(), TIMEOUT) == 1001
    before = screen_lines(out.data)
    assert before[-1] == ""  # no prompt
    loop = asyncio.get_running_loop()
    start = loop.time()
    os.write(out.master, b"\x03")
    assert await wait_exit(proc) == EXIT_INTERRUPTED
    assert loop.time() - start < CLOSE_TIMEOUT / 2
    screen = screen_lines(await out.until_eof())
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} \* interrupted again: quitting now", screen[-2]
    ), screen
    assert screen[-1] == ""
    assert not [line for line in screen if STRAY_PROMPT.search(line)], screen
