"""``aiows.cli.connect``: options reach the server, and each way opening the
connection fails has its one-line report and exit status."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

import aiows
from aiows.cli import EXIT_CONNECT, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from aiows.cli.connect import connect_error

from .conftest import assert_one_line, closed_port, run_cli, url_of


async def test_header_and_subprotocol_reach_the_server(server: Any) -> None:
    result = await run_cli(
        url_of(server),
        "--header",
        "X-Token: s3cret",
        "-H",
        "X-Other:2",
        "--subprotocol",
        "superchat",
        "--compress",
        "--wait",
        "5",
        stdin=b"close:1000:\n",
    )
    assert result.status == EXIT_OK
    (headers,) = server.recorder.headers
    assert headers["X-Token"] == "s3cret"
    assert headers["X-Other"] == "2"
    assert headers["Sec-WebSocket-Protocol"] == "superchat"
    assert "permessage-deflate" in headers["Sec-WebSocket-Extensions"]


async def test_refused_connection() -> None:
    result = await run_cli(f"ws://127.0.0.1:{closed_port()}/", stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    assert "cannot connect to 127.0.0.1" in result.err
    assert result.out == ""


async def test_handshake_refused(server: Any) -> None:
    result = await run_cli(url_of(server, "/forbidden"), stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert result.err == "aiows: error: server refused the upgrade: HTTP 403\n"


async def test_invalid_url() -> None:
    result = await run_cli("ftp://example.org/", stdin=b"")
    assert result.status == EXIT_USAGE
    assert_one_line(result.err)
    assert "invalid URL 'ftp://example.org/'" in result.err


async def test_untrusted_certificate(tls_url: str) -> None:
    result = await run_cli(tls_url, stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    assert "TLS certificate of 127.0.0.1 not trusted" in result.err
    assert "--insecure" in result.err


async def test_insecure_skips_verification(tls_url: str) -> None:
    result = await run_cli(tls_url, "--insecure", "--wait", "1", stdin=b"secret\n")
    assert result.status == EXIT_OK, result.err
    assert result.out == "secret\n"


async def test_wss_to_a_plain_server_names_the_tls_reason(server: Any) -> None:
    port = server.port
    result = await run_cli(f"wss://127.0.0.1:{port}/ws", stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    # The reason is OpenSSL's (WRONG_VERSION_NUMBER, or RECORD_LAYER_FAILURE
    # since OpenSSL 3.2), never errno 1 read as "Operation not permitted".
    assert re.fullmatch(
        rf"aiows: error: TLS handshake with 127\.0\.0\.1:{port} failed: "
        r"\[SSL: [A-Z_]+\] [a-z ]+; "
        rf"is this a plain ws:// server\? try ws://127\.0\.0\.1:{port}/ws\n",
        result.err,
    ), result.err
    assert result.out == ""


async def test_wss_to_a_server_that_hangs_up_hints_ws() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: Any) -> None:
        await reader.read(1)  # the ClientHello has arrived
        writer.close()

    srv = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        result = await run_cli(f"wss://127.0.0.1:{port}/", stdin=b"hi\n")
    finally:
        srv.close()
        await srv.wait_closed()
    assert result.status == EXIT_CONNECT
    assert_one_line(result.err)
    assert result.err.startswith(f"aiows: error: cannot connect to 127.0.0.1:{port}: ")
    assert result.err.endswith(
        f"; is this a plain ws:// server? try ws://127.0.0.1:{port}/\n"
    )


async def test_ws_to_a_tls_port_hints_wss(tls_url: str) -> None:
    plain_url = tls_url.replace("wss://", "ws://")
    port = plain_url.rsplit(":", 1)[1].rstrip("/")
    result = await run_cli(plain_url, stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert result.err == (
        f"aiows: error: 127.0.0.1:{port} closed the connection without answering "
        f"the upgrade (Server disconnected); it speaks TLS: try {tls_url}\n"
    )


async def test_ws_to_a_server_that_hangs_up_is_not_called_tls() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: Any) -> None:
        await reader.read(65536)  # the upgrade request (or a TLS ClientHello)
        writer.close()

    srv = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        result = await run_cli(f"ws://127.0.0.1:{port}/", stdin=b"hi\n")
    finally:
        srv.close()
        await srv.wait_closed()
    assert result.status == EXIT_CONNECT
    assert result.err == (
        f"aiows: error: 127.0.0.1:{port} closed the connection without answering "
        "the upgrade (Server disconnected)\n"
    )


# ----------------------------------------------------------------------
# Reports of failures that are awkward to provoke through a real server


def key() -> ConnectionKey:
    return ConnectionKey("proxy.example", 3128, False, True, None, None, None)


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (
            aiohttp.ClientProxyConnectionError(key(), ConnectionRefusedError(111, "")),
            EXIT_CONNECT,
            "cannot connect to proxy proxy.example:3128",
        ),
        (
            aiohttp.ClientHttpProxyError(None, (), status=407),  # type: ignore[arg-type]
            EXIT_CONNECT,
            "proxy refused the connection: HTTP 407",
        ),
        (aiows.OpenTimeout("slow"), EXIT_CONNECT, "timed out: slow"),
        (aiohttp.InvalidURL("x"), EXIT_USAGE, "invalid URL"),
        (
            asyncio.TimeoutError(),
            EXIT_CONNECT,
            "cannot connect to ws://h/: TimeoutError",
        ),
        (ValueError("odd"), EXIT_ERROR, "ValueError: odd"),
    ],
)
def test_connect_errors_are_one_line(
    exc: BaseException, status: int, text: str
) -> None:
    error = connect_error(exc, "ws://h/")
    assert error.status == status
    assert text in error.message
    assert "\n" not in error.message
