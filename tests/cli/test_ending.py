"""``aiows.cli.ending``: how a session's end is reported, and its exit
status, end to end through a pipe."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import aiows
from aiows.cli import EXIT_ABNORMAL, EXIT_ERROR, EXIT_OK
from aiows.cli.ending import Unsent, connection_error

from ..conftest import server_frame
from .conftest import TIMEOUT, client_close_code, run_cli, url_of


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


def close_frame(code: int, reason: bytes = b"") -> bytes:
    return server_frame(0x8, code.to_bytes(2, "big") + reason)


async def test_server_closing_at_once_counts_every_unsent_line(
    raw_server: Any,
) -> None:
    async def handler(peer: Any) -> None:
        assert await peer.read_close() == (1000, b"bye")  # the client's answer

    # The close frame comes in the same segment as the 101: no line can be
    # sent before the client knows the connection is closing.
    srv = await raw_server(handler, after_101=close_frame(1000, b"bye"))
    for _ in range(3):
        result = await run_cli(srv.url, "--wait", "5", stdin=b"one\ntwo\nthree\n")
        assert result.out == ""
        assert result.err == (
            "aiows: error: 3 lines of input not sent: the connection closed\n"
        )
        assert result.status == EXIT_ERROR


async def test_unsent_lines_are_counted_before_an_abnormal_close(
    raw_server: Any,
) -> None:
    async def handler(peer: Any) -> None:
        await peer.read_close()

    srv = await raw_server(handler, after_101=close_frame(4001, b"go away"))
    result = await run_cli(srv.url, "--wait", "5", stdin=b"one\n")
    assert result.err == (
        "1 line of input not sent: the connection closed\n"
        "aiows: error: server closed the connection with code 4001 (go away)\n"
    )
    assert result.status == EXIT_ABNORMAL


async def test_lines_after_close_command_are_counted(server: Any) -> None:
    result = await run_cli(
        url_of(server), "--wait", "5", stdin=b"/close 4000\nnever\nnor this\n"
    )
    assert result.status == EXIT_OK
    assert result.err == "2 lines of input after /close not sent\n"
    assert await client_close_code(server) == 4000


def test_unsent_descriptions() -> None:
    assert Unsent(lines=1).describe() == (
        "1 line of input not sent: the connection closed"
    )
    assert Unsent(lines=70, to_end=False).describe() == (
        "at least 70 lines of input not sent: the connection closed"
    )
    assert Unsent(lines=2, after_close=True).describe() == (
        "2 lines of input after /close not sent"
    )


async def test_endless_input_is_counted_as_at_least(raw_server: Any) -> None:
    async def handler(peer: Any) -> None:
        await peer.read_close()

    srv = await raw_server(handler, after_101=close_frame(1000))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aiows",
        srv.url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write(b"a line\n" * 10)  # and the input stays open
        err = await asyncio.wait_for(proc.stderr.read(), TIMEOUT)
        status = await asyncio.wait_for(proc.wait(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        proc.stdin.close()
    assert re.fullmatch(
        rb"aiows: error: at least \d+ lines? of input not sent: "
        rb"the connection closed\n",
        err,
    ), err
    assert status == EXIT_ERROR
