"""The aiohttp face: ``ClientWebSocketResponse`` as aiohttp 3.14 has it.

A thin class over the engine (:class:`aiows.engine.connection.Connection`)
that turns its queue and state into what aiohttp's own client shows:
aiohttp's ``WSMessage`` and ``WSMsgType``, its exceptions, its ``closed``
flag (True once the application read the close or called ``close()``), its
``close()`` returning True once, and its CLOSING and CLOSED messages.

It subclasses ``aiohttp.ClientWebSocketResponse``, so ``isinstance`` checks
and annotations of that type hold, but it does not call aiohttp's
``__init__``: aiohttp's class needs aiohttp's reader and writer, and every
public method is overridden here (a test checks that none is left over).

Where aiows does better than aiohttp on purpose, the method says so and
``docs/from_aiohttp.rst`` lists it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

import aiohttp
from aiohttp import ClientConnectionResetError, ClientResponse, WSMsgType
from multidict import CIMultiDictProxy

from ..core.errors import InvalidState
from ..core.errors import ProtocolError as CoreProtocolError
from ..core.frames import Opcode, build_close_payload
from ..engine.assembler import Concurrency
from ..engine.connection import Connection
from ..exceptions import ConcurrencyError, WSMessageTypeError
from .aiohttp_messages import WS_CLOSED_MESSAGE, WS_CLOSING_MESSAGE, WSMessage

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_ERROR: Final = WSMsgType.ERROR
_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)
_CLOSED_TRANSPORT: Final = "Cannot write to closing transport"


def _websocket_error(exc: CoreProtocolError) -> aiohttp.WebSocketError:
    """The error an ERROR message carries: exactly ``aiohttp.WebSocketError``,
    as aiohttp's reader raises it (its own tests check the type with
    ``is``), with the close code aiows sent."""
    return aiohttp.WebSocketError(exc.code, exc.reason)


class ClientWebSocketResponse(aiohttp.ClientWebSocketResponse):
    """A WebSocket opened by :meth:`aiows.ClientSession.ws_connect`.

    Its API is aiohttp's ``ClientWebSocketResponse``::

        async with session.ws_connect(url) as ws:
            await ws.send_str("hello")
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    print(msg.data)

    Differences from aiohttp, all deliberate: pings are answered the moment
    they arrive, not only inside ``receive()``; :meth:`ping` returns a
    future of the round-trip time; nothing is sent after the client's close
    frame; ``close_code`` stays None while the connection is open.
    """

    __slots__ = (
        "_assembler",
        "_autoclose",
        "_autoping",
        "_client_notakeover_flag",
        "_close_code_value",
        "_close_request",
        "_close_wait_future",
        "_closed_flag",
        "_closing_flag",
        "_compress_bits",
        "_engine",
        "_exception_value",
        "_loop_ref",
        "_response",
        "_subprotocol",
        "_timeout_value",
        "_waiting_flag",
    )

    def __init__(
        self,
        engine: Connection,
        response: ClientResponse,
        *,
        subprotocol: str | None,
        timeout: Any,
        autoclose: bool,
        autoping: bool,
        compress: int,
        client_notakeover: bool,
    ) -> None:
        # aiohttp's __init__ is not called: see the module's docstring.
        self._engine = engine
        self._assembler = engine.assembler
        self._loop_ref = asyncio.get_running_loop()
        # The 101 response.
        self._response = response
        # What the handshake agreed on.
        self._subprotocol = subprotocol
        self._compress_bits = compress
        self._client_notakeover_flag = client_notakeover
        # ClientWSTimeout: ws_receive for receive(), ws_close for close().
        self._timeout_value = timeout
        self._autoclose = autoclose
        self._autoping = autoping
        # aiohttp's state: closed once the close was read or close() ran;
        # closing once the server's close was read, or close() interrupted
        # a receive() in another task; whether a receive() is waiting.
        self._closed_flag = False
        self._closing_flag = False
        self._waiting_flag = False
        # The close() waiting for a receive() in another task to return,
        # and the code and message it was called with.
        self._close_wait_future: asyncio.Future[None] | None = None
        self._close_request: tuple[int, bytes] | None = None
        self._close_code_value: int | None = None
        self._exception_value: BaseException | None = None

    # -- state -----------------------------------------------------------------

    @property
    def _closed(self) -> bool:
        """aiohttp's own flag, with aiohttp's meaning: test suites written
        for aiohttp set ``ws._closed = True`` to act as if the connection
        had dropped; ``receive()`` then returns CLOSED."""
        return self._closed_flag

    @_closed.setter
    def _closed(self, value: bool) -> None:
        self._closed_flag = value

    @property
    def closed(self) -> bool:
        """True once the application read the close or called :meth:`close`,
        or the heartbeat gave up on the server."""
        return self._closed_flag or self._engine.expired

    @property
    def close_code(self) -> int | None:
        """The close code, as aiohttp reports it; None while open.

        The code of the server's close frame (1005 when it had none), the
        code aiows failed the connection with, or 1006 when the connection
        ended without a close frame.
        """
        if self._close_code_value is None and self._engine.expired:
            return aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        return self._close_code_value

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._subprotocol

    @property
    def compress(self) -> int:
        """The negotiated ``server_max_window_bits``, or 0 without compression."""
        return self._compress_bits

    @property
    def client_notakeover(self) -> bool:
        """Whether the client resets its compressor after each message."""
        return self._client_notakeover_flag

    @property
    def response(self) -> ClientResponse:
        """The handshake's ``aiohttp.ClientResponse`` (status 101, headers)."""
        return self._response

    @property
    def request_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the upgrade request as sent."""
        return self._response.request_info.headers

    @property
    def response_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the 101 response."""
        return self._response.headers

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered (aiows's addition)."""
        return self._engine.latency

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Transport information; ``default`` once the connection is gone."""
        transport = self._engine.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    def exception(self) -> BaseException | None:
        """The error that ended the connection, as aiohttp records it."""
        if self._exception_value is None and self._engine.expired:
            return self._engine.exception
        return self._exception_value

    # -- receiving ---------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; see aiohttp's ``ClientWebSocketResponse.receive``.

        Returns at once, without suspending, when a message is queued.  After
        the end it returns CLOSED; ``timeout`` (or ``ws_receive``) raises
        ``asyncio.TimeoutError`` and leaves the connection open.
        """
        receive_timeout = timeout or self._timeout_value.ws_receive
        assembler = self._assembler
        while True:
            if self._waiting_flag:
                raise ConcurrencyError("Concurrent call to receive() is not allowed")
            if self._closed_flag or self._engine.expired:  # self.closed
                return WS_CLOSED_MESSAGE
            if self._closing_flag:
                request, self._close_request = self._close_request, None
                if request is None:
                    await self.close()
                else:
                    # A close() in another task woke this receive() and has
                    # not run since: close with its code, not 1000 (aiohttp
                    # sends 1000 here, and that close() returns False).
                    await self.close(code=request[0], message=request[1])
                return WS_CLOSED_MESSAGE
            msg = assembler.take()
            if msg is None:
                # Waiting is written out here rather than in a helper
                # coroutine: one frame less per message that is waited for.
                deadline = None
                if receive_timeout:
                    deadline = self._loop_ref.time() + receive_timeout
                self._waiting_flag = True
                try:
                    msg = await assembler.message(deadline)
                except Concurrency as err:  # pragma: no cover - _waiting_flag guards
                    raise ConcurrencyError(str(err)) from None
                finally:
                    self._waiting_flag = False
                    waiter = self._close_wait_future
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                if msg is None:
                    return await self._on_end()
            kind = msg[0]
            if kind is _TEXT or kind is _BINARY:
                return msg  # type: ignore[no-any-return]
            if kind is _CLOSE:
                self._closing_flag = True
                self._close_code_value = msg[1]
                if self._autoclose:
                    # Echo the server's code (RFC 6455 §5.5.1).
                    self._finish()
                return msg  # type: ignore[no-any-return]
            if kind is _ERROR:
                exc = _websocket_error(msg[1])
                self._close_code_value = exc.code
                self._finish()  # the close with exc.code goes out
                return WSMessage(_ERROR, exc, None)
            # PING or PONG: shown only with autoping=False.
            return msg  # type: ignore[no-any-return]

    def _finish(self) -> None:
        """End the connection after reading the close or the error, as
        aiohttp's ``close()`` does once the close code is known: the reply
        goes out, the transport closes once it is written, and ``receive()``
        returns at once, so cancelling it can lose nothing; the connector's
        slot is free when it returns.
        """
        self._closed_flag = True
        engine = self._engine
        self._assembler.drop_all()
        if engine.keepalive is not None:
            engine.keepalive.stop()
        engine.answer()
        engine.close_transport()

    async def _on_end(self) -> WSMessage:
        """The queue ended or :meth:`close` woke this receive()."""
        if self._closing_flag and not self._closed_flag:
            return WS_CLOSING_MESSAGE
        engine = self._engine
        if engine.expired:
            # The heartbeat gave up while this receive() was waiting.
            assert engine.exception is not None
            return WSMessage(_ERROR, engine.exception, None)
        self._closed_flag = True
        if self._close_code_value is None:
            self._close_code_value = aiohttp.WSCloseCode.ABNORMAL_CLOSURE
        if self._exception_value is None:
            self._exception_value = engine.exception or ClientConnectionResetError(
                "the server closed the connection without a close frame"
            )
        await engine.wait_closed()
        return WS_CLOSED_MESSAGE

    async def receive_str(self, *, timeout: float | None = None) -> str:
        """The next message, which must be TEXT (``bytes`` with
        ``decode_text=False``)."""
        msg = await self.receive(timeout)
        if msg.type is not _TEXT:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.TEXT"
            )
        return msg.data  # type: ignore[no-any-return]

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        """The next message, which must be BINARY."""
        msg = await self.receive(timeout)
        if msg.type is not _BINARY:
            raise WSMessageTypeError(
                f"Received message {msg.type}:{msg.data!r} is not WSMsgType.BINARY"
            )
        return msg.data  # type: ignore[no-any-return]

    async def receive_json(
        self,
        *,
        loads: Callable[[Any], Any] = json.loads,
        timeout: float | None = None,
    ) -> Any:
        """The next TEXT message, decoded with ``loads``."""
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> ClientWebSocketResponse:
        return self

    async def __anext__(self) -> WSMessage:
        msg = await self.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            raise StopAsyncIteration
        return msg

    # -- sending -----------------------------------------------------------------

    def _send_now(self, opcode: int, payload: Any, compress: int | None) -> bool:
        """Write a message; True if the caller must wait for the buffer.

        Not a coroutine: ``send_bytes()`` and ``send_str()`` await only
        when the transport's buffer is full, so the common send creates one
        coroutine, not two.
        """
        engine = self._engine
        try:
            engine.send_message(opcode, payload, compress != 0)
        except InvalidState:
            raise ClientConnectionResetError(_CLOSED_TRANSPORT) from None
        return engine.lane.paused

    async def _send(self, opcode: int, payload: Any, compress: int | None) -> None:
        if self._send_now(opcode, payload, compress):
            await self._drain()

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a TEXT message."""
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        if self._send_now(_TEXT_OP, data.encode("utf-8"), compress):
            await self._drain()

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        """Send a BINARY message (``bytes``, ``bytearray`` or ``memoryview``)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        if self._send_now(_BINARY_OP, data, compress):
            await self._drain()

    async def send_json(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], str] = json.dumps,
    ) -> None:
        """Send ``data`` encoded with ``dumps`` as a TEXT message."""
        await self.send_str(dumps(data), compress=compress)

    async def send_json_bytes(
        self,
        data: Any,
        compress: int | None = None,
        *,
        dumps: Callable[[Any], bytes],
    ) -> None:
        """Send ``data`` encoded with a bytes-returning ``dumps`` as BINARY."""
        await self.send_bytes(dumps(data), compress=compress)

    async def send_frame(
        self, message: bytes, opcode: WSMsgType, compress: int | None = None
    ) -> None:
        """Send one frame with ``opcode`` (aiohttp's low-level send)."""
        if opcode == WSMsgType.PING:
            await self.ping(message)
        elif opcode == WSMsgType.PONG:
            await self.pong(message)
        elif opcode == WSMsgType.CLOSE:
            code = int.from_bytes(message[:2], "big") if len(message) >= 2 else 1000
            await self.close(code=code, message=bytes(message[2:]))
        elif opcode in (WSMsgType.TEXT, WSMsgType.BINARY):
            await self._send(int(opcode), message, compress)
        else:
            raise ValueError(f"send_frame() cannot send opcode {opcode!r}")

    async def ping(self, message: bytes = b"") -> asyncio.Future[float]:  # type: ignore[override]
        """Send a ping with ``message`` as its payload.

        aiows's addition: the result is a future that resolves to the round-
        trip time once the pong comes; aiohttp returns None, and code that
        ignores the result runs the same.
        """
        payload = message.encode("utf-8") if isinstance(message, str) else message
        engine = self._engine
        try:
            waiter = engine.ping(bytes(payload))
        except InvalidState:
            raise ClientConnectionResetError(_CLOSED_TRANSPORT) from None
        await self._drain()
        return waiter

    async def pong(self, message: bytes = b"") -> None:
        """Send a pong with ``message`` as its payload."""
        payload = message.encode("utf-8") if isinstance(message, str) else message
        engine = self._engine
        try:
            engine.lane.write(engine.protocol.send_pong(payload))
        except InvalidState:
            raise ClientConnectionResetError(_CLOSED_TRANSPORT) from None
        await self._drain()

    async def _drain(self) -> None:
        try:
            await self._engine.lane.drain()
        except ConnectionResetError:
            raise ClientConnectionResetError(_CLOSED_TRANSPORT) from None

    # -- closing -----------------------------------------------------------------

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Close the connection; True the first time, False after.

        Sends a close frame with ``code`` and ``message``, drops what is
        still unread, and waits up to ``ws_close`` for the server's answer
        and for it to close TCP.  A ``receive()`` waiting in another task
        returns CLOSING first.
        """
        if self._waiting_flag and not self._closing_flag:
            build_close_payload(code, message)  # a bad code or reason raises now
            self._close_wait_future = self._loop_ref.create_future()
            self._closing_flag = True
            self._close_request = (code, message)
            self._assembler.wake()
            await self._close_wait_future
            if self._close_request is None:
                # The woken receive() read on and closed first, with this
                # call's code: this call is still the one that closed.
                await self._engine.wait_closed()
                return True
            self._close_request = None
        if self.closed:
            if self._engine.lingering:
                # A failed connection still drops what the server sends
                # until it closes (never longer than ws_close): close()
                # returns once the socket is gone, as after a normal close.
                await self._engine.wait_closed()
            return False
        build_close_payload(code, message)  # a bad code or reason raises now
        self._closed_flag = True
        engine = self._engine
        self._assembler.drop_all()
        if engine.keepalive is not None:
            engine.keepalive.stop()
        engine.close(code, message)
        try:
            await engine.wait_closed()
        except asyncio.CancelledError:
            self._close_code_value = aiohttp.WSCloseCode.ABNORMAL_CLOSURE
            engine.abort()
            raise
        if self._close_code_value is None:
            rcvd = engine.protocol.close_rcvd
            failure = engine.protocol.failure
            if failure is not None:
                # The error was never read: aiohttp's close() meets it
                # while reading for the close, and reports it so.
                self._close_code_value = aiohttp.WSCloseCode.ABNORMAL_CLOSURE
                self._exception_value = _websocket_error(failure)
            elif rcvd is not None:
                self._close_code_value = rcvd.code
            else:
                self._close_code_value = aiohttp.WSCloseCode.ABNORMAL_CLOSURE
                self._exception_value = engine.exception or asyncio.TimeoutError()
        return True

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (aiows's addition)."""
        await self._engine.wait_closed()

    async def __aenter__(self) -> ClientWebSocketResponse:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()
