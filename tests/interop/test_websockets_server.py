"""aiows against a real ``websockets`` (asyncio) server.

websockets' default permessage-deflate configuration (``compression=
"deflate"``) caps both windows at 12 bits, so an offer of 15 settles on 12
and smaller offers are taken as they are.
"""

from __future__ import annotations

import asyncio
import random

import aiohttp
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

# (server compression, client compress=, the server_max_window_bits agreed)
COMPRESSION = [
    pytest.param("deflate", 15, 12, id="deflate-15"),
    pytest.param("deflate", 12, 12, id="deflate-12"),
    pytest.param("deflate", 10, 10, id="deflate-10"),
    pytest.param("deflate", 9, 9, id="deflate-9"),
    pytest.param("deflate", 0, 0, id="client-off"),
    pytest.param(None, 15, 0, id="server-off"),
]

#: websockets caps the client's window at 12 bits whatever the offer.
CLIENT_WINDOW = 12

COMPRESSION_REPORTED = COMPRESSION


def expected_accept(server: str | None, client: int, negotiated: int) -> str | None:
    """The server's ``Sec-WebSocket-Extensions`` answer we expect to see."""
    if server is None or client == 0:
        return None
    return (
        f"permessage-deflate; server_max_window_bits={negotiated}; "
        f"client_max_window_bits={CLIENT_WINDOW}"
    )


@pytest.mark.parametrize(
    ("server_compression", "compress", "negotiated"), COMPRESSION_REPORTED
)
async def test_negotiation(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compress: int,
    negotiated: int,
) -> None:
    """What the server answers, and what ``ws.compress`` says of it: as in
    aiohttp, the window the client compresses with."""
    server = await websockets_server(compression=server_compression)
    async with aiows.ws_connect(server.url, compress=compress) as ws:
        accepted = expected_accept(server_compression, compress, negotiated)
        assert ws.response_headers.get("Sec-WebSocket-Extensions") == accepted
        assert ws.compress == (CLIENT_WINDOW if negotiated else 0)
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
        # What ws.compress says of it is test_negotiation's.
        assert ws.response_headers.get("Sec-WebSocket-Extensions") == (
            expected_accept(server_compression, compress, negotiated)
        )
        assert_echo(await echo_once(ws, message), message)
        # A second round trip reuses the compression context (if any).
        assert_echo(await echo_once(ws, message), message)
    assert server.received == [message, message]
    assert ws.close_code == 1000


# (server compression, client compression=, expected answer) for connect()
CONNECT_COMPRESSION = [
    pytest.param(
        "deflate",
        "deflate",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        id="deflate",
    ),
    pytest.param("deflate", None, None, id="client-off"),
    pytest.param(None, "deflate", None, id="server-off"),
]


@pytest.mark.parametrize(
    ("server_compression", "compression", "accepted"), CONNECT_COMPRESSION
)
@pytest.mark.parametrize(
    ("fragments", "whole"),
    [pytest.param(f, w, id=name) for name, f, w in FRAGMENTED],
)
async def test_fragmented_send(
    websockets_server: StartWebsockets,
    server_compression: str | None,
    compression: str | None,
    accepted: str | None,
    fragments: list[Message],
    whole: Message,
) -> None:
    """``send(iterable)`` of the websockets face, which websockets' own
    client mirrors: one frame per item, then an empty final continuation."""
    server = await websockets_server(compression=server_compression)
    async with aiows.connect(
        server.url, compression=compression, ping_interval=None
    ) as ws:
        assert ws.response_headers.get("Sec-WebSocket-Extensions") == accepted
        await ws.send(fragments)
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == whole
        # The connection is still usable for an ordinary message afterwards.
        await ws.send("after")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "after"
    assert server.received == [whole, "after"]
    assert server.accepted_extensions == [accepted]
    assert await server.next_close() == CloseSeen(1000, "")


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
        assert msg.extra == reason  # the aiohttp face has no close_reason
        assert ws.close_code == code
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
        assert type(reply.data) is aiohttp.WebSocketError and reply.data.code == 1009
        assert (await ws.receive(timeout=TIMEOUT)).type == aiows.WSMsgType.CLOSED
    assert ws.close_code == 1009
    seen = await server.next_close()
    assert seen.code == 1009
    assert "limit" in seen.reason
