"""``aiows.cli.args``: the options' checks and what they accept."""

from __future__ import annotations

import argparse
import configparser
import importlib.metadata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import aiows
from aiows.cli import EXIT_OK, EXIT_USAGE
from aiows.cli.args import (
    DISTRIBUTION,
    header,
    non_negative_float,
    non_negative_int,
    normalize_url,
    positive_float,
    version_text,
)
from aiows.core import speedups

from .conftest import run_cli


@pytest.mark.parametrize(
    ("check", "text", "message"),
    [
        (non_negative_float, "x", "not a number"),
        (non_negative_float, "-1", "must be 0 or more"),
        (non_negative_float, "nan", "must be 0 or more"),
        (positive_float, "0", "more than 0"),
        (non_negative_int, "1.5", "not an integer"),
        (non_negative_int, "-3", "must be 0 or more"),
        (header, "no-colon", "NAME:VALUE"),
    ],
)
def test_argument_checks(check: Callable[[str], Any], text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        check(text)


def test_argument_checks_accept_good_values() -> None:
    assert non_negative_float("0") == 0.0
    assert positive_float("2.5") == 2.5
    assert non_negative_int("0") == 0
    assert header("X-A: b c") == ("X-A", "b c")


def test_normalize_url() -> None:
    assert normalize_url("127.0.0.1:8080/ws") == "ws://127.0.0.1:8080/ws"
    assert normalize_url("wss://h/") == "wss://h/"


async def test_bad_header_is_a_usage_error() -> None:
    result = await run_cli("ws://127.0.0.1:1/", "--header", "no-colon", stdin=b"")
    assert result.status == EXIT_USAGE
    assert "expected NAME:VALUE" in result.err


async def test_version_names_the_distribution_and_the_compiled_modules() -> None:
    result = await run_cli("--version", stdin=b"")
    assert result.status == EXIT_OK
    first, *rest = result.out.splitlines()
    assert first == f"aiows {aiows.__version__} (distribution aiows-client)"
    # The subprocess decides as this process does (same build, same env).
    assert rest == version_text().splitlines()[1:]
    assert result.err == ""


@pytest.mark.parametrize(
    ("in_use", "switch", "lines"),
    [
        ({"a.b": True, "a.c": True}, "", ["compiled: a.b, a.c"]),
        ({"a.b": False}, "", ["pure Python: a.b (not built)"]),
        (
            {"a.b": True, "a.c": False},
            "",
            ["compiled: a.b", "pure Python: a.c (not built)"],
        ),
        ({"a.b": False}, "1", ["pure Python: a.b (AIOWS_NO_EXTENSIONS is set)"]),
        (
            {"a.b": True, "a.c": False},
            "cython",
            ["compiled: a.b", "pure Python: a.c (AIOWS_NO_EXTENSIONS=cython)"],
        ),
    ],
)
def test_version_says_which_modules_are_compiled(
    monkeypatch: pytest.MonkeyPatch,
    in_use: dict[str, bool],
    switch: str,
    lines: list[str],
) -> None:
    monkeypatch.setattr(speedups, "compiled_modules", lambda: in_use)
    monkeypatch.setattr(speedups, "NO_EXTENSIONS", bool(switch) and switch != "cython")
    monkeypatch.setattr(speedups, "FROM_SOURCE", bool(switch))
    assert version_text().splitlines()[1:] == lines


def test_distribution_is_the_one_installed_and_built() -> None:
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(Path(__file__).parents[2] / "setup.cfg")
    assert setup_cfg["metadata"]["name"] == DISTRIBUTION
    # The installed metadata is this project's: same version, same package.
    assert importlib.metadata.version(DISTRIBUTION) == aiows.__version__
    assert DISTRIBUTION in importlib.metadata.packages_distributions()["aiows"]
