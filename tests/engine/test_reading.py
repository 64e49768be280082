"""Reading: the connection is a buffered protocol over one buffer per thread,
large binary messages are read straight into their own storage, and the
read gate pauses the transport while any reason holds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aiows
from aiows.core.pieces import DIRECT_READ_MIN
from aiows.engine.connection import Connection
from aiows.engine.reading import (
    BACKLOG,
    QUEUE_FULL,
    READ_BUFFER_SIZE,
    WRITES_BACKED_UP,
    ReadGate,
    shared_read_buffer,
)
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_BINARY, OP_TEXT, StartServer, bounded


def test_one_buffer_per_thread() -> None:
    here = shared_read_buffer()
    assert shared_read_buffer() is here
    assert len(here) == READ_BUFFER_SIZE and not here.readonly
    other: list[memoryview] = []
    thread = threading.Thread(target=lambda: other.append(shared_read_buffer()))
    thread.start()
    thread.join()
    assert other[0] is not here


async def test_connections_share_the_buffer(wire_server: StartServer) -> None:
    """Messages interleaved on two connections, partial frames included,
    come out right: nothing of the shared buffer is kept across reads."""
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        for i in range(20):
            frame = server_frame(OP_BINARY, bytes([i]) * (1000 + i))
            # Half a frame, then the rest: the other connection reads between.
            peer.send(frame[:500])
            await peer.writer.drain()
            await asyncio.sleep(0.001)
            peer.send(frame[500:] + server_frame(OP_TEXT, f"t{i}".encode()))
            await peer.writer.drain()
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        a = await session.ws_connect(server.url)
        b = await session.ws_connect(server.url)
        assert a._engine._read_buffer is b._engine._read_buffer
        go.set()
        for i in range(20):
            for ws in (a, b):
                assert await bounded(ws.receive_bytes()) == bytes([i]) * (1000 + i)
                assert await bounded(ws.receive_str()) == f"t{i}"
        await a.close()
        await b.close()


@pytest.mark.parametrize("size", [DIRECT_READ_MIN * 3, 1024 * 1024, 3 * 1024 * 1024])
async def test_large_message_read_in_place(
    wire_server: StartServer, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(size)
    in_place: list[int] = []
    # Spied on in Connection, a Python class: the protocol may be a C class,
    # whose methods cannot be replaced.
    buffer_updated = Connection.buffer_updated

    def counting(self: Connection, n: int) -> None:
        if self._reading_into:
            in_place.append(n)
        buffer_updated(self, n)

    monkeypatch.setattr(Connection, "buffer_updated", counting)

    async def handler(peer: RawPeer) -> None:
        frame = server_frame(OP_BINARY, payload)
        # In uneven pieces, with the next message right behind the last one.
        for start in range(0, len(frame), 70_001):
            peer.send(frame[start : start + 70_001])
            await peer.writer.drain()
        peer.send(server_frame(OP_TEXT, b"next"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url, max_msg_size=0) as ws:
        got = await bounded(ws.receive_bytes(), 10)
        assert type(got) is bytes
        assert got == payload
        assert await bounded(ws.receive_str()) == "next"
    if size > READ_BUFFER_SIZE:
        # Most of it went straight from the socket into the message.
        assert sum(in_place) >= size // 2


async def test_large_message_to_a_listener(wire_server: StartServer) -> None:
    payload = os.urandom(512 * 1024)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()

    class Once(aiows.Listener):
        def on_message(
            self, ws: aiows.ListenerConnection, kind: aiows.WSMsgType, data: Any
        ) -> None:
            done.set_result(bytes(data))

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, payload))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_listen(server.url, Once(), max_msg_size=0)
        assert await bounded(done, 10) == payload
        await ws.close()


@contextlib.asynccontextmanager
async def a_transport() -> AsyncIterator[asyncio.Transport]:
    """A real socket transport (one end of a socket pair)."""
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    try:
        yield transport  # type: ignore[misc]
    finally:
        transport.close()
        theirs.close()
        await asyncio.sleep(0)  # the transport's connection_lost runs


async def test_the_gate_pauses_while_any_reason_holds() -> None:
    async with a_transport() as transport:
        parsed: list[int] = []
        gate = ReadGate(transport, asyncio.get_running_loop(), lambda: parsed.append(1))
        gate.set(QUEUE_FULL, True)
        gate.set(WRITES_BACKED_UP, True)
        assert gate.paused and not transport.is_reading()
        gate.set(QUEUE_FULL, False)
        assert gate.paused and not transport.is_reading()
        gate.set(WRITES_BACKED_UP, False)
        assert not gate.paused and transport.is_reading()
        # Taking away a reason that does not hold changes nothing.
        gate.set(QUEUE_FULL, False)
        assert gate.reasons == 0 and transport.is_reading()


async def test_the_backlog_alone_is_parsed_soon_and_once() -> None:
    async with a_transport() as transport:
        parsed = asyncio.Event()
        calls: list[int] = []

        def parse() -> None:
            calls.append(gate.reasons)
            parsed.set()

        gate = ReadGate(transport, asyncio.get_running_loop(), parse)
        gate.set(QUEUE_FULL, True)
        gate.set(BACKLOG, True)
        gate.set(BACKLOG, True)  # still held by the full queue: not parsed
        await asyncio.sleep(0)
        assert calls == []
        gate.set(QUEUE_FULL, False)  # the backlog alone: parsed, once
        gate.set(BACKLOG, True)
        await asyncio.wait_for(parsed.wait(), 5)
        await asyncio.sleep(0)
        assert calls == [BACKLOG]
        assert not transport.is_reading()
        # A backlog parse scheduled after the transport went does not run.
        gate.set(BACKLOG, False)
        gate.set(BACKLOG, True)
        gate.detach()
        await asyncio.sleep(0)
        assert calls == [BACKLOG] and gate.transport is None
        gate.sync()  # no transport: nothing to pause


async def test_sync_pauses_a_transport_resumed_behind_the_gate() -> None:
    async with a_transport() as transport:
        gate = ReadGate(transport, asyncio.get_running_loop(), lambda: None)
        gate.set(QUEUE_FULL, True)
        transport.resume_reading()  # as aiohttp may after a hand-over
        gate.sync()
        assert not transport.is_reading()


async def test_sync_resumes_a_transport_paused_behind_the_gate() -> None:
    async with a_transport() as transport:
        gate = ReadGate(transport, asyncio.get_running_loop(), lambda: None)
        transport.pause_reading()  # as aiohttp may have, for the tail
        gate.sync()
        assert transport.is_reading()
        gate.sync()  # reading already: nothing to do
        assert transport.is_reading()
