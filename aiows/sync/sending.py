"""The sending half of the threading face: ``send()``, ``ping()``, ``pong()``.

Kept apart from :mod:`.connection` so each reads in one sitting;
:class:`~aiows.sync.connection.ClientConnection` inherits it.  Any thread may
send, also while another is blocked in ``recv()``: a frame is made under the
connection's lock, in the protocol's order, and written by the thread that
made it if nothing is queued, else behind what is.  A send the connection's
state refuses waits for the connection to end and raises websockets'
exception for how it ended.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..core.errors import ExtensionFailed
from ..core.frames import Opcode, WSCloseCode
from ..core.protocol import State as ProtocolState
from ..exceptions import ConcurrencyError, ConnectionClosed
from .driver import Driver, Ping

Data = str | bytes
DataLike = str | bytes | bytearray | memoryview

_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)
_BYTES_LIKE: Final = (bytes, bytearray, memoryview)
_OPEN: Final = ProtocolState.OPEN

#: The warning for a connection that ``connect()`` opened and that is used
#: without ``with`` (websockets' words: it deprecated that use in 17.1).
UNENTERED_WARNING: Final = (
    "connect() must be used as a context manager: "
    "with connect(...) as websocket: ...; alternatively, use "
    "websocket = connect(..., legacy=True) to connect directly"
)


class Sending:
    """``send()``, ``ping()`` and ``pong()`` over ``self._driver``."""

    _driver: Driver
    # Whether a fragmented send is half done.
    _fragmenting: bool
    # Set by connect() when it opened the connection itself (no ``legacy``
    # flag): the first use outside ``with`` warns, once (websockets 17).
    _unentered: bool = False

    def _used(self) -> None:
        """Warn, once, that a connection ``connect()`` opened is used without
        ``with`` (called where ``_unentered`` is set; ``stacklevel`` names
        the caller of the public method)."""
        self._unentered = False
        warnings.warn(UNENTERED_WARNING, DeprecationWarning, stacklevel=3)

    if TYPE_CHECKING:

        def _ended(self) -> ConnectionClosed: ...

    def _extension_failed(self, exc: ExtensionFailed) -> ConnectionClosed:
        """The error for a send an extension's ``encode`` failed otherwise
        than with a protocol error: the connection ends at once (see
        :meth:`Driver.extension_failed`), and the send raises
        ``ConnectionClosedError`` chaining the extension's exception."""
        self._driver.extension_failed(exc)
        return self._ended()

    def send(
        self, message: DataLike | Iterable[DataLike], text: bool | None = None
    ) -> None:
        """Send a message: ``str`` as TEXT, bytes-like as BINARY.

        ``text=True`` sends bytes-like data as TEXT (it must be UTF-8) and
        ``text=False`` sends a ``str`` as BINARY.  An iterable goes as one
        fragmented message, one frame per item, as it yields them; its
        items must be all ``str`` or all bytes-like.  Blocks until the
        message is written to the socket.  Raises
        :class:`~aiows.ConcurrencyError` while another thread is in the
        middle of a fragmented send.
        """
        if self._unentered:
            self._used()
        if isinstance(message, str):
            opcode = _BINARY_OP if text is False else _TEXT_OP
            self._send_frame(opcode, message.encode("utf-8"), None)
        elif isinstance(message, _BYTES_LIKE):
            opcode = _TEXT_OP if text is True else _BINARY_OP
            self._send_frame(opcode, message, None)
        elif isinstance(message, Mapping):
            raise TypeError(
                "send() does not take a dict or other mapping: encode it first, "
                "e.g. send(json.dumps(data))"
            )
        elif isinstance(message, Iterable):
            self._send_fragments(iter(message), text)
        else:
            raise TypeError(
                "send() takes str, bytes-like, or an iterable of them, "
                f"not {type(message).__name__}"
            )

    def _send_frame(
        self, opcode: int, payload: bytes | bytearray | memoryview, fragment: Any
    ) -> None:
        """Queue and write one frame: a whole message, or with ``fragment``
        ``(first, fin)`` one frame of a fragmented one."""
        driver = self._driver
        transport = driver.transport
        claimed = False
        failed: ExtensionFailed | None = None
        with driver.lock:
            if fragment is None and self._fragmenting:
                raise ConcurrencyError(
                    "cannot call send while another thread is sending a "
                    "fragmented message"
                )
            protocol = driver.protocol
            refused = protocol.state is not _OPEN and not protocol.can_send
            if not refused:
                try:
                    if fragment is None:
                        frame = protocol.send_message(opcode, payload)
                    else:
                        first, fin = fragment
                        frame = protocol.send_fragment(
                            opcode, payload, first=first, fin=fin
                        )
                except ExtensionFailed as exc:
                    failed = exc
                else:
                    # Nothing queued, nobody writing: written from here,
                    # after the lock, with what other threads queue
                    # meanwhile behind.
                    claimed = transport.claim()
                    if not claimed:
                        transport.enqueue(frame)
        if failed is not None:
            error = self._extension_failed(failed)
            raise error from error.__cause__
        if refused:
            error = self._ended()
            raise error from error.__cause__
        try:
            if claimed:
                driver.write_claimed(frame)
            else:
                driver.flush()
        except OSError:
            error = self._ended()
            raise error from error.__cause__

    def _send_fragments(self, chunks: Iterator[DataLike], text: bool | None) -> None:
        try:
            current = next(chunks)
        except StopIteration:
            return
        driver = self._driver
        with driver.lock:
            if self._fragmenting:
                raise ConcurrencyError(
                    "cannot call send while another thread is sending a "
                    "fragmented message"
                )
            self._fragmenting = True
        try:
            is_str = isinstance(current, str)
            if not is_str and not isinstance(current, _BYTES_LIKE):
                raise TypeError("a fragmented message must be str or bytes-like items")
            if is_str:
                opcode = _BINARY_OP if text is False else _TEXT_OP
            else:
                opcode = _TEXT_OP if text is True else _BINARY_OP
            first = True
            while True:
                if isinstance(current, str) is not is_str or not isinstance(
                    current, (str, *_BYTES_LIKE)
                ):
                    raise TypeError(
                        "a fragmented message must be all str or all bytes-like; "
                        f"got {type(current).__name__}"
                    )
                payload = (
                    current.encode("utf-8") if isinstance(current, str) else current
                )
                self._send_frame(opcode, payload, (first, False))
                first = False
                try:
                    current = next(chunks)
                except StopIteration:
                    break
            self._send_frame(opcode, b"", (False, True))
        except ConnectionClosed:
            raise
        except BaseException:
            # Half sent (or invalid): finishing it is impossible, and another
            # message would corrupt the stream (RFC 6455 §5.4).
            if driver.protocol.can_send:
                driver.close(
                    WSCloseCode.INTERNAL_ERROR, "error in fragmented message", fail=True
                )
                driver.finish()  # websockets' send returns once it is closed
            raise
        finally:
            self._fragmenting = False

    def ping(
        self, data: DataLike | None = None, *, ack_on_close: bool = False
    ) -> threading.Event:
        """Send a ping; the event is set when its pong arrives.

        With no ``data`` the payload is four random bytes; a ``str`` is sent
        as UTF-8.  With ``ack_on_close`` the event is also set if the
        connection closes first.  Raises :class:`~aiows.ConcurrencyError`
        if a ping with the same payload waits for its pong.
        """
        if self._unentered:
            self._used()
        if isinstance(data, str):
            payload: bytes | None = data.encode("utf-8")
        elif isinstance(data, _BYTES_LIKE):
            payload = bytes(data)
        elif data is None:
            payload = None
        else:
            raise TypeError("data must be str or bytes-like")
        driver = self._driver
        event = threading.Event()
        failed: ExtensionFailed | None = None
        with driver.lock:
            protocol = driver.protocol
            if payload is not None and protocol.ping_in_flight(payload):
                raise ConcurrencyError("already waiting for a pong with the same data")
            refused = not protocol.can_send
            if not refused:
                while payload is None or protocol.ping_in_flight(payload):
                    payload = os.urandom(4)
                try:
                    driver.ping(payload, Ping(event, ack_on_close))
                except ExtensionFailed as exc:
                    failed = exc
        if failed is not None:
            error = self._extension_failed(failed)
            raise error from error.__cause__
        if refused:
            raise self._ended()
        self._flush()
        return event

    def pong(self, data: DataLike = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3)."""
        if self._unentered:
            self._used()
        if isinstance(data, str):
            payload: bytes | bytearray | memoryview = data.encode("utf-8")
        elif isinstance(data, _BYTES_LIKE):
            payload = data
        else:
            raise TypeError("data must be str or bytes-like")
        driver = self._driver
        failed: ExtensionFailed | None = None
        with driver.lock:
            refused = not driver.protocol.can_send
            if not refused:
                try:
                    driver.transport.enqueue(driver.protocol.send_pong(payload))
                except ExtensionFailed as exc:
                    failed = exc
        if failed is not None:
            error = self._extension_failed(failed)
            raise error from error.__cause__
        if refused:
            raise self._ended()
        self._flush()

    def _flush(self) -> None:
        """Write what is queued; a failed write ends the connection, and the
        caller gets the error that says how it ended."""
        try:
            self._driver.flush()
        except OSError:
            error = self._ended()
            raise error from error.__cause__
