"""Taking the upgraded socket over from aiohttp: every internal in one place.

aiohttp has no public API to hand an upgraded connection to another
protocol, so this module uses the fewest internals that do it, each named
below.  They exist, with the same meaning, from aiohttp 3.10 to 3.14; CI runs
the suite on both ends of that range.

1. ``ResponseHandler.read_timeout`` (property setter): aiohttp's ``sock_read``
   timer must not fire on a WebSocket, which may be idle for hours.  aiohttp's
   own ``ws_connect`` sets it the same way.
2. ``ResponseHandler.set_parser(parser, payload)``: hands over the bytes that
   arrived in the same segment as the 101 response (aiohttp keeps them as the
   "tail" of the upgrade).  Those are the server's first frames; dropping
   them would lose messages.  ``parser.feed_data(data)`` must return a pair
   whose first item is falsy, as aiohttp's own WebSocket reader does.
3. ``ResponseHandler.connection_lost(exc)``, called by us: once the transport
   belongs to aiows, aiohttp no longer hears that the socket closed, but its
   connector waits for that on ``ClientSession.close()``.  So aiows passes
   the event on.

4. ``ClientResponse._protocol`` (attribute): when the server refuses the
   upgrade, or answers 101 without ``Upgrade``/``Connection``, aiohttp sees
   an ordinary response without a body and returns the socket to its
   keep-alive pool before aiows gets the response.  After a 101 the server
   no longer speaks HTTP on it, so reusing it would break the next request;
   aiows closes it through this attribute.  (A request that took the
   socket from the pool in the meantime, possible only while a trace
   callback of the failed handshake is suspended, sees it closed.)

5. ``ClientResponse._history`` (attribute): aiows follows redirects itself
   (to refuse ``wss://`` to ``ws://`` before anything is sent in clear
   text), so it records the redirect responses there, where aiohttp users
   read them as ``response.history``.

6. ``BaseConnector._create_connection``, overridden in ``unix.py`` so that a
   ``wss://`` URI over a Unix socket gets TLS (aiohttp's ``UnixConnector``
   would speak clear text).

7. ``ResponseHandler._parser`` (attribute), set to None after the hand-over:
   aiohttp's HTTP response parser has nothing left to parse on an upgraded
   socket, and keeping it costs every open WebSocket about 0.8 KiB.
   aiohttp sets it to None itself when the connection is lost; the only
   difference is that it does not call ``feed_eof()`` on it then, which on
   an upgraded connection has nothing to report.

8. ``DataQueue._buffer`` (attribute of ``ResponseHandler``, a
   ``collections.deque``) replaced by one empty ``deque(maxlen=0)`` shared
   by all: it queues parsed HTTP responses, of which an upgraded socket
   has no more, and an empty deque costs 760 bytes per open WebSocket.
   aiohttp only tests it for emptiness after the hand-over
   (``should_close``, ``is_eof``); with ``maxlen=0`` nothing could stay in
   it even if something were added.

9. ``ResponseHandler._payload_parser`` (attribute), set to None once
   ``set_parser`` (internal 2) has fed the tail: the stand-in reader has
   done its work, and keeping it (with the engine's bound method) costs
   every open WebSocket 112 bytes.  aiohttp only calls ``feed_eof()`` on
   it when the connection is lost, which the stand-in ignores, and the
   connection is closed rather than reused either way (it was upgraded).

Everything else is public: ``ClientResponse.connection``, the
``Connection.protocol`` and ``.transport`` properties,
``asyncio.Transport.set_protocol`` and ``ClientResponse.close()``, which
releases the connector slot.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import ClientResponse

# Stands in for the HTTP response queue of every upgraded connection
# (internal 8): always empty.
_NO_RESPONSES: deque[Any] = deque(maxlen=0)


class _TailReader:
    """Stands in for aiohttp's WebSocket reader just long enough to get the tail."""

    __slots__ = ("_data_received",)

    def __init__(self, data_received: Callable[[bytes], None]) -> None:
        self._data_received = data_received

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._data_received(data)
        return False, b""

    def feed_eof(self) -> None:
        """Nothing to do: the connection layer hears of EOF from the transport."""


def upgraded_transport(response: ClientResponse) -> asyncio.Transport:
    """The transport of the upgraded connection behind a 101 ``response``."""
    connection = response.connection
    assert connection is not None, "the 101 response has no connection"
    transport = connection.transport
    assert transport is not None
    return transport


def take_over(
    response: ClientResponse,
    protocol: asyncio.BaseProtocol,
    data_received: Callable[[bytes], None],
) -> Callable[[BaseException | None], None]:
    """Install ``protocol`` on the upgraded socket behind ``response``.

    Feeds ``data_received`` the bytes that came with the 101 first (the
    protocol may be a buffered one, which reads only into its buffers).
    Returns the function ``protocol`` must call from its ``connection_lost``
    so aiohttp learns the socket is gone and releases the connector slot.
    """
    connection = response.connection
    assert connection is not None, "the 101 response has no connection"
    http_protocol: Any = connection.protocol
    transport = connection.transport
    assert http_protocol is not None and transport is not None

    http_protocol.read_timeout = None  # internal 1
    http_protocol.set_parser(_TailReader(data_received), None)  # internal 2
    transport.set_protocol(protocol)
    if hasattr(http_protocol, "_parser"):
        http_protocol._parser = None  # internal 7
    if isinstance(getattr(http_protocol, "_buffer", None), deque):
        http_protocol._buffer = _NO_RESPONSES  # internal 8
    if isinstance(getattr(http_protocol, "_payload_parser", None), _TailReader):
        http_protocol._payload_parser = None  # internal 9

    return _Release(http_protocol, response)


class _Release:
    """Tells aiohttp the upgraded socket is gone, so the connector frees
    its slot.  (An object of two slots: a closure cost 350 bytes more for
    each connection.)"""

    __slots__ = ("_http_protocol", "_response")

    def __init__(self, http_protocol: Any, response: ClientResponse) -> None:
        self._http_protocol = http_protocol
        self._response = response

    def __call__(self, exc: BaseException | None) -> None:
        self._http_protocol.connection_lost(exc)  # internal 3
        self._response.close()


def discard(response: ClientResponse) -> None:
    """Release a failed handshake's connection and close its socket."""
    protocol: Any = getattr(response, "_protocol", None)  # internal 4
    response.close()
    if protocol is not None:
        protocol.close()


def record_history(response: ClientResponse, history: list[ClientResponse]) -> None:
    """Make ``response.history`` list the redirects aiows followed."""
    if history:
        response._history = tuple(history)  # internal 5
