"""The websockets-style API on the connection: recv, send, recv_streaming."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiows
from tests.conftest import RawPeer, RawServer, server_frame

RawServerFactory = Callable[..., Awaitable[RawServer]]


async def test_recv_returns_str_and_bytes(raw_server: RawServerFactory) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, "héllo".encode()) + server_frame(0x2, b"\x00\xff"))
        peer.send(server_frame(0x9, b"ping") + server_frame(0x1, b"after ping"))
        await peer.read_close()
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big")))

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        assert await ws.recv() == "héllo"
        assert await ws.recv() == b"\x00\xff"
        assert await ws.recv() == "after ping"  # control frames never returned


async def test_concurrent_recv_raises(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        first = asyncio.ensure_future(ws.recv())
        await asyncio.sleep(0)
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv()
        assert isinstance(aiows.ConcurrencyError(), RuntimeError)
        await ws.send("still works")
        assert await first == "still works"


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
    raw_server: RawServerFactory, sizes: list[int], chunk: int, cancel_after: list[int]
) -> None:
    # The server dribbles fragmented and whole messages in small chunks; the
    # client cancels recv() at varied points.  Every message arrives, in order.
    messages = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    wire = b""
    for i, data in enumerate(messages):
        if i % 3 == 1 and len(data) > 1:
            half = len(data) // 2
            wire += server_frame(0x2, data[:half], fin=False)
            wire += server_frame(0x9, b"interleaved")
            wire += server_frame(0x0, data[half:])
        else:
            wire += server_frame(0x2, data)

    async def handler(peer: RawPeer) -> None:
        for start in range(0, len(wire), chunk):
            peer.send(wire[start : start + chunk])
            await peer.writer.drain()
            await asyncio.sleep(0)
        await peer.read_close()

    server = await raw_server(handler)
    received: list[bytes] = []
    async with aiows.ws_connect(server.url) as ws:
        step = 0
        while len(received) < len(messages):
            step += 1
            if step % 4 == 0:
                # Every fourth read runs to completion, so the test always
                # progresses even when every other read is cancelled at once.
                received.append(await ws.recv())  # type: ignore[arg-type]
                continue
            ticks = cancel_after[step % len(cancel_after)]
            task = asyncio.ensure_future(ws.recv())
            for _ in range(ticks):
                await asyncio.sleep(0)
            if task.done():
                received.append(task.result())  # type: ignore[arg-type]
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                received.append(await task)  # type: ignore[arg-type]
    assert received == messages


async def test_send_refuses_mappings(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        with pytest.raises(TypeError, match="send_json"):
            await ws.send({"a": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="int"):
            await ws.send(42)  # type: ignore[arg-type]
        await ws.send("still open")
        assert await ws.recv() == "still open"


async def test_mixed_fragments_fail_with_1011(raw_server: RawServerFactory) -> None:
    frames: list[tuple[int, bool, bytes]] = []
    close_code: list[int | None] = []

    async def handler(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == 0x8:
                close_code.append(int.from_bytes(frame.payload[:2], "big"))
                return
            frames.append((frame.opcode, frame.fin, frame.payload))

    server = await raw_server(handler)
    ws = await aiows.ws_connect(server.url, timeout=aiows.ClientWSTimeout(ws_close=0.5))
    with pytest.raises(TypeError, match="all str or all bytes"):
        await ws.send(["text", b"bytes"])
    await ws.wait_closed()
    # The str fragment went out unfinished; then the 1011 close, nothing else.
    assert frames == [(0x1, False, b"text")]
    assert close_code == [1011]
    assert ws.close_code == 1011


async def test_mixed_first_fragment_type_checked_before_sending(
    raw_server: RawServerFactory,
) -> None:
    seen: list[int] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        seen.append(frame.opcode)
        if frame.opcode == 0x8:
            seen.append(int.from_bytes(frame.payload[:2], "big"))

    server = await raw_server(handler)
    ws = await aiows.ws_connect(server.url, timeout=aiows.ClientWSTimeout(ws_close=0.5))
    with pytest.raises(TypeError):
        await ws.send([1, 2])  # type: ignore[list-item]
    await ws.wait_closed()
    assert seen == [0x8, 1011]


async def test_async_iterable_is_one_fragmented_message(echo_url: str) -> None:
    async def parts() -> AsyncIterator[str]:
        for part in ("frag", "men", "ts"):
            yield part
            await asyncio.sleep(0)

    async with aiows.ws_connect(echo_url) as ws:
        await ws.send(parts())
        assert await ws.recv() == "fragments"
        await ws.send([b"\x01", b"\x02"])
        assert await ws.recv() == b"\x01\x02"
        await ws.send([])  # nothing to send
        await ws.send("next")
        assert await ws.recv() == "next"


async def test_concurrent_sends_never_interleave_fragments(
    raw_server: RawServerFactory,
) -> None:
    frames: list[tuple[int, bool, bytes]] = []

    async def handler(peer: RawPeer) -> None:
        while True:
            frame = await peer.read_frame()
            if frame.opcode == 0x8:
                peer.send(server_frame(0x8, frame.payload[:2]))
                return
            frames.append((frame.opcode, frame.fin, frame.payload))

    server = await raw_server(handler)

    async def slow_parts() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i])
            await asyncio.sleep(0)

    async with aiows.ws_connect(server.url) as ws:
        await asyncio.gather(
            ws.send(slow_parts()),
            ws.send_str("whole"),
            ws.send(["a", "b"]),
            ws.send_bytes(b"z"),
        )
    # Reassemble: every fragmented message's frames are contiguous.
    messages: list[bytes] = []
    current: list[bytes] | None = None
    for opcode, fin, payload in frames:
        if opcode == 0x0:
            assert current is not None, "continuation without a start"
        else:
            assert current is None, "a new message began inside a fragmented one"
            current = []
        current.append(payload)
        if fin:
            messages.append(b"".join(current))
            current = None
    assert sorted(messages) == sorted([b"\x00\x01\x02\x03\x04", b"whole", b"ab", b"z"])


async def test_recv_streaming_yields_fragments_as_they_arrive(
    raw_server: RawServerFactory,
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, "première ".encode(), fin=False))
        await go_on.wait()
        peer.send(server_frame(0x0, b"partie", fin=False) + server_frame(0x0, b"!"))
        peer.send(server_frame(0x2, b"whole"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        pieces: list[str | bytes] = []
        async for piece in ws.recv_streaming():
            pieces.append(piece)
            go_on.set()  # the rest is sent only after the first piece arrived
        # The last two fragments arrived in one read: one piece.
        assert pieces == ["première ", "partie!"]
        assert [p async for p in ws.recv_streaming()] == [b"whole"]


async def test_leaving_recv_streaming_early_discards_the_rest(
    raw_server: RawServerFactory,
) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"a", fin=False))
        await first_read.wait()
        peer.send(
            server_frame(0x0, b"b", fin=False)
            + server_frame(0x0, b"c")
            + server_frame(0x1, b"next")
        )
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        async for piece in ws.recv_streaming():
            assert piece == "a"
            first_read.set()
            break
        assert await ws.recv() == "next"


async def test_recv_streaming_concurrency_and_close(
    raw_server: RawServerFactory,
) -> None:
    release = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"a", fin=False))
        await release.wait()
        peer.send(server_frame(0x8, (4002).to_bytes(2, "big") + b"gone"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        stream = ws.recv_streaming()
        assert await stream.__anext__() == "a"
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        # The stream is waiting for its next piece: other reads must not race it.
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv()
        with pytest.raises(aiows.ConcurrencyError):
            await ws.recv_streaming().__anext__()
        release.set()
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await waiting
        assert info.value.code == 4002
        with pytest.raises(aiows.ConnectionClosedError):
            await ws.recv()


async def test_a_read_takes_over_an_idle_stream(raw_server: RawServerFactory) -> None:
    first_read = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"a", fin=False))
        await first_read.wait()
        peer.send(server_frame(0x0, b"b"))
        peer.send(server_frame(0x1, b"next"))
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        stream = ws.recv_streaming()
        assert await stream.__anext__() == "a"
        first_read.set()
        # The stream is idle between pieces: recv() takes over and skips "b".
        assert await ws.recv() == "next"
        with pytest.raises(aiows.ConcurrencyError, match="took over"):
            await stream.__anext__()


async def test_close_is_idempotent_and_wait_closed(echo_url: str) -> None:
    ws = await aiows.ws_connect(echo_url)
    assert ws.local_address[0] == "127.0.0.1"
    assert ws.remote_address[0] == "127.0.0.1"
    assert ws.close_code is None and ws.close_reason is None
    results = await asyncio.gather(
        ws.close(), ws.close(4000, "twice"), ws.wait_closed()
    )
    assert results[0] is True
    assert await ws.close() is False
    assert ws.close_code == 1000
    assert ws.close_reason == ""


async def test_ping_latency_and_pong_acknowledges_earlier_pings(
    raw_server: RawServerFactory,
) -> None:
    async def handler(peer: RawPeer) -> None:
        first = await peer.read_frame()
        second = await peer.read_frame()
        assert (first.opcode, second.opcode) == (0x9, 0x9)
        peer.send(server_frame(0xA, b"unsolicited"))
        peer.send(server_frame(0xA, second.payload))  # answers both
        await peer.read_close()

    server = await raw_server(handler)
    async with aiows.ws_connect(server.url) as ws:
        one = await ws.ping(b"one")
        with pytest.raises(aiows.ConcurrencyError):
            await ws.ping(b"one")
        two = await ws.ping()
        assert await one > 0
        assert await two > 0
        assert ws.latency == await two
