"""Taking the upgraded socket over from aiohttp: every internal in one place.

aiohttp has no public API to hand an upgraded connection to another
protocol.  :func:`take_over` does it in one synchronous step, in this order,
so that nothing happens in between:

1. the engine becomes the transport's protocol: from then on every callback
   of the transport (``pause_writing`` among them) reaches the engine, none
   aiohttp's protocol;
2. the bytes that came with the 101 (aiohttp keeps them as the "tail" of
   the upgrade) are taken out of aiohttp, unparsed;
3. the engine adopts the transport's flow-control state: whether writing is
   paused (aiohttp's protocol heard of it, the engine did not) and whether
   reading is (aiohttp may have paused or resumed it for the tail);
4. only then does the engine parse the tail: the pongs it answers a ping
   flood with see the real state of the write buffer.

The internals used, each tested against the oldest and the newest aiohttp
CI runs (3.10 and 3.14):

1. ``ResponseHandler.read_timeout`` (property setter): aiohttp's ``sock_read``
   timer must not fire on a WebSocket, which may be idle for hours.  aiohttp's
   own ``ws_connect`` sets it the same way.
2. ``ResponseHandler.set_parser(parser, payload)``: hands over the tail.
   ``parser.feed_data(data)`` must return a pair whose first item says the
   payload ended; then aiohttp drops the stand-in parser itself.
3. ``BaseProtocol.writing_paused`` (property, aiohttp 3.11 and later;
   ``_paused`` on 3.10): whether the transport paused writing while aiohttp's
   protocol was its protocol (a large upgrade request the server did not
   read, say).  The transport calls ``resume_writing`` on whichever protocol
   it has when its buffer drains, so the engine must start paused.
4. ``ResponseHandler.connection_lost(exc)``, called by us: once the transport
   belongs to aiows, aiohttp no longer hears that the socket closed, but its
   connector waits for that on ``ClientSession.close()``.  So aiows passes
   the event on.
5. ``ClientResponse._protocol`` (attribute): when the server refuses the
   upgrade, or answers 101 without ``Upgrade``/``Connection``, aiohttp sees
   an ordinary response without a body and returns the socket to its
   keep-alive pool before aiows gets the response.  After a 101 the server
   no longer speaks HTTP on it, so reusing it would break the next request;
   aiows closes it through this attribute.  (A request that took the
   socket from the pool in the meantime, possible only while a trace
   callback of the failed handshake is suspended, sees it closed.)
6. ``ClientResponse._history`` (attribute): aiows follows redirects itself
   (to refuse ``wss://`` to ``ws://`` before anything is sent in clear
   text), so it records the redirect responses there, where aiohttp users
   read them as ``response.history``.
7. ``BaseConnector._create_connection``, overridden in ``unix.py`` so that a
   ``wss://`` URI over a Unix socket gets TLS (aiohttp's ``UnixConnector``
   would speak clear text).
8. ``ResponseHandler._parser`` and its ``DataQueue._buffer`` (attributes),
   dropped after the hand-over: aiohttp's HTTP response parser and its
   queue of parsed responses have nothing left to do on an upgraded
   socket, and keeping them costs every open WebSocket about 1.5 KiB.
   aiohttp sets the parser to None itself when the connection is lost (it
   does not call ``feed_eof()`` on it then, which on an upgraded connection
   has nothing to report), and after the hand-over only tests the queue
   for emptiness (``should_close``, ``is_eof``): it is replaced by one empty
   ``deque(maxlen=0)`` shared by all, where nothing could stay.

Everything else is public: ``ClientResponse.connection``, the
``Connection.protocol`` and ``.transport`` properties,
``asyncio.Transport.set_protocol`` and ``ClientResponse.close()``, which
releases the connector slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import ClientResponse

# Stands in for the HTTP response queue of every upgraded connection
# (internal 8): always empty.
_NO_RESPONSES: deque[Any] = deque(maxlen=0)


class Adopter(Protocol):
    """What takes the socket over: the engine."""

    def adopt(self, *, writing_paused: bool) -> None:
        """Start from the transport's flow-control state."""

    def data_received(self, data: bytes) -> None:
        """Take bytes from the server."""

    @property
    def transport(self) -> asyncio.BaseTransport | None:
        """The transport it was built with (:func:`upgraded_transport`)."""


class _TailCollector:
    """Stands in for aiohttp's WebSocket reader just long enough to take the
    tail out, unparsed.

    One per thread, shared by its connections: aiohttp feeds it within
    ``set_parser``, and :meth:`take` empties it right after.  With a tail,
    aiohttp drops it once fed (internal 2); without one it keeps it, and an
    idle connection then holds no object of its own for it.
    """

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._tail += data
        return True, b""  # the payload ended: aiohttp drops this reader

    def feed_eof(self) -> None:
        """Nothing to do: the engine hears of EOF from the transport."""

    def take(self) -> bytes:
        tail, self._tail = self._tail, b""
        return tail


_this_thread = threading.local()


def _collector() -> _TailCollector:
    collector: _TailCollector | None = getattr(_this_thread, "collector", None)
    if collector is None:
        collector = _this_thread.collector = _TailCollector()
    return collector


