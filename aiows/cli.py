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
End of input (Ctrl-D) closes the connection with 1000; Ctrl-C closes it
with 1001.

In a pipe, when standard input is not a terminal, ``aiows`` sends each line
of its input (commands work too) and writes each message it receives to
standard output: only the data, one message per line, BINARY messages in
hexadecimal (a TEXT message containing newlines is written as it is).  At
the end of its input it waits ``--wait`` seconds (1.0 by default) for
replies, then closes with 1000::

    echo hello | aiows ws://127.0.0.1:8080/ws

``aiows --demo``, or ``aiows`` with no URL, starts an echo server on
127.0.0.1 and connects to it, so you can try the client with no server of
your own.  With nothing on standard input (``aiows --demo < /dev/null``) it
plays a short scripted exchange instead.

Exit status:

==  ==========================================================================
0   the connection closed normally: the closing handshake completed, with the
    code you asked for or, when the server closed, with 1000, 1001 or no code
1   an unexpected error, or (in a pipe) a line of input that was an invalid
    command
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
import datetime
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp import WSMsgType

from . import __version__
from .exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    OpenTimeout,
    PayloadTooBig,
    PongTimeout,
    ProtocolError,
)
from .faces.aiohttp_messages import WSMessage
from .session.client import ClientSession

if TYPE_CHECKING:
    from aiohttp import web

    from .faces.aiohttp_face import ClientWebSocketResponse

__all__ = [
    "EXIT_ABNORMAL",
    "EXIT_CONNECT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

#: The connection closed normally.
EXIT_OK: Final = 0
#: An unexpected error, or invalid command lines in pipe mode.
EXIT_ERROR: Final = 1
#: Bad arguments or an invalid URL.
EXIT_USAGE: Final = 2
#: The connection or the WebSocket handshake failed.
EXIT_CONNECT: Final = 3
#: The connection ended abnormally (protocol error, unexpected close code...).
EXIT_ABNORMAL: Final = 4
#: Interrupted by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED: Final = 130

#: Close codes that count as a normal close when the server sends them.
_NORMAL_CLOSE_CODES: Final = frozenset({1000, 1001, 1005})
#: Seconds /ping waits for its pong.
PING_TIMEOUT: Final = 10.0
#: Lines read ahead of the sender in pipe mode.
_READ_AHEAD: Final = 64
#: Bytes of a BINARY message shown in the terminal (pipe mode shows all).
_MAX_SHOWN_BYTES: Final = 256

PROMPT: Final = "> "

HELP_TEXT: Final = """\
commands:
  /ping                     send a ping, print the round-trip time
  /close [CODE [REASON]]    close the connection (default 1000) and exit
  /binary HEX               send bytes given in hexadecimal, e.g. /binary 00ff10
  /json DOCUMENT            check DOCUMENT is JSON and send it as text
  /help                     show this list
any other line is sent as a TEXT message; start it with // to send a
line beginning with /"""

_EPILOG: Final = """\
exit status: 0 normal close, 1 unexpected error or invalid input line (pipe
mode), 2 usage error or invalid URL, 3 connection or handshake failure,
4 abnormal close or protocol error, 130 interrupted.

Type /help in a session for the commands (/ping, /close, /binary, /json)."""

_CONTROL_ESCAPES: Final = {
    **{c: f"\\x{c:02x}" for c in range(0x20)},
    0x7F: "\\x7f",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
}


class CliError(Exception):
    """A failure reported as one line on stderr, with an exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------
# Arguments


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text!r}")
    return name, value.strip()


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``aiows`` command."""
    parser = argparse.ArgumentParser(
        prog="aiows",
        description=(
            "Interactive WebSocket client: lines typed are sent as text\n"
            "messages, messages received are printed. In a pipe it sends its\n"
            "input lines and writes the data received. Without a URL (or with\n"
            "--demo) it talks to an echo server of its own."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="ws:// or wss:// URL to connect to (ws:// is assumed when the "
        "scheme is missing)",
    )
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="NAME:VALUE",
        help="extra header of the upgrade request (repeatable)",
    )
    parser.add_argument(
        "-s",
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="subprotocol to offer (repeatable, in order of preference)",
    )
    parser.add_argument(
        "--compress",
        action="store_true",
        help="offer permessage-deflate compression (15 window bits)",
    )
    parser.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="do not verify the server's TLS certificate",
    )
    parser.add_argument("--proxy", metavar="URL", help="HTTP proxy to connect through")
    parser.add_argument(
        "--heartbeat",
        type=_positive_float,
        metavar="SECONDS",
        help="send a keepalive ping after SECONDS without input; give up if "
        "no pong comes within half that",
    )
    parser.add_argument(
        "--max-size",
        type=_non_negative_int,
        metavar="BYTES",
        help="largest message accepted (default 4 MiB; 0 for no limit)",
    )
    parser.add_argument(
        "--wait",
        type=_non_negative_float,
        default=1.0,
        metavar="SECONDS",
        help="in a pipe, how long to wait for replies after the end of input "
        "before closing (default 1.0)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks and log the aiows.client logger at DEBUG level",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start an echo server on 127.0.0.1 and connect to it",
    )
    parser.add_argument(
        "-V", "--version", action="version", version=f"aiows {__version__}"
    )
    return parser


