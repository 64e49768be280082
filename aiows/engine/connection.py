"""The engine: one WebSocket connection driven on an asyncio transport.

:class:`Connection` is the transport's protocol.  Each read goes down once,
into the core's :class:`~aiows.core.protocol.ClientProtocol`, and what comes
back goes where it belongs: replies to the :class:`SendLane`, messages to
the :class:`Assembler`, pongs to the pings that wait for them.  It also
keeps the two timers of the closing handshake and starts the keepalive.

It knows nothing of aiohttp or websockets: a face (``aiows.faces``) turns
its state and its queue into one library's semantics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias

from ..core.errors import ExtensionFailed, TooManyPings
from ..core.messages import Event, MessageKinds, describe
from ..core.protocol import ClientProtocol, State
from . import pings
from .assembler import DEFAULT_MAX_QUEUE, AfterClose, Assembler
from .keepalive import Keepalive, KeepaliveSettings
from .reading import BACKLOG, QUEUE_FULL, WRITES_BACKED_UP, ReadGate, shared_read_buffer
from .sendlane import SCRATCH_FROM, SCRATCH_LIMIT, SendLane, scratch_for

logger: Final = logging.getLogger("aiows.client")

DEFAULT_CLOSE_TIMEOUT: Final = 10.0

# A string: LoggerAdapter is subscriptable only from Python 3.11 on.
Logger: TypeAlias = "logging.Logger | logging.LoggerAdapter[Any]"


class Sink(Protocol):
    """Where the connection puts what the protocol parsed."""

    def put(self, events: list[Event]) -> None:
        """Take the messages of one read, in order."""

    def closing_started(self) -> None:
        """The client's close frame went."""

    def end(self) -> None:
        """The transport is gone: nothing more will come."""


