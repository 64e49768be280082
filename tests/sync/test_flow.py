"""Nothing grows without bound: flow control, and what a hostile server can
make the client hold.

Reading stops while ``max_queue`` messages, or the inbox's byte bound, are
unread; a server that floods pings and never reads cannot grow the queue of
pongs past the write limit, because reading stops while writes are backed
up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

import aiows
from aiows.sync import connect, driver, messages
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_CLOSE, OP_PING, OP_TEXT, close_payload
from tests.sync.conftest import WAIT, Raw, WsServer, settle


def test_max_queue_stops_reading(ws_server: WsServer) -> None:
    size = 64 * 1024
    with connect(f"{ws_server.url}/echo", max_queue=4, max_size=2**20) as ws:
        ws.send(f"big 100 {size}")
        inbox = ws._driver.inbox
        settle(lambda: inbox.paused)
        time.sleep(0.3)  # the server keeps writing; the client does not read
        # At most the high water mark, plus what the read that crossed it
        # brought (one read is at most 256 KiB: four messages).
        assert len(inbox.items) <= 4 + driver.READ_SIZE // size + 1
        assert inbox.size <= (4 + driver.READ_SIZE // size + 1) * size
        got = [ws.recv(timeout=5) for _ in range(100)]
    assert [int.from_bytes(m[:4], "big") for m in got] == list(range(100))


def test_the_byte_bound_stops_reading(
    ws_server: WsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "DEFAULT_MAX_BYTES", 256 * 1024)
    size = 100_000
    # max_queue alone would hold a thousand messages: 100 MB.
    with connect(f"{ws_server.url}/echo", max_queue=1000, max_size=2**20) as ws:
        ws.send(f"big 60 {size}")
        inbox = ws._driver.inbox
        settle(lambda: inbox.paused)
        time.sleep(0.3)
        assert inbox.size <= 256 * 1024 + driver.READ_SIZE + size
        got = [ws.recv(timeout=5) for _ in range(60)]
    assert [int.from_bytes(m[:4], "big") for m in got] == list(range(60))


def test_no_flow_control_with_max_queue_none(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo", max_queue=None) as ws:
        ws.send("burst 300")
        inbox = ws._driver.inbox
        settle(lambda: len(inbox.items) == 300)
        assert not inbox.paused
        assert [ws.recv(timeout=5) for _ in range(300)][-1] == "m299"


def test_late_messages_with_max_queue_none(raw: Callable[..., Raw]) -> None:
    # Without a bound, what comes after the client's close is all kept.
    async def chatty(peer: RawPeer) -> None:
        await peer.read_close()
        for i in range(50):
            peer.send(server_frame(OP_TEXT, f"late {i}".encode()))
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = raw(chatty)
    with connect(server.url, max_queue=None) as ws:
        ws.close()
        assert [ws.recv(timeout=5) for _ in range(50)][-1] == "late 49"
        with pytest.raises(aiows.ConnectionClosedOK):
            ws.recv(timeout=5)


@pytest.mark.parametrize("reading", [False, True], ids=["idle", "in recv"])
def test_a_ping_flood_from_a_server_that_never_reads(
    raw: Callable[..., Raw], reading: bool
) -> None:
    flooded = threading.Event()
    release = threading.Event()
    ping = server_frame(OP_PING, b"p" * 100)

    async def flood(peer: RawPeer) -> None:
        # 20 MB of pings (more than the kernel's buffers take of the
        # pongs); the client's pongs are never read.
        for _ in range(200):
            peer.send(ping * 1000)
            await asyncio.sleep(0)
        flooded.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = raw(flood)
    with connect(server.url, ping_interval=None, close_timeout=1) as ws:
        transport = ws._driver.transport
        assert flooded.wait(10)
        # Half a second of flood: the I/O thread reads, or the application
        # thread waiting in recv() does.
        if reading:
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)
        else:
            time.sleep(0.5)
        # Reading stops once the pongs back up (on a slow machine the flood
        # may take longer than that half second to get there): what is
        # queued is then the write limit plus the pongs of one read at most.
        settle(lambda: not ws._driver._should_read(), WAIT)
        pong = 2 + 4 + 100
        assert (
            transport.out_bytes
            <= driver.DEFAULT_WRITE_LIMIT + (driver.READ_SIZE // len(ping) + 1) * pong
        )
        assert not ws._driver._should_read()
        release.set()
    assert ws.state.name == "CLOSED"
