"""A fault-injecting TCP proxy for reliability tests.

:class:`FaultProxy` listens on 127.0.0.1 and forwards every connection it
accepts to an upstream server.  Each direction of each connection is a
:class:`Pipe` (``c2s``: client to server, ``s2c``: server to client) that the
test can, at any moment or for connections yet to come:

* ``delay`` every chunk by a number of seconds;
* ``throttle`` it to one byte per write;
* ``stall`` it: stop reading, so TCP backpressure builds up, until resumed;
* ``blackhole`` it: keep reading and drop everything, sockets left open;
* ``cut`` it at a byte offset: forward exactly that many bytes in total,
  wait until the receiving kernel acknowledged them, then close both sockets
  with a RST (``SO_LINGER`` 0) or a FIN.

Forwarding uses the sockets directly (``loop.sock_recv``/``sock_sendall``),
so "forwarded" means "handed to the kernel" and the counters are exact.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

How = Literal["rst", "fin"]
Direction = Literal["c2s", "s2c"]

CHUNK = 65536
# How long a cut waits for the peer's kernel to acknowledge forwarded bytes.
FLUSH_TIMEOUT = 2.0


@dataclass
class Faults:
    """What to do to one direction; a fresh copy applies to each new connection."""

    delay: float = 0.0
    throttle: bool = False
    stall: bool = False
    blackhole: bool = False
    #: Absolute offset (bytes since the connection opened) at which to cut.
    cut_at: int | None = None
    how: How = "rst"


def _unsent(sock: socket.socket) -> int:
    """Bytes in ``sock``'s send queue not yet acknowledged by the peer."""
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf)
    return buf[0]


def _reset_on_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@dataclass(eq=False)
class Pipe:
    """One direction of one proxied connection."""

    conn: ProxiedConnection
    name: Direction
    src: socket.socket
    dst: socket.socket
    faults: Faults
    #: Bytes handed to the destination's kernel.
    forwarded: int = 0
    #: Bytes read from the source and dropped by a blackhole.
    dropped: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def update(self, **changes: object) -> None:
        """Change this pipe's faults now (e.g. ``stall=False``)."""
        for key, value in changes.items():
            if not hasattr(self.faults, key):
                raise AttributeError(f"no fault named {key!r}")
            setattr(self.faults, key, value)
        self._wake.set()

    def cut_in(self, nbytes: int, how: How = "rst") -> None:
        """Cut after ``nbytes`` more bytes (counted from what was forwarded)."""
        self.update(cut_at=self.forwarded + nbytes, how=how)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        faults = self.faults
        while True:
            if faults.cut_at is not None and self.forwarded >= faults.cut_at:
                await self.conn.cut(faults.how, self)
                return
            if faults.stall:
                self._wake.clear()
                await self._wake.wait()
                continue
            limit = CHUNK
            if faults.cut_at is not None:
                limit = min(limit, faults.cut_at - self.forwarded)
            if faults.throttle:
                limit = 1
            data = await loop.sock_recv(self.src, limit)
            if not data:
                if faults.blackhole:
                    # A blackhole swallows the EOF too and keeps dst open.
                    await asyncio.Event().wait()
                # Orderly EOF from the source: pass it on.
                with contextlib.suppress(OSError):
                    self.dst.shutdown(socket.SHUT_WR)
                return
            if faults.blackhole:
                self.dropped += len(data)
                continue
            while faults.stall:
                # Stalled while this read was pending: hold the data.
                self._wake.clear()
                await self._wake.wait()
            if faults.cut_at is not None:
                # The cut may have been set while this read was pending.
                data = data[: max(0, faults.cut_at - self.forwarded)]
            if faults.delay:
                await asyncio.sleep(faults.delay)
            if faults.throttle:
                # One segment per byte (TCP_NODELAY is set on both sockets).
                for i in range(len(data)):
                    await loop.sock_sendall(self.dst, data[i : i + 1])
                    self.forwarded += 1
                    await asyncio.sleep(0)
            else:
                await loop.sock_sendall(self.dst, data)
                self.forwarded += len(data)


