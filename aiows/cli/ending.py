"""How a session of the ``aiows`` command ended: the notes and the one-line
error that say so, and the exit status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aiohttp

from .. import ClientWebSocketResponse
from .console import Console
from .exits import EXIT_ABNORMAL, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CliError

__all__ = ["Ending", "Sent", "Unsent", "connection_error", "exit_status"]

#: Close codes that count as a normal close when the server sends them.
NORMAL_CLOSE_CODES: Final = frozenset({1000, 1001, 1005})

#: RFC 6455 §7.4.1: 1009, the message was too big to process.
_MESSAGE_TOO_BIG: Final = 1009
#: RFC 6455 §7.4.1: 1006, the connection ended without a close frame.
ABNORMAL_CLOSURE: Final = 1006


@dataclass
class Unsent:
    """Lines of piped input that were never sent."""

    #: How many.
    lines: int = 0
    #: Whether they were counted up to the end of the input.
    to_end: bool = True
    #: They followed a /close (so they were not meant to be sent).
    after_close: bool = False

    def describe(self) -> str:
        """``"3 lines of input not sent: the connection closed"``."""
        count = f"{self.lines}" if self.to_end else f"at least {self.lines}"
        noun = "line" if self.lines == 1 else "lines"
        if self.after_close:
            return f"{count} {noun} of input after /close not sent"
        return f"{count} {noun} of input not sent: the connection closed"


@dataclass
class Ending:
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


@dataclass(frozen=True)
class Sent:
    """The close frame this client sent first, if it did."""

    code: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.code} ({self.reason})" if self.reason else f"{self.code}"


def exit_status(
    ending: Ending,
    *,
    ws: ClientWebSocketResponse,
    console: Console,
    interrupted: bool,
    sent: Sent,
    input_errors: int,
    unsent: Unsent,
) -> int:
    """Report how the session ended; return its exit status.

    Raises :class:`CliError` when it ended badly: an abnormal close, or
    (in a pipe) input that was invalid or never sent.
    """
    if interrupted:
        return EXIT_INTERRUPTED
    try:
        _report_ending(ending, ws=ws, console=console, sent=sent)
    except CliError:
        if unsent.lines:
            console.note(unsent.describe(), always=True)
        raise
    problems = []
    if input_errors:
        problems.append(f"{input_errors} line(s) of input were invalid")
    if unsent.lines and unsent.after_close:
        console.note(unsent.describe(), always=True)
    elif unsent.lines:
        problems.append(unsent.describe())
    if problems:
        raise CliError(EXIT_ERROR, "; ".join(problems))
    return EXIT_OK


def _report_ending(
    ending: Ending, *, ws: ClientWebSocketResponse, console: Console, sent: Sent
) -> None:
    """Note how the connection ended; raise CliError if abnormally."""
    if ending.error is not None:
        raise CliError(EXIT_ABNORMAL, connection_error(ending.error))
    if ending.server_code is not None:
        code, reason = ending.server_code, ending.server_reason
        detail = f"{code} ({reason})" if reason else f"{code}"
        if code not in NORMAL_CLOSE_CODES:
            raise CliError(
                EXIT_ABNORMAL, f"server closed the connection with code {detail}"
            )
        console.note(f"server closed the connection: {detail}")
        return
    error = ws.exception()
    # Like aiohttp, the connection reports ClientConnectionResetError when the
    # server went away without a close frame: that is the 1006 case below.
    if error is not None and not isinstance(error, aiohttp.ClientConnectionResetError):
        raise CliError(EXIT_ABNORMAL, connection_error(error))
    if ws.close_code == ABNORMAL_CLOSURE:
        if sent.code is None:
            raise CliError(
                EXIT_ABNORMAL, "connection lost without a closing handshake (1006)"
            )
        raise CliError(
            EXIT_ABNORMAL,
            f"sent {sent}; the server did not answer the close frame (1006)",
        )
    if sent.code is None:
        console.note(f"connection closed: {ws.close_code}")
    else:
        console.note(f"connection closed: sent {sent}, received {ws.close_code}")
