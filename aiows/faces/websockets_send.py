"""The sending half of the websockets face: ``send()``, ``ping()``, ``pong()``.

Kept apart from :mod:`.websockets_face` so each reads in one sitting; the
face's class inherits it.  Every send that the connection's state refuses
waits for the connection to end and raises websockets' exception for how
it ended (``ConnectionClosedOK`` once a normal closing handshake finished).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any, Final

from ..core.errors import ExtensionFailed, InvalidState
from ..core.frames import (
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    Opcode,
    WSCloseCode,
    is_valid_close_code,
)
from ..engine.connection import Connection
from ..exceptions import ConcurrencyError, ConnectionClosed, ProtocolError

Data = str | bytes | bytearray | memoryview
Payload = bytes | bytearray | memoryview

_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)


async def _aiter_sync(items: Iterable[Data]) -> AsyncIterator[Data]:
    for item in items:
        yield item


def _opcode(message: Data, text: bool | None) -> int:
    """TEXT or BINARY: by the type of ``message``, unless ``text`` says."""
    if text is None:
        return _TEXT_OP if isinstance(message, str) else _BINARY_OP
    return _TEXT_OP if text else _BINARY_OP


def _payload(message: Data) -> Payload:
    return message.encode("utf-8") if isinstance(message, str) else message


def _control_payload(data: Any) -> bytes:
    """A ping's or pong's payload from ``str`` or bytes-like ``data``, as
    websockets takes it: anything else is a ``TypeError`` (``bytes(42)``
    would be 42 zero bytes)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    raise TypeError("data must be str or bytes-like")


def _protocol_error(message: str) -> ProtocolError:
    """websockets' error for a frame the client may not send, with its text."""
    return ProtocolError(WSCloseCode.PROTOCOL_ERROR, message)


def check_close(code: int, reason: str) -> None:
    """Raise websockets' :class:`ProtocolError` for a close frame that may
    not be sent: a code RFC 6455 §7.4 reserves, or a reason too long."""
    if not is_valid_close_code(code):
        raise _protocol_error("invalid status code")
    if len(reason.encode("utf-8")) > MAX_CLOSE_REASON:
        raise _protocol_error("control frame too long")


def _check_control(payload: Payload) -> None:
    if len(payload) > MAX_CONTROL_PAYLOAD:
        raise _protocol_error("control frame too long")