def _normalize_url(url: str) -> str:
    """``url``, with ``ws://`` in front when it names no scheme."""
    if "://" not in url:
        return "ws://" + url
    return url


# ----------------------------------------------------------------------
# Output


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]


def _load_readline() -> Callable[[], str] | None:
    """Enable line editing for ``input()``; return ``get_line_buffer``."""
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline
        return None
    with contextlib.suppress(Exception):
        # Its escape sequences are noise around every prompt.
        readline.parse_and_bind("set enable-bracketed-paste off")
    return readline.get_line_buffer


class Console:
    """Where the client writes: messages, notes, command feedback, errors.

    ``pretty`` output (a terminal) shows timestamps and type tags and keeps
    the prompt and the line being typed intact when a message arrives.
    Plain output (a pipe) writes only message data to ``out``; notes and
    command feedback go to ``err``.
    """

    def __init__(
        self,
        out: IO[str],
        err: IO[str],
        *,
        pretty: bool,
        quiet: bool,
        line_buffer: Callable[[], str] | None = None,
        redraw: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.pretty = pretty
        #: Suppress notes (plain output without --demo).
        self.quiet = quiet
        self._line_buffer = line_buffer
        self._redraw = redraw
        #: Set by the input thread while it shows the prompt.
        self.prompt_active = False

    def _write(self, stream: IO[str], text: str) -> None:
        if self._redraw and self.prompt_active and stream is self.out:
            typed = self._line_buffer() if self._line_buffer is not None else ""
            stream.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
        else:
            stream.write(text + "\n")
        stream.flush()

    def message(self, msg: WSMessage) -> None:
        """Show a TEXT or BINARY message received."""
        if self.pretty:
            self._write(self.out, f"{_timestamp()} < {_describe(msg.type, msg.data)}")
        elif msg.type is WSMsgType.TEXT:
            self._write(self.out, msg.data)
        else:
            self._write(self.out, bytes(msg.data).hex())

    def sent(self, kind: WSMsgType, data: str | bytes) -> None:
        """Show a message sent (pretty output only; the scripted demo)."""
        if self.pretty:
            self._write(self.out, f"{_timestamp()} > {_describe(kind, data)}")

    def note(self, text: str, *, always: bool = False) -> None:
        """A status line: connected, closed, what the demo does, a pong.

        In a pipe it goes to ``err``, and only when not ``quiet`` or when
        ``always`` is set.
        """
        if self.pretty:
            self._write(self.out, f"{_timestamp()} * {text}")
        elif always or not self.quiet:
            self._write(self.err, text)

    def reply(self, text: str) -> None:
        """Feedback to a command: /ping's latency, /help, a bad command."""
        self._write(self.out if self.pretty else self.err, text)

    def finish(self) -> None:
        """Clear a prompt left on screen before the program exits."""
        if self._redraw and self.prompt_active:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.prompt_active = False


def _describe(kind: WSMsgType, data: str | bytes) -> str:
    if kind is WSMsgType.TEXT:
        assert isinstance(data, str)
        return f"TEXT {data.translate(_CONTROL_ESCAPES)}"
    raw = bytes(data) if not isinstance(data, str) else data.encode()
    shown = raw[:_MAX_SHOWN_BYTES].hex()
    more = "..." if len(raw) > _MAX_SHOWN_BYTES else ""
    return f"BINARY {shown}{more} ({len(raw)} bytes)"


# ----------------------------------------------------------------------
# Input


class InputReader:
    """Reads standard input on a daemon thread, one line at a time.

    The thread never blocks the event loop: it hands each line to an
    ``asyncio.Queue`` with ``call_soon_threadsafe``.  ``get()`` returns the
    next line, or None at the end of input.  Each line taken must be
    acknowledged with ``done()``; in a terminal the next prompt appears only
    then, so a command's output comes before it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        console: Console,
        *,
        interactive: bool,
        fd: int | None = 0,
    ) -> None:
        self._loop = loop
        self._console = console
        self._interactive = interactive
        self._fd = fd
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._slots = threading.Semaphore(1 if interactive else _READ_AHEAD)
        self._thread = threading.Thread(
            target=self._run, name="aiows-stdin", daemon=True
        )

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    async def get(self) -> str | None:
        """The next line without its line ending, or None at end of input."""
        return await self._queue.get()

    def done(self) -> None:
        """The last line taken has been handled; read another."""
        self._slots.release()

    def _deliver(self, line: str | None) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
        except RuntimeError:  # the loop is closed: the program is ending
            return False
        return True

    def _run(self) -> None:
        lines = self._terminal_lines() if self._interactive else self._pipe_lines()
        for line in lines:
            self._slots.acquire()
            if not self._deliver(line):
                return
        self._deliver(None)

    def _terminal_lines(self) -> Iterator[str]:
        while True:
            # Wait for the previous line to be handled before prompting.
            self._slots.acquire()
            self._slots.release()
            self._console.prompt_active = True
            try:
                line = input(PROMPT)
            except (EOFError, OSError, ValueError):
                return
            finally:
                self._console.prompt_active = False
            yield line

    def _pipe_lines(self) -> Iterator[str]:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered
        # stream can abort the interpreter at shutdown.
        if self._fd is None:  # no standard input at all
            return
        pending = b""
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                yield _decode_line(raw)
        if pending:
            yield _decode_line(pending)


def _decode_line(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------
# The session


@dataclass
class _Ending:
    """How the receiving side saw the connection end."""

    #: Code and reason of a close frame the server sent first.
    server_code: int | None = None
    server_reason: str = ""
    #: The error carried by an ERROR message.
    error: BaseException | None = None


class Session:
    """One connection: sends what is typed, shows what arrives."""

    def __init__(
        self,
        ws: ClientWebSocketResponse,
        console: Console,
        *,
        interactive: bool,
        wait: float,
    ) -> None:
        self.ws = ws
        self.console = console
        self.interactive = interactive
        self.wait = wait
        #: The close code this client sent, if it closed first.
        self.closed_with: int | None = None
        #: Command lines rejected in pipe mode.
        self.input_errors = 0
        self.interrupted = False
        # Set after each data message is shown (the scripted demo waits on it).
        self._received = asyncio.Event()

    async def receive_all(self) -> _Ending:
        """Show messages until the connection ends; say how it ended."""
        ws = self.ws
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                self.console.message(msg)
                self._received.set()
            elif msg.type is WSMsgType.CLOSE:
                return _Ending(server_code=msg.data, server_reason=msg.extra or "")
            elif msg.type is WSMsgType.ERROR:
                return _Ending(error=msg.data)
            elif msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING):
                return _Ending()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (once) and wait for it to finish."""
        if self.closed_with is None and not self.ws.closed:
            self.closed_with = code
        await self.ws.close(code=code, message=reason.encode())

    async def run(self, reader: InputReader, *, demo: bool) -> int:
        """Run until the connection ends; return the exit status."""
        receiver = asyncio.ensure_future(self.receive_all())
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()
        handles_sigint = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, interrupted.set)
            handles_sigint = True
        interrupt = asyncio.ensure_future(interrupted.wait())
        try:
            await self._converse(reader, receiver, interrupt, demo=demo)
            if not self.ws.closed:
                await self.close()
            ending = await receiver
        finally:
            for task in (receiver, interrupt):
                task.cancel()
            if handles_sigint:
                loop.remove_signal_handler(signal.SIGINT)
            self.console.finish()
        return self._exit_status(ending)

    async def _converse(
        self,
        reader: InputReader,
        receiver: asyncio.Future[_Ending],
        interrupt: asyncio.Future[Any],
        *,
        demo: bool,
    ) -> None:
        first = True
        while True:
            getter = asyncio.ensure_future(reader.get())
            waiting: set[asyncio.Future[Any]] = {getter, receiver, interrupt}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if receiver.done() or interrupt.done():
                getter.cancel()
                if interrupt.done() and not receiver.done():
                    self.interrupted = True
                    self.console.note("interrupted; closing with 1001")
                    await self.close(1001)
                return
            line = getter.result()
            if line is None:
                if first and demo and not self.interactive:
                    await self.scripted_demo()
                else:
                    await self._end_of_input(receiver)
                return
            first = False
            try:
                if not await self.handle_line(line):
                    return
            finally:
                reader.done()

    async def _end_of_input(self, receiver: asyncio.Future[_Ending]) -> None:
        if not self.interactive and self.wait > 0:
            # Replies to the last lines may still be on their way.
            await asyncio.wait({receiver}, timeout=self.wait)
        if not receiver.done():
            self.console.note("end of input; closing with 1000")
            await self.close(1000)

    async def handle_line(self, line: str) -> bool:
        """Send a line or run the command it holds; False once closed."""
        console = self.console
        try:
            if line.startswith("//"):
                await self.ws.send_str(line[1:])
            elif line.startswith("/"):
                command, _, rest = line[1:].partition(" ")
                return await self._command(command, rest.strip())
            elif line or not self.interactive:
                await self.ws.send_str(line)
        except ConnectionClosed:
            console.reply("the connection is closed; nothing sent")
            return False
        return True

    def _bad_input(self, text: str) -> None:
        if not self.interactive:
            self.input_errors += 1
        self.console.reply(text)

    async def _command(self, command: str, argument: str) -> bool:
        ws = self.ws
        if command == "help":
            self.console.reply(HELP_TEXT)
        elif command == "ping":
            await self.ping()
        elif command == "close":
            return await self._close_command(argument)
        elif command == "binary":
            try:
                data = bytes.fromhex(argument)
            except ValueError as exc:
                self._bad_input(f"/binary: not hexadecimal: {exc}")
                return True
            await ws.send_bytes(data)
        elif command == "json":
            try:
                json.loads(argument)
            except ValueError as exc:
                self._bad_input(f"/json: not valid JSON: {exc}")
                return True
            await ws.send_str(argument)
        else:
            self._bad_input(f"unknown command /{command}; type /help for the list")
        return True

    async def _close_command(self, argument: str) -> bool:
        code_text, _, reason = argument.partition(" ")
        code = 1000
        if code_text:
            try:
                code = int(code_text)
            except ValueError:
                self._bad_input(f"/close: not a close code: {code_text!r}")
                return True
        try:
            await self.close(code, reason.strip())
        except ValueError as exc:  # a code that may not be sent, a long reason
            self.closed_with = None
            self._bad_input(f"/close: {exc}")
            return True
        return False

    async def ping(self) -> None:
        """Send a ping and report the round-trip time."""
        waiter = await self.ws.ping()
        try:
            rtt = await asyncio.wait_for(waiter, PING_TIMEOUT)
        except asyncio.TimeoutError:
            self.console.note(f"no pong within {PING_TIMEOUT:g} s", always=True)
        else:
            self.console.note(f"pong: latency {rtt * 1000:.3f} ms", always=True)

    async def scripted_demo(self) -> None:
        """With no input at all: show a short exchange, then close."""
        console = self.console
        console.pretty = True
        console.note("no input on stdin: playing a scripted exchange")
        greeting = "Hello from aiows!"
        document = json.dumps({"type": "greeting", "from": "aiows", "id": 1})
        for text in (greeting, document):
            self._received.clear()
            await self.ws.send_str(text)
            console.sent(WSMsgType.TEXT, text)
            await asyncio.wait_for(self._received.wait(), PING_TIMEOUT)
        await self.ping()
        console.note("closing with 1000")
        await self.close(1000, "demo over")

    def _exit_status(self, ending: _Ending) -> int:
        ws = self.ws
        if self.interrupted:
            return EXIT_INTERRUPTED
        if ending.error is not None:
            raise CliError(EXIT_ABNORMAL, _connection_error(ending.error))
        if ending.server_code is not None:
            code, reason = ending.server_code, ending.server_reason
            detail = f"{code} ({reason})" if reason else f"{code}"
            if code not in _NORMAL_CLOSE_CODES:
                raise CliError(
                    EXIT_ABNORMAL, f"server closed the connection with code {detail}"
                )
            self.console.note(f"server closed the connection: {detail}")
        elif ws.exception() is not None:
            raise CliError(EXIT_ABNORMAL, _connection_error(ws.exception()))
        elif ws.close_code == 1006:
            if self.closed_with is None:
                raise CliError(
                    EXIT_ABNORMAL, "connection lost without a closing handshake (1006)"
                )
            raise CliError(
                EXIT_ABNORMAL, "the server did not answer the close frame (1006)"
            )
        else:
            self.console.note(f"connection closed: {ws.close_code}")
        if self.input_errors:
            raise CliError(
                EXIT_ERROR, f"{self.input_errors} line(s) of input were invalid"
            )
        return EXIT_OK


