"""The one I/O thread that watches every idle connection, and its timers.

A connection is read by whichever thread waits on it: the application's
thread inside ``recv()`` or ``close()`` reads the socket itself, with no
hand-over to another thread.  While no application thread waits, the
:class:`Hub` does: one thread for all the process's connections, so pings
are answered, keepalive runs and the server's close is seen although the
application is busy elsewhere.  It also runs the timers (keepalive pings
and their deadlines, the closing handshake's deadline).

Each socket is registered in the hub's poller *one-shot*: once an event was
delivered the socket is disarmed until re-armed, so a thread that took over
reading can disarm it and the hub is not woken for bytes that thread
reads.  On Linux that is ``epoll`` with ``EPOLLONESHOT``, armed and disarmed
from any thread; elsewhere a ``selectors`` poller changed by the hub thread
alone, which other threads wake to apply their changes.

The thread starts with the first connection and ends with the last one, so
a process with no open connection has no extra thread.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

logger: Final = logging.getLogger("aiows.client")

#: Event bits a handler receives.
READ: Final = 1
WRITE: Final = 2

#: Called in the hub thread with the event bits of its socket.
Handler = Callable[[int], None]

#: How long after an application thread last read a connection the hub
#: takes it over (seconds).  A thread that reads in a loop (``for message
#: in ws``, request and response) comes back sooner, and the hub is never
#: woken for bytes that thread will read itself: handing the socket back
#: and forth on every message costs two system calls, and the hub would
#: often win the race for the next message, a thread switch.  Pings and
#: the server's close are still answered within this delay while the
#: application is busy elsewhere.
TAKE_OVER_AFTER: Final = 0.02


class Deferred(Protocol):
    """A connection an application thread read last (see :meth:`Hub.defer`)."""

    def take_over(self, now: float) -> bool:
        """Have the hub watch it again if its reader is gone; True once done."""


# An environment variable forces the portable poller on Linux, so that its
# path is tested too.
_PORTABLE: Final = bool(os.environ.get("AIOWS_SYNC_PORTABLE_POLLER"))


class Timer:
    """A call the hub makes at ``when`` (``time.monotonic()``) unless cancelled."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not call it; harmless when it already ran."""
        self.cancelled = True


if hasattr(select, "epoll"):
    # One-shot epoll masks by READ/WRITE bits.
    _EPOLL_MASKS: Final = {
        events: select.EPOLLONESHOT
        | (select.EPOLLIN | select.EPOLLRDHUP if events & READ else 0)
        | (select.EPOLLOUT if events & WRITE else 0)
        for events in range(4)
    }


class _EpollPoller:
    """epoll, one-shot: arming and disarming are system calls any thread makes."""

    __slots__ = ("_epoll",)

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def register(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLONESHOT)  # disarmed

    def unregister(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):  # already closed
            self._epoll.unregister(fd)

    def arm(self, fd: int, events: int) -> bool:
        # try/except rather than contextlib.suppress: this runs for every
        # message an application thread waits for, and a context manager
        # object costs more than the system call.
        try:  # noqa: SIM105
            self._epoll.modify(fd, _EPOLL_MASKS[events])
        except (OSError, ValueError):  # closed under us: nothing to watch
            pass
        return False  # the hub needs no wake-up

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        events = []
        for fd, mask in self._epoll.poll(-1 if timeout is None else timeout):
            bits = 0
            if mask & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP):
                bits |= READ
            if mask & select.EPOLLOUT:
                bits |= WRITE
            if mask & select.EPOLLERR:
                bits |= READ | WRITE
            events.append((fd, bits))
        return events

    def close(self) -> None:
        self._epoll.close()


