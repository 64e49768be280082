"""Standard input of the ``aiows`` command: lines typed at a prompt, or
lines read from a pipe, handed to the event loop one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Final

from .console import Console

__all__ = ["InputReader", "load_readline", "terminal_restored"]

#: Lines read ahead of the sender in pipe mode.
READ_AHEAD: Final = 64


def load_readline() -> Callable[[], str] | None:
    """Enable line editing for ``input()``; return ``get_line_buffer``."""
    try:
        import readline
    except ImportError:  # pragma: no cover - platforms without readline
        return None
    with contextlib.suppress(Exception):
        # Its escape sequences are noise around every prompt.
        readline.parse_and_bind("set enable-bracketed-paste off")
    return readline.get_line_buffer


def _nothing() -> None:
    pass


@contextlib.contextmanager
def terminal_restored() -> Iterator[Callable[[], None]]:
    """Put the terminal back as it was, even if input() is left mid-line.

    Yields the function that does it, for an exit that skips ``finally``.
    """
    try:
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except Exception:
        yield _nothing
        return

    def restore() -> None:
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    try:
        yield restore
    finally:
        restore()


def _set_pre_input_hook(hook: Callable[[], None]) -> bool:
    """Have readline call ``hook`` once the prompt is on screen."""
    try:
        import readline

        readline.set_pre_input_hook(hook)
    except (ImportError, AttributeError):  # pragma: no cover - no GNU readline
        return False
    return True


def decode_line(raw: bytes) -> str:
    """A line of input without its ``\\r``, invalid UTF-8 replaced."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace")


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
        # The file descriptor read in pipe mode; None for no input at all.
        self._fd = fd
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        # One slot per line read but not yet handled.
        self._slots = threading.Semaphore(1 if interactive else READ_AHEAD)
        self._thread = threading.Thread(
            target=self._run, name="aiows-stdin", daemon=True
        )
        # readline reports when the prompt is on screen (set by start()).
        self._hooked = False

    def start(self) -> None:
        """Start reading."""
        # Without the hook, the prompt counts as shown just before input().
        self._hooked = self._interactive and _set_pre_input_hook(
            self._console.prompt_shown
        )
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
        console = self._console
        while True:
            # Wait for the previous line to be handled before prompting.
            self._slots.acquire()
            self._slots.release()
            if not console.begin_prompt():
                return  # the session is ending
            if not self._hooked:
                console.prompt_shown()
            try:
                line = input(console.prompt)
            except (EOFError, OSError, ValueError):
                return
            finally:
                console.prompt_done()
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
                yield decode_line(raw)
        if pending:
            yield decode_line(pending)
