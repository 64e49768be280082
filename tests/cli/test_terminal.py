"""``aiows.cli.terminal``: the command at a prompt, in a real
pseudo-terminal."""

from __future__ import annotations

import os
from typing import Any

from aiows.cli import EXIT_ABNORMAL, EXIT_OK

from .conftest import client_close_code, start_in_terminal, url_of, wait_exit


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
