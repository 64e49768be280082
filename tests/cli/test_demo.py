"""``aiows.cli.demo``: ``aiows --demo`` with its own echo server."""

from __future__ import annotations

import json
import re

from aiows.cli import EXIT_OK

from .conftest import run_cli


async def test_demo_without_input_plays_a_scripted_exchange() -> None:
    result = await run_cli("--demo", stdin=None)
    assert result.status == EXIT_OK, result.err
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} < TEXT Hello from aiows!", result.out)
    document = json.dumps({"type": "greeting", "from": "aiows", "id": 1})
    assert f"< TEXT {document}" in result.out
    assert re.search(r"latency \d+\.\d+ ms", result.out)
    assert "started an echo server at ws://127.0.0.1:" in result.err


async def test_demo_with_piped_input_echoes() -> None:
    result = await run_cli(stdin=b"ping me\n/binary 0102\n")
    assert result.status == EXIT_OK, result.err
    assert result.out == "ping me\n0102\n"