class Sending:
    """``send()``, ``ping()`` and ``pong()`` over ``self._engine``."""

    __slots__ = ()

    _engine: Connection

    def _closed_error(self) -> ConnectionClosed:
        raise NotImplementedError

    async def _refused(self) -> ConnectionClosed:
        """The error for a send the state refuses, once the connection ended.

        As in websockets, the caller learns how the connection ended: after
        a normal closing handshake that is ``ConnectionClosedOK``.
        """
        await self._engine.wait_closed()
        return self._closed_error()

    async def _extension_failed(self, exc: ExtensionFailed) -> ConnectionClosed:
        """The error for a send an extension's ``encode`` failed otherwise
        than with a protocol error.

        As in websockets: logged as an internal error, the transport
        aborted (the extension's state is unknown, so nothing more can be
        sent), and the caller gets ``ConnectionClosedError`` chaining the
        extension's exception.
        """
        self._engine.extension_failed(exc)
        return await self._refused()

    async def send(
        self,
        message: Data | Iterable[Data] | AsyncIterable[Data],
        text: bool | None = None,
    ) -> None:
        """Send a message: ``str`` as TEXT, bytes-like as BINARY.

        ``text=True`` sends bytes-like data as TEXT (it must be UTF-8) and
        ``text=False`` sends a ``str`` as BINARY.  An iterable or async
        iterable goes as one fragmented message, each fragment as soon as
        the iterable yields it; its items must be all ``str`` or all
        bytes-like.  Other messages never come between its frames.
        """
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            await self._send_one(_opcode(message, text), _payload(message))
        elif isinstance(message, Mapping):
            raise TypeError(
                "send() does not take a dict or other mapping: encode it first, "
                "e.g. send(json.dumps(data))"
            )
        elif isinstance(message, Iterable):
            await self._send_fragments(_aiter_sync(message), text)
        elif isinstance(message, AsyncIterable):
            await self._send_fragments(message.__aiter__(), text)
        else:
            raise TypeError(
                f"send() takes str, bytes-like, or an iterable of them, "
                f"not {type(message).__name__}"
            )

    async def _send_one(self, opcode: int, payload: Payload) -> None:
        lane = self._engine.lane
        if lane.busy:
            async with lane.lock:
                await self._write_message(opcode, payload)
        else:
            await self._write_message(opcode, payload)
        await self._drain()

    async def _write_message(self, opcode: int, payload: Payload) -> None:
        try:
            self._engine.send_message(opcode, payload)
        except InvalidState:
            error = await self._refused()
            raise error from error.__cause__
        except ExtensionFailed as exc:
            error = await self._extension_failed(exc)
            raise error from error.__cause__

    async def _drain(self) -> None:
        try:
            await self._engine.lane.drain()
        except ConnectionResetError:
            error = await self._refused()
            raise error from error.__cause__

    async def _send_fragments(
        self, fragments: AsyncIterator[Data], text: bool | None
    ) -> None:
        engine = self._engine
        protocol = engine.protocol
        async with engine.lane.lock:
            if not protocol.can_send:
                error = await self._refused()
                raise error from error.__cause__
            try:
                current = await fragments.__anext__()
            except StopAsyncIteration:
                return
            is_str = isinstance(current, str)
            kind = type(current).__name__
            opcode = _opcode(current, text)
            sent_first = False
            try:
                while True:
                    if isinstance(current, str) is not is_str or not isinstance(
                        current, (str, bytes, bytearray, memoryview)
                    ):
                        raise TypeError(
                            "a fragmented message must be all str or all "
                            f"bytes-like; got {type(current).__name__} after {kind}"
                        )
                    await self._write_fragment(
                        opcode, _payload(current), not sent_first, False
                    )
                    sent_first = True
                    await self._drain()
                    try:
                        current = await fragments.__anext__()
                    except StopAsyncIteration:
                        break
                await self._write_fragment(opcode, b"", False, True)
                await self._drain()
            except BaseException as exc:
                if protocol.can_send and (sent_first or isinstance(exc, TypeError)):
                    # The message is half sent (or invalid); finishing it is
                    # impossible and starting another would corrupt the
                    # stream (RFC 6455 §5.4).
                    engine.fail(
                        WSCloseCode.INTERNAL_ERROR, "error in fragmented message"
                    )
                raise

    async def _write_fragment(
        self, opcode: int, payload: Payload, first: bool, fin: bool
    ) -> None:
        engine = self._engine
        try:
            frame = engine.protocol.send_fragment(opcode, payload, first=first, fin=fin)
        except InvalidState:
            error = await self._refused()
            raise error from error.__cause__
        except ExtensionFailed as exc:
            error = await self._extension_failed(exc)
            raise error from error.__cause__
        engine.lane.write(frame)

    async def ping(self, data: Data | None = None) -> asyncio.Future[float]:
        """Send a ping; return a future resolving to the round-trip time.

        With no ``data`` a random 4-byte payload is used.  Two pings with the
        same payload in flight raise :class:`~aiows.ConcurrencyError`.
        """
        engine = self._engine
        if data is None:
            payload = engine.unique_ping_payload()
        else:
            payload = _control_payload(data)
            if engine.protocol.ping_in_flight(payload):
                # websockets' words.
                raise ConcurrencyError("already waiting for a pong with the same data")
            if engine.open:
                _check_control(payload)
        try:
            waiter = engine.ping(payload)
        except InvalidState:
            error = await self._refused()
            raise error from error.__cause__
        except ExtensionFailed as exc:
            error = await self._extension_failed(exc)
            raise error from error.__cause__
        await self._drain()
        return waiter

    async def pong(self, data: Data = b"") -> None:
        """Send an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3)."""
        engine = self._engine
        payload = _control_payload(data)
        if engine.open:
            _check_control(payload)
        try:
            engine.lane.write(engine.protocol.send_pong(payload))
        except InvalidState:
            error = await self._refused()
            raise error from error.__cause__
        except ExtensionFailed as exc:
            error = await self._extension_failed(exc)
            raise error from error.__cause__
        await self._drain()


__all__ = ["Data", "Sending"]
