"""Whatever a server sends, the ``aiows`` command prints no control character
of it: close reasons, header values in errors, TEXT messages on a terminal,
``--debug``'s logs and tracebacks.  A scripted server writes the bytes.

Before, the close reason went to the terminal raw: a server could set the
terminal's title, clear the screen or reorder the text shown.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from aiows.cli.console import escape
from tests.conftest import server_frame, upgrade_response

from .conftest import TIMEOUT, PtyReader, run_cli

#: Escape sequences a hostile server may try: set the window title, clear
#: the screen, a bell, a right-to-left override.
HOSTILE = "\x1b]0;pwned\x07\x1b[2Jbye\u202e"
#: How each shows once escaped.
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2Jbye\\u202e"


def close_frame(code: int, reason: str) -> bytes:
    return server_frame(0x8, code.to_bytes(2, "big") + reason.encode())


def assert_no_hostile_bytes(text: str) -> None:
    for piece in ("\x1b]", "\x1b[2J", "\x07", "\u202e"):
        assert piece not in text, (piece, text)


def test_escape() -> None:
    assert escape(HOSTILE) == SHOWN
    assert escape("a\r\nb\tc\u2028\x9b") == "a\\r\\nb\\tc\\u2028\\x9b"
    assert escape("plain, and é ü 😀") == "plain, and é ü 😀"


async def test_a_close_reason_is_escaped_in_the_error(raw_server: Any) -> None:
    async def handler(peer: Any) -> None:
        await peer.read_close()

    srv = await raw_server(handler, after_101=close_frame(4001, HOSTILE))
    result = await run_cli(srv.url, "--wait", "5")
    assert result.err == (
        f"aiows: error: server closed the connection with code 4001 ({SHOWN})\n"
    )
    assert_no_hostile_bytes(result.out + result.err)


async def test_debug_logs_and_tracebacks_are_escaped(raw_server: Any) -> None:
    async def handler(peer: Any) -> None:
        await peer.read_close()

    srv = await raw_server(handler, after_101=close_frame(4001, HOSTILE))
    result = await run_cli(srv.url, "--wait", "5", "--debug")
    assert SHOWN in result.err
    assert_no_hostile_bytes(result.out + result.err)


@pytest.mark.parametrize(
    "header",
    [
        f"Sec-WebSocket-Protocol: {HOSTILE}\r\n",
        f"Sec-WebSocket-Extensions: {HOSTILE}\r\n",
        f"X-Anything: {HOSTILE}\r\nLocation: ws://x/\r\n",
    ],
    ids=["subprotocol", "extensions", "any-header"],
)
async def test_header_values_are_escaped_in_handshake_errors(
    raw_server: Any, header: str
) -> None:
    def answer(key: str) -> bytes:
        return upgrade_response(key, extra_headers=header)

    async def handler(peer: Any) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=answer)
    result = await run_cli(srv.url, "--debug")
    assert result.status != 0
    assert_no_hostile_bytes(result.out + result.err)


async def test_a_redirect_location_is_escaped(raw_server: Any) -> None:
    def answer(key: str) -> bytes:
        return (
            f"HTTP/1.1 302 Found\r\nLocation: ftp://{HOSTILE}/\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    async def handler(peer: Any) -> None:
        await peer.expect_eof()

    srv = await raw_server(handler, response=answer)
    result = await run_cli(srv.url)
    assert result.err.startswith("aiows: error: ")
    assert_no_hostile_bytes(result.out + result.err)


async def _run_with_output_on_a_terminal(
    url: str, *args: str, stdin: bytes = b""
) -> tuple[int, str, str]:
    """``python -m aiows`` with its input from a pipe and its standard
    output on a pseudo-terminal; (status, terminal output, stderr)."""
    master, slave = os.openpty()
    reader = PtyReader(master)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aiows",
            url,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=slave,
            stderr=asyncio.subprocess.PIPE,
        )
        os.close(slave)
        _, err = await asyncio.wait_for(proc.communicate(stdin), TIMEOUT)
        out = await reader.until_eof()
        assert proc.returncode is not None
        return proc.returncode, out, err.decode()
    finally:
        reader.close()


async def test_text_messages_to_a_terminal_are_escaped_in_plain_mode(
    raw_server: Any,
) -> None:
    """Input from a pipe, output on a terminal: the message data is shown,
    escaped (to a pipe it stays as it came: see test_session.py)."""

    async def handler(peer: Any) -> None:
        await peer.read_close()

    srv = await raw_server(
        handler,
        after_101=server_frame(0x1, HOSTILE.encode()) + close_frame(1000, HOSTILE),
    )
    status, out, err = await _run_with_output_on_a_terminal(srv.url, "--wait", "5")
    assert status == 0, err
    assert SHOWN in out
    assert_no_hostile_bytes(out + err)
