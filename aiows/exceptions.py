"""Every exception aiows raises, in one hierarchy.

Every class derives from :class:`WebSocketException` (websockets' root) and
also from the aiohttp exception a user of aiohttp's client would already
catch, so one ``except`` works for code written in either style.  The names
are websockets' (SecurityError's subclasses, the negotiation errors and a
few server-side ones exist so that code naming them imports)::

    ClientError (aiohttp)
    ├── WSServerHandshakeError (aiohttp)
    │   └── InvalidHandshake             (websockets' names from here down)
    │       ├── SecurityError            the answer went past a limit
    │       ├── InvalidMessage           not valid HTTP, or no answer at all
    │       ├── InvalidStatusCode        status other than 101 (legacy name)
    │       │   └── InvalidStatus        ... websockets' current name
    │       ├── InvalidHeader            a header is missing or wrong
    │       │   ├── InvalidHeaderFormat
    │       │   ├── InvalidHeaderValue   (InvalidAccept: Sec-WebSocket-Accept)
    │       │   ├── InvalidOrigin
    │       │   └── InvalidUpgrade       Upgrade / Connection headers
    │       ├── NegotiationError         subprotocol or extension
    │       └── ProxyError               the proxy could not open the way
    │           ├── InvalidProxyMessage
    │           └── InvalidProxyStatus   (also ClientHttpProxyError)
    ├── ClientConnectionResetError (aiohttp)
    │   └── ConnectionClosed             the connection is closed
    │       ├── ConnectionClosedOK       ... with 1000 or 1001 (or no code)
    │       └── ConnectionClosedError    ... any other way
    ├── ServerTimeoutError (aiohttp)
    │   ├── PongTimeout                  keepalive found the peer silent
    │   └── OpenTimeout                  the opening handshake took too long
    │                                    (both also the built-in TimeoutError,
    │                                    another class on Python 3.10)
    └── InvalidURL (aiohttp)
        ├── InvalidURI                   not a ws:// or wss:// URI
        └── InvalidProxy                 a proxy URL aiows cannot use
    WebSocketError (aiohttp)
    ├── ProtocolError                    the server broke RFC 6455 / 7692
    └── PayloadTooBig                    a message over the size limit
    RuntimeError
    ├── ConcurrencyError                 two tasks did what only one may
    └── TooManyPings                     too many pings wait for a pong
    TypeError
    └── WSMessageTypeError (aiohttp)     receive_str() got no TEXT, ...

The sans-I/O core raises its own errors (:mod:`aiows.core.errors`), since it
may not import aiohttp; the layers above translate them into these.
"""

from __future__ import annotations

from aiohttp import (
    ClientConnectionResetError,
    ClientHttpProxyError,
    ConnectionTimeoutError,
    InvalidURL,
    ServerTimeoutError,
    WebSocketError,
    WSServerHandshakeError,
)

from .core.errors import MessageTooBig, TooManyPings
from .core.errors import ProtocolError as CoreProtocolError
from .core.frames import Close
from .core.handshake import Response

try:
    from aiohttp import WSMessageTypeError
except ImportError:  # pragma: no cover - aiohttp 3.10 has none

    class WSMessageTypeError(TypeError):  # type: ignore[no-redef]
        """The message received is not of the type asked for (aiohttp 3.11's)."""


__all__ = [
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "DuplicateParameter",
    "HeaderLineTooLong",
    "InvalidAccept",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidHeaderFormat",
    "InvalidHeaderValue",
    "InvalidMessage",
    "InvalidMethod",
    "InvalidOrigin",
    "InvalidParameterName",
    "InvalidParameterValue",
    "InvalidProtocol",
    "InvalidProxy",
    "InvalidProxyMessage",
    "InvalidProxyStatus",
    "InvalidState",
    "InvalidStatus",
    "InvalidStatusCode",
    "InvalidURI",
    "InvalidUpgrade",
    "NegotiationError",
    "OpenTimeout",
    "PayloadTooBig",
    "PongTimeout",
    "ProtocolError",
    "ProxyError",
    "RequestLineTooLong",
    "SecurityError",
    "StatusLineTooLong",
    "TooManyFragments",
    "TooManyHeaders",
    "TooManyPings",
    "WSMessageTypeError",
    "WebSocketException",
]


