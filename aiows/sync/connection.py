"""The connection of the threading face: websockets' threading API.

:class:`ClientConnection` is what ``aiows.sync.connect()`` gives: ``recv()``
returns ``str`` or ``bytes`` (with a timeout, exact), ``recv_streaming()``
yields a message piece by piece, ``send()`` takes either or an iterable of
them, ``ping()`` returns a :class:`threading.Event`, ``for message in ws``
yields messages until a normal close, and a closed connection raises
:class:`~aiows.ConnectionClosedOK` or :class:`~aiows.ConnectionClosedError`.
``send()``, ``ping()`` and ``close()`` are safe from any thread while
another is blocked in ``recv()``.
"""

from __future__ import annotations

import codecs
import logging
import time
import uuid
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Final, Literal, cast, overload

from ..core.frames import WSCloseCode
from ..core.handshake import Request, Response
from ..core.messages import WSMsgType
from ..core.protocol import ClientProtocol
from ..core.protocol import State as ProtocolState
from ..exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    public_error,
)
from ..websockets_state import OK_CODES, HowItEnded, ProtocolView, State
from .driver import Driver
from .sending import Data, Sending

_TEXT: Final = WSMsgType.TEXT


class _End:
    """What a read finds once every message before the end was read."""


_END: Final = _End()


