"""The client's side of the opening handshake (RFC 6455 §4.1).

:func:`request_headers` says what to send; :func:`check_response` decides
whether the server's answer may be accepted and returns what was agreed.
Headers travel as ``(name, value)`` pairs so this module needs no HTTP
library: the session layer hands over aiohttp's parsed response.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from . import extensions as core_extensions
from .deflate import MAX_WINDOW_BITS, DeflateFactory, DeflateParams, PerMessageDeflate
from .errors import (
    HandshakeError,
    InvalidAccept,
    InvalidStatusCode,
    InvalidUpgrade,
    NegotiationError,
)
from .headers import parse_token_list

# RFC 6455 §1.3: the GUID appended to the key before hashing.
ACCEPT_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# RFC 6455 §4.1: the only version this client speaks.
WEBSOCKET_VERSION: Final = "13"
SWITCHING_PROTOCOLS: Final = 101


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64-encoded (§4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_value(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with (§4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + ACCEPT_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def request_headers(
    key: str,
    *,
    protocols: Sequence[str] = (),
    origin: str | None = None,
    extensions: str | None = None,
) -> dict[str, str]:
    """The headers that turn an HTTP GET into a WebSocket upgrade."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": WEBSOCKET_VERSION,
        "Sec-WebSocket-Key": key,
    }
    if protocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(protocols)
    if origin is not None:
        headers["Origin"] = origin
    if extensions:
        headers["Sec-WebSocket-Extensions"] = extensions
    return headers


@dataclass(frozen=True)
class Request:
    """The upgrade request as sent (websockets' ``websocket.request``)."""

    #: The request-target: path and query.
    path: str
    #: The headers, as the HTTP layer holds them.
    headers: Any


@dataclass(frozen=True)
class Response:
    """The server's answer (websockets' ``websocket.response``)."""

    status_code: int
    reason_phrase: str
    #: The headers, as the HTTP layer holds them.
    headers: Any
    #: The body, for an answer other than 101 (up to a limit).
    body: bytes = b""


@dataclass(frozen=True)
class HandshakeResult:
    """What the server agreed to."""

    #: The subprotocol the server selected, if any.
    subprotocol: str | None
    #: The permessage-deflate settings, or None when compression is off.
    deflate: DeflateParams | None
    #: The extensions negotiated, in the order the server accepted them
    #: (aiows's :class:`~aiows.core.deflate.PerMessageDeflate` among them
    #: when :attr:`deflate` is set).
    extensions: tuple[Any, ...] = field(default=(), compare=False)


def _values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


def check_response(
    status: int,
    headers: Sequence[tuple[str, str]],
    *,
    key: str,
    protocols: Sequence[str] = (),
    offered_server_max_window_bits: int | None = None,
    extensions: Sequence[Any] | None = None,
    refused: tuple[type[BaseException], ...] = (NegotiationError,),
) -> HandshakeResult:
    """Validate the server's response to an upgrade request sent with ``key``.

    ``extensions`` are the extension factories offered, in order (see
    :mod:`aiows.core.extensions`; ``refused`` the exceptions that mean a
    factory refuses the answer); without them,
    ``offered_server_max_window_bits`` says that permessage-deflate was
    offered, and with which ``server_max_window_bits`` (15: none).

    Raises a :class:`~aiows.core.errors.HandshakeError` subclass naming what
    is wrong: the status, ``Upgrade``/``Connection``, the accept value, the
    subprotocol, or the extensions.
    """
    if status != SWITCHING_PROTOCOLS:
        raise InvalidStatusCode(status)

    # Connection first, then Upgrade: the order websockets checks them in,
    # so the same answer fails with the same header named.
    for name, token in (("Connection", "upgrade"), ("Upgrade", "websocket")):
        values = _values(headers, name)
        if token not in [item.lower() for item in parse_token_list(values, name)]:
            raise InvalidUpgrade(
                f"{name} header is {', '.join(values)!r}, expected {token!r}",
                header=name,
                value=", ".join(values) if values else None,
            )

    accept = _values(headers, "Sec-WebSocket-Accept")
    expected = accept_value(key)
    if accept != [expected]:
        raise InvalidAccept(
            f"Sec-WebSocket-Accept is {', '.join(accept)!r}, expected {expected!r}",
            header="Sec-WebSocket-Accept",
            value=", ".join(accept) if accept else None,
        )

    selected = parse_token_list(
        _values(headers, "Sec-WebSocket-Protocol"), "Sec-WebSocket-Protocol"
    )
    subprotocol: str | None = None
    if len(selected) > 1:
        raise HandshakeError(
            f"server selected several subprotocols: {', '.join(selected)}",
            header="Sec-WebSocket-Protocol",
            value=f"multiple values: {', '.join(selected)}",
        )
    if selected:
        subprotocol = selected[0]
        if subprotocol not in protocols:
            offered = ", ".join(repr(p) for p in protocols) or "none"
            raise NegotiationError(
                f"server selected subprotocol {subprotocol!r} which the client "
                f"did not offer (offered: {offered})",
                header="Sec-WebSocket-Protocol",
                value=subprotocol,
            )

    if extensions is None and offered_server_max_window_bits is not None:
        bits = offered_server_max_window_bits
        extensions = [DeflateFactory(None if bits == MAX_WINDOW_BITS else bits)]
    accepted = core_extensions.negotiate(
        extensions, _values(headers, "Sec-WebSocket-Extensions"), refused=refused
    )
    params = next(
        (ext.params for ext in accepted if isinstance(ext, PerMessageDeflate)), None
    )
    return HandshakeResult(subprotocol, params, tuple(accepted))
