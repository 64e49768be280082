"""Errors raised by the sans-I/O core.

The core cannot import aiohttp, so it keeps its own small vocabulary here.
Each protocol error carries the close code that RFC 6455 says to send.  The
public hierarchy in :mod:`aiows.exceptions` wraps these for users and fits
them into aiohttp's.
"""

from __future__ import annotations

from typing import Final

from .frames import WSCloseCode


class ProtocolError(Exception):
    """The server broke a rule of RFC 6455 or RFC 7692.

    ``code`` is the close code to send on the wire, ``reason`` a short
    human explanation that also goes into the close frame.
    """

    code: int = WSCloseCode.PROTOCOL_ERROR

    def __init__(self, reason: str, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        self.reason = reason
        super().__init__(reason)


class InvalidUTF8(ProtocolError):
    """A text message or a close reason was not valid UTF-8 (close code 1007)."""

    code = WSCloseCode.INVALID_TEXT


class MessageTooBig(ProtocolError):
    """A message was larger than the configured limit (close code 1009)."""

    code = WSCloseCode.MESSAGE_TOO_BIG


class InvalidState(Exception):
    """An event the protocol's state table does not allow in its state.

    ``state`` is the state's name and ``event`` what was attempted.
    """

    def __init__(self, state: str, event: str) -> None:
        self.state = state
        self.event = event
        super().__init__(f"cannot {event} in state {state}")


class ExtensionFailed(Exception):
    """An extension's ``encode`` raised something that is not a protocol
    error (its exception is the ``__cause__``).  What the extension did to
    its own state is unknown, so the connection cannot go on."""


class TooManyPings(RuntimeError):
    """Too many pings are waiting for their pong; wait for one first."""


class HandshakeError(Exception):
    """The server's answer to the opening handshake is not acceptable.

    ``header`` names the header at fault, when one is, and ``value`` is its
    value as received (None when it was missing).
    """

    def __init__(
        self, message: str, *, header: str | None = None, value: str | None = None
    ) -> None:
        super().__init__(message)
        self.header = header
        self.value = value


class InvalidUpgrade(HandshakeError):
    """``Upgrade`` or ``Connection`` is missing or wrong (RFC 6455 §4.1)."""


class InvalidAccept(HandshakeError):
    """``Sec-WebSocket-Accept`` does not match the key that was sent."""


class NegotiationError(HandshakeError):
    """The server chose a subprotocol or extension the client cannot accept."""


class InvalidStatusCode(HandshakeError):
    """The server answered the upgrade with a status other than 101."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"server answered the upgrade with status {status}, not 101")


class HTTPSyntaxError(HandshakeError):
    """An HTTP response (to the upgrade, or a proxy's to ``CONNECT``) does not
    follow RFC 9112's grammar."""


class HTTPLimitError(HTTPSyntaxError):
    """An HTTP response is over a limit: a line too long, too many headers.

    ``what`` says which: ``"status line"``, ``"header line"``, ``"headers"``
    or ``"chunk line"``.
    """

    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(message)
        self.what = what


# -- websockets' words ----------------------------------------------------------
#
# Code written for websockets matches on the words of its errors; the faces
# that stand in for it (``aiows.connect()``, ``aiows.sync``) show them, and
# keep aiows's own account as the error's ``detail``.

#: websockets' words for an answer to the upgrade that is not valid HTTP, or
#: none at all (what was wrong is the error's ``__cause__``).
NO_VALID_RESPONSE: Final = "did not receive a valid HTTP response"
#: The same, for a proxy's answer to ``CONNECT``.
NO_VALID_PROXY_RESPONSE: Final = "did not receive a valid HTTP response from proxy"
#: The ``EOFError`` websockets chains when the server hangs up before its
#: status line.
EOF_BEFORE_STATUS: Final = "connection closed while reading HTTP status line"

SUBPROTOCOL: Final = "Sec-WebSocket-Protocol"


def header_words(name: str, value: str | None) -> str:
    """websockets' words for a header that is missing, empty or wrong.

    >>> header_words("Upgrade", None)
    'missing Upgrade header'
    """
    if value is None:
        return f"missing {name} header"
    if value == "":
        return f"empty {name} header"
    return f"invalid {name} header: {value}"


def rejected_words(status: int, *, proxy: bool = False) -> str:
    """websockets' words for a status other than 101 (or, from a proxy, other
    than 2xx).

    >>> rejected_words(403)
    'server rejected WebSocket connection: HTTP 403'
    """
    if proxy:
        return f"proxy rejected connection: HTTP {status:d}"
    return f"server rejected WebSocket connection: HTTP {status:d}"


def websockets_words(
    exc: HandshakeError, status: int, offered: tuple[str, ...] = ()
) -> str | None:
    """websockets' words for the handshake failure ``exc`` (the answer had
    ``status``; ``offered``: the subprotocols the client offered), or None
    where websockets has none of its own to match."""
    if isinstance(exc, InvalidStatusCode):
        return rejected_words(status)
    if isinstance(exc, NegotiationError):
        if exc.header != SUBPROTOCOL:
            return None
        if not offered:
            return "no subprotocols supported"
        return f"unsupported subprotocol: {exc.value}"
    if exc.header:
        return header_words(exc.header, exc.value)
    return None
