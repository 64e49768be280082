"""The websockets face: the connection ``aiows.connect()`` returns.

A thin class over the engine with websockets' semantics and names: ``recv()``
returns ``str`` or ``bytes``, ``send()`` takes either or an iterable of them
(:mod:`.websockets_send`), ``async for`` yields messages until a normal
close, and a closed connection raises :class:`~aiows.ConnectionClosedOK` or
:class:`~aiows.ConnectionClosedError`.  The server's close is answered at
once; messages that arrived before it stay readable.  ``id``, ``state``,
``request``, ``response``, ``logger`` and the rest are websockets' too.
"""

from __future__ import annotations

import codecs
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from enum import IntEnum
from types import TracebackType
from typing import Any, Final

from aiohttp import ClientResponse
from multidict import CIMultiDict, CIMultiDictProxy

from ..core.frames import NO_STATUS_RECEIVED, WSCloseCode
from ..core.handshake import Request, Response
from ..core.messages import CORE_KINDS, WSMsgType
from ..core.protocol import State as ProtocolState
from ..engine.assembler import Concurrency
from ..engine.connection import Connection, Logger
from ..exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    public_error,
)
from .websockets_send import Sending

#: The parser's message classes for this face: the core's own.
KINDS: Final = CORE_KINDS

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_ERROR: Final = WSMsgType.ERROR
# Close codes after which iteration ends quietly (websockets' rule).
_OK_CODES: Final = frozenset(
    {WSCloseCode.OK, WSCloseCode.GOING_AWAY, NO_STATUS_RECEIVED}
)