class _GoneTransport(asyncio.Transport):
    """Stands in for the transport of a socket the server closed before aiows
    took it over (while a trace callback held the 101, say): it takes no
    writes and has nothing to read.  The engine parses what came before the
    end, and then hears that the connection is lost: as from a socket, only
    while it reads, so that what the parser keeps back for want of queue
    room (``ClientProtocol.pending``) is parsed first, and no message that
    came before the end is lost."""

    def __init__(self) -> None:
        super().__init__()
        self._protocol: asyncio.BaseProtocol | None = None
        self._reading = True
        # end() was called: the socket is gone, and the protocol hears it
        # once it reads, or once it closes or aborts (as with a socket).
        self._ended = False
        self._reported = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def end(self) -> None:
        """Report the end to the protocol (a loop iteration later) once it
        reads: at once, unless its reading is paused."""
        self._ended = True
        if self._reading:
            self._report()

    def _report(self) -> None:
        if not self._reported:
            self._reported = True
            asyncio.get_running_loop().call_soon(self._lost)

    def _lost(self) -> None:
        self.get_protocol().connection_lost(None)

    def is_closing(self) -> bool:
        return True

    def write(self, data: Any) -> None:
        """Nothing goes out on a closed socket."""

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(
        self, high: int | None = None, low: int | None = None
    ) -> None:
        """No buffer to limit."""

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        self._reading = True
        if self._ended:
            self._report()

    def close(self) -> None:
        """Closed already: the protocol hears of the end (once)."""
        self._report()

    def abort(self) -> None:
        """Closed already: the protocol hears of the end (once)."""
        self._report()


def upgraded_transport(response: ClientResponse) -> asyncio.Transport:
    """The transport of the upgraded connection behind a 101 ``response``; a
    stand-in when the server closed the socket before aiows could take it
    (:func:`take_over` then ends the connection once the tail is parsed)."""
    connection = response.connection
    transport = None if connection is None else connection.transport
    return _GoneTransport() if transport is None else transport


def _writing_paused(http_protocol: Any) -> bool:
    paused = getattr(http_protocol, "writing_paused", None)  # internal 3
    if paused is None:  # aiohttp 3.10
        paused = http_protocol._paused
    return bool(paused)


def take_over(
    response: ClientResponse, engine: asyncio.BaseProtocol
) -> Callable[[BaseException | None], None]:
    """Make ``engine`` the protocol of the upgraded socket behind ``response``.

    ``engine`` must be an :class:`Adopter` too.  See the module's docstring
    for the order of the steps, which is what makes the hand-over atomic.
    Returns the function ``engine`` must call from its ``connection_lost`` so
    aiohttp learns the socket is gone and releases the connector slot.
    """
    adopter: Adopter = engine  # type: ignore[assignment]
    connection = response.connection
    http_protocol: Any = None if connection is None else connection.protocol
    transport = None if connection is None else connection.transport
    if transport is None:
        return _gone(response, http_protocol, engine)

    http_protocol.read_timeout = None  # internal 1
    transport.set_protocol(engine)
    collector = _collector()
    http_protocol.set_parser(collector, None)  # internal 2
    tail = collector.take()
    adopter.adopt(writing_paused=_writing_paused(http_protocol))
    if hasattr(http_protocol, "_parser"):
        http_protocol._parser = None  # internal 8
    if isinstance(getattr(http_protocol, "_buffer", None), deque):
        http_protocol._buffer = _NO_RESPONSES  # internal 8
    if tail:
        adopter.data_received(tail)
    return _Release(http_protocol, response)


def _gone(
    response: ClientResponse, http_protocol: Any, engine: asyncio.BaseProtocol
) -> Callable[[BaseException | None], None]:
    """The server closed the socket before the hand-over: parse what it sent
    before that (still aiohttp's tail), then end the connection."""
    adopter: Adopter = engine  # type: ignore[assignment]
    transport = adopter.transport
    assert isinstance(transport, _GoneTransport)  # upgraded_transport()'s
    transport.set_protocol(engine)
    tail = b""
    if http_protocol is not None:
        collector = _collector()
        http_protocol.set_parser(collector, None)  # internal 2
        tail = collector.take()
    if tail:
        adopter.data_received(tail)
    response.close()
    # A loop iteration later at the soonest, as a transport reports it: the
    # face is built and in the caller's hands by then.
    transport.end()
    return _forget


def _forget(exc: BaseException | None) -> None:
    """aiohttp already knows the socket is gone: nothing to tell it."""


class _Release:
    """Tells aiohttp the upgraded socket is gone, so the connector frees
    its slot.  (An object of two slots: a closure cost 350 bytes more for
    each connection.)"""

    __slots__ = ("_http_protocol", "_response")

    def __init__(self, http_protocol: Any, response: ClientResponse) -> None:
        self._http_protocol = http_protocol
        self._response = response

    def __call__(self, exc: BaseException | None) -> None:
        self._http_protocol.connection_lost(exc)  # internal 4
        self._response.close()


def discard(response: ClientResponse) -> None:
    """Release a failed handshake's connection and close its socket."""
    protocol: Any = getattr(response, "_protocol", None)  # internal 5
    response.close()
    if protocol is not None:
        protocol.close()


def record_history(response: ClientResponse, history: list[ClientResponse]) -> None:
    """Make ``response.history`` list the redirects aiows followed."""
    if history:
        response._history = tuple(history)  # internal 6
