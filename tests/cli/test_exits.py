"""``aiows.cli.exits``: the statuses are the ones the docs list."""

from __future__ import annotations

import re
from pathlib import Path

from aiows import cli
from aiows.cli import exits

DOCS = Path(__file__).parents[2] / "docs" / "cli.rst"


def documented_statuses(text: str) -> list[int]:
    """The first column of the exit-status table."""
    table = text.split("Exit status\n-----------\n", 1)[1]
    return [int(m) for m in re.findall(r"^(\d+) ", table, re.M)]


def test_statuses_match_the_docs_and_the_module_docstring() -> None:
    statuses = sorted(getattr(exits, name) for name in exits.__all__[:-1])
    assert statuses == [0, 1, 2, 3, 4, 130]
    assert documented_statuses(DOCS.read_text()) == statuses
    assert cli.__doc__ is not None
    assert (
        documented_statuses(
            cli.__doc__.replace("Exit status:\n", "Exit status\n-----------\n")
        )
        == statuses
    )


def test_cli_error_carries_status_and_message() -> None:
    error = exits.CliError(exits.EXIT_USAGE, "invalid URL")
    assert (error.status, error.message, str(error)) == (
        2,
        "invalid URL",
        "invalid URL",
    )
