"""The threading clients, and their jobs: no event loop, blocking calls.

Three clients, each written the way its documentation shows:

- **aiows-sync**: ``aiows.sync.connect(url, compression=None)``, then
  ``send()`` / ``recv()``;
- **websockets-sync**: ``websockets.sync.client.connect(url,
  compression=None)``, then ``send()`` / ``recv()``;
- **websocket-client**: ``websocket.create_connection(url)``, then
  ``send_binary()`` / ``recv()`` (no background thread: it reads only when
  called, and answers pings only then).

They run the throughput scenarios (but TLS) on the loop named ``threads``,
and two jobs of their own:

``memory``
    open ``connections`` idle connections one after the other (after three
    opened and closed), and report the growth of the process's resident
    set size and of its threads (``/proc/self/status``), per connection;
``handshake``
    sequential open + close cycles, as for the asyncio clients.
"""

from __future__ import annotations

import contextlib
import gc
import os
import ssl as ssl_module
import time
from typing import Any, ClassVar

from benchmarks.common import MAX_MESSAGE, SCENARIOS_BY_NAME, EchoError, rss_bytes


class ThreadClient:
    """What the measuring code needs from a threading client."""

    name: ClassVar[str]

    def open(self, url: str, ssl: ssl_module.SSLContext | None, compress: bool) -> Any:
        raise NotImplementedError

    def close(self, conn: Any) -> None:
        conn.close()

    def negotiated_compression(self, conn: Any) -> bool | None:
        return None

    def sender(self, conn: Any) -> Any:
        """The connection's method that sends a binary message."""
        return conn.send

    def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        send, recv = self.sender(conn), conn.recv
        for _ in range(n):
            send(payload)
            if type(recv()) is not bytes:
                raise EchoError("expected bytes")

    def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        send, recv = self.sender(conn), conn.recv
        sent = min(window, n)
        for _ in range(sent):
            send(payload)
        for _ in range(n):
            if type(recv()) is not bytes:
                raise EchoError("expected bytes")
            if sent < n:
                send(payload)
                sent += 1


class AiowsSyncClient(ThreadClient):
    """aiows-sync: ``aiows.sync.connect`` + ``send`` / ``recv``."""

    name = "aiows-sync"

    def open(self, url: str, ssl: ssl_module.SSLContext | None, compress: bool) -> Any:
        from aiows.sync import connect

        return connect(
            url,
            compression="deflate" if compress else None,
            max_size=MAX_MESSAGE,
            ssl=ssl,
            legacy=True,
        )

    def negotiated_compression(self, conn: Any) -> bool | None:
        return "Sec-WebSocket-Extensions" in conn.response.headers


class WebsocketsSyncClient(ThreadClient):
    """websockets-sync: ``websockets.sync.client.connect`` + ``send`` / ``recv``."""

    name = "websockets-sync"

    def open(self, url: str, ssl: ssl_module.SSLContext | None, compress: bool) -> Any:
        from websockets.sync.client import connect

        kwargs: dict[str, Any] = {"ssl": ssl} if ssl is not None else {}
        conn = connect(
            url,
            compression="deflate" if compress else None,
            max_size=MAX_MESSAGE,
            **kwargs,
        )
        # Used without ``with`` on purpose (a pool of open connections);
        # websockets 17.1+ asks for that to be said.
        conn.pending_legacy_warning = False
        return conn

    def negotiated_compression(self, conn: Any) -> bool | None:
        return bool(conn.protocol.extensions)


class WebsocketClientClient(ThreadClient):
    """websocket-client: ``websocket.create_connection``, ``send_binary``,
    ``recv``."""

    name = "websocket-client"

    def open(self, url: str, ssl: ssl_module.SSLContext | None, compress: bool) -> Any:
        import websocket

        if compress:
            raise ValueError("websocket-client does not negotiate compression")
        options: dict[str, Any] = {}
        if ssl is not None:
            options["sslopt"] = {"context": ssl}
        return websocket.create_connection(url, **options)

    def sender(self, conn: Any) -> Any:
        return conn.send_binary  # its send() sends text


ADAPTERS: dict[str, type[ThreadClient]] = {
    "aiows-sync": AiowsSyncClient,
    "websockets-sync": WebsocketsSyncClient,
    "websocket-client": WebsocketClientClient,
}