class WebSocketException(Exception):
    """The root of aiows's own exceptions (websockets' name).

    ``except aiows.WebSocketException`` catches every error aiows defines;
    each also derives from the aiohttp exception that means the same.
    """


class _Worded:
    """Shown in the words of the library the caller came from.

    An error of the opening handshake reads as aiohttp's do (status,
    message and URL) where aiohttp's API raised it, and as websockets' do
    (its words alone) where :func:`aiows.connect` raised it, since code
    written for either matches on those strings.  aiows's own, more detailed
    account is :attr:`detail`.
    """

    #: websockets' words for the same failure; None when the message is
    #: already them.
    websockets_message: str | None = None
    #: aiows's own account of what was wrong, where the message is another
    #: library's words ("" when it is not).
    detail: str = ""
    # Whether str() gives websockets' words (set by aiows.connect()).
    _websockets_style = False

    def in_websockets_words(self) -> None:
        """Make ``str()`` give websockets' words from now on."""
        self._websockets_style = True

    def __str__(self) -> str:
        if self._websockets_style:
            if self.websockets_message is not None:
                return self.websockets_message
            message = getattr(self, "message", None)
            if isinstance(message, str):
                return message
        return super().__str__()


class InvalidHandshake(_Worded, WebSocketException, WSServerHandshakeError):
    """The opening handshake failed: the server's answer, or the way to it.

    ``status`` and ``headers`` are the response's, as in aiohttp (0 and None
    when there was no valid response).
    """

    #: The server's answer, websockets-style (``status_code``,
    #: ``reason_phrase``, ``headers``, ``body``), when there was one.
    response: Response | None = None


class SecurityError(InvalidHandshake):
    """The server's answer went past a limit (header lines, fields, body), or a
    redirect would lower the security of the connection."""


class HeaderLineTooLong(SecurityError):
    """A header line of the server's answer is over aiohttp's limit."""


class StatusLineTooLong(SecurityError):
    """The status line of the server's answer is over aiohttp's limit."""


class TooManyHeaders(SecurityError):
    """The server's answer has more header fields than aiohttp accepts."""


class RequestLineTooLong(SecurityError):
    """A server-side limit, defined so websockets code that names it imports."""


class InvalidMessage(InvalidHandshake):
    """The server's answer was not a valid HTTP response, or it closed the
    connection before answering."""


class InvalidStatusCode(InvalidHandshake):
    """The server answered the upgrade with a status other than 101
    (websockets' legacy name, kept so ``except InvalidStatusCode`` in code
    written for the legacy client still catches it): ``status_code``."""

    @property
    def status_code(self) -> int:
        """The status the server answered with."""
        return self.status


class InvalidStatus(InvalidStatusCode):
    """The server answered the upgrade with a status other than 101.

    ``response.status_code`` is that status (websockets' spelling);
    ``status`` is the same (aiohttp's).  It is an
    :class:`InvalidStatusCode` too, the legacy client's name.
    """


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing or wrong; ``name`` and ``value`` say which."""

    #: The header's name.
    name: str = ""
    #: Its value, or None when it was missing.
    value: str | None = None


class InvalidHeaderFormat(InvalidHeader):
    """A handshake header does not follow its grammar."""


class InvalidHeaderValue(InvalidHeader):
    """A handshake header has a value the client cannot accept."""


class InvalidOrigin(InvalidHeader):
    """The ``Origin`` header is not acceptable (a server-side check)."""


class InvalidUpgrade(InvalidHeader):
    """``Upgrade`` or ``Connection`` is missing or is not a WebSocket upgrade."""


#: ``Sec-WebSocket-Accept`` does not match the key the client sent: the
#: :class:`InvalidHeaderValue` websockets raises (aiows's older name).
InvalidAccept = InvalidHeaderValue


class NegotiationError(InvalidHandshake):
    """The server selected a subprotocol or extension the client cannot accept."""


class DuplicateParameter(NegotiationError):
    """An extension parameter appears twice in the server's answer."""


