"""Threads: any thread may send, ping and close while another is in recv();
frames from many threads never interleave, compressed ones included.

The scenarios of two threads at once run through both clients, as in
test_differential.py; the rest are aiows's own.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from aiows.sync import connect
from tests.sync.conftest import WsServer
from tests.sync.differential import (
    OLD_WEBSOCKETS,
    Api,
    Record,
    assert_same,
    both,
    inside_recv,
)

FAST = {"close_timeout": 2, "open_timeout": 5}


def test_many_threads_send_while_one_receives(ws_server: WsServer) -> None:
    # permessage-deflate with context takeover: frames must reach the wire
    # in the order they were compressed, whichever thread sent them.
    with connect(f"{ws_server.url}/echo") as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions", "").startswith(
            "permessage-deflate"
        )
        received: list[str] = []

        def receive() -> None:
            for _ in range(8 * 50):
                received.append(ws.recv(timeout=10))

        reader = threading.Thread(target=receive)
        reader.start()

        def send(n: int) -> None:
            for i in range(50):
                ws.send(f"{n}:{i}:" + "abc" * (100 + i))

        senders = [threading.Thread(target=send, args=(n,)) for n in range(8)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(10)
        reader.join(10)
    assert len(received) == 400
    for message in received:
        n, i, body = message.split(":")
        assert body == "abc" * (100 + int(i))
    # Each thread's messages in the order it sent them.
    for n in range(8):
        mine = [int(m.split(":")[1]) for m in received if m.startswith(f"{n}:")]
        assert mine == list(range(50))


def test_ping_from_another_thread_while_recv_waits(ws_server: WsServer) -> None:
    with connect(f"{ws_server.url}/echo") as ws:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(ws.recv(timeout=5)))
        reader.start()
        assert ws.ping().wait(5)  # the reading thread read the pong
        ws.send("done")
        reader.join(5)
        assert got == ["done"]


# -- both clients ---------------------------------------------------------------------


def test_two_threads_receiving(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            got: list[Any] = []
            thread = threading.Thread(target=lambda: got.append(ws.recv(timeout=5)))
            thread.start()
            inside_recv(ws)
            r.outcome("second recv", lambda: ws.recv(timeout=1))
            r.outcome("recv_streaming", lambda: list(ws.recv_streaming()))
            ws.send("for the first")
            thread.join()
            r.add("first thread got", got)

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "two threads")


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="websockets 16 has no wait_closed()")
def test_wait_closed_while_another_thread_receives(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            got: list[Any] = []
            thread = threading.Thread(target=lambda: got.append(ws.recv(timeout=5)))
            thread.start()
            inside_recv(ws)
            started = time.monotonic()
            r.add("wait_closed(0.2)", ws.wait_closed(0.2))
            r.add("waited the timeout", 0.15 < time.monotonic() - started < 2)
            ws.send("for the reader")
            thread.join(5)
            r.add("reader got", got)
            ws.send("close 1000 done")
            r.add("wait_closed(5) after the server's close", ws.wait_closed(5))
            r.state(ws, "closed")

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "wait_closed")


def test_a_send_while_another_thread_sends_fragments(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            first_sent = threading.Event()
            release = threading.Event()

            def fragments() -> Any:
                yield "frag"
                first_sent.set()
                assert release.wait(5)
                yield "ments"

            thread = threading.Thread(target=ws.send, args=(fragments(),))
            thread.start()
            assert first_sent.wait(5)
            r.outcome("send meanwhile", lambda: ws.send("other"))
            release.set()
            thread.join(5)
            r.outcome("the fragmented message", lambda: ws.recv(timeout=5))
            ws.send("after")
            r.outcome("the next message", lambda: ws.recv(timeout=5))

    assert_same(
        both(f"{ws_server.url}/echo", scenario, ws_server.log), "send meanwhile"
    )


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_a_signal_handler_closes_during_recv(ws_server: WsServer) -> None:
    # The FAQ's SIGTERM answer, in this process: the handler runs in the
    # thread blocked in recv(), which then sees the end.
    assert threading.current_thread() is threading.main_thread()

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            previous = signal.signal(signal.SIGUSR1, lambda *_: ws.close())
            try:
                main = threading.get_ident()

                def interrupt() -> None:
                    inside_recv(ws)
                    signal.pthread_kill(main, signal.SIGUSR1)

                thread = threading.Thread(target=interrupt)
                thread.start()
                started = time.monotonic()
                r.outcome("recv", lambda: ws.recv(timeout=5))
                r.add("quickly", time.monotonic() - started < 3)
                thread.join(5)
            finally:
                signal.signal(signal.SIGUSR1, previous)
            r.state(ws, "after")

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "signal")


def test_send_and_close_from_another_thread(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            entered = threading.Event()
            received = threading.Event()
            got: list[Any] = []

            def reader() -> None:
                entered.set()
                try:
                    for message in ws:
                        got.append(message)
                        received.set()
                except Exception as exc:  # recorded below
                    got.append(type(exc).__name__)
                got.append("loop ended")

            thread = threading.Thread(target=reader)
            thread.start()
            entered.wait()
            ws.send("from another thread")
            assert received.wait(5)
            ws.close()
            thread.join(5)
            r.add("reader saw", got)
            r.state(ws, "closed")

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "threads")
