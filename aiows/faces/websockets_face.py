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
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Final

from aiohttp import ClientResponse
from multidict import CIMultiDictProxy

from ..core.frames import WSCloseCode
from ..core.handshake import Request, Response
from ..core.messages import CORE_KINDS, WSMsgType
from ..core.protocol import ClientProtocol
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
from ..websockets_state import (
    OK_CODES,
    HowItEnded,
    ProtocolView,
    State,
    make_headers,
)
from .websockets_send import Sending, check_close

#: The parser's message classes for this face: the core's own.
KINDS: Final = CORE_KINDS

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_ERROR: Final = WSMsgType.ERROR
# websockets' words for a read that another read (or an unfinished stream)
# is in the way of.
_CONCURRENT_RECV: Final = (
    "cannot call recv while another coroutine is already running recv or recv_streaming"
)
_CONCURRENT_STREAM: Final = (
    "cannot call recv_streaming while another coroutine is already running "
    "recv or recv_streaming"
)


def _seconds(name: str, value: Any, *, zero: bool) -> float | None:
    """``value`` as seconds (None: no limit), or ``ValueError`` naming it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds or None, not {value!r}")
    if value == 0 and not zero:
        raise ValueError(f"{name} must be more than 0 or None, not {value!r}")
    return float(value)


def _decoded(data: str | bytes, kind: Any, decode: bool | None) -> str | bytes:
    """``data`` as ``recv(decode=...)`` returns it."""
    if decode is None or (kind is _TEXT) is decode:
        return data
    if decode:
        return data.decode("utf-8")  # type: ignore[union-attr]
    return data.encode("utf-8")  # type: ignore[union-attr]


class ClientConnection(Sending, HowItEnded):
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
        "_decode_error",
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
        # The UnicodeDecodeError of a recv(decode=True) that failed the
        # connection with 1007, if one did.
        self._decode_error: UnicodeDecodeError | None = None
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
    def protocol(self) -> ProtocolView:
        """``state`` and ``extensions``, where websockets' users read them
        (``ws.protocol.state``)."""
        return ProtocolView(self, self._engine.protocol)

    # -- websockets' legacy attributes ---------------------------------------------

    @property
    def path(self) -> str:
        """The request's path and query (websockets' legacy attribute)."""
        return self.request.path

    @property
    def extensions(self) -> list[Any]:
        """The extensions negotiated, in the order the server accepted them
        (websockets' legacy attribute; ``protocol.extensions`` is the same)."""
        return self._engine.protocol.extensions

    @property
    def close_timeout(self) -> float | None:
        """How long ``close()`` waits for the closing handshake; writable, as
        in websockets' legacy client (applies to a close not started yet)."""
        return self._engine.close_timeout

    @close_timeout.setter
    def close_timeout(self, value: float | None) -> None:
        self._engine.close_timeout = _seconds("close_timeout", value, zero=True)

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keepalive pings; writable, as in websockets'
        legacy client: the next ping is due that long after the last, and
        None stops the pings.  A connection opened without keepalive
        stays without it."""
        keepalive = self._engine.keepalive
        return None if keepalive is None else keepalive.interval

    @ping_interval.setter
    def ping_interval(self, value: float | None) -> None:
        keepalive = self._engine.keepalive
        if value is None:
            if keepalive is not None:
                keepalive.stop()
                self._engine.keepalive = None
            return
        interval = _seconds("ping_interval", value, zero=False)
        if keepalive is not None:
            assert interval is not None
            keepalive.interval = interval

    @property
    def ping_timeout(self) -> float | None:
        """Seconds a keepalive ping waits for its pong; writable, as in
        websockets' legacy client (None waits forever)."""
        keepalive = self._engine.keepalive
        return None if keepalive is None else keepalive.timeout

    @ping_timeout.setter
    def ping_timeout(self, value: float | None) -> None:
        keepalive = self._engine.keepalive
        timeout = _seconds("ping_timeout", value, zero=False)
        if keepalive is not None:
            keepalive.timeout = timeout

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered, in seconds."""
        return self._engine.latency

    @property
    def _core(self) -> ClientProtocol:
        return self._engine.protocol

    @property
    def request(self) -> Request:
        """The upgrade request as sent: ``path`` and ``headers``."""
        info = self._response.request_info
        return Request(info.url.raw_path_qs, make_headers(info.headers.items()))

    @property
    def response(self) -> Response:
        """The server's 101: ``status_code``, ``reason_phrase``, ``headers``,
        ``body``."""
        response = self._response
        headers = make_headers(response.headers.items())
        return Response(response.status, response.reason or "", headers)

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
        # No close sent: the answer is still held back for the application
        # to read up to the close (OK), unless the connection broke first.
        if (
            rcvd is not None
            and rcvd.code in OK_CODES
            and (
                sent.code in OK_CODES
                if sent is not None
                else self._engine.exception is None
            )
        ):
            cls: type[ConnectionClosed] = ConnectionClosedOK
        else:
            cls = ConnectionClosedError
        exc = cls(rcvd, sent, protocol.close_rcvd_then_sent)
        exc.__cause__ = self._cause()
        return exc

    def _cause(self) -> BaseException | None:
        """What websockets chains to ``ConnectionClosed``: what ended the
        connection from outside the protocol first (a text that did not
        decode, the close timeout, the transport's error), else the
        server's protocol error, else the end of the stream when it came
        before the server's close frame; nothing after the client failed the
        connection itself (a keepalive timeout, a failed fragmented send)."""
        engine = self._engine
        if self._decode_error is not None:
            return self._decode_error
        if engine.close_timed_out is not None:
            return engine.close_timed_out
        if engine.exception is not None and not engine.expired:
            return engine.exception
        protocol = engine.protocol
        if protocol.failure is not None:
            # An extension's own exception, as websockets chains it.
            return protocol.failure.__cause__ or public_error(protocol.failure)
        if protocol.close_rcvd is None and not protocol.failed:
            return EOFError("unexpected end of stream")
        return None

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
            except Concurrency:
                raise ConcurrencyError(_CONCURRENT_RECV) from None
        if msg is None or msg[0] is _CLOSE or msg[0] is _ERROR:
            await self._engine.wait_closed()
            raise self._closed_error()
        if decode is None:
            return msg[1]  # type: ignore[no-any-return]
        try:
            return _decoded(msg[1], msg[0], decode)
        except UnicodeDecodeError as exc:
            raise await self._undecodable(exc) from exc

    async def _undecodable(self, exc: UnicodeDecodeError) -> ConnectionClosed:
        """A binary message read with ``decode=True`` is not UTF-8: fail the
        connection with 1007, as websockets does, and wait for its end."""
        if self._decode_error is None:
            self._decode_error = exc
        self._engine.fail(
            WSCloseCode.INVALID_TEXT, f"{exc.reason} at position {exc.start}"
        )
        await self._engine.wait_closed()
        return self._closed_error()

    async def recv_streaming(
        self, decode: bool | None = None
    ) -> AsyncIterator[str | bytes]:
        """Yield the next message frame by frame, as its frames arrive.

        A message sent in several frames is never held whole; an empty
        frame gives an empty piece.  ``decode`` as in :meth:`recv`.  Raises
        :class:`ConnectionClosed` like :meth:`recv`.

        Cancelling it before the first frame loses nothing.  The iterator
        must then be consumed to the end of the message: leaving it, or
        cancelling it, after a frame makes every later read raise
        :class:`~aiows.ConcurrencyError`, as in websockets (the rest of the
        message could reach no one); close the connection instead.
        """
        decoder: codecs.IncrementalDecoder | None = None
        try:
            async for piece in self._assembler.stream(self._on_other):
                if decode is None or isinstance(piece, str) is decode:
                    yield piece
                elif decode:
                    if decoder is None:
                        decoder = codecs.getincrementaldecoder("utf-8")()
                    try:
                        text = decoder.decode(piece)  # type: ignore[arg-type]
                    except UnicodeDecodeError as exc:
                        raise await self._undecodable(exc) from exc
                    yield text
                else:
                    yield piece.encode("utf-8")  # type: ignore[union-attr]
        except Concurrency:
            raise ConcurrencyError(_CONCURRENT_STREAM) from None
        if decoder is not None:
            try:
                decoder.decode(b"", True)  # a truncated character fails here
            except UnicodeDecodeError as exc:
                raise await self._undecodable(exc) from exc

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
            if engine.open:
                check_close(code, reason)
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