def _connection_error(exc: BaseException | None) -> str:
    if isinstance(exc, PayloadTooBig):
        return f"message too big ({exc.code}): {exc}"
    if isinstance(exc, ProtocolError):
        return f"protocol error ({exc.code}): {exc}"
    if isinstance(exc, PongTimeout):
        return f"keepalive failed: {exc}"
    return f"connection failed: {exc or 'unknown error'}"


# ----------------------------------------------------------------------
# Connecting


def _connect_error(exc: BaseException, url: str) -> CliError:
    """The one-line report of a failure to open the connection."""
    if isinstance(exc, InvalidURI):
        description = exc.description or "not a WebSocket URL"
        return CliError(EXIT_USAGE, f"invalid URL {url!r}: {description}")
    if isinstance(exc, InvalidStatus):
        return CliError(EXIT_CONNECT, f"server refused the upgrade: HTTP {exc.status}")
    if isinstance(exc, InvalidHandshake):
        return CliError(
            EXIT_CONNECT, f"invalid handshake (HTTP {exc.status}): {exc.message}"
        )
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CliError(
            EXIT_CONNECT,
            f"TLS certificate of {exc.host} not trusted: "
            f"{exc.certificate_error}; --insecure skips the check",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        what = "proxy" if isinstance(exc, aiohttp.ClientProxyConnectionError) else ""
        os_error = exc.os_error
        reason = (
            os.strerror(os_error.errno)
            if os_error.errno and os_error.errno > 0
            else os_error.strerror or str(os_error)
        )
        return CliError(
            EXIT_CONNECT,
            f"cannot connect to {what + ' ' if what else ''}{exc.host}:{exc.port}: "
            f"{reason}",
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return CliError(
            EXIT_CONNECT, f"proxy refused the connection: HTTP {exc.status}"
        )
    if isinstance(exc, OpenTimeout):
        return CliError(EXIT_CONNECT, f"timed out: {exc}")
    if isinstance(exc, aiohttp.InvalidURL):
        return CliError(EXIT_USAGE, f"invalid URL: {exc}")
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        detail = str(exc) or type(exc).__name__
        return CliError(EXIT_CONNECT, f"cannot connect to {url}: {detail}")
    return CliError(EXIT_ERROR, f"{type(exc).__name__}: {exc}")


async def _start_demo_server() -> tuple[web.AppRunner, str]:
    """Start an echo server on 127.0.0.1 at a free port; return it and its URL."""
    from aiohttp import web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        protocols = [p.strip() for p in offered.split(",") if p.strip()]
        ws = web.WebSocketResponse(protocols=protocols)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"ws://{host}:{port}/"


def _connect_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "protocols": tuple(args.subprotocol),
        "compress": 15 if args.compress else 0,
        "headers": list(args.header),
    }
    if args.insecure:
        options["ssl"] = False
    if args.proxy:
        options["proxy"] = args.proxy
    if args.heartbeat is not None:
        options["heartbeat"] = args.heartbeat
    if args.max_size is not None:
        options["max_msg_size"] = args.max_size
    return options


async def run(args: argparse.Namespace) -> int:
    """Run the client as ``args`` say; return the exit status.

    Raises :class:`CliError` for failures reported on one line.
    """
    interactive = sys.stdin is not None and sys.stdin.isatty()
    demo = bool(args.demo or args.url is None)
    line_buffer = _load_readline() if interactive else None
    console = Console(
        sys.stdout,
        sys.stderr,
        pretty=interactive,
        quiet=not demo,
        line_buffer=line_buffer,
        redraw=interactive and sys.stdout.isatty(),
    )
    runner: web.AppRunner | None = None
    try:
        if demo:
            runner, url = await _start_demo_server()
            console.note(f"demo: started an echo server at {url}")
        else:
            url = _normalize_url(args.url)
        console.note(f"connecting to {url}")
        async with ClientSession() as client:
            try:
                ws = await client.ws_connect(url, **_connect_options(args))
            except Exception as exc:
                raise _connect_error(exc, url) from exc
            details = []
            if ws.protocol:
                details.append(f"subprotocol {ws.protocol}")
            if ws.compress:
                details.append("permessage-deflate")
            suffix = f" ({', '.join(details)})" if details else ""
            console.note(f"connected to {url}{suffix}")
            if interactive:
                console.note("type a message and press Enter; /help for commands")
            session = Session(ws, console, interactive=interactive, wait=args.wait)
            reader = InputReader(
                asyncio.get_running_loop(),
                console,
                interactive=interactive,
                fd=None if sys.stdin is None else 0,
            )
            reader.start()
            return await session.run(reader, demo=demo)
    finally:
        if runner is not None:
            await runner.cleanup()


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    )
    log = logging.getLogger("aiows.client")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


@contextlib.contextmanager
def _terminal_restored() -> Iterator[None]:
    """Put the terminal back as it was, even if input() is left mid-line."""
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except Exception:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


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
        with _terminal_restored():
            return asyncio.run(run(args))
    except CliError as exc:
        if args.debug:
            cause = exc.__cause__ or exc
            traceback.print_exception(type(cause), cause, cause.__traceback__)
        print(f"aiows: error: {exc.message}", file=sys.stderr)
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
            traceback.print_exc()
        print(f"aiows: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
