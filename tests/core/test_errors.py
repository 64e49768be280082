"""The core's error vocabulary and its close codes."""

from __future__ import annotations

import pytest

from aiows.core import errors
from aiows.core.errors import (
    HandshakeError,
    InvalidAccept,
    InvalidStatusCode,
    InvalidUpgrade,
    InvalidUTF8,
    MessageTooBig,
    NegotiationError,
    ProtocolError,
)
from aiows.core.headers import HeaderSyntaxError


def test_protocol_error_default_code() -> None:
    exc = ProtocolError("bad frame")
    assert exc.code == 1002
    assert exc.reason == "bad frame"
    assert str(exc) == "bad frame"
    assert exc.args == ("bad frame",)


def test_protocol_error_code_override() -> None:
    exc = ProtocolError("nope", code=1003)
    assert exc.code == 1003
    assert ProtocolError("other").code == 1002  # the class default is untouched


def test_subclass_codes() -> None:
    assert InvalidUTF8("x").code == 1007
    assert MessageTooBig("x").code == 1009
    assert MessageTooBig("x", code=1008).code == 1008
    assert issubclass(InvalidUTF8, ProtocolError)
    assert issubclass(MessageTooBig, ProtocolError)


def test_handshake_hierarchy() -> None:
    for cls in (
        InvalidUpgrade,
        InvalidAccept,
        NegotiationError,
        InvalidStatusCode,
        HeaderSyntaxError,
    ):
        assert issubclass(cls, HandshakeError)
    assert not issubclass(HandshakeError, ProtocolError)


def test_invalid_status_code() -> None:
    exc = InvalidStatusCode(403)
    assert exc.status == 403
    assert str(exc) == "server answered the upgrade with status 403, not 101"


# -- websockets' words ------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "status", "offered", "words"),
    [
        (
            errors.InvalidStatusCode(403),
            403,
            (),
            "server rejected WebSocket connection: HTTP 403",
        ),
        (
            errors.InvalidUpgrade("x", header="Upgrade", value=None),
            101,
            (),
            "missing Upgrade header",
        ),
        (
            errors.InvalidUpgrade("x", header="Connection", value=""),
            101,
            (),
            "empty Connection header",
        ),
        (
            errors.InvalidAccept("x", header="Sec-WebSocket-Accept", value="nope"),
            101,
            (),
            "invalid Sec-WebSocket-Accept header: nope",
        ),
        (
            errors.NegotiationError("x", header="Sec-WebSocket-Protocol", value="a"),
            101,
            (),
            "no subprotocols supported",
        ),
        (
            errors.NegotiationError("x", header="Sec-WebSocket-Protocol", value="a"),
            101,
            ("b",),
            "unsupported subprotocol: a",
        ),
        (
            errors.NegotiationError("x", header="Sec-WebSocket-Extensions", value="y"),
            101,
            (),
            None,
        ),
        (errors.HandshakeError("x"), 101, (), None),
    ],
)
def test_websockets_words(
    exc: errors.HandshakeError, status: int, offered: tuple[str, ...], words: str
) -> None:
    assert errors.websockets_words(exc, status, offered) == words


def test_rejected_words_of_a_proxy() -> None:
    assert (
        errors.rejected_words(407, proxy=True) == "proxy rejected connection: HTTP 407"
    )
