"""Pings: the application's, and keepalive.

The core keeps the book of pings in flight (bounded, see
:data:`~aiows.core.protocol.MAX_PINGS_IN_FLIGHT`) with a :class:`Ping` as
each one's token.  :class:`Keepalive` sends a ping every ``ping_interval``
from the I/O thread, whether the application reads or not, and fails the
connection with 1011 when its pong has not come ``ping_timeout`` after the
ping was *written* (not queued behind a large send).  While the client
itself has stopped reading (its inbox is full, or its writes are backed
up), a missing pong proves nothing: the pong may be waiting unread, so the
deadline moves on.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from ..core.errors import ExtensionFailed, TooManyPings
from ..core.protocol import ClientProtocol, State
from . import hub

if TYPE_CHECKING:
    from .driver import Driver


class Ping:
    """A ping in flight: the token the core's book of pings keeps."""

    __slots__ = ("ack_on_close", "event", "sent_at")

    def __init__(self, event: threading.Event | None, ack_on_close: bool) -> None:
        #: Set when the pong comes (None for a keepalive ping).
        self.event = event
        #: Set ``event`` too when the connection closes first.
        self.ack_on_close = ack_on_close
        #: When it went (for a keepalive ping: when it was written).
        self.sent_at = time.monotonic()


def send_ping(protocol: ClientProtocol, payload: bytes, ping: Ping) -> bytes:
    """The frame of a ping; past the book's bound the oldest is given up,
    so a peer that never answers cannot make ``ping()`` fail forever."""
    try:
        return protocol.send_ping(payload, ping)
    except TooManyPings:
        protocol.forget_oldest_ping()
        return protocol.send_ping(payload, ping)


class Keepalive:
    """One connection's keepalive timers; see the module."""

    __slots__ = ("_current", "_deadline", "_driver", "_interval", "_next", "_timeout")

    def __init__(self, driver: Driver, interval: float, timeout: float | None) -> None:
        self._driver = driver
        self._interval = interval
        self._timeout = timeout
        # The keepalive ping in flight; the timers of the next ping and of
        # its pong's deadline.
        self._current: Ping | None = None
        self._next: hub.Timer | None = None
        self._deadline: hub.Timer | None = None

    def start(self, io: hub.Hub) -> None:
        """Schedule the first ping."""
        self._next = io.call_later(self._interval, self._send)

    def stop(self) -> None:
        """The connection is gone: no more pings, no deadline."""
        for timer in (self._next, self._deadline):
            if timer is not None:
                timer.cancel()

    def pong(self, ping: Ping) -> bool:
        """``ping``'s pong came (called under the lock); whether it was the
        keepalive's."""
        if ping is not self._current:
            return False
        self._current = None
        if self._deadline is not None:
            self._deadline.cancel()
        io = self._driver._hub
        assert io is not None
        self._next = io.call_at(ping.sent_at + self._interval, self._send)
        return True

    def _send(self) -> None:
        driver = self._driver
        with driver.lock:
            protocol = driver.protocol
            if protocol.state is not State.OPEN:
                return
            ping = Ping(None, True)
            payload = os.urandom(4)
            while protocol.ping_in_flight(payload):  # pragma: no cover - 2**-32
                payload = os.urandom(4)
            try:
                frame = send_ping(protocol, payload, ping)
            except ExtensionFailed as exc:
                failed: ExtensionFailed | None = exc
            else:
                failed = None
                driver.transport.enqueue(frame)
                self._current = ping
                driver.transport.enqueue_call(lambda: self._written(ping))
        if failed is not None:
            driver.extension_failed(failed)
            return
        driver.logger.debug("sent keepalive ping")
        driver._flush_nowait()

    def _written(self, ping: Ping) -> None:
        # The pong's deadline counts from here, not from when it was queued.
        ping.sent_at = time.monotonic()
        io = self._driver._hub
        if self._timeout is not None and io is not None:
            self._deadline = io.call_later(self._timeout, lambda: self._expired(ping))

    def _expired(self, ping: Ping) -> None:
        driver = self._driver
        with driver.lock:
            if self._current is not ping or driver.protocol.state is not State.OPEN:
                return
            if not driver._should_read():
                # The client stopped reading (its inbox is full, or its
                # writes are backed up): the pong may be waiting unread.
                assert self._timeout is not None and driver._hub is not None
                self._deadline = driver._hub.call_later(
                    self._timeout, lambda: self._expired(ping)
                )
                return
        driver.logger.debug("timed out waiting for keepalive pong")
        driver.close(1011, "keepalive ping timeout", fail=True)
