"""One connection of the ``aiows`` command: send what is typed or piped,
show what arrives, close, and say how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp

from .. import ClientWebSocketResponse, WSMsgType
from .connect import CLOSE_TIMEOUT
from .console import Console
from .ending import Ending, Sent, Unsent, exit_status
from .terminal import InputReader

__all__ = ["HELP_TEXT", "PING_TIMEOUT", "Session"]

#: Seconds /ping waits for its pong.
PING_TIMEOUT: Final = 10.0

#: Seconds spent counting the piped lines left unsent once the connection
#: has closed; input that goes on longer (``yes | aiows ...``) is reported
#: as "at least" the lines counted.
DRAIN_TIMEOUT: Final = 1.0

HELP_TEXT: Final = """\
commands:
  /ping                     send a ping, print the round-trip time
  /close [CODE [REASON]]    close the connection (default 1000) and exit
  /binary HEX               send bytes given in hexadecimal, e.g. /binary 00ff10
  /json DOCUMENT            check DOCUMENT is JSON and send it as text
  /help                     show this list
any other line is sent as a TEXT message; start it with // to send a
line beginning with /"""


class Session:
    """One connection: sends what is typed, shows what arrives."""

    def __init__(
        self,
        ws: ClientWebSocketResponse,
        console: Console,
        *,
        interactive: bool,
        wait: float,
        on_abort: Callable[[], None] | None = None,
    ) -> None:
        self.ws = ws
        self.console = console
        #: Input comes from a terminal (else from a pipe).
        self.interactive = interactive
        #: Seconds to wait for replies after the end of piped input.
        self.wait = wait
        # Called by a second Ctrl-C: quit without waiting for anything.
        self._on_abort = on_abort
        #: The close frame this client sent, if it closed first.
        self.sent = Sent()
        #: Command lines rejected in pipe mode.
        self.input_errors = 0
        #: Lines of piped input left unsent by the end of the connection.
        self.unsent = Unsent()
        #: Set by the first Ctrl-C.
        self.interrupted = False
        #: Set after each data message is shown (the scripted demo waits on it).
        self.received = asyncio.Event()

    async def receive_all(self) -> Ending:
        """Show messages until the connection ends; say how it ended."""
        ws = self.ws
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT or msg.type == WSMsgType.BINARY:
                self.console.message(msg)
                self.received.set()
            elif msg.type == WSMsgType.CLOSE:
                return Ending(server_code=msg.data, server_reason=msg.extra or "")
            elif msg.type == WSMsgType.ERROR:
                return Ending(error=msg.data)
            elif msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING):
                return Ending()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (once) and wait for it to finish."""
        if self.sent.code is None and not self.ws.closed:
            self.sent = Sent(code, reason)
        await self.ws.close(code=code, message=reason.encode())

    async def run(
        self,
        reader: InputReader,
        *,
        on_no_input: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Run until the connection ends; return the exit status.

        Starts ``reader`` once Ctrl-C is handled, so that no prompt is on
        screen before it is.  ``on_no_input`` runs instead when piped input
        ends before its first line (the scripted demo).
        """
        receiver = asyncio.ensure_future(self.receive_all())
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()
        handles_sigint = False

        def on_sigint() -> None:
            if not interrupted.is_set():
                interrupted.set()
            elif self._on_abort is not None:
                self.console.stop_prompting()
                self.console.note("interrupted again: quitting now", always=True)
                self._on_abort()

        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            handles_sigint = True
        interrupt = asyncio.ensure_future(interrupted.wait())
        reader.start()
        try:
            await self._converse(reader, receiver, interrupt, on_no_input)
            self.console.stop_prompting()
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
        receiver: asyncio.Future[Ending],
        interrupt: asyncio.Future[Any],
        on_no_input: Callable[[], Awaitable[None]] | None,
    ) -> None:
        first = True
        getter: asyncio.Future[str | None] | None = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(reader.get())
                waiting: set[asyncio.Future[Any]] = {getter, receiver, interrupt}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if interrupt.done() and not receiver.done():
                    await self._interrupted()
                    return
                if not getter.done():  # the connection ended first
                    await self._count_unsent(reader, None, getter)
                    return
                line, getter = getter.result(), None
                if line is None:
                    if first and on_no_input is not None and not self.interactive:
                        await on_no_input()
                    else:
                        await self._end_of_input(receiver)
                    return
                first = False
                if receiver.done():  # the line came too late to be sent
                    await self._count_unsent(reader, line, None)
                    return
                try:
                    sent = await self.handle_line(line)
                except aiohttp.ClientConnectionError:
                    sent = None  # the connection closed under the send
                if sent is None:
                    # The close overtook the line: it is counted, as the
                    # lines that came too late are.
                    await self._count_unsent(reader, line, None)
                    return
                if not sent:  # /close
                    await self._count_unsent(reader, None, None, after_close=True)
                    return
                reader.done()
        finally:
            if getter is not None:
                getter.cancel()

    async def _interrupted(self) -> None:
        """The first Ctrl-C: close with 1001, saying how long that may take."""
        self.interrupted = True
        self.console.stop_prompting()
        self.console.note(
            f"interrupted: closing with 1001, waiting up to {CLOSE_TIMEOUT:g} s "
            "for the server to answer (Ctrl-C again to quit now)",
            always=True,
        )
        await self.close(1001)

    async def _count_unsent(
        self,
        reader: InputReader,
        line: str | None,
        getter: asyncio.Future[str | None] | None,
        *,
        after_close: bool = False,
    ) -> None:
        """Count the piped lines that will not be sent: ``line``, the one
        ``getter`` brings, and the rest of the input up to its end."""
        self.console.stop_prompting()
        if self.interactive:
            return
        unsent = self.unsent
        unsent.after_close = after_close
        if line is not None:
            reader.done()
            unsent.lines += 1
        deadline = asyncio.get_running_loop().time() + DRAIN_TIMEOUT
        while True:
            if getter is None:
                getter = asyncio.ensure_future(reader.get())
            remaining = deadline - asyncio.get_running_loop().time()
            done, _ = await asyncio.wait({getter}, timeout=max(remaining, 0))
            if not done:
                getter.cancel()
                unsent.to_end = False
                break
            if getter.result() is None:
                break
            getter = None
            reader.done()
            unsent.lines += 1

    async def _end_of_input(self, receiver: asyncio.Future[Ending]) -> None:
        if not self.interactive and self.wait > 0:
            # Replies to the last lines may still be on their way.
            await asyncio.wait({receiver}, timeout=self.wait)
        if not receiver.done():
            self.console.stop_prompting()
            self.console.note("end of input; closing with 1000")
            await self.close(1000)

    async def handle_line(self, line: str) -> bool:
        """Send a line or run the command it holds; False after /close.

        Raises ``aiohttp.ClientConnectionError`` when the connection is
        closed and the line cannot be sent.
        """
        if line.startswith("//"):
            await self.ws.send_str(line[1:])
        elif line.startswith("/"):
            command, _, rest = line[1:].partition(" ")
            return await self._command(command, rest.strip())
        elif line or not self.interactive:
            await self.ws.send_str(line)
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
            self.sent = Sent()
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

    def _exit_status(self, ending: Ending) -> int:
        return exit_status(
            ending,
            ws=self.ws,
            console=self.console,
            interrupted=self.interrupted,
            sent=self.sent,
            input_errors=self.input_errors,
            unsent=self.unsent,
        )
