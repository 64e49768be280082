"""The socket of one connection: non-blocking, TLS in memory, bytes queued out.

The socket never blocks: a thread that must wait for it polls it, with the
deadline it has.  So any thread can read or write it (one at a time each
way) and the I/O thread can watch it between.

TLS runs in memory (``ssl.SSLObject`` over two ``MemoryBIO``), not in an
``SSLSocket``: OpenSSL's state is then changed only under the connection's
lock, never by a reading and a writing thread at once, and TLS inside TLS
(``wss://`` through an ``https://`` proxy) is two layers of the same thing.

What goes out is queued first (:meth:`Transport.enqueue`, in the order the
protocol produced it, under the connection's lock) and written by whoever
holds the write lock (:meth:`Transport.flush`): an application thread
sending waits until it is all written; a reply from the reading thread is
written if the socket takes it now, and otherwise left for the I/O thread.
Callables queued between the bytes run once the bytes before them are
written (the pong deadline of a keepalive ping starts there, and the
half-close after a failure happens there).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final, cast

#: How much one read of a lower layer takes (TLS records are at most 16 KiB).
_CHUNK: Final = 65536

Outgoing = bytes | bytearray | memoryview | Callable[[], None]


class _FdWait:
    """Waits until one socket is readable or writable: ``poll()`` where the
    platform has it (no descriptor limit), else ``select()``."""

    __slots__ = ("_fd", "_poll")

    def __init__(self, fd: int, read: bool, write: bool) -> None:
        self._fd = fd
        self._poll = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(
                fd, (select.POLLIN if read else 0) | (select.POLLOUT if write else 0)
            )

    def wait(self, timeout: float | None, read: bool, write: bool) -> bool:
        """Whether the socket became ready before ``timeout`` seconds."""
        if self._poll is not None:
            ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
            return bool(self._poll.poll(ms))
        readable, writable, failed = select.select(  # pragma: no cover - Windows
            [self._fd] if read else [],
            [self._fd] if write else [],
            [self._fd],
            timeout,
        )
        return bool(readable or writable or failed)  # pragma: no cover


class TLSLayer:
    """One TLS session in memory: what comes in is decrypted, what goes out
    encrypted."""

    __slots__ = ("incoming", "obj", "outgoing")

    def __init__(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname=server_hostname
        )


def remaining(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (``time.monotonic()``), never below 0."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class Transport:
    """One connection's socket; see the module's docstring.

    ``lock`` is the connection's: it guards the TLS layers and the queue.
    ``on_backlog`` is called when a write that could not wait left bytes
    queued, so that the I/O thread writes them once the socket takes them.
    """

    __slots__ = (
        "_read_wait",
        "_readwrite_wait",
        "_write_wait",
        "fd",
        "layers",
        "lock",
        "on_backlog",
        "out",
        "out_added",
        "out_sent",
        "sock",
        "write_lock",
    )

    def __init__(self, sock: socket.socket, lock: threading.Lock) -> None:
        sock.setblocking(False)
        #: The socket, non-blocking.
        self.sock = sock
        #: Its file descriptor, kept: the I/O thread's key, also once closed.
        self.fd = sock.fileno()
        #: TLS sessions from the outermost (a proxy's) to the innermost.
        self.layers: list[TLSLayer] = []
        self.lock = lock
        #: Bytes (and callables) waiting to be written, oldest first.
        self.out: deque[Outgoing] = deque()
        # Bytes ever queued (changed under the lock) and ever written
        # (changed by the thread holding the write lock): each has one
        # writer at a time, so neither needs the other's lock.
        self.out_added = 0
        self.out_sent = 0
        #: Held by the one thread writing to the socket.
        self.write_lock = threading.Lock()
        self.on_backlog: Callable[[], None] | None = None
        self._read_wait: _FdWait | None = None
        self._readwrite_wait: _FdWait | None = None
        self._write_wait: _FdWait | None = None

    # -- reading --------------------------------------------------------------

    def read_into(self, view: memoryview | bytearray) -> int | None:
        """Read what is there into ``view``: how many bytes, 0 at the end of
        the stream, None when nothing is there yet.  One thread at a time."""
        if not self.layers:
            try:
                return self.sock.recv_into(view)
            except BlockingIOError:
                return None
        with self.lock:
            try:
                return self._tls_read(len(self.layers) - 1, view)
            finally:
                self._drain_layers()

    @property
    def pending(self) -> bool:
        """Whether TLS holds bytes a read would return without the socket."""
        return any(
            layer.obj.pending() or layer.incoming.pending for layer in self.layers
        )

    def _tls_read(self, index: int, view: memoryview | bytearray) -> int | None:
        layer = self.layers[index]
        while True:
            try:
                # With a buffer, read() returns a count (typeshed says bytes).
                return cast(int, layer.obj.read(len(view), view))
            except ssl.SSLWantReadError:
                data = self._read_below(index)
                if data is None:
                    return None
                if data:
                    layer.incoming.write(data)
                else:
                    layer.incoming.write_eof()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return 0  # close_notify, or the TCP stream ended without one

    def _read_below(self, index: int) -> bytes | None:
        """What the layer under TLS layer ``index`` has: bytes, ``b""`` at
        the end of the stream, None for "not yet"."""
        if index == 0:
            try:
                return self.sock.recv(_CHUNK)
            except BlockingIOError:
                return None
        buffer = bytearray(_CHUNK)
        n = self._tls_read(index - 1, buffer)
        return None if n is None else bytes(buffer[:n])

    # -- writing --------------------------------------------------------------

    def enqueue(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` (encrypted, with TLS); call it holding :attr:`lock`."""
        if self.layers:
            self.layers[-1].obj.write(data)
            self._drain_layers()
        else:
            self.out.append(data)
            self.out_added += len(data)

    @property
    def out_bytes(self) -> int:
        """How many bytes are queued and not written yet."""
        return self.out_added - self.out_sent

    def claim(self) -> bool:
        """Take the write lock for a frame about to be written at once, if
        nothing is queued and no thread writes (call it holding
        :attr:`lock`, right after producing the frame; without TLS only).

        Frames produced later are queued behind it, and
        :meth:`write_claimed` writes them after it: the order holds, and
        the common case costs no queue.
        """
        return not self.layers and not self.out and self.write_lock.acquire(False)

    def write_claimed(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` (after :meth:`claim`), then what was queued behind
        it, waiting for the socket; release the write lock."""
        try:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            if sent != len(data):
                # The socket is full: the rest goes first in the queue.
                rest = memoryview(data)[sent:]
                with self.lock:
                    self.out.appendleft(rest)
                    self.out_added += len(rest)
            done = self._write_queue(True, None)
        finally:
            self.write_lock.release()
        if self.out and done:
            self.flush(block=False)

    def enqueue_call(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once what is queued now is written (call it
        holding :attr:`lock`)."""
        self.out.append(callback)

    def _drain_layers(self) -> None:
        """Pass what each TLS layer produced down, to the queue."""
        for index in range(len(self.layers) - 1, -1, -1):
            data = self.layers[index].outgoing.read()
            if not data:
                continue
            if index:
                self.layers[index - 1].obj.write(data)
            else:
                self.out.append(data)
                self.out_added += len(data)

    def flush(self, *, block: bool, deadline: float | None = None) -> bool:
        """Write what is queued; True once the queue is empty.

        ``block``: wait for the write lock and for the socket until all is
        written, or until ``deadline`` (``TimeoutError``).  Else write what
        the socket takes now, if no other thread is writing, and call
        :attr:`on_backlog` for the rest.  ``OSError`` means the connection
        is broken.
        """
        lock = self.write_lock
        if block:
            if deadline is None:
                lock.acquire()
            elif not lock.acquire(timeout=remaining(deadline)):  # type: ignore[arg-type]
                raise TimeoutError("timed out waiting to write")
        elif not lock.acquire(blocking=False):
            return False  # the thread writing now writes this too
        try:
            done = self._write_queue(block, deadline)
        finally:
            lock.release()
        if self.out and done:
            # Queued by a thread that found the lock taken, after the queue
            # looked empty: written here, as that thread did not.
            return self.flush(block=False)
        if not done and self.on_backlog is not None:
            self.on_backlog()
        return done

    def _write_queue(self, block: bool, deadline: float | None) -> bool:
        out = self.out
        send = self.sock.send
        while out:
            item = out[0]
            if callable(item):
                out.popleft()
                item()
                continue
            try:
                sent = send(item)
            except BlockingIOError:
                sent = 0
            self.out_sent += sent
            if sent == len(item):
                out.popleft()
                continue
            # Only this thread takes items out: the head is still this one.
            out[0] = memoryview(item)[sent:]
            if not block:
                return False
            if self._write_wait is None:
                self._write_wait = _FdWait(self.fd, False, True)
            if not self._write_wait.wait(remaining(deadline), False, True):
                raise TimeoutError("timed out writing to the socket")
        return True

    # -- waiting --------------------------------------------------------------

    def wait_readable(self, timeout: float | None) -> bool:
        """Wait until the socket can be read."""
        if self._read_wait is None:
            self._read_wait = _FdWait(self.fd, True, False)
        return self._read_wait.wait(timeout, True, False)

    def wait_ready(self, timeout: float | None, read: bool, write: bool) -> bool:
        """Wait until the socket can be read (if ``read``) or written (if
        ``write``): only for what the caller will do, or a socket that stays
        readable while reading is paused would never let it wait."""
        if not write:
            return self.wait_readable(timeout)
        if not read:
            if self._write_wait is None:
                self._write_wait = _FdWait(self.fd, False, True)
            return self._write_wait.wait(timeout, False, True)
        if self._readwrite_wait is None:
            self._readwrite_wait = _FdWait(self.fd, True, True)
        return self._readwrite_wait.wait(timeout, True, True)

    # -- the opening phase: blocking, with a deadline -------------------------

    def send_all(self, data: bytes, deadline: float | None) -> None:
        """Write ``data`` and wait until it is written."""
        with self.lock:
            self.enqueue(data)
        self.flush(block=True, deadline=deadline)

    def receive(self, deadline: float | None) -> bytes:
        """The next bytes; ``b""`` at the end of the stream."""
        buffer = bytearray(_CHUNK)
        while True:
            n = self.read_into(buffer)
            if n is not None:
                return bytes(buffer[:n])
            self.flush(block=True, deadline=deadline)  # what TLS must answer
            if not self.wait_readable(remaining(deadline)):
                raise TimeoutError("timed out reading from the socket")

    def start_tls(
        self,
        context: ssl.SSLContext,
        server_hostname: str | None,
        deadline: float | None,
    ) -> None:
        """Add a TLS layer over what is there, and run its handshake."""
        layer = TLSLayer(context, server_hostname)
        self.layers.append(layer)
        index = len(self.layers) - 1
        while True:
            with self.lock:
                try:
                    layer.obj.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                self._drain_layers()
            self.flush(block=True, deadline=deadline)
            if done:
                return
            with self.lock:
                data = self._read_below(index)
                self._drain_layers()
            if data is None:
                if not self.wait_readable(remaining(deadline)):
                    raise TimeoutError("timed out during the TLS handshake")
            elif data:
                layer.incoming.write(data)
            else:
                layer.incoming.write_eof()

    # -- ending ---------------------------------------------------------------

    def shutdown_write(self) -> None:
        """Half-close: no more bytes from here, the peer's still come in."""
        with contextlib.suppress(OSError):  # already gone
            self.sock.shutdown(socket.SHUT_WR)

    def abort(self) -> None:
        """End both directions now; threads waiting on the socket wake up."""
        with contextlib.suppress(OSError):  # already gone
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close the socket, once no thread is writing to it (call
        :meth:`abort` first if one may be waiting)."""
        with self.write_lock:
            self.sock.close()
            self.out.clear()
            self.out_sent = self.out_added
