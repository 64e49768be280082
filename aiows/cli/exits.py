"""Exit statuses of the ``aiows`` command, and the error that carries one.

Every way the command can end maps to one status here; the one-line report
that goes with it is built where the failure is detected.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EXIT_ABNORMAL",
    "EXIT_CONNECT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
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


class CliError(Exception):
    """A failure reported as one line on stderr, with an exit status.

    >>> CliError(EXIT_USAGE, "invalid URL 'ftp://x/'").status
    2
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        #: The exit status of the command.
        self.status = status
        #: The line written after ``aiows: error: ``.
        self.message = message