class ConnectionCore:
    """The part of :class:`Connection` every read and every send goes
    through: taking a read to the protocol, sending what it parsed where it
    belongs, and writing a message.

    A class of its own so that it compiles to a C class (its attributes
    are declared in ``connection.pxd``), which asyncio's
    ``BufferedProtocol``, a Python class, cannot be the base of;
    :class:`Connection` adds that base and the rest.
    """

    __slots__ = (
        "_debug",
        "_loop",
        "_read_buffer",
        "_reading_into",
        "_reply_timer",
        "keepalive",
        "lane",
        "logger",
        "protocol",
        "reading",
        "sink",
    )

    # Set by Connection.__init__.
    protocol: ClientProtocol
    lane: SendLane
    sink: Sink
    reading: ReadGate
    keepalive: Keepalive | None
    logger: Logger
    _loop: asyncio.AbstractEventLoop
    _debug: bool
    _read_buffer: memoryview
    _reading_into: bool
    _reply_timer: asyncio.TimerHandle | None

    # -- asyncio.BufferedProtocol ----------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        # A large binary message is read straight into its own storage (see
        # FrameParser.read_into): no copy from the shared buffer into it.
        view = self.protocol.receive_buffer()
        self._reading_into = view is not None
        return self._read_buffer if view is None else view

    def buffer_updated(self, nbytes: int) -> None:
        if self._reading_into:
            self._reading_into = False
            self._handle(self.protocol.receive_into(nbytes))
        else:
            self.data_received(self._read_buffer[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        """Take bytes from the server (a view of a reused buffer will do)."""
        self._handle(self.protocol.receive_data(data))

    def _handle(self, events: list[Event]) -> None:
        """Send what the protocol parsed of one read where it belongs."""
        keepalive = self.keepalive
        if keepalive is not None:
            keepalive.last_input = self._loop.time()
        lane = self.lane
        protocol = self.protocol
        lane.hold()
        try:
            if events:
                if self._debug:
                    for event in events:
                        self.logger.debug("< %s", describe(event))
                # Queued before the replies are written: a close reply makes
                # the queue drop data that comes after it, not before.
                self.sink.put(events)
            if protocol.outgoing:
                self._write_replies()
            if protocol.acknowledged:
                self._acknowledge()
            if protocol.reply_due and self._reply_timer is None:
                self._hold_reply()
        finally:
            wrote = lane.release()
        failed = protocol.reply_failed
        if failed is not None:
            # An extension could not encode the close frame this read made
            # the protocol send: the messages before it are queued, and the
            # connection ends.
            protocol.reply_failed = None
            self.extension_failed(failed)
            return
        if wrote and lane.paused:
            # What a read makes the client write respects backpressure too:
            # the automatic replies (a peer that floods pings and never
            # reads cannot grow the write buffer) and what a listener's
            # callbacks send.  Checked after release(), whose write() is
            # what may fill the buffer.
            self.reading.set(WRITES_BACKED_UP, True)
        if protocol.pending:
            # One read's compressed messages may inflate to many times
            # max_msg_size: the rest of the read waits, and the socket with
            # it, until the queue has room (see _parse_backlog).
            self.reading.set(BACKLOG, True)
        elif self.reading.reasons & BACKLOG:
            self.reading.set(BACKLOG, False)
            if self.reading.draining:
                # The connection was lost with bytes kept back: the last of
                # them is parsed, and the queue ends after its messages.
                self.reading.draining = False
                self.sink.end()

    if TYPE_CHECKING:
        # Connection's, called from _handle when a read needs them.  (Cython
        # compiles these as empty methods, which Connection's override.)
        def _write_replies(self) -> None: ...
        def _acknowledge(self) -> None: ...
        def _hold_reply(self) -> None: ...
        def extension_failed(self, exc: ExtensionFailed) -> None: ...

    # -- what the faces call -----------------------------------------------------

    def send_message(self, opcode: int, payload: Any, compress: bool = True) -> None:
        """Write a whole TEXT or BINARY message.

        Raises :class:`~aiows.core.errors.InvalidState` when the state
        forbids it; the face then waits with ``lane.drain()``.
        """
        size = len(payload)
        # scratch_for()'s own bounds, checked here as well so a small message
        # costs no call: 1-2% of the instructions per 256 B message
        # (benchmarks/engine_loop.py under callgrind).
        scratch = None
        if SCRATCH_FROM <= size <= SCRATCH_LIMIT:
            scratch = scratch_for(size)
        if scratch is None:
            self.lane.write(
                self.protocol.send_message(opcode, payload, compress=compress)
            )
            return
        frame = self.protocol.send_message(
            opcode, payload, compress=compress, into=scratch
        )
        if type(frame) is memoryview:
            self.lane.write_scratch(frame, scratch)
        else:  # it did not fit (compressed, it came out bigger)
            self.lane.write(frame)


class Connection(ConnectionCore, asyncio.BufferedProtocol):
    """An open client WebSocket on ``transport``, as the faces drive it.

    The session layer builds it once the opening handshake succeeded and
    installs it as the transport's protocol.  It is a buffered protocol
    (see :func:`shared_read_buffer`); :meth:`data_received` takes bytes
    too, such as those that came with the 101 response.
    """

    __slots__ = (
        "_close_timer",
        "_closed_error",
        "_keepalive_settings",
        "_reply_timeout",
        "_timeout_error",
        "assembler",
        "close_timed_out",
        "close_timeout",
        "closed",
        "exception",
        "expired",
        "finalizer",
        "latency",
        "on_lost",
        "transport",
    )

    def __init__(
        self,
        protocol: ClientProtocol,
        transport: asyncio.Transport,
        *,
        loop: asyncio.AbstractEventLoop,
        kinds: MessageKinds,
        max_queue: int | None = DEFAULT_MAX_QUEUE,
        after_close: AfterClose = AfterClose.DELIVER,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        reply_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        keepalive: KeepaliveSettings | None = None,
        closed_error: Callable[[], BaseException] = ConnectionResetError,
        # asyncio's: on Python 3.10 the built-in TimeoutError is another class.
        timeout_error: Callable[[], BaseException] = asyncio.TimeoutError,
        log: Logger = logger,
    ) -> None:
        #: The core state machine.
        self.protocol = protocol
        #: The transport; None once it is gone.
        self.transport: asyncio.Transport | None = transport
        self._loop = loop
        #: Where this connection logs.
        self.logger = log
        # Set once, like websockets: checking the level per frame costs.
        self._debug = log.isEnabledFor(logging.DEBUG)
        #: Frames on their way out.
        self.lane = SendLane(transport, loop, log if self._debug else None)
        #: Messages on their way to the application.
        self.assembler = Assembler(
            loop, kinds, self._queue_full, max_queue=max_queue, after_close=after_close
        )
        #: Why reading is paused, if it is.
        self.reading = ReadGate(transport, loop, self._parse_backlog)
        #: Where parsed messages go: the assembler, or a face's own sink
        #: (the listener API hands them to callbacks instead).
        self.sink: Sink = self.assembler
        # Where reads go: this thread's shared buffer, unless the protocol
        # offered a message's own (then _reading_into is set until the read
        # is reported).
        self._read_buffer = shared_read_buffer()
        self._reading_into = False
        #: How long the server has, once a close frame went, to finish the
        #: closing handshake and close TCP; then the transport is aborted.
        self.close_timeout = close_timeout
        self._close_timer: asyncio.TimerHandle | None = None
        #: Set when the closing handshake did not end within the close
        #: timeout and the transport was aborted (websockets' words).
        self.close_timed_out: asyncio.TimeoutError | None = None
        # How long a reply held back until the application reads up to it
        # (Policy.WHEN_READ) may wait for that.
        self._reply_timeout = reply_timeout
        self._reply_timer: asyncio.TimerHandle | None = None
        # Make the errors of pings the connection ends, and of a keepalive
        # that gave up, in the face's own classes.
        self._closed_error = closed_error
        self._timeout_error = timeout_error
        #: The error that ended the connection, if any.
        self.exception: BaseException | None = None
        #: Set when the keepalive gave up on a silent peer.
        self.expired = False
        #: Round-trip time of the last ping answered, in seconds.
        self.latency = 0.0
        #: Set when the transport is gone.
        self.closed: asyncio.Future[None] = loop.create_future()
        #: Called once the transport is gone (the session releases aiohttp's
        #: connection there).
        self.on_lost: Callable[[BaseException | None], None] | None = None
        #: Work that must finish after the transport is gone before the
        #: connection counts as closed (the session layer closing a private
        #: session); :meth:`wait_closed` waits for it too.
        self.finalizer: asyncio.Task[None] | None = None
        self._keepalive_settings = keepalive
        #: The keepalive timers, when a face asked for them.
        self.keepalive: Keepalive | None = None
        if keepalive is not None:
            self.keepalive = Keepalive(
                self,
                loop,
                interval=keepalive.interval,
                timeout=keepalive.timeout,
                any_input_is_alive=keepalive.any_input_is_alive,
                after_drain=keepalive.after_drain,
            )

    def adopt(self, *, writing_paused: bool) -> None:
        """Start from the state of a transport another protocol had until
        now (the session layer's hand-over): whether writing is paused, and
        reading paused exactly when this connection wants it to be."""
        if writing_paused:
            self.lane.pause()
        self.reading.sync()

    # -- asyncio.BufferedProtocol ----------------------------------------------

    def _parse_backlog(self) -> None:
        self.data_received(b"")

    def eof_received(self) -> bool:
        # Returning False lets asyncio close the transport: after the server
        # half-closes there is nothing more to read, and a client that closes
        # TCP after the server did is what RFC 6455 §7.1.1 asks for.
        return False

    def pause_writing(self) -> None:
        self.lane.pause()

    def resume_writing(self) -> None:
        self.lane.resume()
        if self.reading.reasons & WRITES_BACKED_UP:
            self.reading.set(WRITES_BACKED_UP, False)

    def connection_lost(self, exc: BaseException | None) -> None:
        protocol = self.protocol
        # Bytes the parser kept back (past a budget) came before the end:
        # their messages are still delivered, as the queue drains.  (The
        # end can come while they wait: aiohttp may have read the server's
        # EOF with the bytes after the 101, or TLS report it while reading
        # is paused.)
        backlog = protocol.pending
        if protocol.state is not State.CLOSED:
            protocol.connection_lost()
        if exc is not None and self.exception is None:
            self.exception = exc
        for timer in (self._close_timer, self._reply_timer):
            if timer is not None:
                timer.cancel()
        self._close_timer = self._reply_timer = None
        self.reading.detach(backlog=backlog)
        if self.keepalive is not None:
            self.keepalive.stop()
        self.lane.close()
        if not backlog:
            self.sink.end()
        pings.fail_all(protocol, self._closed_error)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            # Python 3.10's TLS transport does not count as closed when the
            # peer ends the connection (3.11 marks it so); unless it is
            # closed here it warns "unclosed transport" when collected.
            transport.close()
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        self.logger.debug("connection closed")
        if self.on_lost is not None:
            self.on_lost(exc)

    # -- reading flow control ----------------------------------------------------

    def _queue_full(self, full: bool) -> None:
        self.reading.set(QUEUE_FULL, full)

    @property
    def reading_paused(self) -> bool:
        """Whether the client stopped reading the transport."""
        return self.reading.paused

    # -- what the protocol decided ---------------------------------------------

    def write_replies(self) -> None:
        """Write the replies the protocol decided on so far (pongs), now."""
        if self.protocol.outgoing:
            self._write_replies()

    def _write_replies(self) -> None:
        lane = self.lane
        for frame in self.protocol.take_outgoing():
            lane.write(frame)
        if self.protocol.close_sent is not None:
            self._closing_started()

    def _acknowledge(self) -> None:
        now = self._loop.time()
        for waiter, sent_at in self.protocol.take_acknowledged():
            self.latency = now - sent_at
            if waiter is None:
                if self.keepalive is not None:
                    self.keepalive.pong()
            elif not waiter.done():
                waiter.set_result(self.latency)

    def _hold_reply(self) -> None:
        if self._reply_timeout is not None:
            self._reply_timer = self._loop.call_later(self._reply_timeout, self.answer)

    def answer(self) -> None:
        """Send the close reply or the failure the protocol held back, if any.

        A face calls it once the application has read up to the close or
        the error; the reply timer calls it when the application takes too
        long.
        """
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None
        try:
            frame = self.protocol.answer()
        except ExtensionFailed as exc:
            self.extension_failed(exc)
            return
        if frame:
            self.lane.write(frame)
            self._closing_started()

    def _closing_started(self) -> None:
        """A close frame went: bound the rest of the closing handshake."""
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None
        if self._close_timer is None and self.close_timeout is not None:
            self._close_timer = self._loop.call_later(
                self.close_timeout, self._close_expired
            )
        self.sink.closing_started()
        if self.protocol.failed and not self.lingering:
            self._linger()

    def _linger(self) -> None:
        """The connection failed (RFC 6455 §7.1.7) and its close frame went:
        half-close, and read and drop what the server still sends until it
        closes TCP, or the close timeout passes.

        Closing the socket now, with the server's data unread, would make
        the kernel answer with a reset, which can destroy the close frame
        before the server reads it: the server would never learn why.
        """
        self.reading.discard()
        self.lane.finish()

    @property
    def lingering(self) -> bool:
        """Whether the connection failed and now only drops what the server
        still sends, until it closes (see :meth:`_linger`)."""
        return self.reading.discarding

    def _close_expired(self) -> None:
        self._close_timer = None
        # asyncio's: the same class as the builtin from Python 3.11 on, and
        # the one websockets chains on 3.10.
        self.close_timed_out = asyncio.TimeoutError(
            "timed out while closing connection"
        )
        self.abort()

    # -- what the faces call -----------------------------------------------------

    @property
    def open(self) -> bool:
        """Whether the protocol is OPEN."""
        return self.protocol.state is State.OPEN

    def ping(self, payload: bytes) -> asyncio.Future[float]:
        """Send a ping; the future resolves to the round-trip time (see
        :func:`~aiows.engine.pings.start_ping`)."""
        frame, waiter = pings.start_ping(self.protocol, self._loop, payload)
        self.lane.write(frame)
        return waiter

    def unique_ping_payload(self) -> bytes:
        """Four random bytes no ping in flight uses."""
        return pings.unique_payload(self.protocol)

    def close(self, code: int | None = 1000, reason: str | bytes = "") -> None:
        """Start the closing handshake, or answer the server's close.

        Does nothing once a close frame went or the transport is gone.
        """
        protocol = self.protocol
        if protocol.close_sent is not None or protocol.state is State.CLOSED:
            return
        try:
            frame = protocol.send_close(code, reason)
        except ExtensionFailed as exc:
            self.extension_failed(exc)
            return
        self.lane.write(frame)
        self._closing_started()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection from the client's side (RFC 6455 §7.1.7)."""
        protocol = self.protocol
        if protocol.state is State.CLOSE_DONE or protocol.state is State.CLOSED:
            return
        try:
            frame = protocol.fail(code, reason)
        except ExtensionFailed as exc:
            self.extension_failed(exc)
            return
        if frame:
            self.lane.write(frame)
        self._closing_started()

    def close_transport(self) -> None:
        """Close the transport once what was written has gone out, and hand
        the socket back at once (the session frees the connector's slot
        now, as aiohttp's ``response.close()`` does, not a loop turn later).

        After a failure the transport stays until the server closes it (or
        the close timeout): see :meth:`_linger`.
        """
        if self.transport is not None:
            if not self.lingering:
                self.lane.flush()
                self.transport.close()
            on_lost, self.on_lost = self.on_lost, None
            if on_lost is not None:
                on_lost(None)

    def extension_failed(self, exc: ExtensionFailed) -> None:
        """An extension's ``encode`` raised something other than a protocol
        error on a frame this connection writes (a message, a ping, a close).

        As in websockets: logged as an internal error, and the connection
        ends at once without a close frame (the extension's state is
        unknown); the extension's exception is the cause of the error the
        application gets.
        """
        cause = exc.__cause__
        self.logger.error("unexpected internal error", exc_info=cause)
        if self.exception is None:
            self.exception = cause
        self.abort()

    def abort(self) -> None:
        """Drop the transport without a closing handshake."""
        if self.transport is not None:
            self.lane.flush()
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Wait until the transport is gone and the :attr:`finalizer` ran."""
        await asyncio.shield(self.closed)
        if self.finalizer is not None:
            await asyncio.shield(self.finalizer)

    # -- keepalive (the Pinger protocol) ---------------------------------------------

    def keepalive_ping(self) -> None:
        settings = self._keepalive_settings
        assert settings is not None
        try:
            frame = self.protocol.send_ping(
                settings.payload(), (None, self._loop.time())
            )
        except TooManyPings:
            return  # the application's pings are in flight: the peer is busy
        except ExtensionFailed as exc:
            self.extension_failed(exc)
            return
        self.lane.write(frame)

    def when_drained(self, callback: Callable[[], None]) -> None:
        self.lane.on_drained(callback)

    def keepalive_expired(self) -> None:
        settings = self._keepalive_settings
        assert settings is not None
        self.expired = True
        self.exception = self._timeout_error()
        self.logger.info("%s; closing", self.exception)
        if settings.close_code is None:
            self.abort()
        else:
            self.fail(settings.close_code, "keepalive ping timeout")
