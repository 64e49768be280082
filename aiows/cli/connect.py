"""Opening the connection: ``ws_connect`` options from the command line,
and a one-line report, with its exit status, for each way it can fail."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import ssl
from typing import Any, Final

import aiohttp
from yarl import URL

from .. import (
    ClientSession,
    ClientWebSocketResponse,
    ClientWSTimeout,
    InvalidHandshake,
    InvalidStatus,
    OpenTimeout,
)
from .exits import EXIT_CONNECT, EXIT_ERROR, EXIT_USAGE, CliError

__all__ = [
    "CLOSE_TIMEOUT",
    "connect_error",
    "connect_options",
    "open_connection",
    "speaks_tls",
]

#: OpenSSL's reasons for a TLS handshake answered by something that is not
#: TLS: a plain HTTP server answers the ClientHello with "HTTP/1.1 400".
_NOT_TLS_REASONS: Final = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "UNKNOWN_PROTOCOL",
        "UNEXPECTED_EOF_WHILE_READING",
    }
)

#: Seconds to wait for the server's answer to a close frame (aiohttp's
#: default, set here so that the CLI can say how long it waits).
CLOSE_TIMEOUT: Final = 10.0

#: Seconds the check for a TLS port may take, after a failure already seen.
TLS_PROBE_TIMEOUT: Final = 3.0


def connect_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ws_connect`` keyword arguments the command line asks for."""
    options: dict[str, Any] = {
        "protocols": tuple(args.subprotocol),
        "compress": 15 if args.compress else 0,
        "headers": list(args.header),
        "timeout": ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
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


async def open_connection(
    client: ClientSession, url: str, args: argparse.Namespace
) -> ClientWebSocketResponse:
    """Connect to ``url``; raise :class:`CliError` saying why it failed."""
    try:
        return await client.ws_connect(url, **connect_options(args))
    except Exception as exc:
        error = connect_error(exc, url)
        if _hung_up(exc) and not args.proxy and await _tls_port(url):
            tls_url = URL(url).with_scheme("wss")
            error = CliError(
                EXIT_CONNECT, f"{error.message}; it speaks TLS: try {tls_url}"
            )
        raise error from exc


def _hung_up(exc: BaseException) -> bool:
    """Whether the server ended the TCP connection instead of answering."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False  # the connection was never made
    return isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))


async def _tls_port(url: str) -> bool:
    """Whether ``url`` is a ws:// URL whose port speaks TLS."""
    parsed = URL(url)
    if parsed.scheme != "ws" or parsed.host is None or parsed.port is None:
        return False
    return await speaks_tls(parsed.host, parsed.port)


def _where(url: str) -> str:
    """``host:port`` of ``url``, the port written even when it is the default."""
    parsed = URL(url)
    host = parsed.host or ""
    return f"[{host}]:{parsed.port}" if ":" in host else f"{host}:{parsed.port}"


async def speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake with ``host:port`` succeeds (nothing verified).

    Run only to explain a failure: a ``ws://`` URL whose server hung up on
    the upgrade request is most often a TLS port.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), TLS_PROBE_TIMEOUT
        )
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _plain_hint(url: str) -> str:
    """``"; is this a plain ws:// server? try ws://..."`` for a wss:// URL."""
    parsed = URL(url)
    if parsed.scheme != "wss":
        return ""
    return f"; is this a plain ws:// server? try {parsed.with_scheme('ws')}"


def _ssl_reason(error: OSError) -> str:
    """OpenSSL's words for a TLS failure, without the C source location."""
    text = error.strerror or str(error)
    return re.sub(r" \(_ssl\.c:\d+\)$", "", text)


def connect_error(exc: BaseException, url: str) -> CliError:
    """The one-line report of a failure to open the connection."""
    if isinstance(exc, aiohttp.InvalidURL):
        description = exc.description or "not a valid URL"
        return CliError(EXIT_USAGE, f"invalid URL {str(exc.url)!r}: {description}")
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
    if isinstance(exc, aiohttp.ClientSSLError):
        os_error = exc.os_error
        hint = ""
        if getattr(os_error, "reason", None) in _NOT_TLS_REASONS:
            hint = _plain_hint(url)
        return CliError(
            EXIT_CONNECT,
            f"TLS handshake with {exc.host}:{exc.port} failed: "
            f"{_ssl_reason(os_error)}{hint}",
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        what = "proxy" if isinstance(exc, aiohttp.ClientProxyConnectionError) else ""
        os_error = exc.os_error
        reason = (
            os.strerror(os_error.errno)
            if os_error.errno and os_error.errno > 0
            else os_error.strerror or str(os_error) or type(os_error).__name__
        )
        # A plain server that hangs up on a TLS ClientHello resets the
        # connection in the middle of the handshake.
        hint = _plain_hint(url) if isinstance(os_error, ConnectionResetError) else ""
        return CliError(
            EXIT_CONNECT,
            f"cannot connect to {what + ' ' if what else ''}{exc.host}:{exc.port}: "
            f"{reason}{hint}",
        )
    if _hung_up(exc):
        return CliError(
            EXIT_CONNECT,
            f"{_where(url)} closed the connection without answering the "
            f"upgrade ({exc})",
        )
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return CliError(
            EXIT_CONNECT, f"proxy refused the connection: HTTP {exc.status}"
        )
    if isinstance(exc, OpenTimeout):
        return CliError(EXIT_CONNECT, f"timed out: {exc}")
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        detail = str(exc) or type(exc).__name__
        return CliError(EXIT_CONNECT, f"cannot connect to {url}: {detail}")
    return CliError(EXIT_ERROR, f"{type(exc).__name__}: {exc}")
