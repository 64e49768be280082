"""The aiohttp face: pings, pongs and the server's close as control frames.

Pings are answered the moment they arrive (aiows's difference: aiohttp
answers them only inside ``receive()``); ``ping()`` returns a future of the
round-trip time (aiohttp returns None) and sends the payload it is given.
"""

from __future__ import annotations

import asyncio

import pytest

import aiows
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
)

# -- autoping -----------------------------------------------------------------


async def test_ping_answered_while_application_not_receiving(
    wire_server: StartServer,
) -> None:
    pong: asyncio.Future[tuple[int, bytes, bool]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"are you there"))
        frame = await peer.read_frame()
        pong.set_result((frame.opcode, frame.payload, frame.masked))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        # No receive() call at all: the pong must still come back.
        assert await bounded(pong) == (OP_PONG, b"are you there", True)
        assert not ws.closed
        # autoping does not deliver the ping
        assert len(ws._engine.assembler.queue) == 0


async def test_ten_pings_answered_in_order(wire_server: StartServer) -> None:
    pongs: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(b"".join(server_frame(OP_PING, b"p%d" % i) for i in range(10)))
        frames = [await peer.read_frame() for _ in range(10)]
        pongs.set_result([(f.opcode, f.payload) for f in frames])
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url):
        assert await bounded(pongs) == [(OP_PONG, b"p%d" % i) for i in range(10)]


async def test_ping_with_125_byte_payload(wire_server: StartServer) -> None:
    payload = bytes(range(125))
    pong: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, payload))
        frame = await peer.read_frame()
        assert frame.opcode == OP_PONG
        pong.set_result(frame.payload)
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url):
        assert await bounded(pong) == payload


async def test_empty_ping_gets_empty_pong(wire_server: StartServer) -> None:
    pong: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b""))
        frame = await peer.read_frame()
        pong.set_result((frame.opcode, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url):
        assert await bounded(pong) == (OP_PONG, b"")


async def test_pings_between_messages_keep_message_order(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_TEXT, b"a")
            + server_frame(OP_PING, b"1")
            + server_frame(OP_TEXT, b"b")
            + server_frame(OP_PONG, b"unsolicited")
            + server_frame(OP_TEXT, b"c")
        )
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PONG, b"1")
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        got = [await bounded(ws.receive_str()) for _ in range(3)]
        assert got == ["a", "b", "c"]


async def test_autoclose_completes_handshake(wire_server: StartServer) -> None:
    reply: asyncio.Future[tuple[int | None, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_CLOSE, close_payload(4100, b"done")))
        reply.set_result(await peer.read_close())

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url)
    # The reply goes out when the application reads the close, echoing the
    # server's code (aiows's difference: aiohttp answers 1000).
    msg = await bounded(ws.receive())
    assert (msg.type, msg.data, msg.extra) == (aiows.WSMsgType.CLOSE, 4100, "done")
    assert await bounded(reply) == (4100, b"")
    assert (await bounded(ws.receive())).type == aiows.WSMsgType.CLOSED
    await bounded(ws.wait_closed())
    assert ws.close_code == 4100


async def test_no_autoping_no_autoclose_delivers_control_frames(
    wire_server: StartServer,
) -> None:
    client_closing = asyncio.Event()
    first_after: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_PING, b"ping!")
            + server_frame(OP_PONG, b"pong!")
            + server_frame(OP_CLOSE, close_payload(1000, b"bye"))
        )
        await client_closing.wait()
        # TCP keeps order: a pong or close reply sent earlier would come first.
        frame = await peer.read_frame()
        first_after.set_result((frame.opcode, frame.payload))

    server = await wire_server(handler)
    ws = await aiows.ws_connect(server.url, autoping=False, autoclose=False)
    ping = await bounded(ws.receive())
    assert (ping.type, ping.data) == (aiows.WSMsgType.PING, b"ping!")
    pong = await bounded(ws.receive())
    assert (pong.type, pong.data) == (aiows.WSMsgType.PONG, b"pong!")
    close = await bounded(ws.receive())
    assert (close.type, close.data, close.extra) == (
        aiows.WSMsgType.CLOSE,
        1000,
        "bye",
    )
    # With autoclose=False the close is read but not answered: not closed
    # until the application calls close(), as in aiohttp.
    assert not ws.closed
    assert ws.close_code == 1000
    client_closing.set()
    assert await bounded(ws.close()) is True
    assert await bounded(first_after) == (OP_CLOSE, close_payload(1000))
    assert ws.close_code == 1000


