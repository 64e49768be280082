"""Backpressure: memory stays bounded when one side is faster than the other."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.test_utils import TestServer

import aiows
from tests.conftest import RawPeer, RawServer, server_frame

from .conftest import StartProxy

StartServer = Callable[..., Awaitable[RawServer]]

MiB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """This process's resident set size in bytes (``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


async def test_flooding_server_slow_reader_keeps_rss_bounded(
    raw_server: StartServer,
) -> None:
    """A server floods 64 MiB in 1 MiB messages; the app reads one per 5 ms.

    With ``max_queue=4`` the client holds at most 4 messages plus the one
    being parsed and the transport's read buffer.  Measured on CPython 3.11,
    Linux x86-64, aiohttp 3.14: RSS 51.5 MiB before, peak growth 6.7-7.1 MiB
    over three runs (the in-process server's 1 MiB payload and write buffer
    included), i.e. about queue bound x message size + 2-3 MiB; without the
    bound it would approach the whole 64 MiB.  The test allows 24 MiB.
    """
    count = 64
    payload = bytearray(MiB)
    header = server_frame(0x2, bytes(MiB))[:10]
    done = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        view = memoryview(payload)
        for i in range(count):
            payload[:8] = i.to_bytes(8, "big")
            peer.send(header)
            peer.send(view)
            await peer.writer.drain()
        done.set()
        await peer.read_close(timeout=30)
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big")))

    server = await raw_server(handler)
    gc.collect()
    before = rss()
    peak = before
    async with aiows.ws_connect(server.url, max_queue=4, max_msg_size=MiB) as ws:
        for i in range(count):
            data = await asyncio.wait_for(ws.receive_bytes(), 10)
            assert len(data) == MiB
            assert int.from_bytes(data[:8], "big") == i
            del data
            peak = max(peak, rss())
            # Reading is slow: the server is always ahead.
            await asyncio.sleep(0.005)
            if i == count // 2:
                # Halfway through the server is still blocked, not done.
                assert not done.is_set()
                assert len(ws._engine.assembler.queue) <= 4
    assert ws.close_code == 1000
    growth = peak - before
    print(f"flood: RSS before {before / MiB:.1f} MiB, peak growth {growth / MiB:.1f}")
    assert growth < 24 * MiB, growth / MiB


async def test_server_that_never_reads_blocks_send_not_memory(
    echo_server: TestServer, fault_proxy: StartProxy
) -> None:
    """The proxy stops reading from the client: sends block at the write limit.

    Four tasks send 256 KiB messages concurrently; each send blocks once the
    transport's buffer passes ``write_limit``.  The buffer never exceeds the
    limit plus one frame per sender, and ``close()`` still ends it all
    within ``ws_close``, failing the blocked senders.
    """
    proxy = await fault_proxy(echo_server.port)
    write_limit = 64 * 1024
    chunk = b"s" * (256 * 1024)
    senders = 4
    sent = [0] * senders
    max_buffered = 0
    async with aiows.ClientSession() as session:
        ws = await session.ws_connect(
            proxy.url("/ws"),
            write_limit=write_limit,
            timeout=aiows.ClientWSTimeout(ws_receive=None, ws_close=0.5),
        )
        transport = ws._engine.transport
        assert transport is not None
        (await proxy.next_connection()).c2s.update(stall=True)
        all_blocked = asyncio.Event()
        blocked: set[int] = set()

        async def sender(n: int) -> None:
            nonlocal max_buffered
            while True:
                task = asyncio.ensure_future(ws.send_bytes(chunk))
                done, _ = await asyncio.wait({task}, timeout=0.3)
                max_buffered = max(max_buffered, transport.get_write_buffer_size())
                if not done:
                    blocked.add(n)
                    if len(blocked) == senders:
                        all_blocked.set()
                    await task  # raises once the connection is closed
                task.result()
                sent[n] += 1
                assert sent[n] < 400, "send never blocked"

        tasks = [asyncio.ensure_future(sender(n)) for n in range(senders)]
        await asyncio.wait_for(all_blocked.wait(), 10)
        buffered = transport.get_write_buffer_size()
        assert 0 < buffered <= write_limit + senders * (len(chunk) + 14)
        assert max_buffered <= write_limit + senders * (len(chunk) + 14)
        # The kernel took some (socket buffers); the rest waits in the app.
        assert sum(sent) < 200
        start = time.monotonic()
        assert await asyncio.wait_for(ws.close(), 3) is True
        assert time.monotonic() - start < 0.5 + 0.3
        results = await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), 2
        )
        for result in results:
            # aiohttp's error for a write the closed connection cut short.
            assert isinstance(result, aiohttp.ClientConnectionResetError), result
        assert ws.close_code == 1006
        assert session.connector is not None
        assert not session.connector._acquired
