"""Close-code rules, close payloads and the Close value type."""

from __future__ import annotations

import pytest

from aiows.core import frames
from aiows.core.frames import (
    CONTROL_OPCODES,
    DATA_OPCODES,
    MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD,
    Close,
    Opcode,
    WSCloseCode,
    build_close_payload,
    is_valid_close_code,
)

VALID_CODES = [*range(1000, 1004), *range(1007, 1015), 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


def test_opcode_values() -> None:
    assert [int(op) for op in Opcode] == [0x0, 0x1, 0x2, 0x8, 0x9, 0xA]
    assert {Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY} == DATA_OPCODES
    assert {Opcode.CLOSE, Opcode.PING, Opcode.PONG} == CONTROL_OPCODES


def test_close_code_values_match_aiohttp() -> None:
    assert {code.name: int(code) for code in WSCloseCode} == {
        "OK": 1000,
        "GOING_AWAY": 1001,
        "PROTOCOL_ERROR": 1002,
        "UNSUPPORTED_DATA": 1003,
        "ABNORMAL_CLOSURE": 1006,
        "INVALID_TEXT": 1007,
        "POLICY_VIOLATION": 1008,
        "MESSAGE_TOO_BIG": 1009,
        "MANDATORY_EXTENSION": 1010,
        "INTERNAL_ERROR": 1011,
        "SERVICE_RESTART": 1012,
        "TRY_AGAIN_LATER": 1013,
        "BAD_GATEWAY": 1014,
    }


def test_constants() -> None:
    assert frames.NO_STATUS_RECEIVED == 1005
    assert frames.ABNORMAL_CLOSURE == 1006
    assert MAX_CONTROL_PAYLOAD == 125
    assert MAX_CLOSE_REASON == 123
    assert (frames.FIN, frames.RSV1, frames.RSV2, frames.RSV3) == (
        0x80,
        0x40,
        0x20,
        0x10,
    )
    assert (frames.LENGTH_16, frames.LENGTH_64) == (126, 127)


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_close_codes(code: int) -> None:
    assert is_valid_close_code(code) is True


@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_codes(code: int) -> None:
    assert is_valid_close_code(code) is False


def test_valid_close_codes_exhaustive() -> None:
    allowed = {
        code
        for code in range(0, 70000)
        if 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999
    }
    assert {code for code in range(0, 70000) if is_valid_close_code(code)} == allowed


@pytest.mark.parametrize("code", VALID_CODES)
def test_build_close_payload_code_only(code: int) -> None:
    assert build_close_payload(code) == bytes([code >> 8, code & 0xFF])


def test_build_close_payload_str_reason_is_utf8() -> None:
    assert build_close_payload(1000, "bye") == b"\x03\xe8bye"
    assert build_close_payload(4000, "é€") == b"\x0f\xa0" + "é€".encode()


def test_build_close_payload_bytes_like_reason() -> None:
    assert build_close_payload(1001, b"gone") == b"\x03\xe9gone"
    assert build_close_payload(1001, bytearray(b"x")) == b"\x03\xe9x"
    assert isinstance(build_close_payload(1001, bytearray(b"x")), bytes)


def test_build_close_payload_longest_reason() -> None:
    payload = build_close_payload(1000, "a" * 123)
    assert len(payload) == 125
    assert payload == b"\x03\xe8" + b"a" * 123


def test_build_close_payload_reason_too_long() -> None:
    with pytest.raises(ValueError, match="124 bytes; at most 123"):
        build_close_payload(1000, "a" * 124)


def test_build_close_payload_reason_too_long_in_utf8_bytes() -> None:
    # 62 two-byte characters are 124 bytes although only 62 characters.
    with pytest.raises(ValueError, match="124 bytes"):
        build_close_payload(1000, "é" * 62)
    assert len(build_close_payload(1000, "é" * 61)) == 124


@pytest.mark.parametrize("code", INVALID_CODES)
def test_build_close_payload_invalid_code(code: int) -> None:
    with pytest.raises(ValueError, match=f"close code {code} may not be sent"):
        build_close_payload(code)


def test_close_attributes_and_equality() -> None:
    close = Close(1000, "bye")
    assert (close.code, close.reason) == (1000, "bye")
    assert Close(1005).reason == ""
    assert close == Close(1000, "bye")
    assert close != Close(1000, "")
    assert close != Close(1001, "bye")
    assert hash(close) == hash(Close(1000, "bye"))
    assert len({Close(1000, "a"), Close(1000, "a"), Close(1000, "b")}) == 2


def test_close_compared_to_other_type() -> None:
    close = Close(1000)
    assert close.__eq__((1000, "")) is NotImplemented
    assert (close == (1000, "")) is False
    assert close != 1000


def test_close_has_slots() -> None:
    with pytest.raises(AttributeError):
        Close(1000).other = 1  # type: ignore[attr-defined]


def test_close_repr_and_str() -> None:
    assert repr(Close(1000, "bye")) == "Close(1000, 'bye')"
    # websockets' words for a close frame.
    assert str(Close(1000, "bye")) == "1000 (OK) bye"
    assert str(Close(1005)) == "1005 (no status received [internal])"
    assert str(Close(3001)) == "3001 (registered)"
    assert str(Close(4321, "x")) == "4321 (private use) x"
    assert str(Close(2999)) == "2999 (unknown)"


def test_build_close_payload_refuses_a_reason_that_is_not_utf8() -> None:
    with pytest.raises(ValueError, match="not valid UTF-8"):
        build_close_payload(1000, b"\xff")
    assert build_close_payload(1000, "é".encode()) == b"\x03\xe8\xc3\xa9"
