"""WSMsgType and WSMessage, value for value like aiohttp's; close payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiows.core.errors import InvalidUTF8, ProtocolError
from aiows.core.messages import (
    WS_CLOSED_MESSAGE,
    WS_CLOSING_MESSAGE,
    Fragment,
    WSMessage,
    WSMsgType,
    describe,
    parse_close_payload,
)


def test_msg_type_values() -> None:
    assert {t.name: int(t) for t in WSMsgType} == {
        "CONTINUATION": 0x0,
        "TEXT": 0x1,
        "BINARY": 0x2,
        "PING": 0x9,
        "PONG": 0xA,
        "CLOSE": 0x8,
        "CLOSING": 0x100,
        "CLOSED": 0x101,
        "ERROR": 0x102,
    }


def test_lowercase_aliases() -> None:
    assert WSMsgType.text is WSMsgType.TEXT
    assert WSMsgType.binary is WSMsgType.BINARY
    assert WSMsgType.continuation is WSMsgType.CONTINUATION
    assert WSMsgType.ping is WSMsgType.PING
    assert WSMsgType.pong is WSMsgType.PONG
    assert WSMsgType.close is WSMsgType.CLOSE
    assert WSMsgType.closing is WSMsgType.CLOSING
    assert WSMsgType.closed is WSMsgType.CLOSED
    assert WSMsgType.error is WSMsgType.ERROR


def test_message_fields_and_tp() -> None:
    msg = WSMessage(WSMsgType.CLOSE, 1000, "bye")
    assert msg.type is WSMsgType.CLOSE
    assert msg.tp is WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (1000, "bye")
    assert msg == (WSMsgType.CLOSE, 1000, "bye")
    assert msg == (8, 1000, "bye")


def test_json_default_loads() -> None:
    assert WSMessage(WSMsgType.TEXT, '{"a": [1, 2]}', None).json() == {"a": [1, 2]}
    assert WSMessage(WSMsgType.BINARY, b"[1]", None).json() == [1]


def test_json_custom_loads() -> None:
    seen: list[Any] = []

    def loads(data: Any) -> Any:
        seen.append(data)
        return json.loads(data)["k"]

    assert WSMessage(WSMsgType.TEXT, '{"k": 7}', None).json(loads=loads) == 7
    assert seen == ['{"k": 7}']


def test_state_messages() -> None:
    assert WS_CLOSED_MESSAGE == (WSMsgType.CLOSED, None, None)
    assert WS_CLOSING_MESSAGE == (WSMsgType.CLOSING, None, None)


def test_fragment_fields() -> None:
    fragment = Fragment(WSMsgType.TEXT, "part", False)
    assert (fragment.type, fragment.data, fragment.fin) == (
        WSMsgType.TEXT,
        "part",
        False,
    )
    assert fragment == (1, "part", False)
    assert Fragment._fields == ("type", "data", "fin")


def test_describe_names_kind_size_and_close_details() -> None:
    assert describe(WSMessage(WSMsgType.TEXT, "héllo", None)) == "TEXT length=5"
    assert describe(WSMessage(WSMsgType.BINARY, b"xy", None)) == "BINARY length=2"
    assert (
        describe(Fragment(WSMsgType.BINARY, b"abc", False))
        == "fragment length=3 fin=False"
    )
    assert (
        describe(WSMessage(WSMsgType.CLOSE, 1001, "bye"))
        == "CLOSE code=1001 reason='bye'"
    )
    assert describe(WSMessage(WSMsgType.ERROR, ValueError("bad"), None)) == "ERROR bad"
    # A kind without a name (a face's own constant) is shown as it is.
    assert describe(("custom", b"1234", None)) == "custom length=4"


def test_parse_close_payload_function() -> None:
    assert parse_close_payload(b"") == (1005, "")
    assert parse_close_payload(b"\x03\xe8") == (1000, "")
    assert parse_close_payload(memoryview(b"\x0f\xa0h\xc3\xa9")) == (4000, "hé")
    with pytest.raises(ProtocolError) as info:
        parse_close_payload(b"\x03")
    assert info.value.code == 1002
    with pytest.raises(InvalidUTF8) as utf8:
        parse_close_payload(b"\x03\xe8\xff")
    assert utf8.value.code == 1007
