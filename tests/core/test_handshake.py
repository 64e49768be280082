"""The client's side of the opening handshake (RFC 6455 §4.1)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from aiows.core import handshake
from aiows.core.deflate import DeflateParams
from aiows.core.errors import (
    HandshakeError,
    InvalidAccept,
    InvalidStatusCode,
    InvalidUpgrade,
    NegotiationError,
)
from aiows.core.handshake import (
    HandshakeResult,
    accept_value,
    check_response,
    generate_key,
    request_headers,
)
from aiows.core.headers import HeaderSyntaxError

# RFC 6455 §1.3.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

KEY = "x3JJHMbDL1EzLkh9GBhXDw=="
ACCEPT = "HSmrc0sMlYUkAGmm5OPpG2HaGWk="


def good_headers(**overrides: str | None) -> list[tuple[str, str]]:
    base: dict[str, str | None] = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": ACCEPT,
    }
    base.update(overrides)
    return [(name, value) for name, value in base.items() if value is not None]


def test_accept_value_rfc_example() -> None:
    assert accept_value(RFC_KEY) == RFC_ACCEPT
    assert accept_value(KEY) == ACCEPT


def test_accept_value_independent_computation() -> None:
    key = "AQIDBAUGBwgJCgsMDQ4PEA=="
    digest = hashlib.sha1(
        key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    ).digest()
    assert accept_value(key) == base64.b64encode(digest).decode()
    assert handshake.ACCEPT_GUID == b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_generate_key_uses_16_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def fake_urandom(n: int) -> bytes:
        calls.append(n)
        return bytes(range(1, n + 1))

    monkeypatch.setattr(handshake.os, "urandom", fake_urandom)
    assert generate_key() == "AQIDBAUGBwgJCgsMDQ4PEA=="
    assert calls == [16]


def test_generate_key_real() -> None:
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(key) == 24
        assert len(base64.b64decode(key, validate=True)) == 16


def test_request_headers_minimal() -> None:
    assert request_headers(KEY) == {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
    }


def test_request_headers_everything() -> None:
    headers = request_headers(
        KEY,
        protocols=["chat", "superchat"],
        origin="http://example.com",
        extensions="permessage-deflate; client_max_window_bits",
    )
    assert headers == {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Protocol": "chat, superchat",
        "Origin": "http://example.com",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    }


def test_request_headers_empty_values_omitted() -> None:
    headers = request_headers(KEY, protocols=(), origin=None, extensions="")
    assert set(headers) == {
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Key",
    }
    assert request_headers(KEY, origin="")["Origin"] == ""


def test_check_response_ok() -> None:
    result = check_response(101, good_headers(), key=KEY)
    assert result == HandshakeResult(subprotocol=None, deflate=None)


@pytest.mark.parametrize("status", [100, 200, 204, 301, 400, 403, 404, 426, 500])
def test_check_response_status(status: int) -> None:
    with pytest.raises(InvalidStatusCode) as info:
        check_response(status, good_headers(), key=KEY)
    assert info.value.status == status


@pytest.mark.parametrize(
    "upgrade",
    ["WebSocket", "WEBSOCKET", "websocket, h2c", "h2c, websocket", " websocket "],
)
def test_upgrade_accepted(upgrade: str) -> None:
    result = check_response(101, good_headers(Upgrade=upgrade), key=KEY)
    assert result.subprotocol is None


@pytest.mark.parametrize("upgrade", [None, "", "h2c", "web-socket", "websockets"])
def test_upgrade_rejected(upgrade: str | None) -> None:
    with pytest.raises(InvalidUpgrade, match="Upgrade header is") as info:
        check_response(101, good_headers(Upgrade=upgrade), key=KEY)
    assert f"{upgrade or ''!r}" in str(info.value)


def test_upgrade_split_over_two_headers() -> None:
    headers = [*good_headers(Upgrade="h2c"), ("upgrade", "websocket")]
    assert check_response(101, headers, key=KEY).deflate is None


@pytest.mark.parametrize(
    "connection",
    [
        "Upgrade",
        "upgrade",
        "UPGRADE",
        "keep-alive, Upgrade",
        "Upgrade, keep-alive",
        "keep-alive,upgrade",
        ", Upgrade,",
    ],
)
def test_connection_accepted(connection: str) -> None:
    result = check_response(101, good_headers(Connection=connection), key=KEY)
    assert result == HandshakeResult(None, None)


@pytest.mark.parametrize("connection", [None, "", "keep-alive", "close", "upgraded"])
def test_connection_rejected(connection: str | None) -> None:
    with pytest.raises(InvalidUpgrade, match="Connection header is"):
        check_response(101, good_headers(Connection=connection), key=KEY)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Upgrade", "web socket"),
        ("Connection", "Up grade"),
        ("Sec-WebSocket-Protocol", "chat v2"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; ="),
    ],
)
def test_a_syntax_error_names_the_header_and_its_value(name: str, value: str) -> None:
    headers = [
        (key, item) for key, item in good_headers() if key.lower() != name.lower()
    ]
    headers.append((name, value))
    with pytest.raises(HeaderSyntaxError) as info:
        check_response(
            101, headers, key=KEY, protocols=["chat"], offered_server_max_window_bits=15
        )
    assert (info.value.header, info.value.value) == (name, value)


def test_header_names_case_insensitive() -> None:
    headers = [
        ("UPGRADE", "websocket"),
        ("connection", "upgrade"),
        ("sec-websocket-accept", ACCEPT),
        ("SEC-WEBSOCKET-PROTOCOL", "chat"),
        ("Sec-Websocket-Extensions", "permessage-deflate"),
    ]
    result = check_response(
        101, headers, key=KEY, protocols=["chat"], offered_server_max_window_bits=15
    )
    assert result == HandshakeResult("chat", DeflateParams())


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        RFC_ACCEPT,
        ACCEPT.lower(),
        ACCEPT[:-1],
        ACCEPT + " x",
        base64.b64encode(hashlib.sha1(KEY.encode()).digest()).decode(),
    ],
)
def test_wrong_accept(accept: str | None) -> None:
    with pytest.raises(InvalidAccept, match=f"expected {ACCEPT!r}"):
        check_response(101, good_headers(**{"Sec-WebSocket-Accept": accept}), key=KEY)


def test_duplicate_accept() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Accept", ACCEPT)]
    with pytest.raises(InvalidAccept) as info:
        check_response(101, headers, key=KEY)
    assert f"{ACCEPT}, {ACCEPT}" in str(info.value)


def test_accept_for_other_key() -> None:
    with pytest.raises(InvalidAccept):
        check_response(101, good_headers(), key=RFC_KEY)


def test_subprotocol_selected() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Protocol", "superchat")]
    result = check_response(101, headers, key=KEY, protocols=["chat", "superchat"])
    assert result.subprotocol == "superchat"


def test_subprotocol_not_selected_although_offered() -> None:
    result = check_response(101, good_headers(), key=KEY, protocols=["chat"])
    assert result.subprotocol is None


def test_subprotocol_not_offered() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Protocol", "chat")]
    with pytest.raises(NegotiationError, match=r"'chat' .* \(offered: none\)"):
        check_response(101, headers, key=KEY)


def test_subprotocol_not_among_offered() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Protocol", "other")]
    with pytest.raises(NegotiationError, match=r"offered: 'chat', 'superchat'\)"):
        check_response(101, headers, key=KEY, protocols=["chat", "superchat"])


def test_subprotocol_is_case_sensitive() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Protocol", "Chat")]
    with pytest.raises(NegotiationError):
        check_response(101, headers, key=KEY, protocols=["chat"])


@pytest.mark.parametrize(
    "values", [["chat, superchat"], ["chat", "superchat"], ["chat", "chat"]]
)
def test_several_subprotocols(values: list[str]) -> None:
    # A header with more than one value, as websockets reports it: the
    # header is at fault, not a negotiation.
    headers = good_headers() + [("Sec-WebSocket-Protocol", v) for v in values]
    with pytest.raises(HandshakeError, match="several subprotocols") as info:
        check_response(101, headers, key=KEY, protocols=["chat", "superchat"])
    assert type(info.value) is HandshakeError
    assert info.value.header == "Sec-WebSocket-Protocol"
    assert info.value.value == "multiple values: " + ", ".join(
        token.strip() for value in values for token in value.split(",")
    )


def test_an_unoffered_subprotocol_names_the_header_and_the_value() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Protocol", "other")]
    with pytest.raises(NegotiationError) as info:
        check_response(101, headers, key=KEY, protocols=["chat"])
    assert (info.value.header, info.value.value) == ("Sec-WebSocket-Protocol", "other")


def test_connection_is_checked_before_upgrade() -> None:
    # websockets' order: an answer wrong in both names Connection.
    headers = [
        ("Sec-WebSocket-Accept", accept_value(KEY)),
        ("Upgrade", "h2c"),
        ("Connection", "keep-alive"),
    ]
    with pytest.raises(InvalidUpgrade) as info:
        check_response(101, headers, key=KEY)
    assert info.value.header == "Connection"


def test_deflate_negotiated() -> None:
    headers = [
        *good_headers(),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
        ),
    ]
    result = check_response(101, headers, key=KEY, offered_server_max_window_bits=12)
    assert result == HandshakeResult(
        None, DeflateParams(client_no_context_takeover=True, server_max_window_bits=10)
    )


def test_deflate_declined() -> None:
    result = check_response(
        101, good_headers(), key=KEY, offered_server_max_window_bits=15
    )
    assert result.deflate is None


@pytest.mark.parametrize(
    ("value", "offered", "message", "note"),
    [
        ("permessage-deflate", None, "no extensions supported", None),
        ("foo", 15, "Unsupported extension: name = foo, params = []", None),
        (
            "permessage-deflate, permessage-deflate",
            15,
            "Unsupported extension: name = permessage-deflate, params = []",
            "twice",
        ),
        (
            "permessage-deflate; server_max_window_bits=15",
            10,
            "Unsupported extension: name = permessage-deflate, "
            "params = [('server_max_window_bits', '15')]",
            "larger than",
        ),
        (
            "permessage-deflate; bogus",
            15,
            "Unsupported extension: name = permessage-deflate, "
            "params = [('bogus', None)]",
            "'bogus' is unknown",
        ),
    ],
)
def test_extension_errors(
    value: str, offered: int | None, message: str, note: str | None
) -> None:
    """websockets' words in the message; aiows's reason in a note."""
    headers = [*good_headers(), ("Sec-WebSocket-Extensions", value)]
    with pytest.raises(NegotiationError) as info:
        check_response(101, headers, key=KEY, offered_server_max_window_bits=offered)
    assert str(info.value) == message
    notes = getattr(info.value, "__notes__", [])
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1
        assert note in notes[0]
        assert notes[0].startswith("DeflateFactory(server_max_window_bits=")


def test_extension_syntax_error() -> None:
    headers = [*good_headers(), ("Sec-WebSocket-Extensions", "permessage-deflate;")]
    with pytest.raises(HandshakeError):
        check_response(101, headers, key=KEY, offered_server_max_window_bits=15)


def test_checks_status_before_headers() -> None:
    with pytest.raises(InvalidStatusCode):
        check_response(200, [], key=KEY)


def test_checks_upgrade_before_accept() -> None:
    with pytest.raises(InvalidUpgrade):
        check_response(
            101, good_headers(Upgrade=None, **{"Sec-WebSocket-Accept": "x"}), key=KEY
        )
