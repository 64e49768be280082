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
)

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


async def test_version_names_the_distribution() -> None:
    result = await run_cli("--version", stdin=b"")
    assert result.status == EXIT_OK
    assert result.out == f"aiows {aiows.__version__} (distribution aiows-client)\n"
    assert result.err == ""


def test_distribution_is_the_one_installed_and_built() -> None:
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(Path(__file__).parents[2] / "setup.cfg")
    assert setup_cfg["metadata"]["name"] == DISTRIBUTION
    # The installed metadata is this project's: same version, same package.
    assert importlib.metadata.version(DISTRIBUTION) == aiows.__version__
    assert DISTRIBUTION in importlib.metadata.packages_distributions()["aiows"]
