"""Peers that try to make the engine grow or give up: each bound holds.

* a ping flood from a server that never reads cannot grow the write buffer:
  once the transport's buffer is over its mark, reading pauses until it
  drains, instead of queueing more pongs;
* a keepalive behind a reader the application paused does not blame the
  server for the pong it cannot read;
* a server that never answers pings cannot grow the book of pings in flight.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

import aiows
from aiows.core.protocol import MAX_PINGS_IN_FLIGHT
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_PING, OP_PONG, OP_TEXT, StartServer, bounded

PING = server_frame(OP_PING, b"p" * 125)


async def test_ping_flood_from_a_server_that_never_reads(
    wire_server: StartServer,
) -> None:
    flooded = asyncio.Event()
    drain_now = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        # 5 MB of pings, never reading what the client sends back: five
        # times the bound asserted below, and 40,000 pongs for this handler
        # to read one by one afterwards (20 MB took it over 30 s on a
        # loaded machine).
        burst = PING * 1000
        for _ in range(40):
            peer.send(burst)
            await asyncio.sleep(0)
        flooded.set()
        await drain_now.wait()
        # Now read everything the client queued: it must all be pongs.
        pongs = 0
        peer.send(server_frame(OP_TEXT, b"still there?"))
        while True:
            # Generous: the pongs for 5 MB of pings are read one by one.
            frame = await peer.read_frame(30)
            if frame.opcode == OP_PONG:
                pongs += 1
                continue
            assert frame.opcode == OP_TEXT and frame.payload == b"yes"
            break
        assert pongs > 0
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, write_limit=64 * 1024) as ws:
        engine = ws._engine
        await bounded(flooded.wait(), 30)
        transport = engine.transport
        assert transport is not None
        # Bounded by the mark plus one read's pongs, not by the flood.
        assert transport.get_write_buffer_size() < 1024 * 1024
        assert engine.reading_paused
        drain_now.set()
        while True:
            msg = await bounded(ws.receive(), 30)
            if msg.type is aiows.WSMsgType.TEXT:
                break
        assert msg.data == "still there?"
        await ws.send_str("yes")
        assert not engine.reading_paused


async def test_keepalive_behind_a_paused_reader_keeps_the_connection(
    wire_server: StartServer,
) -> None:
    count = 100

    async def handler(peer: RawPeer) -> None:
        for i in range(count):
            peer.send(server_frame(OP_TEXT, b"%d" % i + b"." * 1000))
        while True:
            frame = await peer.read_frame(10)
            if frame.opcode == OP_PING:
                peer.send(server_frame(OP_PONG, frame.payload))
            elif frame.opcode == 0x8:
                peer.send(server_frame(0x8, frame.payload))
                return

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, heartbeat=0.1, max_queue=4) as ws:
        got = []
        for _ in range(count):
            # A slow consumer: the keepalive's deadline passes many times
            # while the queue is full and reading is paused.
            await asyncio.sleep(0.01)
            msg = await bounded(ws.receive())
            assert msg.type is aiows.WSMsgType.TEXT, ws.exception()
            got.append(int(msg.data.split(".")[0]))
        assert got == list(range(count))
        assert ws.exception() is None and not ws.closed


async def test_unanswered_pings_do_not_grow_the_book(wire_server: StartServer) -> None:
    async def handler(peer: RawPeer) -> None:
        while (await peer.read_frame()).opcode != 0x8:
            pass  # reads pings, never answers
        peer.send(server_frame(0x8, b""))

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        waiters = [await ws.ping(b"%d" % i) for i in range(MAX_PINGS_IN_FLIGHT + 3)]
        assert len(ws._engine.protocol.pings_in_flight()) == MAX_PINGS_IN_FLIGHT
        for waiter in waiters[:3]:
            with pytest.raises(aiows.TooManyPings):
                await waiter
        assert not any(waiter.done() for waiter in waiters[3:])


async def test_debug_log_names_fragments_and_errors(
    raw_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"ab", fin=False))
        await go_on.wait()
        peer.send(server_frame(0x0, b"cd") + server_frame(0x3, b""))
        await peer.read_close()

    caplog.set_level(logging.DEBUG, logger="aiows.client")
    server = await raw_server(handler)
    async with aiows.connect(server.url, compression=None, ping_interval=None) as ws:
        stream = ws.recv_streaming()
        assert await stream.__anext__() == "ab"
        go_on.set()
        assert await stream.__anext__() == "cd"
        with pytest.raises(aiows.ConnectionClosedError):
            await ws.recv()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "< fragment length=2 fin=False" in text
    assert "< fragment length=2 fin=True" in text
    assert "< ERROR unknown opcode 0x3" in text
