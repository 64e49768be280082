"""The read role: whichever thread waits on a connection reads its socket.

The thread that needs something from the socket reads it: the
application's thread in ``recv()`` or ``close()`` takes the *read role*
(:attr:`ReadRole._reading`), has the I/O thread stop watching the socket,
polls and reads it itself, and hands the role back when it has what it
waited for.  No bytes change threads on the way to ``recv()``.  While no
application thread holds the role, the I/O thread (:mod:`aiows.sync.hub`)
does, whenever the socket has something: it takes the socket back over
:data:`~aiows.sync.hub.TAKE_OVER_AFTER` after an application thread last
read it.

Every read goes down once into the core's
:class:`~aiows.core.protocol.ClientProtocol`; what comes back is queued in
the :class:`~aiows.sync.messages.Inbox`, and replies (pongs, the answer to
a close, the close that fails the connection) are queued on the
:class:`~aiows.sync.transport.Transport` and written at once if the socket
takes them.

:class:`ReadRole` is the half of :class:`~aiows.sync.driver.Driver` that
does this; the driver holds the state it reads and writes.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from ..core.errors import ExtensionFailed
from ..core.messages import describe
from ..core.protocol import ClientProtocol
from . import hub
from .messages import Inbox
from .transport import Transport, remaining

T = TypeVar("T")

#: Bytes one read may take.
READ_SIZE: Final = 256 * 1024

# What a read finds when there is nothing to read for now.
_IDLE: Final = object()

_buffers = threading.local()


def _read_buffer() -> tuple[bytearray, memoryview]:
    """This thread's read buffer (the parser copies what it keeps)."""
    try:
        return _buffers.pair  # type: ignore[no-any-return]
    except AttributeError:
        buffer = bytearray(READ_SIZE)
        _buffers.pair = pair = (buffer, memoryview(buffer))
        return pair


