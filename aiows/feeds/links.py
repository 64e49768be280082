"""Links: one connection of a feed, the same to the feed whichever the face.

A :class:`Link` wraps what the face returned (``aiows.ClientConnection``,
``aiows.ClientWebSocketResponse``, or for a listener
``aiows.ListenerConnection``) and gives the feed one way to read, send,
close and learn how the connection ended.  It uses only the faces' public
API.  An ``on_open`` hook is handed the link, to talk to the server before
the subscriptions go::

    @feed.on_open
    async def login(link):
        await link.send({"op": "auth", "token": token})
        reply = await link.recv(timeout=5)
        if reply.get("ok") is not True:
            raise PermissionError(reply)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import ClientConnectionResetError, WSMsgType

from ..exceptions import ConnectionClosed
from .errors import Disconnected
from .metrics import FeedMetrics, payload_size

#: Close code when the connection ended without a close frame (RFC 6455
#: §7.1.5).
ABNORMAL: Final = 1006

# The errors a face's send raises when its connection is closing or gone.
_SEND_CLOSED: Final = (ConnectionClosed, ClientConnectionResetError, ConnectionError)


#: Delivers one message of a link: (message, payload size, link); an
#: awaitable when a full ``block`` channel makes it wait.
Route = Callable[[Any, int, "Link"], "Awaitable[None] | None"]


class LinkEnded(Disconnected):
    """The connection ended; ``code`` is its close code (1006 without one),
    ``cause`` why, if the feed ended it itself."""

    def __init__(
        self, code: int | None, reason: str = "", cause: str | None = None
    ) -> None:
        super().__init__(f"the connection ended with code {code} {reason}".rstrip())
        self.code = code
        self.cause = cause or f"close {code}"


@dataclass(frozen=True)
class Codec:
    """How messages turn into objects and back (``loads``/``dumps``)."""

    loads: Callable[[Any], Any] | None = None
    dumps: Callable[[Any], str | bytes] | None = None

    def encode(self, message: Any) -> str | bytes:
        if isinstance(message, (str, bytes)):
            return message
        if isinstance(message, (bytearray, memoryview)):
            return bytes(message)
        if self.dumps is None:
            raise TypeError(
                f"cannot send {type(message).__name__}: pass dumps= to the feed "
                "(e.g. dumps=json.dumps), or send str or bytes"
            )
        return self.dumps(message)


@dataclass(frozen=True)
class Ended:
    """How a link ended, as the reconnect loop weighs it."""

    #: Why (see :attr:`aiows.feeds.Reconnected.cause`).
    cause: str
    #: The close code, if the connection closed.
    code: int | None
    #: When (the feed's clock).
    at: float
    #: A predicate asked to come back later: a failure whatever the
    #: connection's age, after ``delay`` seconds if it gave a number.
    retry_later: bool = False
    delay: float | None = None
    #: The message a predicate claimed, if one ended the link.
    trigger: Any = None


class Link:
    """One connection of a feed.

    ``ws`` is the face's own connection object.  :meth:`recv` and
    :meth:`send` speak the feed's messages (decoded with ``loads``,
    encoded with ``dumps``); only ``on_open`` hooks read with
    :meth:`recv`, before the feed starts reading the connection itself.
    """

    def __init__(
        self, ws: Any, number: int, codec: Codec, metrics: FeedMetrics
    ) -> None:
        #: The face's connection object.
        self.ws = ws
        #: The connection's ordinal in the feed: 1 for the first.
        self.number = number
        self._codec = codec
        self._metrics = metrics
        loop = asyncio.get_running_loop()
        #: Set once, when the link ends (or the feed stops using it).
        self.ended: asyncio.Future[Ended] = loop.create_future()
        #: Set when a message asks to move to a new connection.
        self.failover: asyncio.Future[Any] = loop.create_future()
        #: When it became ready (the feed's clock); set by the feed.
        self.ready_at = 0.0
        #: The subscriptions sent on it, and whether it has them all.
        self.sent: set[Any] = set()
        self.prepared = False
        #: Data messages read from it, and whether the feed waits in recv.
        self.received = 0
        self.receiving = False
        #: Whether the feed stopped using it (handed over, stalled, ...).
        self.retiring = False
        #: While True, its messages are checked against the keys delivered
        #: before it (de-duplication at the head of a new connection).
        self.checking_duplicates = False
        #: The task that reads it, once it is live.
        self.pump: asyncio.Task[None] | None = None

    # -- reading -----------------------------------------------------------------

    async def next_message(self) -> tuple[Any, int]:
        """The next data message and its payload size; :class:`LinkEnded`
        at the end."""
        raise NotImplementedError

    async def recv(self, timeout: float | None = None) -> Any:
        """The next message from the server (for ``on_open`` hooks).

        Raises :class:`~aiows.feeds.Disconnected` if the connection ends,
        ``asyncio.TimeoutError`` after ``timeout`` seconds.
        """
        if timeout is None:
            message, _ = await self.next_message()
        else:
            message, _ = await asyncio.wait_for(self.next_message(), timeout)
        return message

    def decode(self, data: Any) -> Any:
        loads = self._codec.loads
        return data if loads is None else loads(data)

    def start(
        self,
        route: Route,
        first: tuple[Any, int] | None,
        clock: Callable[[], float],
    ) -> None:
        """Go live: the feed reads this link from now on, ``first`` (a
        message already read) first."""
        self.pump = asyncio.get_running_loop().create_task(
            self._pump(route, first, clock)
        )

    async def _pump(
        self,
        route: Route,
        first: tuple[Any, int] | None,
        clock: Callable[[], float],
    ) -> None:
        try:
            if first is not None:
                waiter = route(first[0], first[1], self)
                if waiter is not None:
                    await waiter
            next_message = self.next_message
            while not self.retiring:
                self.receiving = True
                message, size = await next_message()
                self.receiving = False
                waiter = route(message, size, self)
                if waiter is not None:
                    # A full ``block`` channel: the connection is not read
                    # meanwhile, so the face's flow control pauses it.
                    await waiter
        except LinkEnded as exc:
            self.end(Ended(exc.cause, exc.code, clock()))
        except asyncio.CancelledError:
            if not self.retiring:
                raise
        except Exception as exc:
            # An application function (loads, a predicate, a key) raised:
            # the feed ends with the error.
            if not self.ended.done():
                self.ended.set_exception(exc)
        finally:
            self.receiving = False

    # -- sending -----------------------------------------------------------------

    @property
    def open(self) -> bool:
        """Whether the connection can take a message now."""
        raise NotImplementedError

    async def send(self, message: Any) -> None:
        """Send ``message`` (``str``, ``bytes``, or what ``dumps`` takes).

        Raises :class:`LinkEnded` (a :class:`~aiows.feeds.Disconnected`)
        when the connection is not open: then nothing was written.  If the
        connection ends during the send, it raises
        :class:`~aiows.feeds.Disconnected`: the message may or may not have
        reached the server, and the feed never sends it again.
        """
        payload = self._codec.encode(message)
        if not self.open:
            ended = self.ended
            cause = None
            if ended.done() and ended.exception() is None:
                cause = ended.result().cause
            raise LinkEnded(self.close_code, cause=cause)
        metrics = self._metrics
        metrics.messages_out += 1
        metrics.bytes_out += payload_size(payload)
        try:
            await self._write(payload)
        except _SEND_CLOSED as exc:
            raise Disconnected(
                "the connection ended during the send: the message may not "
                "have reached the server"
            ) from exc

    async def _write(self, payload: str | bytes) -> None:
        raise NotImplementedError

    # -- state and closing -------------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The close code once the connection ended, else None."""
        code: int | None = self.ws.close_code
        return code

    @property
    def latency(self) -> float:
        """Round-trip time of the last ping answered (seconds)."""
        latency: float = self.ws.latency
        return latency

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait for it to end."""
        raise NotImplementedError

    def end(self, ended: Ended) -> None:
        """Record how the link ended (the first record wins)."""
        if not self.ended.done():
            self.ended.set_result(ended)


class WebsocketsLink(Link):
    """A link over ``aiows.ClientConnection`` (``face="websockets"``):
    messages are ``str`` and ``bytes``."""

    async def next_message(self) -> tuple[Any, int]:
        try:
            data = await self.ws.recv()
        except ConnectionClosed as exc:
            raise LinkEnded(exc.code, exc.reason) from exc
        self.received += 1
        return self.decode(data), payload_size(data)

    @property
    def open(self) -> bool:
        return bool(self.ws.open)

    async def _write(self, payload: str | bytes) -> None:
        await self.ws.send(payload)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


class StrOrBytesLink(Link):
    """A link over a connection with aiohttp's sending methods (the aiohttp
    face and the listener's): ``send_str``, ``send_bytes`` and ``closed``."""

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def _write(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            await self.ws.send_str(payload)
        else:
            await self.ws.send_bytes(payload)


class AiohttpLink(StrOrBytesLink):
    """A link over ``aiows.ClientWebSocketResponse`` (``face="aiohttp"``):
    messages are ``aiohttp.WSMessage`` of type TEXT or BINARY."""

    async def next_message(self) -> tuple[Any, int]:
        ws = self.ws
        while True:
            msg = await ws.receive()
            kind = msg.type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                break
            if kind is WSMsgType.CLOSE:
                raise LinkEnded(msg.data, msg.extra or "")
            if kind is WSMsgType.ERROR or kind is WSMsgType.CLOSING:
                raise LinkEnded(ws.close_code or ABNORMAL, str(msg.data or ""))
            if kind is WSMsgType.CLOSED:
                raise LinkEnded(ws.close_code or ABNORMAL)
            # PING and PONG come only with autoping=False: not messages.
        self.received += 1
        loads = self._codec.loads
        return (msg if loads is None else loads(msg.data)), payload_size(msg.data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code=code, message=reason.encode())