class ClientConnection(Sending, HowItEnded):
    """A WebSocket opened by :func:`aiows.sync.connect`, websockets-style.

    ::

        from aiows.sync import connect

        with connect("wss://example.com/feed") as ws:
            ws.send("hello")
            for message in ws:
                print(message)
    """

    def __init__(
        self,
        driver: Driver,
        request: Request,
        response: Response,
        *,
        subprotocol: str | None,
        addresses: tuple[Any, Any],
    ) -> None:
        self._driver = driver
        #: A unique identifier of the connection, for logs.
        self.id = uuid.uuid4()
        #: Where this connection logs: the ``logger`` option with this
        #: connection in each record's ``websocket`` attribute.
        logger = driver.logger
        base = logger.logger if isinstance(logger, logging.LoggerAdapter) else logger
        self.logger: logging.LoggerAdapter[Any] = logging.LoggerAdapter(
            base, {"websocket": self}
        )
        #: The upgrade request as sent: ``path`` and ``headers``.
        self.request = request
        #: The server's 101: ``status_code``, ``reason_phrase``, ``headers``.
        self.response = response
        self._subprotocol = subprotocol
        # (sockname, peername), read once: they stay known after the close.
        self._addresses = addresses
        # Whether a thread is in recv() or recv_streaming(), and whether a
        # fragmented send is half done.
        self._receiving = False
        self._fragmenting = False

    # -- state ----------------------------------------------------------------

    @property
    def state(self) -> State:
        """OPEN, CLOSING once a close frame went either way, CLOSED at the end."""
        protocol_state = self._driver.protocol.state
        if protocol_state is ProtocolState.OPEN:
            return State.OPEN
        if protocol_state is ProtocolState.CLOSED:
            return State.CLOSED
        return State.CLOSING

    @property
    def protocol(self) -> ProtocolView:
        """websockets' ``ws.protocol``, as far as its users read it:
        ``state`` and ``extensions``."""
        return ProtocolView(self, self._driver.protocol)

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._subprotocol

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered, in seconds (0 before)."""
        return self._driver.latency

    @property
    def _core(self) -> ClientProtocol:
        return self._driver.protocol

    def _closed_error(self) -> ConnectionClosed:
        """websockets' exception for how the connection ended."""
        driver = self._driver
        protocol = driver.protocol
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        ok = (
            rcvd is not None
            and sent is not None
            and rcvd.code in OK_CODES
            and sent.code in OK_CODES
        )
        cls = ConnectionClosedOK if ok else ConnectionClosedError
        exc = cls(rcvd, sent, protocol.close_rcvd_then_sent)
        cause: BaseException | None = driver.error
        if cause is None and protocol.failure is not None:
            # An extension's own exception, as websockets chains it.
            cause = protocol.failure.__cause__ or public_error(protocol.failure)
        if cause is None and rcvd is None and not driver.failed:
            cause = EOFError("stream of frames ended")
        exc.__cause__ = cause
        return exc

    def _ended(self) -> ConnectionClosed:
        """Wait for the end (bounded by the close timeout); its error."""
        self._driver.finish()
        return self._closed_error()

    # -- receiving ------------------------------------------------------------

    def _begin_receiving(self, name: str) -> None:
        with self._driver.lock:
            if self._receiving:
                raise ConcurrencyError(
                    f"cannot call {name} while another thread is already running "
                    "recv or recv_streaming"
                )
            self._receiving = True

    def _take(self) -> tuple[WSMsgType, Any] | _End | None:
        inbox = self._driver.inbox
        message = inbox.take()
        if message is not None:
            return message
        return _END if inbox.ended else None

    @overload
    def recv(self, timeout: float | None, decode: Literal[True]) -> str: ...
    @overload
    def recv(self, timeout: float | None, decode: Literal[False]) -> bytes: ...
    @overload
    def recv(self, timeout: float | None = None, *, decode: Literal[True]) -> str: ...
    @overload
    def recv(
        self, timeout: float | None = None, *, decode: Literal[False]
    ) -> bytes: ...
    @overload
    def recv(
        self, timeout: float | None = None, decode: bool | None = None
    ) -> Data: ...
    def recv(self, timeout: float | None = None, decode: bool | None = None) -> Data:
        """The next message: ``str`` for text, ``bytes`` for binary.

        With ``timeout``, wait at most that many seconds, then raise
        ``TimeoutError`` (0 or less: only take a message already received).
        ``decode=False`` returns text as UTF-8 ``bytes``; ``decode=True``
        decodes binary as UTF-8 (failing the connection with 1007 if it is
        not).  Raises :class:`ConnectionClosedOK` or
        :class:`ConnectionClosedError` once every message before the close
        was read, and :class:`~aiows.ConcurrencyError` if another thread is
        already receiving.
        """
        if self._unentered:
            self._used()
        driver = self._driver
        inbox = driver.inbox
        with driver.lock:
            if self._receiving:
                raise ConcurrencyError(
                    "cannot call recv while another thread is already running "
                    "recv or recv_streaming"
                )
            message: tuple[WSMsgType, Any] | _End | None = inbox.take()
            if message is None:
                if inbox.ended:
                    message = _END
                else:
                    self._receiving = True
                    reading = driver.try_reading()
        if message is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                message = cast(
                    "tuple[WSMsgType, Any] | _End | None",
                    driver.wait(self._take, deadline, reading=reading),
                )
            finally:
                self._receiving = False
        if inbox.resumed:
            driver.inbox.resumed = False
            driver.resume()
        if message is None:
            raise TimeoutError(f"timed out in {timeout:.1f}s")
        if message is _END:
            raise self._ended()
        assert not isinstance(message, _End)
        kind, data = message
        if decode is None or (kind is _TEXT) is decode:
            return data  # type: ignore[no-any-return]
        if not decode:
            return data.encode("utf-8")  # type: ignore[no-any-return]
        try:
            return data.decode("utf-8")  # type: ignore[no-any-return]
        except UnicodeDecodeError as exc:
            self._fail_decoding(exc)
            error = self._ended()
            raise error from error.__cause__

    def _fail_decoding(self, exc: UnicodeDecodeError) -> None:
        with self._driver.lock:
            if self._driver.error is None:
                self._driver.error = exc
        self._driver.close(
            WSCloseCode.INVALID_TEXT, f"{exc.reason} at position {exc.start}", fail=True
        )

    @overload
    def recv_streaming(self, decode: Literal[True]) -> Iterator[str]: ...
    @overload
    def recv_streaming(self, decode: Literal[False]) -> Iterator[bytes]: ...
    @overload
    def recv_streaming(self, decode: bool | None = None) -> Iterator[Data]: ...
    def recv_streaming(self, decode: bool | None = None) -> Iterator[Data]:
        """Yield the next message piece by piece, as its frames arrive.

        A message sent in several frames is never held whole: each frame is
        one piece (an empty frame too).  ``decode`` as in :meth:`recv`.
        Raises :class:`ConnectionClosed` like :meth:`recv`.

        The iterator must be consumed to the end of the message: leaving it
        after a piece, or the connection ending in the middle of the
        message, makes every later read raise
        :class:`~aiows.ConcurrencyError`, as in websockets (the rest of the
        message could reach no one); close the connection instead.
        """
        if self._unentered:
            self._used()
        driver = self._driver
        inbox = driver.inbox
        self._begin_receiving("recv_streaming")
        decoder: codecs.IncrementalDecoder | None = None
        fin = False
        started = False
        try:
            while not fin:
                piece = cast(
                    "tuple[WSMsgType, Any, bool] | _End | None",
                    driver.wait(self._take_piece, None),
                )
                if inbox.resumed:
                    inbox.resumed = False
                    driver.resume()
                if piece is _END or piece is None:
                    # The end (it may come in the middle of the message).
                    raise self._ended()
                assert not isinstance(piece, _End)
                kind, data, fin = piece
                started = True
                if decode is None or (kind is _TEXT) is decode:
                    yield data
                elif not decode:
                    yield data.encode("utf-8")
                else:
                    if decoder is None:
                        decoder = codecs.getincrementaldecoder("utf-8")()
                    try:
                        yield decoder.decode(data, fin)
                    except UnicodeDecodeError as exc:
                        self._fail_decoding(exc)
                        error = self._ended()
                        raise error from error.__cause__
        finally:
            if not started or fin:
                self._receiving = False
            # else the message was left unfinished: the read stays "in
            # progress" for good, as in websockets.

    def _take_piece(self) -> tuple[WSMsgType, Any, bool] | _End | None:
        inbox = self._driver.inbox
        piece = inbox.take_piece()
        if piece is not None:
            return piece
        return _END if inbox.ended else None

    def __iter__(self) -> Iterator[Data]:
        """Messages until a normal close (1000, 1001, or no code); after any
        other ending, :class:`ConnectionClosedError`."""
        try:
            while True:
                yield self.recv()
        except ConnectionClosedOK:
            return

    # -- closing --------------------------------------------------------------

    def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Perform the closing handshake and wait until the connection is
        closed (at most ``close_timeout`` for the server's part).

        Idempotent.  Messages that arrived before the close stay readable.
        In the middle of a fragmented send the connection fails with 1011
        instead, and that send raises :class:`ConnectionClosedError`.
        """
        if self._unentered:
            self._used()
        driver = self._driver
        if self._fragmenting:
            driver.close(
                WSCloseCode.INTERNAL_ERROR, "close during fragmented message", fail=True
            )
        else:
            driver.close(code, reason)
        driver.finish()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the connection is closed; False if ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._driver.wait_closed(deadline)

    def __enter__(self) -> ClientConnection:
        self._unentered = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_for(exc)

    def close_for(self, exc: BaseException | None) -> None:
        """Close as leaving ``with`` does: 1000, or 1011 after an exception."""
        if exc is None:
            self.close()
        else:
            self.close(WSCloseCode.INTERNAL_ERROR)