class ReadRole:
    """Reading a connection's socket from whichever thread waits on it."""

    # What only reading changes (Driver.__init__ sets it).
    __slots__ = (
        "_armed",
        "_cond",
        "_deferred",
        "_left_at",
        "_poll",
        "_reader",
        "_reading",
        "_waiters",
        "failed",
    )

    def __init__(self, lock: threading.Lock) -> None:
        # Threads waiting for the inbox to empty, and how they are woken.
        self._cond = threading.Condition(lock)
        self._waiters = 0
        # Held by the one thread reading the socket (the read role), and
        # that thread's identity.
        self._reading = threading.Lock()
        self._reader: int | None = None
        # The read role's poll(), made on first use.
        self._poll: Any = None
        # Whether the I/O thread will deliver the socket's next event; and,
        # while an application thread reads it from time to time, when one
        # last did (the hub takes it over hub.TAKE_OVER_AFTER later).
        self._armed = False
        self._deferred = False
        self._left_at = 0.0
        #: Whether a close frame of the client failed the connection (then it
        #: half-closes).
        self.failed = False

    # The driver's state this half reads too.
    transport: Transport
    protocol: ClientProtocol
    inbox: Inbox
    lock: threading.Lock
    logger: logging.Logger | logging.LoggerAdapter[Any]
    closed: bool
    error: BaseException | None
    _debug: bool
    _hub: hub.Hub | None
    _write_limit: int
    _broken: bool
    _closing: bool

    if TYPE_CHECKING:
        # The driver's, called from here.
        def _lost(self, exc: BaseException | None) -> None: ...
        def _flush_nowait(self) -> None: ...
        def _note_broken(self, exc: BaseException) -> None: ...
        def _closing_started(self) -> None: ...
        def _acknowledge(self) -> None: ...
        def _reply_failed(self, exc: ExtensionFailed) -> None: ...

    # -- waiting --------------------------------------------------------------

    def wait(
        self,
        check: Callable[[], T | None],
        deadline: float | None,
        *,
        reading: bool = False,
    ) -> T | None:
        """Call ``check()`` (under the lock) until it returns something,
        reading the socket meanwhile; None once ``deadline`` passed.

        ``check`` must return something once the connection is closed.
        ``reading``: the caller holds the read role already (it took it
        under the lock, right after ``check()`` gave None).  While another
        thread reads, this one waits for the role.  Called again by the
        thread that reads (a signal handler interrupting ``recv()``), it
        only checks: that read goes on once it returns.
        """
        lock = self.lock
        if self._reader == threading.get_ident():
            with lock:
                return check()
        while True:
            if not reading:
                with lock:
                    result = check()
                if result is not None:
                    return result
                timeout = remaining(deadline)
                if not self._reading.acquire(
                    timeout=-1 if timeout is None else timeout
                ):
                    with lock:
                        return check()
            self._reader = threading.get_ident()
            try:
                result = self._read_until(check, deadline, reading)
            finally:
                self._leave_reading(defer=True)
            reading = False
            if result is _IDLE:
                self._idle(check, deadline)
            elif result is not None:
                return cast(T, result)
            if deadline is not None and time.monotonic() >= deadline:
                with lock:
                    return check()

    def _idle(self, check: Callable[[], Any], deadline: float | None) -> None:
        """Nothing to read for now (the inbox is full): wait to be told."""
        with self.lock:
            if check() is not None or self._can_progress():
                return
            self._waiters += 1
            try:
                self._cond.wait(remaining(deadline))
            finally:
                self._waiters -= 1

    def _can_progress(self) -> bool:
        """Whether a reader has something to do: read, or write a backlog."""
        return not self.closed and (self._should_read() or self._backlog())

    def try_reading(self) -> bool:
        """Take the read role if it is free (call it holding the lock)."""
        return not self.closed and self._reading.acquire(False)

    def _read_until(
        self, check: Callable[[], T | None], deadline: float | None, checked: bool
    ) -> Any:
        """Read (holding the role; ``checked``: ``check()`` just gave None)
        until it gives something, or the deadline passes (None), or there
        is nothing to read for now (:data:`_IDLE`)."""
        transport = self.transport
        protocol = self.protocol
        inbox = self.inbox
        lock = self.lock
        if self._armed:
            self._armed = False
            assert self._hub is not None
            self._hub.arm(transport.fd, 0)
        try:
            buffer, view = _buffers.pair
        except AttributeError:
            buffer, view = _read_buffer()
        limit = self._write_limit
        plain = not transport.layers
        recv_into = transport.sock.recv_into
        poll = self._poll or self._readable_poll()
        if not checked:
            with lock:
                result = check()
            if result is not None:
                return result
        while True:
            if self._broken:
                self._lost(None)
            out = transport.out
            read = (
                not inbox.paused
                and not self.closed
                and (not out or transport.out_bytes <= limit)
            )
            write = bool(out) and not transport.write_lock.locked()
            if not read and not write:
                with lock:
                    result = check()
                return _IDLE if result is None else result
            if write or not plain or protocol.pending:
                # The rare cases: a backlog to write, TLS, bytes the parser
                # kept back.
                if not (read and (protocol.pending or transport.pending)):
                    ready = transport.wait_ready(remaining(deadline), read, write)
                    if not ready and deadline is not None:
                        return None
                if write:
                    self._flush_nowait()
                if read:
                    self._read_once(buffer, view)
                with lock:
                    result = check()
                if result is not None:
                    return result
                if deadline is not None and time.monotonic() >= deadline:
                    return None  # however busy the socket (a ping flood)
                continue
            # The common case: wait for the socket, read it, parse.
            if deadline is None:
                ready = poll()
            else:
                ready = poll(max(0, int((deadline - time.monotonic()) * 1000 + 0.999)))
                if not ready:
                    return None
            if not ready:
                continue
            target = protocol.receive_buffer()
            try:
                n = recv_into(buffer if target is None else target)
            except BlockingIOError:
                continue
            except OSError as exc:
                self._lost(exc)
                n = 0
            if not n:
                self._lost(None)
                with lock:
                    return check()
            with lock:
                if target is None:
                    self._handle(protocol.receive_data(view[:n]))
                else:
                    self._handle(protocol.receive_into(n))
                result = check()
            if transport.out:
                self._flush_nowait()
            if result is not None:
                return result
            if deadline is not None and time.monotonic() >= deadline:
                return None  # however busy the socket (a ping flood)

    def _readable_poll(self) -> Any:
        """``poll()`` of a poll object on the socket for readability, for the
        read role (made on first use: an idle connection has none)."""
        if not hasattr(select, "poll"):  # pragma: no cover - Windows
            transport = self.transport

            def poll(ms: int | None = None) -> bool:
                return transport.wait_readable(None if ms is None else ms / 1000)

            self._poll = poll
            return poll
        waiter = select.poll()
        waiter.register(self.transport.fd, select.POLLIN)
        self._poll = waiter.poll
        return waiter.poll

    def _leave_reading(self, *, defer: bool = False) -> None:
        """Hand the read role back; with ``defer`` (an application thread
        that may well read again soon), the hub takes the socket over only
        once that thread has been gone a while (see hub.TAKE_OVER_AFTER)."""
        self._reader = None
        self._reading.release()
        # Threads waiting for the role block on it; those waiting for the
        # inbox to empty are told by resume() or the end.
        if defer and not self._closing and not self.transport.out:
            self._left_at = time.monotonic()
            if self._deferred:
                return  # the hub's sweep sees _left_at
            self._deferred = True
            if self._hub is not None:
                self._hub.defer(self)
        else:
            self._rearm()

    def take_over(self, now: float) -> bool:
        """The hub's sweep: watch the socket again if no thread has read it
        for hub.TAKE_OVER_AFTER (True), or not yet (False)."""
        with self.lock:
            if not self._deferred or self.closed:
                self._deferred = False
                return True
            if self._reading.locked() or now - self._left_at < hub.TAKE_OVER_AFTER:
                return False
            self._deferred = False
            self._rearm()
        return True

    def _rearm(self) -> None:
        """Have the I/O thread watch the socket for what it must do next."""
        hub_ = self._hub
        if self.closed or hub_ is None:
            return
        self._deferred = False
        transport = self.transport
        events = 0
        if not self.inbox.paused and transport.out_bytes <= self._write_limit:
            events = hub.READ
        if transport.out and not transport.write_lock.locked():
            events |= hub.WRITE
        if events:
            self._armed = True
            hub_.arm(transport.fd, events)
            if events & hub.READ and (self.protocol.pending or transport.pending):
                # The parser (past its budget of pieces or of inflated
                # bytes) or TLS holds bytes the socket will not announce:
                # a ping or the server's close may wait among them.
                hub_.call_later(0, self._on_held)

    def _should_read(self) -> bool:
        return (
            not self.inbox.paused
            and self.transport.out_bytes <= self._write_limit
            and not self.closed
        )

    def _backlog(self) -> bool:
        transport = self.transport
        return bool(transport.out) and not transport.write_lock.locked()

    def _on_backlog(self) -> None:
        # A write that could not wait left bytes: make sure the I/O thread
        # writes them if no thread is reading (a reader polls for it).
        if not self._reading.locked():
            self._rearm()

    def resume(self) -> None:
        """The inbox was full and is not any more (the application read it,
        or a backlog was written): read again."""
        with self.lock:
            if self._waiters:
                self._cond.notify_all()
        if not self._reading.locked():
            self._rearm()

    # -- the I/O thread -------------------------------------------------------

    def _on_event(self, events: int) -> None:
        self._armed = False
        if not self._reading.acquire(False):
            return  # an application thread reads; it re-arms when done
        try:
            if self.closed:
                return
            if events & hub.WRITE:
                self._flush_nowait()
            if events & hub.READ and self._should_read():
                buffer, view = _read_buffer()
                self._read_once(buffer, view)
                # TLS may hold more than the socket shows; so may the parser.
                while (
                    self.transport.pending or self.protocol.pending
                ) and self._should_read():
                    self._read_once(buffer, view)
            if self._broken:
                self._lost(None)
        finally:
            self._leave_reading()

    def _on_held(self) -> None:
        """The I/O thread goes on with what the parser or TLS held back."""
        self._on_event(hub.READ)

    # -- reading (holding the role) -------------------------------------------

    def _read_once(self, buffer: bytearray, view: memoryview) -> None:
        protocol = self.protocol
        if protocol.pending:
            # The parser kept bytes back (its inflate budget ran out): go on.
            with self.lock:
                self._handle(protocol.receive_data(b""))
            self._flush_nowait()
            return
        target = protocol.receive_buffer()
        try:
            n = self.transport.read_into(buffer if target is None else target)
        except OSError as exc:
            self._lost(exc)
            return
        if n is None:
            return
        if n == 0:
            self._lost(None)
            return
        with self.lock:
            if target is None:
                self._handle(protocol.receive_data(view[:n]))
            else:
                self._handle(protocol.receive_into(n))
        if self.transport.out:
            self._flush_nowait()

    def _handle(self, events: list[Any]) -> None:
        """Send what the protocol parsed where it belongs (under the lock)."""
        protocol = self.protocol
        if events:
            if self._debug:
                for event in events:
                    self.logger.debug("< %s", describe(event))
            self.inbox.put(events)
        if protocol.outgoing:
            for frame in protocol.take_outgoing():
                self.transport.enqueue(frame)
            if protocol.failure is not None:
                self.failed = True
            if protocol.close_sent is not None:
                self._closing_started()
        if protocol.acknowledged:
            self._acknowledge()
        failed = protocol.reply_failed
        if failed is not None:
            # An extension could not encode the close frame this read made
            # the protocol send: the messages before it are in the inbox,
            # and the connection ends.
            protocol.reply_failed = None
            self._reply_failed(failed)
        if self._waiters:
            self._cond.notify_all()