def threads_now() -> int:
    """The threads of this process, as the kernel counts them."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import threading

    return threading.active_count()


def _timed(func: Any, profile: Any) -> tuple[float, float, Any, Any]:
    import resource

    gc.collect()
    if profile is not None:
        profile.enable()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    func()
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    if profile is not None:
        profile.disable()
    return t1 - t0, cpu1 - cpu0, usage0, usage1


def run_job(client: str, ctx: Any, job: dict[str, Any], profile: Any) -> dict[str, Any]:
    """Run one job of a threading client (the ``threads`` loop)."""
    adapter = ADAPTERS[client]()
    if job["task"] == "throughput":
        return throughput(adapter, ctx, job, profile)
    if job["task"] == "memory":
        return memory(adapter, ctx, job)
    if job["task"] == "handshake":
        return handshake(adapter, ctx, job)
    raise ValueError(f"unknown task {job['task']!r}")


def throughput(
    adapter: ThreadClient, ctx: Any, job: dict[str, Any], profile: Any
) -> dict[str, Any]:
    scenario = SCENARIOS_BY_NAME[job["scenario"]]
    count: int = job["count"]
    payload = os.urandom(scenario.size)
    url = ctx.urls["tls" if scenario.tls else "plain"]
    conn = adapter.open(url, ctx.ssl if scenario.tls else None, False)
    try:
        if scenario.kind == "pingpong":

            def run(n: int) -> None:
                adapter.pingpong(conn, payload, n)

        else:

            def run(n: int) -> None:
                adapter.pipelined(conn, payload, n, scenario.window)

        run(job["warmup"])
        wall, cpu, usage0, usage1 = _timed(lambda: run(count), profile)
    finally:
        adapter.close(conn)
    return {
        "messages": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "msgs_per_s": count / wall,
        "cpu_us_per_msg": cpu / count * 1e6,
        "sys_us_per_msg": (usage1.ru_stime - usage0.ru_stime) / count * 1e6,
        "minflt_per_msg": (usage1.ru_minflt - usage0.ru_minflt) / count,
        "profiled": profile is not None,
    }


def memory(adapter: ThreadClient, ctx: Any, job: dict[str, Any]) -> dict[str, Any]:
    n: int = job["connections"]
    compress: bool = job["compress"]
    url = ctx.urls["deflate"]
    for _ in range(3):
        adapter.close(adapter.open(url, None, compress))
    gc.collect()
    time.sleep(0.1)
    before, threads_before = rss_bytes(), threads_now()
    conns: list[Any] = []
    try:
        while len(conns) < n:
            conns.append(adapter.open(url, None, compress))
        gc.collect()
        time.sleep(0.2)
        after, threads_after = rss_bytes(), threads_now()
        negotiated = adapter.negotiated_compression(conns[0])
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):  # close as many as possible
                adapter.close(conn)
    if compress and not negotiated:
        raise RuntimeError("permessage-deflate was offered but not negotiated")
    return {
        "connections": n,
        "rss_before": before,
        "rss_after": after,
        "kib_per_conn": (after - before) / n / 1024,
        "threads_before": threads_before,
        "threads_after": threads_after,
        "threads_per_conn": (threads_after - threads_before) / n,
        "compression_negotiated": negotiated,
    }


def handshake(adapter: ThreadClient, ctx: Any, job: dict[str, Any]) -> dict[str, Any]:
    n: int = job["count"]
    url = ctx.urls["plain"]

    def cycles(k: int) -> None:
        for _ in range(k):
            adapter.close(adapter.open(url, None, False))

    cycles(job["warmup"])
    wall, cpu, _, _ = _timed(lambda: cycles(n), None)
    return {
        "handshakes": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "handshakes_per_s": n / wall,
        "cpu_us_per_handshake": cpu / n * 1e6,
    }


def unavailable(name: str) -> str | None:
    """Why the threading client ``name`` cannot run here, or None."""
    module = {"websocket-client": "websocket", "websockets-sync": "websockets.sync"}
    try:
        __import__(module.get(name, "aiows.sync"))
    except ImportError as exc:
        return f"cannot import it: {exc}"
    return None
