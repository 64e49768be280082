"""aiows against a real ``websockets`` (asyncio) server.

websockets' default permessage-deflate configuration (``compression=
"deflate"``) caps both windows at 12 bits, so an offer of 15 settles on 12
and smaller offers are taken as they are.
"""

from __future__ import annotations

import asyncio
import random

import pytest

import aiows
from tests.interop.conftest import (
    ECHO_PAYLOADS,
    FRAGMENTED,
    MIB,
    TIMEOUT,
    CloseSeen,
    Message,
    StartWebsockets,
    assert_echo,
    echo_once,
)

# (server compression, client compress=, expected ws.compress)
COMPRESSION = [
    pytest.param("deflate", 15, 12, id="deflate-15"),
    pytest.param("deflate", 12, 12, id="deflate-12"),
    pytest.param("deflate", 10, 10, id="deflate-10"),
    pytest.param("deflate", 9, 9, id="deflate-9"),
    pytest.param("deflate", 0, 0, id="client-off"),
    pytest.param(None, 15, 0, id="server-off"),
]


def expected_accept(server: str | None, client: int, negotiated: int) -> str | None:
    """The server's ``Sec-WebSocket-Extensions`` answer we expect to see."""
    if server is None or client == 0:
        return None
    return (
        f"permessage-deflate; server_max_window_bits={negotiated}; "
        "client_max_window_bits=12"
    )


@pytest.mark.parametrize(("server_compression", "compress", "negotiated"), COMPRESSION)
async def test_negotiation(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compress: int,
    negotiated: int,
) -> None:
    server = await websockets_server(compression=server_compression)
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert ws.compress == negotiated
        assert_echo(await echo_once(ws, "negotiated"), "negotiated")
    offer = server.offered_extensions[0]
    if compress:
        assert offer is not None
        assert offer.startswith("permessage-deflate")
    else:
        assert offer is None
    assert server.accepted_extensions == [
        expected_accept(server_compression, compress, negotiated)
    ]
    assert server.received == ["negotiated"]
    assert await server.next_close() == CloseSeen(1000, "")


@pytest.mark.parametrize(("server_compression", "compress", "negotiated"), COMPRESSION)
async def test_client_compresses_when_negotiated(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compress: int,
    negotiated: int,
) -> None:
    """Count the bytes the server read: 1 MiB of repetitive text must shrink."""
    message = "0123456789abcdef" * (MIB // 16)
    server = await websockets_server(compression=server_compression)
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert_echo(await echo_once(ws, message), message)
    assert server.received == [message]
    if negotiated:
        assert server.wire_bytes < 64 * 1024
    else:
        assert server.wire_bytes > MIB


@pytest.mark.parametrize(("server_compression", "compress", "negotiated"), COMPRESSION)
@pytest.mark.parametrize(
    "message", [pytest.param(m, id=name) for name, m in ECHO_PAYLOADS]
)
async def test_echo(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compress: int,
    negotiated: int,
    message: Message,
) -> None:
    server = await websockets_server(compression=server_compression)
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert ws.compress == negotiated
        assert_echo(await echo_once(ws, message), message)
        # A second round trip reuses the compression context (if any).
        assert_echo(await echo_once(ws, message), message)
    assert server.received == [message, message]
    assert ws.close_code == 1000


@pytest.mark.parametrize(("server_compression", "compress", "negotiated"), COMPRESSION)
@pytest.mark.parametrize(
    ("fragments", "whole"),
    [pytest.param(f, w, id=name) for name, f, w in FRAGMENTED],
)
async def test_fragmented_send(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compress: int,
    negotiated: int,
    fragments: list[Message],
    whole: Message,
) -> None:
    server = await websockets_server(compression=server_compression)
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert ws.compress == negotiated
        await ws.send(fragments)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == whole
        # The connection is still usable for an ordinary message afterwards.
        assert_echo(await echo_once(ws, "after"), "after")
    assert server.received == [whole, "after"]


@pytest.mark.parametrize("compress", [0, 15])
async def test_ping(websockets_server: StartWebsockets, compress: int) -> None:
    server = await websockets_server()
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        waiter = await ws.ping()
        rtt = await asyncio.wait_for(waiter, TIMEOUT)
        assert isinstance(rtt, float)
        assert rtt > 0
        waiter = await ws.ping(b"payload")
        assert await asyncio.wait_for(waiter, TIMEOUT) > 0
        assert_echo(await echo_once(ws, "after ping"), "after ping")
    assert server.received == ["after ping"]


@pytest.mark.parametrize("compress", [0, 15])
@pytest.mark.parametrize(
    ("code", "reason"), [(4001, "bye"), (1000, ""), (1001, "going away \u2713")]
)
async def test_server_initiated_close(
    websockets_server: StartWebsockets, compress: int, code: int, reason: str
) -> None:
    server = await websockets_server()
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        await ws.send_str(f"close:{code}:{reason}")
        msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type == aiows.WSMsgType.CLOSE
        assert msg.data == code
        assert msg.extra == reason
        assert ws.close_code == code
        assert ws.close_reason == reason
        assert (await ws.receive(timeout=TIMEOUT)).type == aiows.WSMsgType.CLOSED
    assert ws.closed
    assert ws.close_code == code
    # aiows echoes the server's code in its answering close frame.
    seen = await server.next_close()
    assert seen.code == code


@pytest.mark.parametrize("compress", [0, 15])
async def test_client_initiated_close(
    websockets_server: StartWebsockets, compress: int
) -> None:
    server = await websockets_server()
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        assert_echo(await echo_once(ws, "before close"), "before close")
        assert await ws.close(code=4000, message=b"client bye") is True
        assert ws.closed
        assert ws.close_code == 4000  # websockets echoes the code back
        assert await ws.close() is False
    assert await server.next_close() == CloseSeen(4000, "client bye")
    assert server.received == ["before close"]


@pytest.mark.parametrize("compress", [0, 15])
async def test_16_mib_unlimited(
    websockets_server: StartWebsockets, compress: int
) -> None:
    message = random.Random(16).randbytes(16 * MIB)
    server = await websockets_server()
    async with aiows.ws_connect(server.url, compress=compress, max_msg_size=0) as ws:
        reply = await echo_once(ws, message)
        assert_echo(reply, message)
    assert len(server.received) == 1
    assert server.received[0] == message


async def test_16_mib_over_default_limit(websockets_server: StartWebsockets) -> None:
    """The counterpart of the test above: the default 4 MiB limit applies."""
    message = random.Random(16).randbytes(16 * MIB)
    server = await websockets_server(compression=None)
    async with aiows.ws_connect(server.url) as ws:
        reply = await echo_once(ws, message)
        assert reply.type == aiows.WSMsgType.ERROR
        assert isinstance(reply.data, aiows.PayloadTooBig)
        assert (await ws.receive(timeout=TIMEOUT)).type == aiows.WSMsgType.CLOSED
    assert ws.close_code == 1009
    seen = await server.next_close()
    assert seen.code == 1009
    assert "limit" in seen.reason
