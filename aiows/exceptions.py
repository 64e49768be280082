"""Every exception aiows raises, in one hierarchy.

Each class also derives from the aiohttp exception a user of aiohttp's client
would already catch, so one ``except`` works for code written in either
style::

    ClientError (aiohttp)
    ├── WSServerHandshakeError (aiohttp)
    │   └── InvalidHandshake
    │       ├── InvalidStatus            status other than 101
    │       ├── InvalidUpgrade           Upgrade / Connection headers
    │       ├── InvalidAccept            Sec-WebSocket-Accept
    │       └── NegotiationError         subprotocol or extension
    ├── ClientConnectionResetError (aiohttp)
    │   └── ConnectionClosed             the connection is closed
    │       ├── ConnectionClosedOK       ... with 1000 or 1001 (or no code)
    │       └── ConnectionClosedError    ... any other way
    ├── ServerTimeoutError (aiohttp)
    │   ├── PongTimeout                  keepalive found the peer silent
    │   └── OpenTimeout                  the opening handshake took too long
    └── InvalidURL (aiohttp)
        └── InvalidURI                   not a ws:// or wss:// URI
    WebSocketError (aiohttp)
    └── ProtocolError                    the server broke RFC 6455 / 7692
        └── PayloadTooBig                a message over the size limit
    RuntimeError
    ├── ConcurrencyError                 two tasks did what only one may
    └── TooManyPings                     too many pings wait for a pong
    TypeError
    └── WSMessageTypeError (aiohttp)     receive_str() got no TEXT, ...

The sans-I/O core raises its own errors (:mod:`aiows.core.errors`), since it
may not import aiohttp; the layers above translate them into these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import (
    ClientConnectionResetError,
    ConnectionTimeoutError,
    InvalidURL,
    ServerTimeoutError,
    WebSocketError,
    WSServerHandshakeError,
)

from .core.errors import TooManyPings
from .core.frames import Close

try:
    from aiohttp import WSMessageTypeError
except ImportError:  # pragma: no cover - aiohttp 3.10 has none

    class WSMessageTypeError(TypeError):  # type: ignore[no-redef]
        """The message received is not of the type asked for (aiohttp 3.11's)."""


if TYPE_CHECKING:
    from aiohttp import ClientResponse

__all__ = [
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidAccept",
    "InvalidHandshake",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUpgrade",
    "NegotiationError",
    "OpenTimeout",
    "PayloadTooBig",
    "PongTimeout",
    "ProtocolError",
    "TooManyPings",
    "WSMessageTypeError",
]


class InvalidHandshake(WSServerHandshakeError):
    """The server's answer to the opening handshake was not acceptable.

    ``status`` and ``headers`` are the response's, as in aiohttp.
    """

    #: The handshake response, when the session layer had one.
    response: ClientResponse | None = None


class InvalidStatus(InvalidHandshake):
    """The server answered the upgrade with a status other than 101."""


class InvalidUpgrade(InvalidHandshake):
    """``Upgrade`` or ``Connection`` is missing or is not a WebSocket upgrade."""


class InvalidAccept(InvalidHandshake):
    """``Sec-WebSocket-Accept`` does not match the key the client sent."""


class NegotiationError(InvalidHandshake):
    """The server selected a subprotocol or extension the client cannot accept."""


class ProtocolError(WebSocketError):
    """The server broke a rule of RFC 6455 or RFC 7692.

    ``code`` is the close code aiows sent because of it.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)


class PayloadTooBig(ProtocolError):
    """A message was larger than ``max_msg_size`` (close code 1009)."""


class ConnectionClosed(ClientConnectionResetError):
    """The WebSocket connection is closed, so the operation cannot proceed.

    ``rcvd`` and ``sent`` are the close frames received and sent, if any;
    ``rcvd_then_sent`` says which came first when both did.
    """

    def __init__(
        self,
        rcvd: Close | None,
        sent: Close | None,
        rcvd_then_sent: bool | None = None,
    ) -> None:
        self.rcvd = rcvd
        self.sent = sent
        self.rcvd_then_sent = rcvd_then_sent
        super().__init__(self._describe())

    def _describe(self) -> str:
        if self.rcvd is None and self.sent is None:
            return "no close frame received or sent"
        if self.rcvd is None:
            return f"sent {self.sent}; no close frame received"
        if self.sent is None:
            return f"received {self.rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {self.rcvd}; then sent {self.sent}"
        return f"sent {self.sent}; then received {self.rcvd}"

    def __str__(self) -> str:
        return self._describe()

    @property
    def code(self) -> int:
        """The close code received, or 1006 when none was."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The close reason received, or ``""``."""
        return "" if self.rcvd is None else self.rcvd.reason


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally: 1000, 1001, or a close with no code."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed with an error code, or without a close frame."""


class PongTimeout(ServerTimeoutError):
    """No pong came back in time: the connection is considered dead."""


class OpenTimeout(ConnectionTimeoutError):
    """The opening handshake did not finish within ``open_timeout``."""


class InvalidURI(InvalidURL):
    """The URI is not a valid ``ws://`` or ``wss://`` URI."""


class ConcurrencyError(RuntimeError):
    """Two tasks tried to do at once what only one may, such as ``receive()``."""
