"""The one I/O thread: it serves every connection nobody waits on, ends with
the last one, and survives a bug in one connection's handler."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from aiows.sync import connect, hub
from tests.conftest import RawPeer, server_frame
from tests.helpers import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT
from tests.sync.conftest import Raw, WsServer, settle


def io_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aiows-sync-io"]


def test_one_thread_for_many_connections(ws_server: WsServer) -> None:
    before = threading.active_count()
    connections = [connect(f"{ws_server.url}/echo", legacy=True) for _ in range(50)]
    try:
        assert threading.active_count() == before + 1
        assert len(io_threads()) == 1
        for i, ws in enumerate(connections):
            ws.send(f"n{i}")
        assert [ws.recv(timeout=5) for ws in connections] == [
            f"n{i}" for i in range(50)
        ]
    finally:
        for ws in connections:
            ws.close()
    thread = hub.running()
    if thread is not None:
        thread.join(5)
    assert io_threads() == []


def test_the_thread_ends_with_the_last_connection(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as ws:
        first = hub.running()
        assert first is not None and first.is_alive()
    first.join(5)
    assert not first.is_alive()
    with connect(f"{ws_server.url}/echo") as ws:
        second = hub.running()
        assert second is not None and second is not first
        ws.send("again")
        assert ws.recv(timeout=5) == "again"


def answered_while_busy(raw: Callable[..., Raw]) -> None:
    """The server pings while the application does something else."""
    answered = threading.Event()

    async def pinging(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, b"hello"))
        await asyncio.sleep(0.2)  # after the application read
        peer.send(server_frame(OP_PING, b"busy?"))
        frame = await peer.read_frame()
        assert (frame.opcode, frame.payload) == (OP_PONG, b"busy?")
        answered.set()
        peer.send(server_frame(OP_CLOSE, b"\x03\xe8"))
        await peer.read_close()

    server = raw(pinging)
    with connect(server.url, ping_interval=None) as ws:
        assert ws.recv(timeout=5) == "hello"
        started = time.monotonic()
        assert answered.wait(5)  # no recv() meanwhile
        # Answered once the I/O thread took the socket back over.
        assert time.monotonic() - started < 0.2 + hub.TAKE_OVER_AFTER + 1


def test_the_io_thread_takes_over_after_a_read(raw: Callable[..., Raw]) -> None:
    answered_while_busy(raw)


@pytest.fixture
def portable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    thread = hub.running()
    if thread is not None:
        thread.join(5)
    monkeypatch.setattr(hub, "_PORTABLE", True)
    yield


def test_the_portable_poller(
    portable: None, raw: Callable[..., Raw], ws_server: WsServer
) -> None:
    answered_while_busy(raw)
    with connect(f"{ws_server.url}/echo", ping_interval=0.05) as ws:
        assert isinstance(hub._current._poller, hub._PortablePoller)  # type: ignore[union-attr]
        ws.send("portable")
        assert ws.recv(timeout=5) == "portable"
        settle(lambda: ws.latency > 0)  # keepalive pings went and came back


class Logged(logging.Handler):
    """Keeps the records of ``aiows.client``; ``seen`` once one came."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.seen.set()


def test_a_bug_in_one_handler_does_not_stop_the_others(ws_server: WsServer) -> None:
    logged = Logged()
    logger = logging.getLogger("aiows.client")
    logger.addHandler(logged)
    try:
        with connect(f"{ws_server.url}/echo") as ws:
            left, right = socket.socketpair()
            io = hub.attach(left.fileno(), lambda events: 1 / 0)
            try:
                io.arm(left.fileno(), hub.READ)
                right.send(b"x")
                # Logged in the I/O thread, which goes on serving.
                assert logged.seen.wait(5)
                ws.send("still served")
                assert ws.recv(timeout=5) == "still served"
            finally:
                io.remove(left.fileno())
                left.close()
                right.close()
    finally:
        logger.removeHandler(logged)
    [record] = logged.records
    assert record.getMessage() == "unexpected error in the I/O thread"
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


def test_timers_run_in_order() -> None:
    left, right = socket.socketpair()
    try:
        io = hub.attach(left.fileno(), lambda events: None)
        ran: list[str] = []
        done = threading.Event()
        io.call_later(0.1, lambda: (ran.append("late"), done.set()))
        io.call_later(0.02, lambda: ran.append("soon"))
        cancelled = io.call_later(0.05, lambda: ran.append("cancelled"))
        cancelled.cancel()
        assert done.wait(5)
        assert ran == ["soon", "late"]
        io.remove(left.fileno())
    finally:
        left.close()
        right.close()


class Hold(threading.Event):
    """Holds the hub thread in a timer until set."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()

    def wait_held(self) -> bool:
        return self.held.wait(5)

    def run(self) -> None:
        self.held.set()
        self.wait(5)


def hold(io: hub.Hub) -> Hold:
    holding = Hold()
    io.call_later(0, holding.run)
    return holding


@pytest.mark.parametrize("poller", ["epoll", "portable"])
def test_a_descriptor_number_used_again(
    poller: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket removed and closed, and a new one given the same number
    before the hub thread looked: the new one is watched.  (The portable
    poller applies changes in the hub thread, so the old registration is
    still there when the new socket is armed.)"""
    if poller == "epoll" and not hasattr(hub.select, "epoll"):
        pytest.skip("no epoll")
    previous = hub.running()
    if previous is not None:
        previous.join(5)  # a new hub, with the poller chosen here
    monkeypatch.setattr(hub, "_PORTABLE", poller == "portable")
    keep_left, keep_right = socket.socketpair()  # the hub stays up meanwhile
    old_left, old_right = socket.socketpair()
    io = hub.attach(keep_left.fileno(), lambda events: None)
    thread = io._thread
    assert (type(io._poller) is hub._PortablePoller) is (poller == "portable")
    try:
        io.add(old_left.fileno(), lambda events: None)
        # Hold the hub thread in a timer; arm the old socket meanwhile; let
        # the hub apply that (a second hold is due, so it polls without
        # waiting, then runs it): the old socket is registered and armed
        # while the number changes hands.
        first = hold(io)
        assert first.wait_held()
        io.arm(old_left.fileno(), hub.READ)
        second = hold(io)
        first.set()
        assert second.wait_held()
        number = old_left.fileno()
        io.remove(number)
        old_left.close()
        old_right.close()
        new_left, new_right = socket.socketpair()
        try:
            if number not in (new_left.fileno(), new_right.fileno()):
                pytest.skip("the number went to another socket")  # pragma: no cover
            if new_right.fileno() == number:  # pragma: no cover - either end
                new_left, new_right = new_right, new_left
            seen = threading.Event()
            io.add(number, lambda events: seen.set())
            io.arm(number, hub.READ)
            second.set()
            new_right.send(b"x")
            assert seen.wait(5)
        finally:
            io.remove(number)
            new_left.close()
            new_right.close()
    finally:
        io.remove(keep_left.fileno())
        keep_left.close()
        keep_right.close()
        thread.join(5)
    assert not thread.is_alive()