class State(IntEnum):
    """A connection's state, with websockets' names and values."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class Headers(CIMultiDictProxy[str]):
    """Handshake headers with websockets' ``Headers`` methods too."""

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order; ``[]`` when there is none."""
        return self.getall(key, [])

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """``(name, value)`` pairs as received, names in their own case."""
        return iter(self.items())


def _headers(headers: CIMultiDictProxy[str]) -> Headers:
    return Headers(CIMultiDict(headers))


def _decoded(data: str | bytes, kind: Any, decode: bool | None) -> str | bytes:
    """``data`` as ``recv(decode=...)`` returns it."""
    if decode is None or (kind is _TEXT) is decode:
        return data
    if decode:
        return data.decode("utf-8")  # type: ignore[union-attr]
    return data.encode("utf-8")  # type: ignore[union-attr]


class ClientConnection(Sending):
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
        "id",
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
        # The 101 response, as aiohttp gave it.
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
        #: A unique identifier of the connection, for logs.
        self.id = uuid.uuid4()
        #: Where this connection logs: ``logger`` (websockets' option) with
        #: this connection in each record's ``websocket`` attribute.
        base = logger.logger if isinstance(logger, logging.LoggerAdapter) else logger
        self.logger: logging.LoggerAdapter[Any] = logging.LoggerAdapter(
            base, {"websocket": self}
        )

    # -- state -------------------------------------------------------------------

    @property
    def state(self) -> State:
        """OPEN, CLOSING once a close frame went either way, CLOSED at the end."""
        protocol_state = self._engine.protocol.state
        if protocol_state is ProtocolState.OPEN:
            return State.OPEN
        if protocol_state is ProtocolState.CLOSED:
            return State.CLOSED
        return State.CLOSING

    @property
    def open(self) -> bool:
        """Whether the state is OPEN (websockets' legacy attribute)."""
        return self.state is State.OPEN

    @property
    def closed(self) -> bool:
        """Whether the state is CLOSED (websockets' legacy attribute)."""
        return self.state is State.CLOSED

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
        """The code of the server's close frame; None until the end.

        1006 once the connection ended without one.
        """
        if self.state is not State.CLOSED:
            return None
        rcvd = self._engine.protocol.close_rcvd
        return WSCloseCode.ABNORMAL_CLOSURE if rcvd is None else rcvd.code

    @property
    def close_reason(self) -> str | None:
        """The reason of the server's close frame; None until the end."""
        if self.state is not State.CLOSED:
            return None
        rcvd = self._engine.protocol.close_rcvd
        return "" if rcvd is None else rcvd.reason

    @property
    def local_address(self) -> Any:
        """The local socket address."""
        return self._addresses[0]

    @property
    def remote_address(self) -> Any:
        """The server's socket address."""
        return self._addresses[1]

    @property
    def request(self) -> Request:
        """The upgrade request as sent: ``path`` and ``headers``."""
        info = self._response.request_info
        return Request(info.url.raw_path_qs, _headers(info.headers))

    @property
    def response(self) -> Response:
        """The server's 101: ``status_code``, ``reason_phrase``, ``headers``,
        ``body``."""
        response = self._response
        return Response(
            response.status, response.reason or "", _headers(response.headers)
        )

    @property
    def aiohttp_response(self) -> ClientResponse:
        """The handshake's ``aiohttp.ClientResponse`` (aiows's addition)."""
        return self._response

    @property
    def request_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the upgrade request (websockets' legacy name)."""
        return self._response.request_info.headers

    @property
    def response_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the 101 response (websockets' legacy name)."""
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
        # What websockets chains: the protocol error that failed the
        # connection, or the end of the stream when no close frame went at
        # all; nothing after a close the client sent itself (a keepalive
        # timeout, a failed fragmented send).
        if protocol.failure is not None:
            exc.__cause__ = public_error(protocol.failure)
        elif rcvd is None and sent is None:
            exc.__cause__ = EOFError("stream of frames ended")
        return exc

    # -- receiving ---------------------------------------------------------------

    async def recv(self, decode: bool | None = None) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        ``decode=False`` returns text as UTF-8 ``bytes``; ``decode=True``
        decodes binary as UTF-8.  Raises :class:`ConnectionClosedOK` or
        :class:`ConnectionClosedError` once the connection is closed and
        every message before the close was read.  Cancelling it loses
        nothing.
        """
        msg = self._assembler.take()
        if msg is None:
            try:
                msg = await self._assembler.message()
            except Concurrency as exc:
                raise ConcurrencyError(str(exc)) from None
        if msg is None or msg[0] is _CLOSE or msg[0] is _ERROR:
            await self._engine.wait_closed()
            raise self._closed_error()
        if decode is None:
            return msg[1]  # type: ignore[no-any-return]
        return _decoded(msg[1], msg[0], decode)

    async def recv_streaming(
        self, decode: bool | None = None
    ) -> AsyncIterator[str | bytes]:
        """Yield the next message piece by piece, as its frames arrive.

        A message sent in several frames is never held whole.  ``decode``
        as in :meth:`recv`.  Raises :class:`ConnectionClosed` like
        :meth:`recv`.  Leaving the loop early and reading again skips the
        rest of the message.
        """
        decoder: codecs.IncrementalDecoder | None = None
        try:
            async for piece in self._assembler.stream(self._on_other):
                if decode is None or isinstance(piece, str) is decode:
                    yield piece
                elif decode:
                    if decoder is None:
                        decoder = codecs.getincrementaldecoder("utf-8")()
                    yield decoder.decode(piece)  # type: ignore[arg-type]
                else:
                    yield piece.encode("utf-8")  # type: ignore[union-attr]
        except Concurrency as exc:
            raise ConcurrencyError(str(exc)) from None
        if decoder is not None:
            decoder.decode(b"", True)  # a truncated character fails here

    def _on_other(self, item: Any) -> None:
        if item is None or item[0] is _CLOSE or item[0] is _ERROR:
            raise self._closed_error()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """Messages until a normal close; an async generator (``aclose()``)."""
        return self._messages()

    async def _messages(self) -> AsyncIterator[str | bytes]:
        try:
            while True:
                yield await self.recv()
        except ConnectionClosedOK:
            return

    # -- closing -----------------------------------------------------------------

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Perform the closing handshake and wait for the connection to end.

        Messages that arrived before it stay readable.  In the middle of a
        fragmented send the connection fails with 1011 instead, and the
        send raises :class:`ConnectionClosedError`.
        """
        engine = self._engine
        if engine.lane.busy:
            # A fragmented message is half sent: it cannot end normally.
            engine.fail(WSCloseCode.INTERNAL_ERROR, "close during fragmented message")
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
