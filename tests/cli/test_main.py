"""``aiows.cli.main``: how the command reports what ends it."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from aiows import cli
from aiows.cli import EXIT_CONNECT

from .conftest import run_cli, url_of


async def test_debug_shows_traceback(server: Any) -> None:
    result = await run_cli("--debug", url_of(server, "/forbidden"), stdin=b"hi\n")
    assert result.status == EXIT_CONNECT
    assert "Traceback (most recent call last)" in result.err
    assert "InvalidStatus" in result.err
    assert result.err.endswith("aiows: error: server refused the upgrade: HTTP 403\n")


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