class InvalidParameterName(NegotiationError):
    """The server's answer names an extension parameter that does not exist."""


class InvalidParameterValue(NegotiationError):
    """An extension parameter in the server's answer has a bad value."""


class InvalidMethod(InvalidHandshake):
    """A server-side check, defined so websockets code that names it imports."""


class InvalidProtocol(InvalidHandshake):
    """A server-side check, defined so websockets code that names it imports."""


class ProxyError(InvalidHandshake):
    """The proxy could not open the way to the server."""


class InvalidProxyMessage(ProxyError):
    """The proxy's answer to CONNECT was not a valid HTTP response."""


class InvalidProxyStatus(ProxyError, ClientHttpProxyError):
    """The proxy answered CONNECT with a status other than 2xx (aiohttp's
    ``ClientHttpProxyError`` too); ``response.status_code`` is that status."""


class ProtocolError(WebSocketException, WebSocketError):
    """The server broke a rule of RFC 6455 or RFC 7692.

    ``code`` is the close code aiows sent because of it.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)


class PayloadTooBig(WebSocketException, WebSocketError):
    """A message was larger than ``max_msg_size`` (close code 1009).

    As in websockets it is not a :class:`ProtocolError`; ``code`` is 1009.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)


class TooManyFragments(WebSocketException):
    """A message came in more fragments than accepted (websockets' name; aiows
    joins fragments within ``max_msg_size`` and never raises it)."""


class InvalidState(WebSocketException, AssertionError):
    """An operation the connection's state does not allow (websockets' name).

    aiows's faces raise :class:`ConnectionClosed` for a closed connection;
    this is for code that catches websockets' class by name.
    """


class ConnectionClosed(WebSocketException, ClientConnectionResetError):
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


# aiohttp's timeouts are asyncio.TimeoutError, which on Python 3.10 is not
# the built-in TimeoutError (from 3.11 on they are one class).  aiows's two
# derive from both, so that ``except TimeoutError`` and ``except
# asyncio.TimeoutError`` each catch them on every version.


class PongTimeout(WebSocketException, ServerTimeoutError, TimeoutError):
    """No pong came back in time: the connection is considered dead.

    A ``TimeoutError`` and an ``asyncio.TimeoutError`` on every version.
    """


class OpenTimeout(_Worded, WebSocketException, ConnectionTimeoutError, TimeoutError):
    """The opening handshake did not finish within ``open_timeout``.

    A ``TimeoutError`` and an ``asyncio.TimeoutError`` on every version.
    """

    websockets_message = "timed out during opening handshake"


class InvalidURI(WebSocketException, InvalidURL):
    """The URI is not a valid ``ws://`` or ``wss://`` URI.

    ``uri`` and ``msg`` are websockets' names for ``url`` and ``description``.
    """

    @property
    def uri(self) -> str:
        """The URI given."""
        return str(self.url)

    @property
    def msg(self) -> str:
        """What is wrong with it."""
        return str(self.description or "")


class InvalidProxy(WebSocketException, InvalidURL):
    """The proxy URL is not one aiows can use (scheme, syntax, missing extra).

    ``proxy`` and ``msg`` as in websockets.
    """

    @property
    def proxy(self) -> str:
        """The proxy URL given."""
        return str(self.url)

    @property
    def msg(self) -> str:
        """What is wrong with it."""
        return str(self.description or "")


class ConcurrencyError(WebSocketException, RuntimeError):
    """Two tasks tried to do at once what only one may, such as ``receive()``."""


def public_error(exc: CoreProtocolError) -> ProtocolError | PayloadTooBig:
    """The public exception for the core's protocol error ``exc``."""
    if isinstance(exc, MessageTooBig):
        return PayloadTooBig(exc.code, exc.reason)
    return ProtocolError(exc.code, exc.reason)
