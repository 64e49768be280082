"""The ``aiows`` command: talk to a WebSocket server from a shell.

Interactive use, in a terminal::

    aiows wss://example.org/feed

Every line you type is sent as a TEXT message; every message received is
printed with a timestamp and its type (``12:34:56.789 < TEXT hello``), even
while you are typing.  Lines starting with ``/`` are commands:

``/ping``
    send a ping and print the round-trip time in milliseconds
``/close [CODE [REASON]]``
    close the connection (default code 1000) and exit
``/binary HEX``
    send the bytes written in hexadecimal as a BINARY message
``/json DOCUMENT``
    check that DOCUMENT is valid JSON and send it as a TEXT message
``/help``
    list the commands

A line starting with ``//`` is sent as text without its first ``/``.
End of input (Ctrl-D) closes the connection with 1000.  Ctrl-C closes it
with 1001 and says how long it waits for the server's answer (10 s); a
second Ctrl-C quits at once.  When the connection closes, the last line
says which close code was sent and which was received.

In a pipe, when standard input is not a terminal, ``aiows`` sends each line
of its input (commands work too) and writes each message it receives to
standard output: only the data, one message per line, BINARY messages in
hexadecimal (a TEXT message containing newlines is written as it is).  At
the end of its input it waits ``--wait`` seconds (1.0 by default) for
replies, then closes with 1000::

    echo hello | aiows ws://127.0.0.1:8080/ws

If the connection closes before all the input is sent, the lines left over
are counted on standard error (``3 lines of input not sent: the connection
closed``) and the exit status is 1.

``aiows --demo``, or ``aiows`` with no URL, starts an echo server on
127.0.0.1 and connects to it, so you can try the client with no server of
your own.  With nothing on standard input (``aiows --demo < /dev/null``) it
plays a short scripted exchange instead.

Exit status:

==  ==========================================================================
0   the connection closed normally: the closing handshake completed, with the
    code you asked for or, when the server closed, with 1000, 1001 or no code
1   an unexpected error, or (in a pipe) a line of input that was an invalid
    command or that was never sent because the connection closed first
2   usage error: bad arguments or an invalid URL
3   the connection could not be opened: refused, unreachable, DNS or TLS
    failure, timeout, or the server refused the WebSocket upgrade
4   the connection ended abnormally: a protocol error, a keepalive timeout,
    the connection lost without a closing handshake, or the server closing
    with another code (e.g. 1011 or 4001)
130 interrupted with Ctrl-C
==  ==========================================================================

Errors are reported on one line on standard error; ``--debug`` adds the
traceback and DEBUG logging of the ``aiows.client`` logger.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import ClientSession
from .args import build_parser, normalize_url
from .connect import open_connection
from .console import Console, escape, escape_lines
from .demo import play_scripted_exchange, start_demo_server
from .exits import (
    EXIT_ABNORMAL,
    EXIT_CONNECT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from .session import Session
from .terminal import InputReader, load_readline, terminal_restored

if TYPE_CHECKING:
    from aiohttp import web

__all__ = [
    "EXIT_ABNORMAL",
    "EXIT_CONNECT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
    "run",
]


async def run(args: argparse.Namespace) -> int:
    """Run the client as ``args`` say; return the exit status.

    Raises :class:`~aiows.cli.exits.CliError` for failures reported on one
    line.
    """
    with terminal_restored() as restore_terminal:
        return await _run(args, restore_terminal)


async def _run(args: argparse.Namespace, restore_terminal: Callable[[], None]) -> int:
    interactive = sys.stdin is not None and sys.stdin.isatty()
    demo = bool(args.demo or args.url is None)
    line_buffer = load_readline() if interactive else None
    console = Console(
        sys.stdout,
        sys.stderr,
        pretty=interactive,
        quiet=not demo,
        line_buffer=line_buffer,
        redraw=interactive and sys.stdout.isatty(),
        escape_data=not interactive and _isatty(sys.stdout),
    )
    runner: web.AppRunner | None = None
    try:
        if demo:
            runner, url = await start_demo_server()
            console.note(f"demo: started an echo server at {url}")
        else:
            url = normalize_url(args.url)
        console.note(f"connecting to {url}")
        async with ClientSession() as client:
            ws = await open_connection(client, url, args)
            suffix = f" (subprotocol {ws.protocol})" if ws.protocol else ""
            console.note(f"connected to {url}{suffix}")
            if interactive:
                console.note("type a message and press Enter; /help for commands")

            def abort() -> None:
                restore_terminal()
                _quit_now(EXIT_INTERRUPTED)

            session = Session(
                ws, console, interactive=interactive, wait=args.wait, on_abort=abort
            )
            reader = InputReader(
                asyncio.get_running_loop(),
                console,
                interactive=interactive,
                fd=None if sys.stdin is None else 0,
            )

            async def scripted() -> None:
                await play_scripted_exchange(session)

            return await session.run(reader, on_no_input=scripted if demo else None)
    finally:
        if runner is not None:
            await runner.cleanup()


def _quit_now(status: int) -> None:
    """Exit at once (a second Ctrl-C): no closing handshake, no cleanup.

    The kernel closes the socket; what was written so far is flushed.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _EscapingFormatter(logging.Formatter):
    """Log lines with the control characters a server sent escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_lines(super().format(record))


def _print_traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` on stderr (--debug), control characters of
    its messages escaped."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    sys.stderr.write(escape_lines("".join(lines)))


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _EscapingFormatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    )
    log = logging.getLogger("aiows.client")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aiows`` and ``python -m aiows``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo and args.url is not None:
        parser.error("--demo starts its own server; give it no URL")
    if args.debug:
        _configure_logging()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        return asyncio.run(run(args))
    except CliError as exc:
        if args.debug:
            _print_traceback(exc.__cause__ or exc)
        print(f"aiows: error: {escape(exc.message)}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. `aiows ... | head -1`).
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:
        if args.debug:
            _print_traceback(exc)
        print(
            f"aiows: error: {escape(f'{type(exc).__name__}: {exc}')}", file=sys.stderr
        )
        return EXIT_ERROR
