"""The CLI's argument checks and error reports, in-process.

``tests/test_cli.py`` runs the command end to end; these pin down the
one-line messages and exit codes for failures that are awkward to provoke
through a real server.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

import aiows
from aiows import cli


@pytest.mark.parametrize(
    ("check", "text", "message"),
    [
        (cli._non_negative_float, "x", "not a number"),
        (cli._non_negative_float, "-1", "must be 0 or more"),
        (cli._non_negative_float, "nan", "must be 0 or more"),
        (cli._positive_float, "0", "more than 0"),
        (cli._non_negative_int, "1.5", "not an integer"),
        (cli._non_negative_int, "-3", "must be 0 or more"),
        (cli._header, "no-colon", "NAME:VALUE"),
    ],
)
def test_argument_checks(check, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        check(text)


def test_argument_checks_accept_good_values() -> None:
    assert cli._non_negative_float("0") == 0.0
    assert cli._positive_float("2.5") == 2.5
    assert cli._non_negative_int("0") == 0
    assert cli._header("X-A: b c") == ("X-A", "b c")


def key() -> ConnectionKey:
    return ConnectionKey("proxy.example", 3128, False, True, None, None, None)


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (
            aiohttp.ClientProxyConnectionError(key(), ConnectionRefusedError(111, "")),
            cli.EXIT_CONNECT,
            "cannot connect to proxy proxy.example:3128",
        ),
        (
            aiohttp.ClientHttpProxyError(None, (), status=407),  # type: ignore[arg-type]
            cli.EXIT_CONNECT,
            "proxy refused the connection: HTTP 407",
        ),
        (aiows.OpenTimeout("slow"), cli.EXIT_CONNECT, "timed out: slow"),
        (aiohttp.InvalidURL("x"), cli.EXIT_USAGE, "invalid URL"),
        (
            asyncio.TimeoutError(),
            cli.EXIT_CONNECT,
            "cannot connect to ws://h/: TimeoutError",
        ),
        (ValueError("odd"), cli.EXIT_ERROR, "ValueError: odd"),
    ],
)
def test_connect_errors_are_one_line(
    exc: BaseException, status: int, text: str
) -> None:
    error = cli._connect_error(exc, "ws://h/")
    assert error.status == status
    assert text in error.message
    assert "\n" not in error.message


def test_connection_error_descriptions() -> None:
    assert cli._connection_error(aiows.ProtocolError(1002, "bad")).startswith(
        "protocol error (1002)"
    )
    assert cli._connection_error(aiows.PongTimeout("silent")) == (
        "keepalive failed: silent"
    )
    assert cli._connection_error(None) == "connection failed: unknown error"


def test_unexpected_error_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("surprise")

    monkeypatch.setattr(cli, "run", boom)
    assert cli.main(["ws://127.0.0.1:1/"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.strip() == "aiows: error: RuntimeError: surprise"


def test_interrupt_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert cli.main(["ws://127.0.0.1:1/"]) == cli.EXIT_INTERRUPTED
