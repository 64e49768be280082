"""Keepalive: ping a quiet peer, and give up on one that stays silent.

Two styles, one per API:

* aiohttp's ``heartbeat``: a ping goes out after ``interval`` seconds
  without input, and any input, not only the pong, proves the peer alive;
* websockets' ``ping_interval``: a ping goes out every ``interval``
  seconds whatever the traffic, and only its pong counts.

Either way the peer is given ``timeout`` seconds (None: forever).  While
the client itself has paused reading (its queue is full, or it is waiting
for its writes to drain), a missing pong proves nothing about the peer: the
pong may be waiting in the socket, so the deadline moves on.

When the peer's time starts differs too: aiohttp starts it when the ping is
queued; websockets once the ping has left the write buffer (behind a large
upload the ping may wait seconds to be sent, which is no fault of the
peer's).  :attr:`KeepaliveSettings.after_drain` says which.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Protocol


class Pinger(Protocol):
    """What the keepalive needs from the connection."""

    @property
    def open(self) -> bool:
        """Whether the connection is open."""

    @property
    def reading_paused(self) -> bool:
        """Whether the client stopped reading the transport."""

    def keepalive_ping(self) -> None:
        """Send a ping, and call :meth:`Keepalive.pong` when its pong comes."""

    def when_drained(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what was written has left the write buffer
        (down to its low-water mark)."""

    def keepalive_expired(self) -> None:
        """The peer stayed silent: end the connection."""


class Keepalive:
    """The timers of one connection's keepalive."""

    __slots__ = (
        "_after_drain",
        "_any_input",
        "_loop",
        "_pinger",
        "_sent_at",
        "_timer",
        "_waiting",
        "interval",
        "last_input",
        "timeout",
    )

    def __init__(
        self,
        pinger: Pinger,
        loop: asyncio.AbstractEventLoop,
        *,
        interval: float,
        timeout: float | None,
        any_input_is_alive: bool,
        after_drain: bool = False,
    ) -> None:
        self._pinger = pinger
        self._loop = loop
        #: Seconds between pings (after the last input, when any input
        #: counts); a change applies from the next ping.
        self.interval = interval
        #: Seconds the peer has to answer; None waits forever.
        self.timeout = timeout
        # aiohttp's rule (any input counts) or websockets' (only the pong).
        self._any_input = any_input_is_alive
        # Whether the peer's time starts once the ping left the buffer.
        self._after_drain = after_drain
        #: ``loop.time()`` of the last input; the connection sets it.
        self.last_input = loop.time()
        # Whether a ping waits for its pong, and when it went.
        self._waiting = False
        self._sent_at = 0.0
        self._timer: asyncio.TimerHandle | None = loop.call_later(
            interval, self._on_interval
        )

    def stop(self) -> None:
        """Cancel the timers; the connection is closing."""
        self._waiting = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, when: float, callback: Callable[[], None]) -> None:
        self._timer = self._loop.call_at(when, callback)

    def _on_interval(self) -> None:
        self._timer = None
        if not self._pinger.open:
            return
        now = self._loop.time()
        if self._any_input and now - self.last_input < self.interval:
            # Input arrived meanwhile: wait a whole interval from it.
            self._schedule(self.last_input + self.interval, self._on_interval)
            return
        self._waiting = True
        self._sent_at = now
        self._pinger.keepalive_ping()
        if self.timeout is None:
            self._schedule(now + self.interval, self._on_interval)
        elif self._after_drain:
            self._pinger.when_drained(self._start_deadline)
        else:
            self._schedule(now + self.timeout, self._on_deadline)

    def _start_deadline(self) -> None:
        """The ping left the write buffer: the peer's time starts."""
        if self._waiting and self._timer is None and self._pinger.open:
            assert self.timeout is not None
            self._schedule(self._loop.time() + self.timeout, self._on_deadline)

    def pong(self) -> None:
        """The pong of the keepalive's ping came: the next ping is due an
        interval after this one went."""
        if not self._waiting:
            return
        self._waiting = False
        if self.timeout is not None:
            self.stop()
            self._schedule(self._sent_at + self.interval, self._on_interval)

    def _on_deadline(self) -> None:
        self._timer = None
        pinger = self._pinger
        if not pinger.open:
            return
        if self._any_input and self.last_input >= self._sent_at:
            # aiohttp counts any frame since the ping as a sign of life.
            self._waiting = False
            self._schedule(self.last_input + self.interval, self._on_interval)
        elif pinger.reading_paused:
            # The pong may be unread in the socket: look again later.
            assert self.timeout is not None
            self._schedule(self._loop.time() + self.timeout, self._on_deadline)
        else:
            pinger.keepalive_expired()


class KeepaliveSettings:
    """How a face wants its connection kept alive; see :mod:`.keepalive`."""

    __slots__ = (
        "after_drain",
        "any_input_is_alive",
        "close_code",
        "interval",
        "payload",
        "timeout",
    )

    def __init__(
        self,
        interval: float,
        timeout: float | None,
        *,
        any_input_is_alive: bool,
        close_code: int | None,
        payload: Callable[[], bytes],
        after_drain: bool = False,
    ) -> None:
        #: Seconds between pings.
        self.interval = interval
        #: Seconds the peer has to answer; None waits forever.
        self.timeout = timeout
        #: Whether any input proves the peer alive (aiohttp) or only the
        #: pong does (websockets).
        self.any_input_is_alive = any_input_is_alive
        #: The close code sent when the peer stays silent; None aborts the
        #: transport without one (aiohttp).
        self.close_code = close_code
        #: Makes each ping's payload.
        self.payload = payload
        #: Whether the peer's time starts once the ping left the write
        #: buffer (websockets) rather than when it was queued (aiohttp).
        self.after_drain = after_drain


def random_payload() -> bytes:
    """Four random bytes: a ping payload no other ping in flight shares."""
    return os.urandom(4)
