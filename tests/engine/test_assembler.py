"""The engine's assembler: a cancelled read never loses what it had taken.

A read cancelled between the fragments of a message leaves the fragments it
had in ``assembler.partial`` for the next read; one cancelled after the
message arrived but before it resumed leaves the message queued.  Driven
through both faces over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiows
from aiows.engine.connection import Connection
from tests.conftest import RawPeer, server_frame
from tests.helpers import (
    OP_BINARY,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    StartServer,
    bounded,
    receive_in_task,
)


def connect(url: str, **kwargs: Any) -> Any:
    """``aiows.connect`` without compression or keepalive pings, for raw servers."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("ping_interval", None)
    return aiows.connect(url, **kwargs)


async def recv_in_task(ws: aiows.ClientConnection) -> asyncio.Task[str | bytes]:
    """Start ``ws.recv()`` in a task; return once it is waiting inside."""
    entered = asyncio.Event()

    async def recv() -> str | bytes:
        entered.set()
        # recv() runs up to its first suspension in this same step.
        return await ws.recv()

    task = asyncio.ensure_future(recv())
    await bounded(entered.wait())
    return task


async def test_cancel_inside_fragmented_message_keeps_fragments(
    wire_server: StartServer,
) -> None:
    """A receive() cancelled between fragments loses none of them."""
    second = asyncio.Event()
    third = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await second.wait()
        peer.send(server_frame(OP_CONT, b"men", fin=False))
        await third.wait()
        peer.send(server_frame(OP_CONT, b"ted") + server_frame(OP_TEXT, b"next"))
        await peer.read_close()

    # The first fragment comes with the 101, so it is queued on connect.
    server = await wire_server(
        handler, after_101=server_frame(OP_TEXT, b"frag", fin=False)
    )
    # The aiohttp face joins fragments in the parser; the websockets face
    # (fragments=True) hands each read's piece to the assembler.
    async with connect(server.url) as ws:
        pending = await recv_in_task(ws)
        assert not pending.done()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert ws._engine.assembler.partial == ["frag"]
        second.set()
        # A read that times out keeps what it took too.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        assert ws._engine.assembler.partial == ["frag", "men"]
        third.set()
        assert await bounded(ws.recv()) == "fragmented"
        assert await bounded(ws.recv()) == "next"
        assert ws._engine.assembler.partial == []


async def test_aiohttp_receive_timeout_inside_fragmented_message(
    wire_server: StartServer,
) -> None:
    """The aiohttp face: a timed-out receive() between fragments loses nothing."""
    rest = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(OP_BINARY, b"fr", fin=False))
        await rest.wait()
        peer.send(server_frame(OP_CONT, b"ag"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.2)
        pending = await receive_in_task(ws)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        rest.set()
        assert await bounded(ws.receive_bytes()) == b"frag"
        assert not ws.closed


async def test_receive_cancelled_after_message_arrived(
    wire_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled between the wake-up and resuming: the message stays queued."""
    go = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await go.wait()
        peer.send(server_frame(OP_TEXT, b"racing"))
        await peer.read_close()

    server = await wire_server(handler)
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(server.url)
        pending = await receive_in_task(ws)
        assert ws._engine.assembler.waiting
        original = Connection.data_received

        def data_received(self: Connection, data: bytes) -> None:
            original(self, data)
            pending.cancel()  # the waiter is done; the task has not resumed

        monkeypatch.setattr(Connection, "data_received", data_received)
        go.set()
        with pytest.raises(asyncio.CancelledError):
            await bounded(pending)
        monkeypatch.undo()
        assert await bounded(ws.receive_str()) == "racing"
        await bounded(ws.close(), 3)
        assert ws.closed
        assert session.connector is not None
        assert not session.connector._acquired


async def test_recv_streaming_after_a_cancelled_recv(
    wire_server: StartServer,
) -> None:
    more = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        await more.wait()
        peer.send(server_frame(OP_CONT, b"b"))
        await peer.read_close()

    # The first fragment comes with the 101, so it is queued on connect.
    server = await wire_server(
        handler, after_101=server_frame(OP_BINARY, b"a", fin=False)
    )
    async with connect(server.url) as ws:
        task = await recv_in_task(ws)
        assert ws._engine.assembler.partial == [b"a"]  # the fragment was taken
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stream = ws.recv_streaming()
        assert await bounded(stream.__anext__()) == b"a"  # kept, not lost
        more.set()
        assert await bounded(stream.__anext__()) == b"b"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=30),
    chunk=st.integers(min_value=1, max_value=700),
    cancel_after=st.lists(
        st.integers(min_value=0, max_value=3), min_size=1, max_size=30
    ),
)
async def test_cancelling_recv_never_loses_a_message(
    wire_server: StartServer, sizes: list[int], chunk: int, cancel_after: list[int]
) -> None:
    # The server dribbles fragmented and whole messages in small chunks; the
    # client cancels recv() at varied points.  Every message arrives, in order.
    messages = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    wire = b""
    for i, data in enumerate(messages):
        if i % 3 == 1 and len(data) > 1:
            half = len(data) // 2
            wire += server_frame(OP_BINARY, data[:half], fin=False)
            wire += server_frame(OP_PING, b"interleaved")
            wire += server_frame(OP_CONT, data[half:])
        else:
            wire += server_frame(OP_BINARY, data)

    async def handler(peer: RawPeer) -> None:
        for start in range(0, len(wire), chunk):
            peer.send(wire[start : start + chunk])
            await peer.writer.drain()
            await asyncio.sleep(0)
        await peer.read_close()

    server = await wire_server(handler)
    received: list[bytes] = []
    async with connect(server.url) as ws:
        step = 0
        while len(received) < len(messages):
            step += 1
            if step % 4 == 0:
                # Every fourth read runs to completion, so the test always
                # progresses even when every other read is cancelled at once.
                received.append(await bounded(ws.recv()))
                continue
            ticks = cancel_after[step % len(cancel_after)]
            task = asyncio.ensure_future(ws.recv())
            for _ in range(ticks):
                await asyncio.sleep(0)
            if task.done():
                received.append(task.result())
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                received.append(await task)
    assert received == messages
