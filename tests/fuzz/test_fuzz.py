"""The fuzz target, run for a few seconds inside the normal test run.

``AIOWS_FUZZ_SECONDS`` sets the duration (default 5; 0 skips it) and
``AIOWS_FUZZ_SEED`` fixes the seed to replay a failure.  Run it longer with
``python -m tests.fuzz.fuzz_parser`` (see that module and
``docs/conformance.rst``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fuzz_parser import fuzz, settings_from_env


def test_fuzz_parser_and_handshake(tmp_path: Path) -> None:
    seconds, seed = settings_from_env(5.0)
    if seconds <= 0:
        pytest.skip("AIOWS_FUZZ_SECONDS=0")
    report = fuzz(seconds, seed, tmp_path)
    assert report.parser_cases > 0
    assert report.handshake_cases > 0
    # Mutated streams must reach the error paths, valid ones the success
    # paths: a fuzzer stuck on one side tests little.
    assert 0 < report.parser_errors < report.parser_cases
