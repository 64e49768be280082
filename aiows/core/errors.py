"""Errors raised by the sans-I/O core.

The core cannot import aiohttp, so it keeps its own small vocabulary here.
Each protocol error carries the close code that RFC 6455 says to send.  The
public hierarchy in :mod:`aiows.exceptions` wraps these for users and fits
them into aiohttp's.
"""

from __future__ import annotations

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
