"""The quickstart programs (``docs/quickstart.rst`` and the README) run as
written: each is saved to a file and run with Python, its ``api.example``
URLs pointed at a local aiohttp.web server that plays the part.

``AIOWS_QUICKSTART_PYTHON`` names the Python that runs them (this one by
default): ``.ci/packaging`` runs them on aiows installed from the built sdist
and wheel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

ROOT = Path(__file__).parents[2]
TIMEOUT = 20.0
PYTHON = os.environ.get("AIOWS_QUICKSTART_PYTHON") or sys.executable
TOKEN = "t0ken"
TICKS = [json.dumps({"tick": 1}), json.dumps({"tick": 2})]


def rst_programs(path: Path) -> list[str]:
    """The ``.. code-block:: python`` blocks of an .rst file, dedented."""
    text = path.read_text()
    blocks = re.findall(
        r"^\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text, re.MULTILINE
    )
    return [re.sub(r"^ {4}", "", block, flags=re.MULTILINE) for block in blocks]


def markdown_programs(path: Path) -> list[str]:
    """The ```` ```python ```` blocks of a Markdown file."""
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), re.S | re.M)


QUICKSTART = rst_programs(ROOT / "docs" / "quickstart.rst")
README = markdown_programs(ROOT / "README.md")

#: (program, what it prints, whether it sends the token).
CASES = [
    pytest.param(QUICKSTART[0], "\n".join(TICKS) + "\n", True, id="quickstart-1"),
    pytest.param(QUICKSTART[1], TICKS[0] + "\n", False, id="quickstart-2"),
    pytest.param(
        QUICKSTART[2], f"TEXT {TICKS[0]}\nclosed with 1000\n", False, id="quickstart-3"
    ),
    pytest.param(README[0], "{'tick': 1}\n{'tick': 2}\n", True, id="readme"),
    # The threading face: no asyncio.run().
    pytest.param(QUICKSTART[3], "\n".join(TICKS) + "\n", False, id="quickstart-4"),
]


def test_every_program_is_under_test() -> None:
    assert len(QUICKSTART) == 4
    assert len(README) == 1


@pytest.fixture
async def stand_in(aiohttp_server: Any) -> Any:
    """api.example: ``/token`` gives a token; ``/feed`` answers a
    subscription with two ticks, then closes with 1000."""
    seen: list[dict[str, str]] = []

    async def token(request: web.Request) -> web.Response:
        return web.Response(text=TOKEN)

    async def feed(request: web.Request) -> web.WebSocketResponse:
        seen.append(dict(request.headers))
        ws = web.WebSocketResponse(protocols=("v2",))
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                for tick in TICKS:
                    await ws.send_str(tick)
                await ws.close(code=1000)
        return ws

    app = web.Application()
    app.router.add_get("/token", token)
    app.router.add_get("/feed", feed)
    server = await aiohttp_server(app)
    server.seen = seen
    return server


def pointed_at(program: str, port: int) -> str:
    """``program`` with its api.example URLs on the local stand-in."""
    assert "asyncio.run(main())" in program or "from aiows.sync import" in program
    assert "api.example" in program
    program = program.replace("https://api.example", f"http://127.0.0.1:{port}")
    program = program.replace("wss://api.example", f"ws://127.0.0.1:{port}")
    assert "api.example" not in program
    return program


@pytest.mark.parametrize(("program", "prints", "sends_token"), CASES)
async def test_program_runs_as_written(
    stand_in: Any, tmp_path: Path, program: str, prints: str, sends_token: bool
) -> None:
    script = tmp_path / "program.py"
    script.write_text(pointed_at(program, stand_in.port))
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (proc.returncode, err.decode()) == (0, "")
    assert out.decode() == prints
    (headers,) = stand_in.seen
    if sends_token:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
    else:
        assert "Authorization" not in headers
