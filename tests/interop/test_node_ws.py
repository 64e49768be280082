"""aiows against the Node.js ``ws`` package (``tests/interop/node``).

The server (``echo_server.js``) runs in a subprocess and speaks the same
echo protocol as the other interop servers: TEXT and BINARY are echoed,
``close:<code>:<reason>`` makes it close with that code and reason.  With
``deflate`` it offers permessage-deflate (ws's defaults, threshold 0), with
``plain`` it does not.

Install once with ``cd tests/interop/node && npm install --no-audit
--no-fund``; without ``node`` or ``node_modules`` these tests are skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import aiows
from tests.interop.conftest import MIB, Message, assert_echo, echo_once

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "ws").is_dir(),
        reason="Node ws not installed: run "
        "'cd tests/interop/node && npm install --no-audit --no-fund'",
    ),
]

TIMEOUT = 30.0


@dataclass(frozen=True)
class NodeServer:
    url: str
    #: Whether the server accepts permessage-deflate.
    deflate: bool


@pytest.fixture(params=["deflate", "plain"])
async def node(request: pytest.FixtureRequest) -> AsyncIterator[NodeServer]:
    """Start ``echo_server.js`` in the given mode."""
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(NODE_DIR / "echo_server.js"),
        request.param,
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=sys.stderr,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        port = int(line)
        yield NodeServer(f"ws://127.0.0.1:{port}/", request.param == "deflate")
    finally:
        # Closing stdin makes the server exit on its own.
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


PAYLOADS: list[tuple[str, Message]] = [
    ("text", "hello, node"),
    ("text-utf8", "h\u00e9llo \u2713 \U0001f600"),
    ("binary", bytes(range(256))),
    ("empty-text", ""),
    ("empty-binary", b""),
    ("1MiB-text", "0123456789abcdef" * (MIB // 16)),
    ("1MiB-binary", bytes(i * 7 % 251 for i in range(MIB))),
    ("16MiB-binary", b"\x5a\xa5" * (8 * MIB)),
]


@pytest.mark.parametrize("compress", [15, 0], ids=["compress", "no-compress"])
@pytest.mark.parametrize("message", [pytest.param(m, id=n) for n, m in PAYLOADS])
async def test_echo(node: NodeServer, compress: int, message: Message) -> None:
    async with aiows.ws_connect(node.url, compress=compress, max_msg_size=0) as ws:
        assert ws.compress == (15 if compress and node.deflate else 0)
        assert_echo(await asyncio.wait_for(echo_once(ws, message), TIMEOUT), message)
        # Again: the compression context (if any) carries over.
        assert_echo(await asyncio.wait_for(echo_once(ws, message), TIMEOUT), message)
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    "compression", ["deflate", None], ids=["compress", "no-compress"]
)
@pytest.mark.parametrize(
    ("fragments", "whole"),
    [
        (["frag", "", "ments"], "fragments"),
        (
            [b"\x00" * 1000, b"\x01" * 70000, b"\x02"],
            b"\x00" * 1000 + b"\x01" * 70000 + b"\x02",
        ),
    ],
    ids=["text", "binary"],
)
async def test_fragmented_send(
    node: NodeServer, compression: str | None, fragments: list[Message], whole: Message
) -> None:
    """``send(iterable)`` of the websockets face: ws joins the fragments (and
    the empty final continuation) into one message and echoes it."""
    async with aiows.connect(
        node.url, compression=compression, ping_interval=None
    ) as ws:
        extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        assert extensions.startswith("permessage-deflate") == (
            compression is not None and node.deflate
        )
        await ws.send(fragments)
        echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert type(echo) is type(whole)
        assert echo == whole
    assert ws.close_code == 1000


@pytest.mark.parametrize("compress", [15, 0], ids=["compress", "no-compress"])
async def test_ping(node: NodeServer, compress: int) -> None:
    async with aiows.ws_connect(node.url, compress=compress) as ws:
        for payload in (b"", b"x" * 125, b"ping"):
            rtt = await asyncio.wait_for(await ws.ping(payload), TIMEOUT)
            assert rtt >= 0.0
        # The connection still carries data afterwards.
        assert_echo(await echo_once(ws, "after pings"), "after pings")


@pytest.mark.parametrize("compress", [15, 0], ids=["compress", "no-compress"])
async def test_server_close_with_code_and_reason(
    node: NodeServer, compress: int
) -> None:
    async with aiows.ws_connect(node.url, compress=compress) as ws:
        await ws.send_str("close:4321:node says bye \u2713")
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type == aiows.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4321, "node says bye \u2713")
        assert (await ws.receive(timeout=TIMEOUT)).type == aiows.WSMsgType.CLOSED
    assert ws.close_code == 4321
    assert ws.exception() is None


@pytest.mark.parametrize("compress", [15, 0], ids=["compress", "no-compress"])
async def test_client_close_with_code_and_reason(
    node: NodeServer, compress: int
) -> None:
    async with aiows.ws_connect(node.url, compress=compress) as ws:
        assert_echo(await echo_once(ws, "hi"), "hi")
        assert await asyncio.wait_for(ws.close(code=4000, message=b"done"), TIMEOUT)
        # ws echoes the client's close code.
        assert ws.close_code == 4000
