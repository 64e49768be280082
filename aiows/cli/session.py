"""One connection of the ``aiows`` command: send what is typed or piped,
show what arrives, close, and say how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from .. import ClientWebSocketResponse, WSMsgType
from .console import Console
from .exits import EXIT_ABNORMAL, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CliError
from .terminal import InputReader

__all__ = ["HELP_TEXT", "PING_TIMEOUT", "Session", "connection_error"]

#: Seconds /ping waits for its pong.
PING_TIMEOUT: Final = 10.0

#: Close codes that count as a normal close when the server sends them.
NORMAL_CLOSE_CODES: Final = frozenset({1000, 1001, 1005})

#: RFC 6455 §7.4.1: 1009, the message was too big to process.
_MESSAGE_TOO_BIG: Final = 1009

HELP_TEXT: Final = """\
commands:
  /ping                     send a ping, print the round-trip time
  /close [CODE [REASON]]    close the connection (default 1000) and exit
  /binary HEX               send bytes given in hexadecimal, e.g. /binary 00ff10
  /json DOCUMENT            check DOCUMENT is JSON and send it as text
  /help                     show this list
any other line is sent as a TEXT message; start it with // to send a
line beginning with /"""


@dataclass
class _Ending:
    """How the receiving side saw the connection end."""

    #: Code and reason of a close frame the server sent first.
    server_code: int | None = None
    server_reason: str = ""
    #: The error carried by an ERROR message.
    error: BaseException | None = None


def connection_error(exc: BaseException | None) -> str:
    """The one-line report of the error that ended an open connection."""
    if isinstance(exc, aiohttp.WebSocketError):
        if exc.code == _MESSAGE_TOO_BIG:
            return f"message too big ({exc.code}): {exc}"
        return f"protocol error ({exc.code}): {exc}"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return f"keepalive failed: {exc}"
    return f"connection failed: {exc or 'unknown error'}"


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
        #: Input comes from a terminal (else from a pipe).
        self.interactive = interactive
        #: Seconds to wait for replies after the end of piped input.
        self.wait = wait
        #: The close code this client sent, if it closed first.
        self.closed_with: int | None = None
        #: Command lines rejected in pipe mode.
        self.input_errors = 0
        #: Set by the first Ctrl-C.
        self.interrupted = False
        #: Set after each data message is shown (the scripted demo waits on it).
        self.received = asyncio.Event()

    async def receive_all(self) -> _Ending:
        """Show messages until the connection ends; say how it ended."""
        ws = self.ws
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT or msg.type == WSMsgType.BINARY:
                self.console.message(msg)
                self.received.set()
            elif msg.type == WSMsgType.CLOSE:
                return _Ending(server_code=msg.data, server_reason=msg.extra or "")
            elif msg.type == WSMsgType.ERROR:
                return _Ending(error=msg.data)
            elif msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING):
                return _Ending()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (once) and wait for it to finish."""
        if self.closed_with is None and not self.ws.closed:
            self.closed_with = code
        await self.ws.close(code=code, message=reason.encode())

    async def run(
        self,
        reader: InputReader,
        *,
        on_no_input: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Run until the connection ends; return the exit status.

        ``on_no_input`` runs instead when piped input ends before its first
        line (the scripted demo).
        """
        receiver = asyncio.ensure_future(self.receive_all())
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()
        handles_sigint = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, interrupted.set)
            handles_sigint = True
        interrupt = asyncio.ensure_future(interrupted.wait())
        try:
            await self._converse(reader, receiver, interrupt, on_no_input)
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
        on_no_input: Callable[[], Awaitable[None]] | None,
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
                if first and on_no_input is not None and not self.interactive:
                    await on_no_input()
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
        try:
            if line.startswith("//"):
                await self.ws.send_str(line[1:])
            elif line.startswith("/"):
                command, _, rest = line[1:].partition(" ")
                return await self._command(command, rest.strip())
            elif line or not self.interactive:
                await self.ws.send_str(line)
        except aiohttp.ClientConnectionError:
            self.console.reply("the connection is closed; nothing sent")
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

    def _exit_status(self, ending: _Ending) -> int:
        ws = self.ws
        if self.interrupted:
            return EXIT_INTERRUPTED
        if ending.error is not None:
            raise CliError(EXIT_ABNORMAL, connection_error(ending.error))
        if ending.server_code is not None:
            code, reason = ending.server_code, ending.server_reason
            detail = f"{code} ({reason})" if reason else f"{code}"
            if code not in NORMAL_CLOSE_CODES:
                raise CliError(
                    EXIT_ABNORMAL, f"server closed the connection with code {detail}"
                )
            self.console.note(f"server closed the connection: {detail}")
        elif ws.exception() is not None:
            raise CliError(EXIT_ABNORMAL, connection_error(ws.exception()))
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
