"""One open WebSocket connection, driven on an asyncio transport.

:class:`WebSocketConnection` feeds the transport's bytes to the core's
:class:`~aiows.core.parser.FrameParser`, answers pings the moment they
arrive, queues messages for the application, completes the closing
handshake, keeps the connection alive, and applies backpressure both ways.
It offers aiohttp's API (``receive()``, ``send_str()``, ...) and the
websockets API (``recv()``, ``send()``, ...) on the same object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict, deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from ..core.errors import MessageTooBig
from ..core.frames import (
    MAX_CLOSE_REASON,
    NO_STATUS_RECEIVED,
    Close,
    Opcode,
    WSCloseCode,
)
from ..core.messages import WS_CLOSED_MESSAGE, Fragment, WSMessage, WSMsgType
from ..core.parser import FrameParser
from ..core.writer import FrameWriter
from ..exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    PayloadTooBig,
    PongTimeout,
    ProtocolError,
)
from .state import State, check_transition

logger: Final = logging.getLogger("aiows.client")

#: Unread messages queued before the transport stops reading (websockets'
#: ``max_queue`` default).
DEFAULT_MAX_QUEUE: Final = 16
DEFAULT_CLOSE_TIMEOUT: Final = 10.0
# Frames gathered in one event-loop iteration are handed to the transport
# once they add up to this much (asyncio's default write high-water mark).
_CORK_LIMIT: Final = 64 * 1024

_TEXT: Final = WSMsgType.TEXT
_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)
_BINARY: Final = WSMsgType.BINARY
_PING: Final = WSMsgType.PING
_PONG: Final = WSMsgType.PONG
# Close codes after which iteration ends quietly (websockets' rule).
_OK_CODES: Final = frozenset(
    {WSCloseCode.OK, WSCloseCode.GOING_AWAY, NO_STATUS_RECEIVED}
)

Data = str | bytes | bytearray | memoryview


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


class WebSocketConnection:
    """An open client WebSocket connection.

    Created by the session layer once the opening handshake succeeded; use
    :func:`aiows.ws_connect` or :meth:`aiows.ClientSession.ws_connect` to get
    one.
    """

    # Slots, not a __dict__: a third less memory per idle connection.
    __slots__ = (
        "_autoclose",
        "_autoping",
        "_client_notakeover",
        "_close_code",
        "_close_rcvd",
        "_close_rcvd_then_sent",
        "_close_sent",
        "_close_timeout",
        "_close_timer",
        "_closed_waiter",
        "_compress",
        "_corked",
        "_corked_size",
        "_discarding",
        "_drain_waiter",
        "_exception",
        "_fragmenting",
        "_heartbeat",
        "_heartbeat_timer",
        "_last_received",
        "_loop",
        "_max_queue",
        "_parser",
        "_partial",
        "_ping_timeout",
        "_pings",
        "_queue",
        "_reading_paused",
        "_receive_timeout",
        "_resume_at",
        "_state",
        "_stream_id",
        "_streaming",
        "_subprotocol",
        "_transport",
        "_waiter",
        "_writer",
        "_writing_paused",
        "iterate_data",
        "latency",
        "logger",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        parser: FrameParser,
        writer: FrameWriter,
        *,
        loop: asyncio.AbstractEventLoop,
        subprotocol: str | None = None,
        compress: int = 0,
        client_notakeover: bool = False,
        autoclose: bool = True,
        autoping: bool = True,
        heartbeat: float | None = None,
        ping_timeout: float | None = None,
        receive_timeout: float | None = None,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        max_queue: int | None = DEFAULT_MAX_QUEUE,
    ) -> None:
        self._transport = transport
        self._parser = parser
        self._writer = writer
        self._loop = loop
        # What the handshake agreed on; fixed for the connection's life.
        self._subprotocol = subprotocol
        self._compress = compress
        self._client_notakeover = client_notakeover
        # aiohttp's switches for handling control frames automatically.
        self._autoclose = autoclose
        self._autoping = autoping
        # Default timeouts of receive() and of the closing handshake.
        self._receive_timeout = receive_timeout
        self._close_timeout = close_timeout

        #: Where this connection logs (websockets' ``logger=`` option).
        self.logger: logging.Logger | logging.LoggerAdapter[Any] = logger
        # OPEN -> CLOSING -> CLOSED; see state.py for the table.
        self._state = State.OPEN
        # Close frames received and sent, and which came first.
        self._close_rcvd: Close | None = None
        self._close_sent: Close | None = None
        self._close_rcvd_then_sent: bool | None = None
        # aiohttp's close_code: the code received, or the code of the error
        # that failed the connection, or 1006; None while open.
        self._close_code: int | None = None
        # The error that ended the connection, for exception().
        self._exception: BaseException | None = None
        # Set when the transport is gone; close() and wait_closed() wait on it.
        self._closed_waiter: asyncio.Future[None] = loop.create_future()
        # Aborts the transport if the server does not close it in time.
        self._close_timer: asyncio.TimerHandle | None = None

        # Messages not yet read, the receive() waiting for one, and whether
        # reading is paused because the queue reached max_queue.
        self._queue: deque[WSMessage | Fragment] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._max_queue = max_queue
        self._resume_at = 0 if max_queue is None else max_queue // 4
        self._reading_paused = False
        # Fragments of a message receive() is assembling (kept here so a
        # cancelled receive() loses nothing); whether recv_streaming() is
        # reading; whether the rest of an abandoned streamed message is
        # being skipped.
        self._partial: list[Any] = []
        self._streaming = False
        self._stream_id = 0
        self._discarding = False
        #: websockets-style iteration: ``async for`` yields str/bytes and
        #: raises ConnectionClosedError on an abnormal close.
        self.iterate_data = False

        # Write-side flow control: set by pause_writing, cleared on resume.
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        # Frames gathered after the first write of an event-loop iteration,
        # sent together when the loop comes round (None: nothing gathered,
        # the next write goes out at once); and their total size.
        self._corked: list[bytes] | None = None
        self._corked_size = 0
        # Set while a fragmented message is being sent, so other sends wait
        # instead of interleaving frames.
        self._fragmenting: asyncio.Future[None] | None = None

        # Pings awaiting a pong, oldest first: payload -> (waiter, sent at).
        self._pings: OrderedDict[bytes, tuple[asyncio.Future[float], float]] = (
            OrderedDict()
        )
        #: Round-trip time of the last ping answered, in seconds.
        self.latency = 0.0

        # Keepalive: send a ping after `heartbeat` seconds without input and
        # give up `ping_timeout` seconds later (aiohttp: heartbeat / 2).
        self._heartbeat = heartbeat
        self._ping_timeout = (
            ping_timeout
            if ping_timeout is not None
            else (heartbeat / 2 if heartbeat else None)
        )
        self._last_received = loop.time()
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        if heartbeat:
            self._heartbeat_timer = loop.call_later(heartbeat, self._on_heartbeat)

    # ------------------------------------------------------------------
    # Properties (aiohttp names first, then websockets names)

    @property
    def closed(self) -> bool:
        """True once closing has begun: a close frame went either way, or the
        connection failed or was lost."""
        return self._state is not State.OPEN

    @property
    def close_code(self) -> int | None:
        """The close code, as aiohttp reports it; None while open.

        The code the server sent, the code aiows sent when it failed the
        connection, 1005 for a close frame without a code, or 1006 when the
        connection ended with no close frame at all.
        """
        return self._close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason the server sent; None while open."""
        if self._close_rcvd is not None:
            return self._close_rcvd.reason
        return None if self._state is State.OPEN else ""

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server selected, if any (aiohttp's name)."""
        return self._subprotocol

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected, if any (websockets' name)."""
        return self._subprotocol

    @property
    def compress(self) -> int:
        """The negotiated ``server_max_window_bits``, or 0 with no compression."""
        return self._compress

    @property
    def client_notakeover(self) -> bool:
        """Whether the server asked the client not to keep compression context."""
        return self._client_notakeover

    @property
    def local_address(self) -> Any:
        """The local socket address (``sockname``)."""
        return self._transport.get_extra_info("sockname")

    @property
    def remote_address(self) -> Any:
        """The server's socket address (``peername``)."""
        return self._transport.get_extra_info("peername")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information, as ``asyncio.BaseTransport.get_extra_info``."""
        return self._transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The error that ended the connection, if any."""
        return self._exception

    # ------------------------------------------------------------------
    # Receiving

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message, waiting for one if none is queued.

        Returns at once, without suspending, when a message is already
        queued.  After the connection ends it returns a CLOSED message (an
        ERROR message first if the connection failed).  ``timeout`` (or
        ``ClientWSTimeout.ws_receive``) raises ``asyncio.TimeoutError`` and
        leaves the connection open.  Cancelling it never loses a message.
        """
        queue = self._queue
        if queue and not self._partial and not self._streaming:
            # Fast path: a whole message is ready.
            first = queue.popleft()
            if self._reading_paused and len(queue) <= self._resume_at:
                self._resume_reading()
            if type(first) is WSMessage:
                return first
            queue.appendleft(first)
        if self._streaming:
            self._abandon_stream()
        if timeout is None:
            timeout = self._receive_timeout
        deadline = None if timeout is None else self._loop.time() + timeout
        partial = self._partial
        while True:
            item = await self._next_item(deadline)
            if item is None:
                partial.clear()
                return WS_CLOSED_MESSAGE
            if type(item) is Fragment:
                if self._discarding:
                    self._discarding = not item.fin
                    continue
                partial.append(item.data)
                if not item.fin:
                    continue
                data = (
                    "".join(partial)
                    if isinstance(item.data, str)
                    else b"".join(partial)
                )
                partial.clear()
                return WSMessage(item.type, data, None)
            assert type(item) is WSMessage
            if item.type is WSMsgType.CLOSE or item.type is WSMsgType.ERROR:
                # The fragmented message in progress can never complete.
                partial.clear()
            return item

    async def _next_item(self, deadline: float | None) -> WSMessage | Fragment | None:
        """Pop the next queued item, waiting until ``deadline``; None once closed."""
        queue = self._queue
        while not queue:
            if self._state is State.CLOSED:
                return None
            if self._waiter is not None:
                raise ConcurrencyError(
                    "another task is already waiting for a message; "
                    "read from one task only"
                )
            waiter = self._waiter = self._loop.create_future()
            timer = (
                None
                if deadline is None
                else self._loop.call_at(deadline, _expire, waiter)
            )
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        item = queue.popleft()
        if self._reading_paused and len(queue) <= self._resume_at:
            self._resume_reading()
        return item

    def _abandon_stream(self) -> None:
        """Let a new read take over from a recv_streaming() left mid-message.

        Called only when the stream is not waiting (a waiting one makes the
        new read raise ConcurrencyError instead): the consumer broke out of
        its loop, so the rest of that message is skipped.
        """
        if self._waiter is not None:
            raise ConcurrencyError("another task is already waiting for a message")
        self._streaming = False
        self._stream_id += 1
        self._discarding = True

    def _sync_reading(self) -> None:
        """Make the transport's reading state match the queue's bound again."""
        if self._reading_paused:
            self._transport.pause_reading()

    def _resume_reading(self) -> None:
        self._reading_paused = False
        self._transport.resume_reading()

    async def recv_streaming(self) -> AsyncIterator[str | bytes]:
        """Yield the next data message piece by piece, as its frames arrive.

        A message sent in several frames is never held whole: each frame's
        data is yielded as soon as it is complete (``str`` for text).  A
        message sent in one frame is yielded in one piece.  Raises
        :class:`ConnectionClosed` like :meth:`recv`.  Leaving the loop early
        and reading again skips the rest of the message.
        """
        if self._streaming:
            self._abandon_stream()
        if self._waiter is not None:
            raise ConcurrencyError("another task is already waiting for a message")
        self._stream_id += 1
        stream_id = self._stream_id
        self._streaming = True
        try:
            # Pieces a cancelled receive() had already taken come first.
            partial, self._partial = self._partial, []
            for piece in partial:
                yield piece
            while True:
                if self._stream_id != stream_id:
                    raise ConcurrencyError(
                        "another read took over; the rest of this message was skipped"
                    )
                item = await self._next_item(None)
                if item is None:
                    raise self._closed_error()
                if type(item) is Fragment:
                    if self._discarding:
                        self._discarding = not item.fin
                        continue
                    yield item.data
                    if item.fin:
                        return
                elif item.type is _TEXT or item.type is _BINARY:
                    yield item.data
                    return
                elif item.type is not _PING and item.type is not _PONG:
                    raise self._closed_error()
        finally:
            if self._stream_id == stream_id:
                self._streaming = False

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT."""
        msg = await self.receive(timeout)
        if msg.type is not _TEXT:
            raise TypeError(f"received {msg.type.name} message, expected TEXT")
        return msg.data  # type: ignore[no-any-return]

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY."""
        msg = await self.receive(timeout)
        if msg.type is not _BINARY:
            raise TypeError(f"received {msg.type.name} message, expected BINARY")
        return msg.data  # type: ignore[no-any-return]

    async def receive_json(
        self,
        *,
        loads: Callable[[Any], Any] = json.loads,
        timeout: float | None = None,
    ) -> Any:
        """The next TEXT message, decoded as JSON with ``loads``."""
        return loads(await self.receive_str(timeout=timeout))

    async def recv(self) -> str | bytes:
        """The next data message: ``str`` for text, ``bytes`` for binary.

        The websockets-style read.  Raises :class:`ConnectionClosedOK` or
        :class:`ConnectionClosedError` once the connection is closed; safe to
        cancel (the message stays queued for the next call).
        """
        while True:
            msg = await self.receive()
            if msg.type is _TEXT or msg.type is _BINARY:
                return msg.data  # type: ignore[no-any-return]
            if msg.type is _PING or msg.type is _PONG:
                continue
            raise self._closed_error()

    def __aiter__(self) -> WebSocketConnection:
        return self

    async def __anext__(self) -> Any:
        if self.iterate_data:
            try:
                return await self.recv()
            except ConnectionClosedOK:
                raise StopAsyncIteration from None
        msg = await self.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg

    # ------------------------------------------------------------------
    # Sending

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message."""
        if not isinstance(data, str):
            raise TypeError(f"send_str() takes str, not {type(data).__name__}")
        if self._state is State.OPEN and self._fragmenting is None:
            # Fast path: nothing to wait for before writing.
            self._write(
                self._writer.message(_TEXT_OP, data.encode(), compress=compress != 0)
            )
            if self._writing_paused:
                await self._drain_if_paused()
            return
        await self._send_message(_TEXT_OP, data.encode(), compress)

    async def send_bytes(
        self, data: bytes | bytearray | memoryview, compress: int | None = None
    ) -> None:
        """Send a BINARY message."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"send_bytes() takes bytes, bytearray or memoryview, "
                f"not {type(data).__name__}"
            )
        if self._state is State.OPEN and self._fragmenting is None:
            # Fast path: nothing to wait for before writing.
            self._write(self._writer.message(_BINARY_OP, data, compress=compress != 0))
            if self._writing_paused:
                await self._drain_if_paused()
            return
        await self._send_message(_BINARY_OP, data, compress)

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``data`` encoded with ``dumps`` as a TEXT message."""
        await self.send_str(dumps(data), compress)

    async def send_frame(
        self,
        message: bytes | bytearray | memoryview,
        opcode: int,
        compress: int | None = None,
    ) -> None:
        """Send one whole frame with ``opcode`` (aiohttp's low-level send)."""
        if opcode in (Opcode.PING, Opcode.PONG, Opcode.CLOSE):
            self._check_writable()
            self._write(self._writer.control(opcode, message))
            await self._drain_if_paused()
        else:
            await self._send_message(opcode, message, compress)

    async def send(
        self,
        message: Data | Iterable[Data] | AsyncIterable[Data],
    ) -> None:
        """Send a message, websockets-style.

        ``str`` goes as TEXT and bytes-like as BINARY.  An iterable or async
        iterable of them goes as one fragmented message, one frame per item;
        its items must be all ``str`` or all bytes-like.
        """
        if isinstance(message, str):
            await self._send_message(Opcode.TEXT, message.encode("utf-8"), None)
        elif isinstance(message, (bytes, bytearray, memoryview)):
            await self._send_message(Opcode.BINARY, message, None)
        elif isinstance(message, Mapping):
            raise TypeError(
                "send() does not take a dict or other mapping: use send_json() "
                "to send it as JSON"
            )
        elif isinstance(message, Iterable):
            await self._send_fragments(_aiter_sync(message))
        elif isinstance(message, AsyncIterable):
            await self._send_fragments(message.__aiter__())
        else:
            raise TypeError(
                f"send() takes str, bytes-like, or an iterable of them, "
                f"not {type(message).__name__}"
            )

    async def ping(self, message: bytes | str | None = None) -> asyncio.Future[float]:
        """Send a ping; return a future that resolves to the round-trip time.

        With no ``message`` a unique 4-byte payload is used.  Awaiting the
        future waits for the matching pong (or any later one: RFC 6455 lets
        a pong acknowledge earlier pings).  aiohttp-style callers may simply
        ignore it.  Two outstanding pings with the same payload raise
        :class:`ConcurrencyError`.
        """
        if message is None:
            payload = os.urandom(4)
            while payload in self._pings:  # pragma: no cover - 1 in 2**32
                payload = os.urandom(4)
        else:
            payload = (
                message.encode("utf-8") if isinstance(message, str) else bytes(message)
            )
            if payload in self._pings:
                raise ConcurrencyError(
                    f"a ping with payload {payload!r} is already waiting for its pong"
                )
        self._check_writable()
        frame = self._writer.control(Opcode.PING, payload)
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = (waiter, self._loop.time())
        self._write(frame)
        await self._drain_if_paused()
        return waiter

    async def pong(self, message: bytes | str = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3)."""
        payload = message.encode("utf-8") if isinstance(message, str) else message
        self._check_writable()
        self._write(self._writer.control(Opcode.PONG, payload))
        await self._drain_if_paused()

    async def _send_message(
        self, opcode: int, payload: bytes | bytearray | memoryview, compress: int | None
    ) -> None:
        while self._fragmenting is not None:
            await asyncio.shield(self._fragmenting)
        self._check_writable()
        self._write(self._writer.message(opcode, payload, compress=compress != 0))
        await self._drain_if_paused()

    async def _send_fragments(self, fragments: AsyncIterator[Data]) -> None:
        while self._fragmenting is not None:
            await asyncio.shield(self._fragmenting)
        self._check_writable()
        try:
            first = await fragments.__anext__()
        except StopAsyncIteration:
            return
        text = isinstance(first, str)
        opcode = Opcode.TEXT if text else Opcode.BINARY
        busy = self._fragmenting = self._loop.create_future()
        sent_first = False
        try:
            current = first
            while True:
                try:
                    following: Data | None = await fragments.__anext__()
                except StopAsyncIteration:
                    following = None
                if isinstance(current, str) is not text or not isinstance(
                    current, (str, bytes, bytearray, memoryview)
                ):
                    raise TypeError(
                        "a fragmented message must be all str or all bytes-like; "
                        f"got {type(current).__name__} after "
                        f"{type(first).__name__}"
                    )
                payload = (
                    current.encode("utf-8") if isinstance(current, str) else current
                )
                self._check_writable()
                self._write(
                    self._writer.fragment(
                        opcode, payload, first=not sent_first, fin=following is None
                    )
                )
                sent_first = True
                await self._drain_if_paused()
                if following is None:
                    return
                current = following
        except BaseException as exc:
            if sent_first and self._state is State.OPEN:
                # The message is half sent; finishing it is impossible and
                # starting another would corrupt the stream (RFC 6455 §5.4).
                self._fail(
                    WSCloseCode.INTERNAL_ERROR, "fragmented send interrupted", exc
                )
            elif isinstance(exc, TypeError) and self._state is State.OPEN:
                self._fail(
                    WSCloseCode.INTERNAL_ERROR, "invalid fragmented message", exc
                )
            raise
        finally:
            self._fragmenting = None
            busy.set_result(None)

    def _check_writable(self) -> None:
        if self._state is not State.OPEN:
            raise self._closed_error()

    def _write(self, frame: bytes) -> None:
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "> frame opcode=%#x length=%d", frame[0] & 0x0F, len(frame)
            )
        corked = self._corked
        if corked is None:
            # The first write of this event-loop iteration goes out at once,
            # so a lone message waits for nothing.  Writes that follow in the
            # same iteration (a burst from one task, pongs for a batch of
            # pings) are gathered and sent with one write(): one system call
            # instead of one per frame.  Measured with benchmarks/: 0.9-1.3 µs
            # less client CPU per message in the pipelined scenarios (64 B:
            # 6.9 -> 5.7 µs on asyncio), ping-pong unchanged.
            self._transport.write(frame)
            self._corked = []
            self._loop.call_soon(self._uncork)
        else:
            corked.append(frame)
            self._corked_size += len(frame)
            if self._corked_size >= _CORK_LIMIT:
                # Large bursts reach the transport now, so its high-water
                # mark, and so backpressure, still applies.
                self._flush_corked(corked)

    def _flush_corked(self, corked: list[bytes]) -> None:
        self._corked = []
        self._corked_size = 0
        if self._state is not State.CLOSED:
            self._transport.write(corked[0] if len(corked) == 1 else b"".join(corked))

    def _uncork(self) -> None:
        corked = self._corked
        self._corked = None
        if corked:
            self._flush_corked(corked)
            self._corked = None

    async def _drain_if_paused(self) -> None:
        if not self._writing_paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await asyncio.shield(waiter)
        if self._state is State.CLOSED:
            # Woken by connection_lost, not by the buffer draining: what was
            # written may never have left.
            raise self._closed_error()

    def _pause_writing(self) -> None:
        self._writing_paused = True

    def _resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------
    # Closing

    async def close(
        self,
        code: int = WSCloseCode.OK,
        reason: str | bytes = "",
        *,
        message: bytes | str | None = None,
    ) -> bool:
        """Perform the closing handshake and wait for the connection to end.

        Accepts aiohttp's ``close(code=..., message=b"...")`` and websockets'
        ``close(code, reason)``.  Waits up to ``ws_close`` for the server's
        close frame and for it to close TCP, discarding incoming data, then
        aborts.  Returns True if this call closed the connection, False if it
        was already closed.  Safe to call more than once and from any task.
        """
        if self._state is State.CLOSED:
            return False
        if message is not None:
            reason = message
        if self._close_sent is None and not self._transport.is_closing():
            self._send_close(code, reason)
        await asyncio.shield(self._closed_waiter)
        return True

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (websockets' name)."""
        await asyncio.shield(self._closed_waiter)

    async def __aenter__(self) -> WebSocketConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _send_close(self, code: int | None, reason: str | bytes = "") -> None:
        """Send a close frame, enter CLOSING and start the close timer."""
        frame = self._writer.close(code, reason)
        raw_reason = reason.decode("utf-8") if isinstance(reason, bytes) else reason
        self._close_sent = Close(
            NO_STATUS_RECEIVED if code is None else code, raw_reason
        )
        if self._close_rcvd is not None and self._close_rcvd_then_sent is None:
            self._close_rcvd_then_sent = True
        elif self._close_rcvd is None:
            self._close_rcvd_then_sent = False
        self._write(frame)
        if self._state is State.OPEN:
            self._set_state(State.CLOSING)
        if self._reading_paused:
            # The server's close frame must get through; what arrives now is
            # discarded, so the queue cannot grow.
            self._resume_reading()
        self._start_close_timer()

    def _start_close_timer(self) -> None:
        if self._close_timer is None and self._close_timeout is not None:
            self._close_timer = self._loop.call_later(
                self._close_timeout, self._transport.abort
            )

    def _fail(self, code: int, reason: str, exc: BaseException) -> None:
        """Fail the connection (RFC 6455 §7.1.7): report, send close, drain."""
        if self._state is not State.OPEN:
            return
        self.logger.debug("failing connection with %d: %s", code, reason)
        self._exception = exc
        self._close_code = code
        self._queue.append(WSMessage(WSMsgType.ERROR, exc, None))
        self._wake_reader()
        # A close reason holds 123 bytes; cut by bytes, not characters, and
        # never inside a character.
        raw = reason.encode()[:MAX_CLOSE_REASON]
        self._send_close(code, raw.decode(errors="ignore"))

    def _closed_error(self) -> ConnectionClosed:
        rcvd = self._close_rcvd
        if (
            rcvd is not None
            and rcvd.code in _OK_CODES
            and (self._close_sent is None or self._close_sent.code in _OK_CODES)
        ):
            cls: type[ConnectionClosed] = ConnectionClosedOK
        else:
            cls = ConnectionClosedError
        exc = cls(rcvd, self._close_sent, self._close_rcvd_then_sent)
        if self._exception is not None:
            exc.__cause__ = self._exception
        return exc

    def _set_state(self, state: State) -> None:
        check_transition(self._state, state)
        self._state = state

    # ------------------------------------------------------------------
    # Transport events (called by WebSocketProtocol)

    def _data_received(self, data: bytes) -> None:
        if self._heartbeat:
            self._last_received = self._loop.time()
        parser = self._parser
        messages = parser.feed(data)
        if messages:
            queue = self._queue
            closing = self._close_sent is not None
            for msg in messages:
                msg_type = msg.type
                if msg_type is _TEXT or msg_type is _BINARY:
                    if not closing:
                        queue.append(msg)
                elif msg_type is _PING:
                    if self._autoping:
                        if not closing:
                            self._write(self._writer.control(Opcode.PONG, msg.data))
                    else:
                        queue.append(msg)
                elif msg_type is _PONG:
                    self._on_pong(msg.data)
                    if not self._autoping:
                        queue.append(msg)
                else:
                    assert type(msg) is WSMessage
                    self._on_close_frame(msg)
            if self.logger.isEnabledFor(logging.DEBUG):
                for msg in messages:
                    self.logger.debug("< %s %s", msg.type.name, _describe(msg))
            self._wake_reader()
            if (
                self._max_queue is not None
                and not self._reading_paused
                and len(queue) >= self._max_queue
                and self._close_sent is None
                and self._state is not State.CLOSED
            ):
                self._reading_paused = True
                self._transport.pause_reading()
        if parser.exc is not None and self._state is State.OPEN:
            exc = parser.exc
            cls = PayloadTooBig if isinstance(exc, MessageTooBig) else ProtocolError
            self._fail(exc.code, exc.reason, cls(exc.code, exc.reason))

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_close_frame(self, msg: WSMessage) -> None:
        code: int = msg.data
        self._close_rcvd = Close(code, msg.extra)
        if self._close_sent is None:
            self._close_code = code
            if self._autoclose:
                # Echo the code (RFC 6455 §5.5.1); a close without a code is
                # answered with one without a code.
                self._send_close(None if code == NO_STATUS_RECEIVED else code)
            else:
                # The application answers with close() when it reads this.
                self._set_state(State.CLOSING)
            self._queue.append(msg)
        elif self._exception is None:
            self._close_code = code

    def _on_pong(self, payload: bytes) -> None:
        pings = self._pings
        if payload not in pings:
            return  # unsolicited: a one-way heartbeat
        now = self._loop.time()
        # This pong answers its ping and every earlier one.
        while pings:
            key, (waiter, sent_at) = pings.popitem(last=False)
            if not waiter.done():
                waiter.set_result(now - sent_at)
            if key == payload:
                self.latency = now - sent_at
                break

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._state is State.CLOSED:
            return
        self._set_state(State.CLOSED)
        if self._close_code is None:
            self._close_code = WSCloseCode.ABNORMAL_CLOSURE
            if exc is not None and self._exception is None:
                self._exception = exc
        for timer in (self._close_timer, self._heartbeat_timer):
            if timer is not None:
                timer.cancel()
        self._close_timer = self._heartbeat_timer = None
        closed = self._closed_error()
        for waiter, _ in self._pings.values():
            if not waiter.done():
                waiter.set_exception(closed)
                # Mark it retrieved: aiohttp-style callers ignore ping()'s
                # result and must not see "exception was never retrieved".
                waiter.exception()
        self._pings.clear()
        self._resume_writing()
        self._wake_reader()
        if not self._closed_waiter.done():
            self._closed_waiter.set_result(None)
        self.logger.debug("connection closed with code %s", self._close_code)

    # ------------------------------------------------------------------
    # Keepalive

    def _on_heartbeat(self) -> None:
        self._heartbeat_timer = None
        if self._state is not State.OPEN:
            return
        assert self._heartbeat is not None and self._ping_timeout is not None
        now = self._loop.time()
        quiet_since = self._last_received
        if now - quiet_since < self._heartbeat:
            # Input arrived recently: the peer is alive; wait a full interval
            # from that moment.
            self._heartbeat_timer = self._loop.call_at(
                quiet_since + self._heartbeat, self._on_heartbeat
            )
            return
        payload = os.urandom(4)
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = (waiter, now)
        self._write(self._writer.control(Opcode.PING, payload))
        self._heartbeat_timer = self._loop.call_later(
            self._ping_timeout, self._on_pong_deadline, now
        )

    def _on_pong_deadline(self, ping_sent_at: float) -> None:
        self._heartbeat_timer = None
        if self._state is not State.OPEN:
            return
        assert self._heartbeat is not None
        if self._last_received >= ping_sent_at:
            # Any frame since the ping is a sign of life.
            self._heartbeat_timer = self._loop.call_at(
                self._last_received + self._heartbeat, self._on_heartbeat
            )
            return
        exc = PongTimeout(
            f"no pong or other data within {self._ping_timeout} s of a keepalive ping"
        )
        self.logger.info("%s; closing with 1006", exc)
        self._exception = exc
        self._close_code = WSCloseCode.ABNORMAL_CLOSURE
        self._queue.append(WSMessage(WSMsgType.ERROR, exc, None))
        self._set_state(State.CLOSING)
        self._wake_reader()
        self._transport.abort()


async def _aiter_sync(items: Iterable[Data]) -> AsyncIterator[Data]:
    for item in items:
        yield item


def _describe(msg: WSMessage | Fragment) -> str:
    if type(msg) is Fragment:
        return f"fragment length={len(msg.data)} fin={msg.fin}"
    if type(msg) is WSMessage and msg.type is WSMsgType.CLOSE:
        return f"code={msg.data} reason={msg.extra!r}"
    return f"length={len(msg.data)}"