async def test_no_autoping_application_answers_with_pong(
    wire_server: StartServer,
) -> None:
    answer: asyncio.Future[tuple[int, bytes]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_PING, b"manual"))
        frame = await peer.read_frame()
        answer.set_result((frame.opcode, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, autoping=False) as ws:
        msg = await bounded(ws.receive())
        assert msg.type == aiows.WSMsgType.PING
        await ws.pong(msg.data)
        assert await bounded(answer) == (OP_PONG, b"manual")


# -- ping() -------------------------------------------------------------------


async def test_ping_future_resolves_to_round_trip_time(
    wire_server: StartServer,
) -> None:
    seen: asyncio.Future[tuple[int, bytes, bool]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        seen.set_result((frame.opcode, frame.payload, frame.masked))
        peer.send(server_frame(OP_PONG, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert ws.latency == 0.0
        rtt = await bounded(await ws.ping())
        assert isinstance(rtt, float)
        assert rtt > 0
        assert ws.latency == rtt
        opcode, payload, masked = await seen
        assert opcode == OP_PING
        assert payload == b""  # aiohttp's default payload
        assert masked


async def test_ping_with_explicit_payload(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PING, b"hello")
        peer.send(server_frame(OP_PONG, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        waiter = await ws.ping("hello")
        assert await bounded(waiter) > 0


async def test_pong_acknowledges_all_earlier_pings(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        payloads = [(await peer.read_frame()).payload for _ in range(3)]
        assert payloads == [b"one", b"two", b"three"]
        peer.send(server_frame(OP_PONG, b"two"))
        peer.send(server_frame(OP_TEXT, b"after"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        one = await ws.ping(b"one")
        two = await ws.ping(b"two")
        three = await ws.ping(b"three")
        rtt_two = await bounded(two)
        assert one.done()
        assert one.result() >= rtt_two > 0
        assert await bounded(ws.receive_str()) == "after"
        # A pong for "two" says nothing about the later "three".
        assert not three.done()
        assert ws.latency == rtt_two


async def test_unsolicited_pong_resolves_nothing(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()
        peer.send(server_frame(OP_PONG, b"stranger") + server_frame(OP_TEXT, b"x"))
        frame = await peer.read_frame()
        peer.send(server_frame(OP_PONG, frame.payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        first = await ws.ping(b"mine")
        assert await bounded(ws.receive_str()) == "x"
        assert not first.done()
        assert ws.latency == 0.0
        second = await ws.ping(b"later")
        assert await bounded(second) > 0
        assert first.done()


async def test_two_pings_with_same_payload_both_go(wire_server: StartServer) -> None:
    """aiohttp sends every ping as given; a pong for each answers each."""
    frames: asyncio.Future[list[tuple[int, bytes]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handler(peer: RawPeer) -> None:
        got = [await peer.read_frame(), await peer.read_frame()]
        frames.set_result([(f.opcode, f.payload) for f in got])
        peer.send(server_frame(OP_PONG, b"same") + server_frame(OP_PONG, b"same"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        first = await ws.ping(b"same")
        second = await ws.ping(b"same")
        assert await bounded(frames) == [(OP_PING, b"same"), (OP_PING, b"same")]
        assert await bounded(first) > 0
        assert await bounded(second) > 0


async def test_one_pong_for_two_pings_with_same_payload_answers_both(
    wire_server: StartServer,
) -> None:
    """RFC 6455 §5.5.3: a server may answer only the most recent ping."""

    async def handler(peer: RawPeer) -> None:
        await peer.read_frame()
        await peer.read_frame()
        peer.send(server_frame(OP_PONG, b"same"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        first = await ws.ping(b"same")
        second = await ws.ping(b"same")
        assert await bounded(second, 1.0) > 0
        assert first.done()


async def test_ping_payload_over_125_bytes_is_refused(
    wire_server: StartServer,
) -> None:
    async def handler(peer: RawPeer) -> None:
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        with pytest.raises(ValueError):
            await ws.ping(b"x" * 126)
        assert not ws.closed


async def test_ping_against_aiohttp_server(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        rtts = [await bounded(await ws.ping()) for _ in range(3)]
        assert all(isinstance(r, float) and r > 0 for r in rtts)
