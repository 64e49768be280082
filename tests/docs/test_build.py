"""The docs build with Sphinx, warnings as errors (skipped without Sphinx)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip(
        "sphinx", reason="sphinx is not installed (pip install -e '.[docs]')"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-W",
            "--keep-going",
            "-b",
            "html",
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stderr) == (0, "")
    api = (tmp_path / "html" / "api.html").read_text()
    # The REST calls show aiohttp's return type, not Any.
    assert "_RequestContextManager" in api
    # Long code lines wrap instead of being cut off (see _static/custom.css).
    css = (tmp_path / "html" / "_static" / "custom.css").read_text()
    assert "white-space: pre-wrap" in css
