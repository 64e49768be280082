"""The websockets face: the connection ``aiows.connect()`` returns.

A thin class over the engine with websockets' semantics: ``recv()`` returns
``str`` or ``bytes``, ``send()`` takes either or an iterable of them,
``async for`` yields messages until a normal close, and a closed connection
raises :class:`~aiows.ConnectionClosedOK` or
:class:`~aiows.ConnectionClosedError`.  The server's close is answered at
once; messages that arrived before it stay readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Final

from aiohttp import ClientResponse
from multidict import CIMultiDictProxy

from ..core.errors import InvalidState
from ..core.frames import NO_STATUS_RECEIVED, Opcode, WSCloseCode
from ..core.messages import CORE_KINDS, WSMsgType
from ..engine.assembler import Concurrency
from ..engine.connection import Connection, Logger
from ..exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
)

#: The parser's message classes for this face: the core's own.
KINDS: Final = CORE_KINDS

Data = str | bytes | bytearray | memoryview

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_ERROR: Final = WSMsgType.ERROR
_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)
# Close codes after which iteration ends quietly (websockets' rule).
_OK_CODES: Final = frozenset(
    {WSCloseCode.OK, WSCloseCode.GOING_AWAY, NO_STATUS_RECEIVED}
)


async def _aiter_sync(items: Iterable[Data]) -> AsyncIterator[Data]:
    for item in items:
        yield item


class ClientConnection:
    """A WebSocket opened by :func:`aiows.connect`, websockets-style.

    ::

        async with aiows.connect("wss://example.com/feed") as ws:
            await ws.send("hello")
            async for message in ws:
                print(message)
    """

    __slots__ = (
        "_addresses",
        "_assembler",
        "_engine",
        "_response",
        "_subprotocol",
        "logger",
    )

    def __init__(
        self,
        engine: Connection,
        response: ClientResponse,
        *,
        subprotocol: str | None,
        logger: Logger,
    ) -> None:
        self._engine = engine
        self._assembler = engine.assembler
        # The 101 response.
        self._response = response
        self._subprotocol = subprotocol
        # (sockname, peername), read once: they stay known after the close.
        transport = engine.transport
        self._addresses = (
            (None, None)
            if transport is None
            else (
                transport.get_extra_info("sockname"),
                transport.get_extra_info("peername"),
            )
        )
        #: Where this connection logs (websockets' ``logger=`` option).
        self.logger = logger

    # -- state -------------------------------------------------------------------

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._subprotocol

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered, in seconds."""
        return self._engine.latency

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame; None while open.

        1006 once the connection ended without one.
        """
        engine = self._engine
        if engine.open:
            return None
        rcvd = engine.protocol.close_rcvd
        if rcvd is not None:
            return rcvd.code
        return None if engine.transport is not None else WSCloseCode.ABNORMAL_CLOSURE

    @property
    def close_reason(self) -> str | None:
        """The reason of the server's close frame; None while open."""
        rcvd = self._engine.protocol.close_rcvd
        if rcvd is not None:
            return rcvd.reason
        return None if self._engine.transport is not None else ""

    @property
    def local_address(self) -> Any:
        """The local socket address."""
        return self._addresses[0]

    @property
    def remote_address(self) -> Any:
        """The server's socket address."""
        return self._addresses[1]

    @property
    def response(self) -> ClientResponse:
        """The handshake's ``aiohttp.ClientResponse``."""
        return self._response

    @property
    def request_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the upgrade request as sent."""
        return self._response.request_info.headers

    @property
    def response_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the 101 response."""
        return self._response.headers

    def _closed_error(self) -> ConnectionClosed:
        protocol = self._engine.protocol
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        if (
            rcvd is not None
            and rcvd.code in _OK_CODES
            and (sent is None or sent.code in _OK_CODES)
        ):
            cls: type[ConnectionClosed] = ConnectionClosedOK
        else:
            cls = ConnectionClosedError
        exc = cls(rcvd, sent, protocol.close_rcvd_then_sent)
        cause = protocol.failure or self._engine.exception
        if cause is not None:
            exc.__cause__ = cause
        return exc

    # -- receiving ---------------------------------------------------------------

    async def recv(self) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises :class:`ConnectionClosedOK` or :class:`ConnectionClosedError`
        once the connection is closed and every message before the close
        was read.  Cancelling it loses nothing.
        """
        msg = self._assembler.take()
        if msg is not None and (msg[0] is _TEXT or msg[0] is _BINARY):
            return msg[1]  # type: ignore[no-any-return]
        if msg is None:
            try:
                msg = await self._assembler.message()
            except Concurrency as exc:
                raise ConcurrencyError(str(exc)) from None
        if msg is None or msg[0] is _CLOSE or msg[0] is _ERROR:
            await self._engine.wait_closed()
            raise self._closed_error()
        return msg[1]  # type: ignore[no-any-return]

    async def recv_streaming(self) -> AsyncIterator[str | bytes]:
        """Yield the next message piece by piece, as its frames arrive.

        A message sent in several frames is never held whole.  Raises
        :class:`ConnectionClosed` like :meth:`recv`.  Leaving the loop early
        and reading again skips the rest of the message.
        """
        try:
            async for piece in self._assembler.stream(self._on_other):
                yield piece
        except Concurrency as exc:
            raise ConcurrencyError(str(exc)) from None

    def _on_other(self, item: Any) -> None:
        if item is None or item[0] is _CLOSE or item[0] is _ERROR:
            raise self._closed_error()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    # -- sending -----------------------------------------------------------------

    async def send(self, message: Data | Iterable[Data] | AsyncIterable[Data]) -> None:
        """Send a message: ``str`` as TEXT, bytes-like as BINARY.

        An iterable or async iterable of them goes as one fragmented message,
        one frame per item; its items must be all ``str`` or all bytes-like.
        """
        if isinstance(message, str):
            await self._send(_TEXT_OP, message.encode("utf-8"))
        elif isinstance(message, (bytes, bytearray, memoryview)):
            await self._send(_BINARY_OP, message)
        elif isinstance(message, Mapping):
            raise TypeError(
                "send() does not take a dict or other mapping: encode it first, "
                "e.g. send(json.dumps(data))"
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

    async def _send(self, opcode: int, payload: Data) -> None:
        engine = self._engine
        lane = engine.lane
        if lane.busy:
            async with lane.lock:
                self._write_message(opcode, payload)
        else:
            self._write_message(opcode, payload)
        await self._drain()

    def _write_message(self, opcode: int, payload: Data) -> None:
        try:
            self._engine.send_message(opcode, payload)
        except InvalidState:
            raise self._closed_error() from None

    async def _drain(self) -> None:
        try:
            await self._engine.lane.drain()
        except ConnectionResetError:
            raise self._closed_error() from None

    async def _send_fragments(self, fragments: AsyncIterator[Data]) -> None:
        """Send each fragment as the iterator yields it, then an empty last one.

        The lane's lock keeps other messages from coming between them.
        """
        engine = self._engine
        protocol = engine.protocol
        async with engine.lane.lock:
            if not protocol.can_send:
                raise self._closed_error()
            try:
                current = await fragments.__anext__()
            except StopAsyncIteration:
                return
            text = isinstance(current, str)
            kind = type(current).__name__
            opcode = _TEXT_OP if text else _BINARY_OP
            sent_first = False
            try:
                while True:
                    if isinstance(current, str) is not text or not isinstance(
                        current, (str, bytes, bytearray, memoryview)
                    ):
                        raise TypeError(
                            "a fragmented message must be all str or all "
                            f"bytes-like; got {type(current).__name__} after {kind}"
                        )
                    payload = (
                        current.encode("utf-8") if isinstance(current, str) else current
                    )
                    self._write_fragment(opcode, payload, not sent_first, False)
                    sent_first = True
                    await self._drain()
                    try:
                        current = await fragments.__anext__()
                    except StopAsyncIteration:
                        break
                self._write_fragment(opcode, b"", False, True)
                await self._drain()
            except BaseException as exc:
                if protocol.can_send and (sent_first or isinstance(exc, TypeError)):
                    # The message is half sent (or invalid); finishing it is
                    # impossible and starting another would corrupt the
                    # stream (RFC 6455 §5.4).
                    engine.fail(
                        WSCloseCode.INTERNAL_ERROR, "fragmented send interrupted"
                    )
                raise

    def _write_fragment(
        self,
        opcode: int,
        payload: bytes | bytearray | memoryview,
        first: bool,
        fin: bool,
    ) -> None:
        engine = self._engine
        try:
            frame = engine.protocol.send_fragment(opcode, payload, first=first, fin=fin)
        except InvalidState:
            raise self._closed_error() from None
        engine.lane.write(frame)

    async def ping(self, data: Data | None = None) -> asyncio.Future[float]:
        """Send a ping; return a future resolving to the round-trip time.

        With no ``data`` a random 4-byte payload is used.  Two pings with the
        same payload in flight raise :class:`ConcurrencyError`.
        """
        engine = self._engine
        if data is None:
            payload = engine.unique_ping_payload()
        else:
            payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            if engine.protocol.ping_in_flight(payload):
                raise ConcurrencyError(
                    f"a ping with payload {payload!r} is already waiting for its pong"
                )
        try:
            waiter = engine.ping(payload)
        except InvalidState:
            raise self._closed_error() from None
        await self._drain()
        return waiter

    async def pong(self, data: Data = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        engine = self._engine
        try:
            engine.lane.write(engine.protocol.send_pong(payload))
        except InvalidState:
            raise self._closed_error() from None
        await self._drain()

    # -- closing -----------------------------------------------------------------

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Perform the closing handshake and wait for the connection to end.

        Messages that arrived before it stay readable.
        """
        engine = self._engine
        if engine.lane.busy:
            # A fragmented message is half sent: it cannot end normally.
            engine.fail(WSCloseCode.INTERNAL_ERROR, "close during a fragmented message")
        else:
            engine.close(code, reason)
        await engine.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed."""
        await self._engine.wait_closed()

    async def __aenter__(self) -> ClientConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close_for(exc)

    async def close_for(self, exc: BaseException | None) -> None:
        """Close as leaving ``async with`` does: 1000, or 1011 after an
        exception (websockets' rule)."""
        if exc is None:
            await self.close()
        else:
            await self.close(WSCloseCode.INTERNAL_ERROR)
