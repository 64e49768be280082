"""The listener API: callbacks for latency-critical code, no task per message.

Subclass :class:`Listener` and open it with
:meth:`aiows.ClientSession.ws_listen`: each message the server sends is
handed to :meth:`Listener.on_message` from inside the transport's read, and
the listener may answer from there with
:meth:`ListenerConnection.send_bytes_nowait`, so a message in and a message
out cost no task wake-up at all.  The upgrade rides the same session as
everything else (connector pool, cookies, auth, proxy, TLS).

Choose it over ``receive()`` when the per-message cost matters more than
the convenience of ``await``: market data, telemetry, game state.  Keep the
callbacks short: the event loop does nothing else while they run.

Flow control: there is no queue to fill, so the socket itself is the
buffer.  When what the callbacks sent while handling a read leaves the
transport's buffer over its high-water mark (``write_limit``), reading
pauses until it drains: a server that sends without reading cannot grow the
client's memory through the replies.  A listener that must wait for work of
its own calls :meth:`ListenerConnection.pause_reading` and, later,
:meth:`ListenerConnection.resume_reading`; meanwhile the server's messages
wait in the kernel's buffers and then in the server's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from aiohttp import ClientConnectionResetError, ClientResponse, WSMsgType

from ..core.errors import InvalidState
from ..core.frames import Opcode, WSCloseCode
from ..core.messages import Event, MessageKinds
from ..engine.connection import Connection
from ..engine.reading import APPLICATION
from .aiohttp_messages import WSMessage

logger: Final = logging.getLogger("aiows.client")

#: Messages for listeners: aiohttp's classes and type members.
KINDS: Final = MessageKinds(WSMessage, WSMessage, WSMessage, WSMsgType, "")

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_TEXT_OP: Final = int(Opcode.TEXT)
_BINARY_OP: Final = int(Opcode.BINARY)


class Listener:
    """Subclass and override what you need; every callback is optional.

    ::

        class Echo(aiows.Listener):
            def on_message(self, ws, kind, data):
                ws.send_bytes_nowait(data)

        ws = await session.ws_listen("wss://example.com/feed", Echo())
        await ws.wait_closed()

    Callbacks run inside the event loop's read of the socket; an exception
    from one fails the connection with 1011 and is logged.
    """

    def on_open(self, ws: ListenerConnection) -> None:
        """The connection is open (called before ``ws_listen`` returns)."""

    def on_message(self, ws: ListenerConnection, kind: WSMsgType, data: Any) -> None:
        """A whole message: ``kind`` is TEXT (``data`` a ``str``) or BINARY
        (``data`` ``bytes``, handed over without another copy)."""

    def on_close(self, ws: ListenerConnection, code: int, reason: str) -> None:
        """The connection is gone; ``code`` is 1006 when no close frame came."""


class ListenerConnection:
    """The connection a :class:`Listener` sends on."""

    __slots__ = ("_compress", "_engine", "_listener", "_response", "_subprotocol")

    def __init__(
        self,
        engine: Connection,
        listener: Listener,
        response: ClientResponse,
        subprotocol: str | None,
        compress: int = 0,
    ) -> None:
        self._engine = engine
        self._listener = listener
        self._response = response
        self._subprotocol = subprotocol
        self._compress = compress

    # -- state -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether a close frame went either way, or the transport is gone."""
        return not self._engine.open

    @property
    def close_code(self) -> int | None:
        """The server's close code; 1006 once gone without one; None while open."""
        engine = self._engine
        rcvd = engine.protocol.close_rcvd
        if rcvd is not None:
            return rcvd.code
        if engine.transport is None:
            return WSCloseCode.ABNORMAL_CLOSURE
        return None

    @property
    def protocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._subprotocol

    @property
    def compress(self) -> int:
        """The client's negotiated window bits (as aiohttp's); 0: no compression."""
        return self._compress

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered, in seconds."""
        return self._engine.latency

    @property
    def writing_paused(self) -> bool:
        """Whether the transport's buffer is over its high-water mark; a
        listener that sends a lot should hold back while it is."""
        return self._engine.lane.paused

    @property
    def reading_paused(self) -> bool:
        """Whether the client stopped reading the socket, for any reason:
        :meth:`pause_reading`, or its own writes backed up."""
        return self._engine.reading_paused

    def pause_reading(self) -> None:
        """Stop reading the socket until :meth:`resume_reading`: no callback
        runs for a message meanwhile (what came in the same read is still
        handed over).  Keepalive allows for it: no pong is missed while the
        client does not read."""
        self._engine.reading.set(APPLICATION, True)

    def resume_reading(self) -> None:
        """Read the socket again after :meth:`pause_reading`."""
        self._engine.reading.set(APPLICATION, False)

    @property
    def response(self) -> ClientResponse:
        """The handshake's ``aiohttp.ClientResponse``."""
        return self._response

    # -- sending -----------------------------------------------------------------

    def _write(self, opcode: int, payload: Any) -> None:
        try:
            self._engine.send_message(opcode, payload)
        except InvalidState:
            raise ClientConnectionResetError("the connection is closing") from None

    def send_bytes_nowait(self, data: bytes | bytearray | memoryview) -> None:
        """Send a BINARY message now, without waiting for the buffer to drain."""
        self._write(_BINARY_OP, data)

    def send_str_nowait(self, data: str) -> None:
        """Send a TEXT message now, without waiting for the buffer to drain."""
        self._write(_TEXT_OP, data.encode("utf-8"))

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send a BINARY message, then wait while the buffer is over its mark."""
        self._write(_BINARY_OP, data)
        await self._engine.lane.drain()

    async def send_str(self, data: str) -> None:
        """Send a TEXT message, then wait while the buffer is over its mark."""
        self._write(_TEXT_OP, data.encode("utf-8"))
        await self._engine.lane.drain()

    def ping(self, data: bytes = b"") -> asyncio.Future[float]:
        """Send a ping; the future resolves to the round-trip time."""
        try:
            return self._engine.ping(bytes(data))
        except InvalidState:
            raise ClientConnectionResetError("the connection is closing") from None

    # -- closing -----------------------------------------------------------------

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Perform the closing handshake and wait for the connection to end."""
        self._engine.close(code, reason)
        await self._engine.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the connection is gone (and ``on_close`` ran)."""
        await self._engine.wait_closed()


class ListenerSink:
    """Hands the engine's messages to a listener as they are parsed."""

    __slots__ = ("_engine", "_listener", "_ws")

    def __init__(self, ws: ListenerConnection) -> None:
        self._ws = ws
        self._engine = ws._engine
        self._listener = ws._listener

    def put(self, events: list[Event]) -> None:
        on_message = self._listener.on_message
        ws = self._ws
        for msg in events:
            kind = msg[0]
            try:
                if kind is _TEXT or kind is _BINARY:
                    on_message(ws, kind, msg[1])
                else:
                    # The close (or the failure) is answered once the
                    # listener has seen, and answered, what came before it,
                    # and after the pongs of the pings that came before it.
                    self._engine.write_replies()
                    self._engine.answer()
            except Exception:
                logger.exception(
                    "listener %r raised; closing with 1011", self._listener
                )
                self._engine.fail(WSCloseCode.INTERNAL_ERROR, "listener error")
                return

    def closing_started(self) -> None:
        """Nothing to do: the engine drops nothing for a listener."""

    def end(self) -> None:
        rcvd = self._engine.protocol.close_rcvd
        code = WSCloseCode.ABNORMAL_CLOSURE if rcvd is None else rcvd.code
        try:
            self._listener.on_close(self._ws, code, "" if rcvd is None else rcvd.reason)
        except Exception:
            logger.exception("listener %r raised in on_close", self._listener)
