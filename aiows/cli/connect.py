"""Opening the connection: ``ws_connect`` options from the command line,
and a one-line report, with its exit status, for each way it can fail."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import aiohttp

from .. import (
    ClientSession,
    ClientWebSocketResponse,
    InvalidHandshake,
    InvalidStatus,
    OpenTimeout,
)
from .exits import EXIT_CONNECT, EXIT_ERROR, EXIT_USAGE, CliError

__all__ = ["connect_error", "connect_options", "open_connection"]


def connect_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``ws_connect`` keyword arguments the command line asks for."""
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


async def open_connection(
    client: ClientSession, url: str, args: argparse.Namespace
) -> ClientWebSocketResponse:
    """Connect to ``url``; raise :class:`CliError` saying why it failed."""
    try:
        return await client.ws_connect(url, **connect_options(args))
    except Exception as exc:
        raise connect_error(exc, url) from exc


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
    if isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        detail = str(exc) or type(exc).__name__
        return CliError(EXIT_CONNECT, f"cannot connect to {url}: {detail}")
    return CliError(EXIT_ERROR, f"{type(exc).__name__}: {exc}")
