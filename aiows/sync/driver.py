"""One open connection of the threading face: the engine under its API.

:class:`Driver` holds a connection's state: the core's protocol, the inbox,
the transport, the lock that guards them, and the timers.  Reading the
socket is its other half, :class:`~aiows.sync.reading.ReadRole`: whichever
thread waits on the connection reads it.  Here are writing, closing and
pings.

Closing is as strict as in the asyncio faces: once a close frame went
either way, the server has ``close_timeout`` to finish the closing
handshake and close TCP, then the socket is aborted.  After a failure the
client half-closes its side once its close frame is written (except over
TLS), and reads and discards what the server still sends until it closes,
so the kernel never answers it with a reset that would destroy the close
frame.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Final

from ..core.errors import ExtensionFailed
from ..core.protocol import ClientProtocol, State
from . import hub
from .keepalive import Keepalive, Ping, send_ping
from .messages import Inbox
from .reading import READ_SIZE, ReadRole
from .transport import Transport

__all__ = ["DEFAULT_WRITE_LIMIT", "READ_SIZE", "Driver", "Ping"]

#: Unsent bytes past which the connection stops reading: a server that
#: floods pings and never reads cannot grow the client's memory with pongs.
DEFAULT_WRITE_LIMIT: Final = 64 * 1024


class Driver(ReadRole):
    """The engine of one threading-face connection; see the module."""

    __slots__ = (
        "_broken",
        "_close_timeout",
        "_close_timer",
        "_closing",
        "_debug",
        "_hub",
        "_write_limit",
        "close_deadline",
        "closed",
        "error",
        "inbox",
        "keepalive",
        "latency",
        "lock",
        "logger",
        "protocol",
        "transport",
    )

    def __init__(
        self,
        transport: Transport,
        protocol: ClientProtocol,
        inbox: Inbox,
        *,
        close_timeout: float | None,
        ping_interval: float | None,
        ping_timeout: float | None,
        write_limit: int = DEFAULT_WRITE_LIMIT,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.transport = transport
        #: The connection's lock: the protocol, the inbox, the TLS layers
        #: and the outgoing queue change only under it.
        self.lock = transport.lock
        super().__init__(self.lock)
        self.protocol = protocol
        self.inbox = inbox
        self.logger = logger
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._hub: hub.Hub | None = None
        self._close_timeout = close_timeout
        self._write_limit = write_limit
        #: Set once the socket is closed: the state is CLOSED.
        self.closed = False
        #: Why the connection broke, if it did (a ConnectionClosed's cause).
        self.error: BaseException | None = None
        # An error a write met, for the reading thread to end the connection.
        self._broken = False
        # Whether a close frame went either way (the close deadline runs).
        self._closing = False
        #: When the socket is aborted if the server has not closed it.
        self.close_deadline: float | None = None
        self._close_timer: hub.Timer | None = None
        #: Round-trip time of the last ping answered, in seconds.
        self.latency = 0.0
        #: Keepalive, unless ``ping_interval`` is None.
        self.keepalive = (
            None
            if ping_interval is None
            else Keepalive(self, ping_interval, ping_timeout)
        )
        transport.on_backlog = self._on_backlog

    # -- starting -------------------------------------------------------------

    def start(self, first: bytes) -> None:
        """Take over after the opening handshake; ``first`` came with the 101."""
        self._hub = hub.attach(self.transport.fd, self._on_event)
        if first:
            with self._reading:
                with self.lock:
                    self._handle(self.protocol.receive_data(first))
                self._flush_nowait()
                if self._broken:
                    self._lost(None)
        self._rearm()
        if self.keepalive is not None:
            self.keepalive.start(self._hub)

    # -- the end --------------------------------------------------------------

    def _lost(self, exc: BaseException | None) -> None:
        """The stream ended (or broke): close the socket, end the connection.

        Called by the thread holding the read role, or with the role free.
        """
        if self.closed:
            return
        with self.lock:
            if exc is not None and self.error is None:
                self.error = exc
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.keepalive is not None:
            self.keepalive.stop()
        if self._hub is not None:
            self._hub.remove(self.transport.fd)
        self.transport.abort()  # a thread waiting to write wakes up
        self.transport.close()
        with self.lock:
            protocol = self.protocol
            if protocol.state is not State.CLOSED:
                protocol.connection_lost()
            self.inbox.end()
            self.closed = True
            for ping in protocol.pings_in_flight():
                if ping.event is not None and ping.ack_on_close:
                    ping.event.set()
            self._cond.notify_all()
        self.logger.debug("connection closed")

    # -- writing --------------------------------------------------------------

    def _flush_nowait(self) -> None:
        transport = self.transport
        backed_up = transport.out_bytes > self._write_limit
        try:
            transport.flush(block=False)
        except OSError as exc:
            self._note_broken(exc)
            return
        if backed_up and transport.out_bytes <= self._write_limit:
            self.resume()  # reading had stopped for the backlog

    def write_claimed(self, frame: bytes | bytearray | memoryview) -> None:
        """Write a frame the caller claimed the socket for (see
        :meth:`Transport.claim`), and what was queued behind it.  Raises
        ``OSError`` if the connection broke."""
        try:
            self.transport.write_claimed(frame)
        except OSError as exc:
            self._note_broken(exc)
            raise

    def flush(self) -> None:
        """Write what is queued, waiting for the socket (an application's
        send).  Raises ``OSError`` if the connection broke."""
        transport = self.transport
        backed_up = transport.out_bytes > self._write_limit
        try:
            transport.flush(block=True)
        except OSError as exc:
            self._note_broken(exc)
            raise
        if backed_up:
            self.resume()  # reading had stopped for the backlog

    def _note_broken(self, exc: BaseException) -> None:
        """A write failed: the connection is gone; make sure it ends."""
        with self.lock:
            if self.error is None:
                self.error = exc
        self._broken = True
        self.abort()

    def extension_failed(self, exc: ExtensionFailed) -> None:
        """An extension's ``encode`` raised something that is not a protocol
        error (not under the lock).

        As in websockets: logged as an internal error, and the connection
        ends at once without a close frame (the extension's state is
        unknown), its exception the cause of the ``ConnectionClosedError``.
        """
        cause = exc.__cause__
        self.logger.error("unexpected internal error", exc_info=cause)
        with self.lock:
            if self.error is None:
                self.error = cause
        self.abort()

    def _reply_failed(self, exc: ExtensionFailed) -> None:
        """An extension could not encode the protocol's reply (the answer to
        the server's close, the close that fails the connection), under the
        lock: as for a send, logged as an internal error, and the connection
        ends at once (the reading thread sees the end), its
        ``ConnectionClosedError`` chaining the extension's exception."""
        cause = exc.__cause__
        self.logger.error("unexpected internal error", exc_info=cause)
        if self.error is None:
            self.error = cause
        self.transport.abort()

    def abort(self) -> None:
        """End the connection now, without waiting for the server."""
        self.transport.abort()
        if self._reading.acquire(False):
            try:
                self._lost(None)
            finally:
                self._leave_reading()
        # Otherwise the thread reading sees the end of the stream.

    # -- closing --------------------------------------------------------------

    def _closing_started(self) -> None:
        """A close frame went: bound the rest (under the lock)."""
        if self._closing:
            return
        self._closing = True
        self.inbox.start_closing()
        if self.failed and not self.transport.layers:
            # Half-close once the close frame is written: the server sees
            # the end, and reading goes on until it closes too.
            self.transport.enqueue_call(self.transport.shutdown_write)
        if self._close_timeout is not None:
            self.close_deadline = time.monotonic() + self._close_timeout
            if self._hub is not None:
                self._close_timer = self._hub.call_at(
                    self.close_deadline, self._close_expired
                )

    def _close_expired(self) -> None:
        if not self.closed:
            self.logger.debug("timed out waiting for the server to close")
            with self.lock:
                if self.error is None:
                    self.error = TimeoutError("timed out while closing connection")
            self.abort()

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        """Send a close frame (or fail the connection, with ``fail``), if
        none went yet; writing waits for the socket unless this is the I/O
        thread."""
        with self.lock:
            protocol = self.protocol
            if protocol.state is State.CLOSE_DONE or protocol.state is State.CLOSED:
                return
            failed: ExtensionFailed | None = None
            try:
                if fail:
                    frame = protocol.fail(code, reason)
                    self.failed = bool(frame)
                elif protocol.state is State.OPEN:
                    frame = protocol.send_close(code, reason)
                else:
                    return
            except ExtensionFailed as exc:
                failed = exc
            if failed is None and frame:
                self.transport.enqueue(frame)
            if failed is None:
                self._closing_started()
        if failed is not None:
            # websockets' close() returns once the connection is gone.
            self.extension_failed(failed)
            return
        if self._hub is not None and self._hub.is_current():
            self._flush_nowait()  # the I/O thread never waits
            return
        try:
            self.transport.flush(block=True, deadline=self.close_deadline)
        except (OSError, TimeoutError) as exc:
            self._note_broken(exc)

    def wait_closed(self, deadline: float | None = None) -> bool:
        """Wait until the socket is closed; False if ``deadline`` passed."""
        return bool(self.wait(lambda: True if self.closed else None, deadline))

    def finish(self) -> None:
        """Wait until the connection is closed, aborting it at the close
        deadline.  In a signal handler that interrupted this thread's own
        read, return at once: that read goes on and sees the end."""
        if self._reader == threading.get_ident():
            return
        if not self.wait_closed(self.close_deadline):
            self._close_expired()
            self.wait_closed()

    # -- pings ----------------------------------------------------------------

    def ping(self, payload: bytes, ping: Ping) -> None:
        """Send a ping (under the lock; the caller flushes)."""
        self.transport.enqueue(send_ping(self.protocol, payload, ping))

    def _acknowledge(self) -> None:
        now = time.monotonic()
        ping: Ping
        for ping in self.protocol.take_acknowledged():
            self.latency = now - ping.sent_at
            if ping.event is not None:
                ping.event.set()
            elif self.keepalive is not None:
                self.keepalive.pong(ping)