class _PortablePoller:
    """A ``selectors`` poller that only the hub thread touches: other threads
    record what they want (:meth:`arm`) and wake the hub to apply it."""

    __slots__ = ("_changes", "_lock", "_selector")

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._changes: dict[int, int] = {}
        self._lock = threading.Lock()

    def register(self, fd: int) -> None:
        pass  # registered when first armed

    def unregister(self, fd: int) -> None:
        self.arm(fd, 0)

    def arm(self, fd: int, events: int) -> bool:
        with self._lock:
            self._changes[fd] = events
        return True  # the hub must wake to apply it

    def _apply(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, {}
        selector = self._selector
        for fd, events in changes.items():
            mask = (selectors.EVENT_READ if events & READ else 0) | (
                selectors.EVENT_WRITE if events & WRITE else 0
            )
            # Registered anew, never modified: the registration may be of a
            # socket closed since, whose number a new socket took (epoll
            # forgets a closed socket, and would refuse to modify it).
            if fd in selector.get_map():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    selector.unregister(fd)
            if mask:
                with contextlib.suppress(OSError, ValueError):  # closed under us
                    selector.register(fd, mask)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        self._apply()
        events = []
        for key, mask in self._selector.select(timeout):
            bits = (READ if mask & selectors.EVENT_READ else 0) | (
                WRITE if mask & selectors.EVENT_WRITE else 0
            )
            events.append((key.fd, bits))
            # One-shot: disarmed until re-armed.
            self._selector.unregister(key.fd)
        return events

    def close(self) -> None:
        self._selector.close()


class Hub:
    """The I/O thread: see the module's docstring.  Get it with :func:`attach`."""

    def __init__(self) -> None:
        self._poller = (
            _EpollPoller()
            if hasattr(select, "epoll") and not _PORTABLE
            else _PortablePoller()
        )
        # A byte written here wakes the thread (a new, earlier timer; a
        # change for the portable poller; the last connection gone).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poller.register(self._wake_r.fileno())
        self._poller.arm(self._wake_r.fileno(), READ)
        #: The handler of each registered socket, by file descriptor.
        self._handlers: dict[int, Handler] = {}
        # Timers, soonest first; cancelled ones are dropped when due.
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        # When the thread will wake by itself (its poll timeout); a timer
        # due sooner must wake it.
        self._wakes_at = 0.0
        # Connections whose reading thread left them, until the hub takes
        # them over; and whether the sweep that does it is scheduled.
        self._deferred: set[Deferred] = set()
        self._sweeping = False
        # Guards _handlers, _timers and _deferred.
        self._lock = threading.Lock()
        #: Set when the thread decided to end: a new connection needs a new hub.
        self.stopping = False
        self._thread = threading.Thread(
            target=self._run, name="aiows-sync-io", daemon=True
        )

    # -- what connections call ------------------------------------------------

    def add(self, fd: int, handler: Handler) -> None:
        """Watch ``fd`` (disarmed until :meth:`arm`); events go to ``handler``."""
        with self._lock:
            self._handlers[fd] = handler
        self._poller.register(fd)

    def remove(self, fd: int) -> None:
        """Stop watching ``fd``; call it before the socket is closed."""
        self._poller.unregister(fd)
        with self._lock:
            self._handlers.pop(fd, None)
            last = not self._handlers
        if last or isinstance(self._poller, _PortablePoller):
            self._wake()

    def arm(self, fd: int, events: int) -> None:
        """Deliver the next of ``events`` (READ, WRITE) on ``fd`` once; 0 disarms."""
        if self._poller.arm(fd, events):
            self._wake()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` in the hub thread at ``when`` (``time.monotonic()``)."""
        timer = Timer(when, callback)
        with self._lock:
            heapq.heappush(self._timers, (when, next(self._sequence), timer))
            wake = when < self._wakes_at
        if wake and threading.current_thread() is not self._thread:
            self._wake()
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` in the hub thread in ``delay`` seconds."""
        return self.call_at(time.monotonic() + delay, callback)

    def defer(self, connection: Deferred) -> None:
        """Take ``connection`` over once its reader has been gone
        :data:`TAKE_OVER_AFTER` seconds (its :meth:`~Deferred.take_over`
        says when)."""
        with self._lock:
            self._deferred.add(connection)
            if self._sweeping:
                return
            self._sweeping = True
        self.call_later(TAKE_OVER_AFTER, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            deferred = list(self._deferred)
        done = [connection for connection in deferred if connection.take_over(now)]
        with self._lock:
            self._deferred.difference_update(done)
            again = self._sweeping = bool(self._deferred)
        if again:
            self.call_later(TAKE_OVER_AFTER / 2, self._sweep)

    def is_current(self) -> bool:
        """Whether the calling thread is the hub's (which must never block)."""
        return threading.current_thread() is self._thread

    def _wake(self) -> None:
        # OSError: the pipe is full (it is awake anyway), or closed.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the thread -----------------------------------------------------------

    def _run(self) -> None:
        wake_fd = self._wake_r.fileno()
        poller = self._poller
        try:
            while True:
                if not self._handlers and _retire(self):
                    return
                with self._lock:
                    timeout = None
                    if self._timers:
                        timeout = max(0.0, self._timers[0][0] - time.monotonic())
                    self._wakes_at = (
                        float("inf") if timeout is None else time.monotonic() + timeout
                    )
                for fd, events in poller.poll(timeout):
                    if fd == wake_fd:
                        self._drain_wake()
                        continue
                    handler = self._handlers.get(fd)
                    if handler is not None:
                        _call(handler, events)
                self._run_timers()
        finally:
            poller.close()
            self._wake_r.close()
            self._wake_w.close()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(256):
                pass
        except BlockingIOError:
            pass
        self._poller.arm(self._wake_r.fileno(), READ)

    def _run_timers(self) -> None:
        now = time.monotonic()
        due: list[Timer] = []
        with self._lock:
            timers = self._timers
            while timers and timers[0][0] <= now:
                due.append(heapq.heappop(timers)[2])
        for timer in due:
            if not timer.cancelled:
                timer.cancelled = True
                _call(timer.callback)


def _call(callback: Callable[..., None], *args: int) -> None:
    """Run a connection's callback; a bug in one must not stop the others."""
    try:
        callback(*args)
    except Exception:
        logger.exception("unexpected error in the I/O thread")


# -- the process's hub --------------------------------------------------------

_current: Hub | None = None
_current_lock = threading.Lock()
# The latest hub, kept once it retires (its thread may still be ending).
_last: Hub | None = None


def attach(fd: int, handler: Handler) -> Hub:
    """The running hub, started if there is none, now watching ``fd``."""
    global _current, _last
    with _current_lock:
        hub = _current
        if hub is None or hub.stopping:
            hub = _current = _last = Hub()
            hub.add(fd, handler)
            hub._thread.start()
        else:
            hub.add(fd, handler)
    return hub


def _retire(hub: Hub) -> bool:
    """End ``hub`` unless a connection came meanwhile; True if it ends.

    Locks in :func:`attach`'s order (the process's, then the hub's), so a
    connection is either added to this hub before it decides, or finds it
    stopping and starts another.
    """
    global _current
    with _current_lock, hub._lock:
        if hub._handlers:
            return False
        hub.stopping = True
        if _current is hub:
            _current = None
        return True


def running() -> threading.Thread | None:
    """The latest hub's thread, ending or not (tests wait for it to end)."""
    hub = _current or _last
    return None if hub is None else hub._thread


def _after_fork() -> None:
    # The child has no hub thread, whatever the parent had.
    global _current, _current_lock, _last
    _current = _last = None
    _current_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork)