@dataclass(eq=False)
class ProxiedConnection:
    """A client connection and its upstream twin."""

    proxy: FaultProxy
    client: socket.socket
    upstream: socket.socket
    c2s: Pipe = field(init=False)
    s2c: Pipe = field(init=False)
    #: Set once both sockets are closed; ``how`` tells whether it was a cut.
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    cut_how: How | None = None
    cut_by: Direction | None = None
    #: The client's port, and the proxy's port towards the server.
    client_port: int = 0
    upstream_port: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def pipe(self, direction: Direction) -> Pipe:
        return self.c2s if direction == "c2s" else self.s2c

    async def cut(self, how: How, by: Pipe | None = None) -> None:
        """Close both sockets abruptly (``rst``) or politely (``fin``)."""
        if self.closed.is_set():
            return
        self.cut_how = how
        self.cut_by = None if by is None else by.name
        # "Forwarded" must mean "reached the peer": wait until the receiving
        # kernels acknowledged everything, or a RST would discard it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FLUSH_TIMEOUT
        for sock in (self.client, self.upstream):
            while loop.time() < deadline:
                try:
                    if _unsent(sock) == 0:
                        break
                except OSError:
                    break
                await asyncio.sleep(0.001)
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._close_sockets(how)

    def _close_sockets(self, how: How) -> None:
        for sock in (self.client, self.upstream):
            if sock.fileno() == -1:
                continue
            with contextlib.suppress(OSError):
                if how == "rst":
                    _reset_on_close(sock)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.closed.set()

    async def run(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self.c2s.run()),
            asyncio.ensure_future(self.s2c.run()),
        ]
        failed = False
        try:
            # Each direction ends on EOF; the connection ends when both did,
            # or when one failed (the other socket is then closed too).
            pending = set(self._tasks)
            while pending:
                done, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED
                )
                if any(t.cancelled() for t in done):
                    break
                if any(t.exception() is not None for t in done):
                    # A socket failed (e.g. reset by its peer): reset the other.
                    failed = True
                    break
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if not self.closed.is_set():
                self._close_sockets("rst" if failed else "fin")
            self.proxy._forget(self)


@dataclass(eq=False)
class FaultProxy:
    """A TCP proxy from 127.0.0.1:``port`` to ``upstream``.

    ``faults_c2s``/``faults_s2c`` are templates copied into each new
    connection; ``on_connect`` may adjust a connection's pipes before any
    byte flows.  ``connections`` lists every connection ever accepted.
    """

    upstream_host: str
    upstream_port: int
    faults_c2s: Faults = field(default_factory=Faults)
    faults_s2c: Faults = field(default_factory=Faults)
    on_connect: Callable[[ProxiedConnection], None] | None = None
    connections: list[ProxiedConnection] = field(default_factory=list)
    accepted: asyncio.Queue[ProxiedConnection] = field(default_factory=asyncio.Queue)
    port: int = 0
    _listener: socket.socket | None = None
    _accept_task: asyncio.Task[None] | None = None
    _live: set[ProxiedConnection] = field(default_factory=set)
    _conn_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._idle.set()
        self._accept_task = asyncio.ensure_future(self._accept())
        return self

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def live(self) -> list[ProxiedConnection]:
        """Connections whose sockets are still open."""
        return [c for c in self.connections if not c.closed.is_set()]

    def set(self, direction: Direction, **changes: object) -> None:
        """Change a fault for live connections and for those to come."""
        template = self.faults_c2s if direction == "c2s" else self.faults_s2c
        for key, value in changes.items():
            if not hasattr(template, key):
                raise AttributeError(f"no fault named {key!r}")
            setattr(template, key, value)
        for conn in self.live:
            conn.pipe(direction).update(**changes)

    def blackhole(self, on: bool = True) -> None:
        """Silently drop everything both ways, keeping the sockets open."""
        self.set("c2s", blackhole=on)
        self.set("s2c", blackhole=on)

    def stall(self, direction: Direction, on: bool = True) -> None:
        self.set(direction, stall=on)

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while True:
            client, _ = await loop.sock_accept(self._listener)
            client.setblocking(False)
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            upstream.setblocking(False)
            try:
                await loop.sock_connect(
                    upstream, (self.upstream_host, self.upstream_port)
                )
            except OSError:
                _reset_on_close(client)
                client.close()
                upstream.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ProxiedConnection(
                self,
                client,
                upstream,
                client_port=client.getpeername()[1],
                upstream_port=upstream.getsockname()[1],
            )
            conn.c2s = Pipe(
                conn, "c2s", client, upstream, Faults(**vars(self.faults_c2s))
            )
            conn.s2c = Pipe(
                conn, "s2c", upstream, client, Faults(**vars(self.faults_s2c))
            )
            if self.on_connect is not None:
                self.on_connect(conn)
            self.connections.append(conn)
            self._live.add(conn)
            self._idle.clear()
            task = asyncio.ensure_future(conn.run())
            self._conn_tasks.add(task)
            task.add_done_callback(self._conn_tasks.discard)
            self.accepted.put_nowait(conn)

    def _forget(self, conn: ProxiedConnection) -> None:
        self._live.discard(conn)
        if not self._live:
            self._idle.set()

    async def next_connection(self, timeout: float = 5.0) -> ProxiedConnection:
        """The next connection accepted (in order), waiting for it."""
        return await asyncio.wait_for(self.accepted.get(), timeout)

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every proxied connection has ended."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        """Stop accepting and close every connection (with a FIN)."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
        if self._listener is not None:
            self._listener.close()
        for task in list(self._conn_tasks):
            task.cancel()
        await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        for conn in self.connections:
            if not conn.closed.is_set():
                conn._close_sockets("fin")
