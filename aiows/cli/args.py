"""The command line of ``aiows``: options, their checks, the URL."""

from __future__ import annotations

import argparse
from typing import Final

from .. import __version__
from ..core import speedups

__all__ = ["DISTRIBUTION", "build_parser", "normalize_url", "version_text"]

#: aiows's distribution name (``setup.cfg``), the name its sdist and wheel
#: carry and its extras go with (``aiows-client[socks]``); no release is on
#: PyPI yet.  The import name stays ``aiows``; the ``aiows`` on PyPI is
#: another project.
DISTRIBUTION: Final = "aiows-client"

_DESCRIPTION: Final = """\
Interactive WebSocket client: lines typed are sent as text
messages, messages received are printed. In a pipe it sends its
input lines and writes the data received. Without a URL (or with
--demo) it talks to an echo server of its own."""

_EPILOG: Final = """\
exit status: 0 normal close, 1 unexpected error, or input lines invalid or
left unsent (pipe mode), 2 usage error or invalid URL, 3 connection or
handshake failure, 4 abnormal close or protocol error, 130 interrupted.

Type /help in a session for the commands (/ping, /close, /binary, /json)."""


def header(text: str) -> tuple[str, str]:
    """``"X-A: b"`` -> ``("X-A", "b")``, for ``--header``."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text!r}")
    return name, value.strip()


def non_negative_float(text: str) -> float:
    """A number of seconds, 0 or more (``--wait``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """A number of seconds, more than 0 (``--heartbeat``)."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def non_negative_int(text: str) -> int:
    """A count, 0 or more (``--max-size``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def version_text() -> str:
    """What ``aiows --version`` prints: the version, the distribution, and
    which modules run compiled and which as pure Python (and why)."""
    in_use = speedups.compiled_modules()
    lines = [f"aiows {__version__} (distribution {DISTRIBUTION})"]
    if compiled := [name for name, used in in_use.items() if used]:
        lines.append(f"compiled: {', '.join(compiled)}")
    if pure := [name for name, used in in_use.items() if not used]:
        if speedups.NO_EXTENSIONS:
            why = "AIOWS_NO_EXTENSIONS is set"
        elif speedups.FROM_SOURCE:
            why = "AIOWS_NO_EXTENSIONS=cython"
        else:
            why = "not built"
        lines.append(f"pure Python: {', '.join(pure)} ({why})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``aiows`` command."""
    parser = argparse.ArgumentParser(
        prog="aiows",
        description=_DESCRIPTION,
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
        type=header,
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
        type=positive_float,
        metavar="SECONDS",
        help="send a keepalive ping after SECONDS without input; give up if "
        "no pong comes within half that",
    )
    parser.add_argument(
        "--max-size",
        type=non_negative_int,
        metavar="BYTES",
        help="largest message accepted (default 4 MiB; 0 for no limit)",
    )
    parser.add_argument(
        "--wait",
        type=non_negative_float,
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
        "-V",
        "--version",
        action="version",
        version=version_text(),
        help="show the version, the distribution name to install and the "
        "compiled modules in use, then exit",
    )
    return parser


def normalize_url(url: str) -> str:
    """``url``, with ``ws://`` in front when it names no scheme.

    >>> normalize_url("127.0.0.1:8080/ws")
    'ws://127.0.0.1:8080/ws'
    """
    if "://" not in url:
        return "ws://" + url
    return url
