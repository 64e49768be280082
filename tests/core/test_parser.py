"""FrameParser: the server's byte stream in, messages and close codes out."""

from __future__ import annotations

import zlib

import pytest

from aiows.core.deflate import DeflateParams, PerMessageDeflate
from aiows.core.errors import InvalidUTF8, MessageTooBig, ProtocolError
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import (
    CONTROL_BUDGET,
    DEFAULT_MAX_MSG_SIZE,
    FRAGMENT_BUDGET,
    FrameParser,
)
from tests.conftest import server_frame

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10

VALID_CODES = [*range(1000, 1004), *range(1007, 1015), 3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


def text(data: str) -> WSMessage:
    return WSMessage(WSMsgType.TEXT, data, None)


def binary(data: bytes) -> WSMessage:
    return WSMessage(WSMsgType.BINARY, data, None)


def ping(data: bytes = b"") -> WSMessage:
    return WSMessage(WSMsgType.PING, data, None)


def pong(data: bytes = b"") -> WSMessage:
    return WSMessage(WSMsgType.PONG, data, None)


def close(code: int, reason: str = "") -> WSMessage:
    return WSMessage(WSMsgType.CLOSE, code, reason)


def masked_frame(
    opcode: int, payload: bytes, key: bytes = b"\x01\x02\x03\x04"
) -> bytes:
    frame = server_frame(opcode, payload)
    header_len = len(frame) - len(payload)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    header = bytearray(frame[:header_len])
    header[1] |= 0x80
    return bytes(header) + key + masked


def deflate_on() -> PerMessageDeflate:
    return PerMessageDeflate(DeflateParams())


def feed_chunks(parser: FrameParser, chunks: list[bytes]) -> list[WSMessage]:
    out: list[WSMessage] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out


def assert_error(
    data: bytes,
    code: int,
    *,
    before: list[WSMessage] | None = None,
    **kwargs: object,
) -> ProtocolError:
    """Feed ``data`` whole and then byte by byte; both must fail with ``code``."""
    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    assert parser.feed(data) == (before or [])
    assert parser.exc is not None
    assert parser.exc.code == code
    first = parser.exc
    # After an error the parser ignores everything.
    assert parser.feed(server_frame(TEXT, b"later")) == []
    assert parser.exc is first

    parser = FrameParser(**kwargs)  # type: ignore[arg-type]
    assert feed_chunks(parser, [data[i : i + 1] for i in range(len(data))]) == (
        before or []
    )
    assert parser.exc is not None
    assert parser.exc.code == code
    return first


# -- lengths and splits ------------------------------------------------------

SMALL_LENGTHS = [0, 1, 2, 124, 125, 126, 127, 128]


def sample(n: int) -> bytes:
    return bytes((i * 13 + 5) & 0xFF for i in range(n))


def sample_text(n: int) -> str:
    return "".join(chr(0x41 + i % 26) for i in range(n))


@pytest.mark.parametrize("n", SMALL_LENGTHS)
def test_small_binary_split_everywhere(n: int) -> None:
    payload = sample(n)
    frame = server_frame(BINARY, payload)
    assert FrameParser().feed(frame) == [binary(payload)]
    for i in range(len(frame) + 1):
        parser = FrameParser()
        assert feed_chunks(parser, [frame[:i], frame[i:]]) == [binary(payload)]
        assert parser.exc is None


@pytest.mark.parametrize("n", SMALL_LENGTHS)
def test_small_text_split_everywhere(n: int) -> None:
    data = sample_text(n)
    frame = server_frame(TEXT, data.encode())
    for i in range(len(frame) + 1):
        parser = FrameParser()
        assert feed_chunks(parser, [frame[:i], frame[i:]]) == [text(data)]


@pytest.mark.parametrize("n", SMALL_LENGTHS)
def test_small_frame_byte_by_byte_with_neighbours(n: int) -> None:
    payload = sample(n)
    stream = server_frame(PING, b"p") + server_frame(BINARY, payload)
    stream += server_frame(TEXT, b"after")
    parser = FrameParser()
    out = feed_chunks(parser, [stream[i : i + 1] for i in range(len(stream))])
    assert out == [ping(b"p"), binary(payload), text("after")]


@pytest.mark.parametrize("n", [65535, 65536])
def test_medium_frames(n: int) -> None:
    payload = sample(n)
    frame = server_frame(BINARY, payload)
    assert frame[1] == (126 if n == 65535 else 127)
    assert FrameParser().feed(frame) == [binary(payload)]
    points = [*range(0, 16), n // 2, len(frame) - 1, len(frame)]
    for i in points:
        parser = FrameParser()
        assert feed_chunks(parser, [frame[:i], frame[i:]]) == [binary(payload)]
    # Three pieces, the middle one inside the payload.
    parser = FrameParser()
    assert feed_chunks(parser, [frame[:5], frame[5:100], frame[100:]]) == [
        binary(payload)
    ]


@pytest.mark.parametrize("n", [65535, 65536])
def test_medium_text_frames(n: int) -> None:
    data = ("ab€" * n)[:n]
    raw = data.encode()
    frame = server_frame(TEXT, raw)
    assert FrameParser().feed(frame) == [text(data)]
    parser = FrameParser()
    # Split inside the 3-byte euro sign.
    assert feed_chunks(parser, [frame[:13], frame[13:]]) == [text(data)]


def test_header_length_field_boundaries() -> None:
    assert server_frame(BINARY, b"x" * 125)[1] == 125
    assert server_frame(BINARY, b"x" * 126)[1:4] == b"\x7e\x00\x7e"
    assert server_frame(BINARY, b"x" * 65536)[1:10] == b"\x7f" + (65536).to_bytes(
        8, "big"
    )


def test_16_mib_frame() -> None:
    n = 16 << 20
    payload = b"\xab" * n
    frame = server_frame(BINARY, payload)
    parser = FrameParser(max_msg_size=0)
    [msg] = parser.feed(frame)
    assert msg.type is WSMsgType.BINARY
    assert len(msg.data) == n and msg.data == payload

    parser = FrameParser(max_msg_size=n)
    chunk = 1 << 20
    out = feed_chunks(
        parser, [frame[i : i + chunk] for i in range(0, len(frame), chunk)]
    )
    assert len(out) == 1 and out[0].data == payload
    assert parser.exc is None


def test_empty_feed() -> None:
    parser = FrameParser()
    assert parser.feed(b"") == []
    assert parser.feed(server_frame(TEXT, b"ok")[:1]) == []
    assert parser.feed(b"") == []
    assert parser.feed(server_frame(TEXT, b"ok")[1:]) == [text("ok")]


def test_empty_feed_while_payload_streams() -> None:
    parser = FrameParser()
    frame = server_frame(BINARY, b"0123456789")
    assert parser.feed(frame[:4]) == []
    assert parser.feed(b"") == []
    assert parser.feed(frame[4:]) == [binary(b"0123456789")]


def test_several_frames_in_one_chunk() -> None:
    stream = b"".join(
        [
            server_frame(TEXT, b"a"),
            server_frame(BINARY, b"b"),
            server_frame(PING, b"c"),
            server_frame(PONG, b"d"),
            server_frame(TEXT, b""),
            server_frame(BINARY, b""),
        ]
    )
    assert FrameParser().feed(stream) == [
        text("a"),
        binary(b"b"),
        ping(b"c"),
        pong(b"d"),
        text(""),
        binary(b""),
    ]


def test_docstring_example() -> None:
    assert FrameParser().feed(b"\x81\x02hi\x89\x00") == [text("hi"), ping(b"")]


def test_control_frames_max_payload() -> None:
    payload = sample(125)
    for opcode, make in ((PING, ping), (PONG, pong)):
        frame = server_frame(opcode, payload)
        for i in range(len(frame) + 1):
            parser = FrameParser()
            assert feed_chunks(parser, [frame[:i], frame[i:]]) == [make(payload)]


def test_results_are_bytes_and_str() -> None:
    out = FrameParser().feed(server_frame(BINARY, b"ab") + server_frame(TEXT, b"cd"))
    assert type(out[0].data) is bytes
    assert type(out[1].data) is str
    parser = FrameParser()
    frame = server_frame(BINARY, b"abcdef")
    out = feed_chunks(parser, [frame[:4], frame[4:]])
    assert type(out[0].data) is bytes


# -- fragmentation ------------------------------------------------------------


def test_fragmented_text() -> None:
    stream = server_frame(TEXT, b"Hel", fin=False)
    stream += server_frame(0, b"lo, ", fin=False)
    stream += server_frame(0, b"", fin=False)
    stream += server_frame(0, b"World")
    assert FrameParser().feed(stream) == [text("Hello, World")]
    for i in range(len(stream) + 1):
        parser = FrameParser()
        assert feed_chunks(parser, [stream[:i], stream[i:]]) == [text("Hello, World")]


def test_fragmented_binary() -> None:
    stream = server_frame(BINARY, b"\x00\x01", fin=False) + server_frame(0, b"\x02")
    assert FrameParser().feed(stream) == [binary(b"\x00\x01\x02")]


def test_fragmented_empty_message() -> None:
    stream = server_frame(BINARY, b"", fin=False) + server_frame(0, b"")
    assert FrameParser().feed(stream) == [binary(b"")]
    stream = server_frame(TEXT, b"", fin=False) + server_frame(0, b"")
    assert FrameParser().feed(stream) == [text("")]


def test_utf8_character_split_across_fragments() -> None:
    euro = "€".encode()
    stream = server_frame(TEXT, b"a" + euro[:1], fin=False)
    stream += server_frame(0, euro[1:2], fin=False)
    stream += server_frame(0, euro[2:] + b"b")
    assert FrameParser().feed(stream) == [text("a€b")]


def test_control_frames_inside_fragmented_message() -> None:
    stream = server_frame(TEXT, b"frag", fin=False)
    stream += server_frame(PING, b"1")
    stream += server_frame(0, b"ment", fin=False)
    stream += server_frame(PONG, b"2")
    stream += server_frame(PING, b"")
    stream += server_frame(0, b"ed")
    stream += server_frame(BINARY, b"next")
    expected = [ping(b"1"), pong(b"2"), ping(b""), text("fragmented"), binary(b"next")]
    assert FrameParser().feed(stream) == expected
    parser = FrameParser()
    assert feed_chunks(parser, [stream[i : i + 1] for i in range(len(stream))]) == (
        expected
    )


def test_close_inside_fragmented_message() -> None:
    stream = server_frame(TEXT, b"part", fin=False)
    stream += server_frame(CLOSE, b"\x03\xe8")
    stream += server_frame(0, b"rest")
    parser = FrameParser()
    assert parser.feed(stream) == [close(1000)]
    assert parser.closed is True
    assert parser.exc is None


def test_many_fragments() -> None:
    stream = server_frame(BINARY, b"0", fin=False)
    stream += b"".join(
        server_frame(0, bytes([48 + i % 10]), fin=False) for i in range(1, 999)
    )
    stream += server_frame(0, b"!")
    [msg] = FrameParser().feed(stream)
    assert msg.data == b"".join(bytes([48 + i % 10]) for i in range(999)) + b"!"


def test_continuation_without_message() -> None:
    assert_error(server_frame(0, b"x"), 1002)
    assert_error(server_frame(0, b"x", fin=False), 1002)


def test_continuation_after_finished_message() -> None:
    stream = server_frame(TEXT, b"a", fin=False) + server_frame(0, b"b")
    assert_error(stream + server_frame(0, b"c"), 1002, before=[text("ab")])


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
@pytest.mark.parametrize("fin", [True, False])
def test_new_data_frame_inside_fragmented_message(opcode: int, fin: bool) -> None:
    stream = server_frame(TEXT, b"a", fin=False) + server_frame(opcode, b"b", fin=fin)
    exc = assert_error(stream, 1002)
    assert "fragmented message is incomplete" in exc.reason


# -- header violations -----------------------------------------------------------


@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, CLOSE])
def test_masked_server_frame(opcode: int) -> None:
    exc = assert_error(masked_frame(opcode, b"hi"), 1002)
    assert "masked" in exc.reason


def test_masked_frame_after_good_ones() -> None:
    stream = (
        server_frame(TEXT, b"ok") + server_frame(PING, b"") + masked_frame(TEXT, b"x")
    )
    assert_error(stream, 1002, before=[text("ok"), ping()])


@pytest.mark.parametrize("opcode", [TEXT, BINARY, 0, PING, PONG, CLOSE])
def test_rsv1_without_deflate(opcode: int) -> None:
    exc = assert_error(server_frame(opcode, b"", rsv=RSV1), 1002)
    assert exc.reason == "RSV1 set but no extension was negotiated"


@pytest.mark.parametrize("rsv", [RSV2, RSV3, RSV2 | RSV3, RSV1 | RSV2, RSV1 | RSV3])
@pytest.mark.parametrize("with_deflate", [False, True])
def test_rsv2_rsv3(rsv: int, with_deflate: bool) -> None:
    deflate = deflate_on() if with_deflate else None
    exc = assert_error(server_frame(TEXT, b"", rsv=rsv), 1002, deflate=deflate)
    assert exc.reason == "RSV2 or RSV3 set; no extension defines them"


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_rsv1_on_control_frame_with_deflate(opcode: int) -> None:
    parser = FrameParser(deflate=deflate_on())
    assert parser.feed(server_frame(opcode, b"\x03\xe8", rsv=RSV1)) == []
    assert parser.exc is not None and parser.exc.code == 1002
    assert parser.exc.reason == "RSV1 set on a control frame"


def test_rsv1_on_continuation_with_deflate() -> None:
    parser = FrameParser(deflate=deflate_on())
    stream = server_frame(TEXT, b"a", fin=False) + server_frame(0, b"b", rsv=RSV1)
    assert parser.feed(stream) == []
    assert parser.exc is not None and parser.exc.code == 1002
    assert parser.exc.reason == "RSV1 set on a continuation frame"


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes(opcode: int) -> None:
    exc = assert_error(server_frame(opcode, b""), 1002)
    assert exc.reason == f"unknown opcode {opcode:#x}"
    assert_error(server_frame(opcode, b"payload", fin=False), 1002)


def test_reserved_opcode_after_message() -> None:
    assert_error(
        server_frame(BINARY, b"1") + server_frame(3, b""), 1002, before=[binary(b"1")]
    )


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
@pytest.mark.parametrize("n", [126, 127, 200, 65536])
def test_control_frame_too_long(opcode: int, n: int) -> None:
    frame = server_frame(opcode, b"\x03\xe8" + b"x" * (n - 2))
    # Decided from the first two bytes, before the payload arrives.
    parser = FrameParser()
    assert parser.feed(frame[:2]) == []
    assert parser.exc is not None and parser.exc.code == 1002
    assert "announces more than 125 bytes" in parser.exc.reason
    assert_error(frame, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_fragmented_control_frame(opcode: int) -> None:
    exc = assert_error(server_frame(opcode, b"", fin=False), 1002)
    assert "fragmented control frame" in exc.reason


def test_64_bit_length_top_bit() -> None:
    header = bytes([0x82, 127]) + (1 << 63).to_bytes(8, "big")
    exc = assert_error(header, 1002, max_msg_size=0)
    assert exc.reason == "64-bit frame length has its top bit set"
    header = bytes([0x82, 127]) + b"\xff" * 8
    assert_error(header, 1002, max_msg_size=0)


def test_64_bit_length_just_below_top_bit_is_not_a_protocol_error() -> None:
    header = bytes([0x82, 127]) + ((1 << 63) - 1).to_bytes(8, "big")
    parser = FrameParser(max_msg_size=0)
    assert parser.feed(header + b"abc") == []
    assert parser.exc is None
    parser = FrameParser()
    parser.feed(header)
    assert isinstance(parser.exc, MessageTooBig)


# -- message size -----------------------------------------------------------------


def test_default_max_size() -> None:
    assert DEFAULT_MAX_MSG_SIZE == 4 * 1024 * 1024
    payload = b"x" * DEFAULT_MAX_MSG_SIZE
    assert FrameParser().feed(server_frame(BINARY, payload)) == [binary(payload)]
    assert_error(server_frame(BINARY, payload + b"x")[:10], 1009)


@pytest.mark.parametrize("limit", [1, 125, 126, 65535, 65536])
def test_max_size_exact_boundary(limit: int) -> None:
    ok = server_frame(BINARY, b"y" * limit)
    assert FrameParser(max_msg_size=limit).feed(ok) == [binary(b"y" * limit)]
    too_big = server_frame(BINARY, b"y" * (limit + 1))
    parser = FrameParser(max_msg_size=limit)
    assert parser.feed(too_big) == []
    assert isinstance(parser.exc, MessageTooBig)
    assert parser.exc.code == 1009


def test_max_size_decided_from_header() -> None:
    n = 1 << 40
    header = bytes([0x82, 127]) + n.to_bytes(8, "big")
    parser = FrameParser(max_msg_size=1 << 20)
    assert parser.feed(header) == []
    assert isinstance(parser.exc, MessageTooBig)
    assert parser.exc.code == 1009
    assert parser.exc.reason == (
        f"message of at least {n} bytes is over the limit of {1 << 20} bytes"
    )


def test_max_size_16_bit_header() -> None:
    parser = FrameParser(max_msg_size=1000)
    assert parser.feed(bytes([0x81, 126]) + (1001).to_bytes(2, "big")) == []
    assert parser.exc is not None and parser.exc.code == 1009


def test_max_size_across_fragments() -> None:
    stream = server_frame(TEXT, b"a" * 60, fin=False) + server_frame(0, b"b" * 40)
    assert FrameParser(max_msg_size=100).feed(stream) == [text("a" * 60 + "b" * 40)]
    stream = server_frame(TEXT, b"a" * 60, fin=False)
    stream += server_frame(PING, b"")
    stream += server_frame(0, b"b" * 41)
    assert_error(stream, 1009, before=[ping()], max_msg_size=100)


def test_max_size_resets_between_messages() -> None:
    stream = server_frame(TEXT, b"a" * 60, fin=False) + server_frame(0, b"b" * 40)
    stream += server_frame(BINARY, b"c" * 100)
    parser = FrameParser(max_msg_size=100)
    assert parser.feed(stream) == [text("a" * 60 + "b" * 40), binary(b"c" * 100)]


def test_max_size_zero_means_unlimited() -> None:
    payload = b"z" * (DEFAULT_MAX_MSG_SIZE + 1)
    parser = FrameParser(max_msg_size=0)
    assert parser.feed(server_frame(BINARY, payload)) == [binary(payload)]
    header = bytes([0x82, 127]) + (1 << 50).to_bytes(8, "big")
    parser = FrameParser(max_msg_size=0)
    assert parser.feed(header) == []
    assert parser.exc is None


def test_max_size_does_not_apply_to_control_frames() -> None:
    parser = FrameParser(max_msg_size=1)
    assert parser.feed(server_frame(PING, b"x" * 125)) == [ping(b"x" * 125)]


# -- UTF-8 --------------------------------------------------------------------------

VALID_UTF8 = [
    "",
    "ascii",
    "é",
    "€",
    "𝄞",
    "\u0000",
    "\u007f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff",
    "\ud7ff\ue000",
    "κόσμε",
]

INVALID_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\x80",  # lone continuation byte
    b"\xbf",
    b"\xc0\xaf",  # overlong '/'
    b"\xc1\xbf",  # overlong
    b"\xe0\x80\xaf",  # overlong
    b"\xf0\x80\x80\xaf",  # overlong
    b"\xed\xa0\x80",  # U+D800
    b"\xed\xbf\xbf",  # U+DFFF
    b"\xed\xa0\x80\xed\xb0\x80",  # surrogate pair encoded separately
    b"\xf4\x90\x80\x80",  # U+110000
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xc3",  # truncated
    b"\xe2\x82",  # truncated
    b"\xf0\x9f\x98",  # truncated
    b"ok\xe2\x82",  # truncated at the end
    b"\xe2\x82(",  # broken in the middle
]


@pytest.mark.parametrize("data", VALID_UTF8)
def test_valid_utf8(data: str) -> None:
    raw = data.encode()
    frame = server_frame(TEXT, raw)
    assert FrameParser().feed(frame) == [text(data)]
    parser = FrameParser()
    assert feed_chunks(parser, [frame[i : i + 1] for i in range(len(frame))]) == [
        text(data)
    ]
    parser = FrameParser(decode_text=False)
    assert parser.feed(frame) == [WSMessage(WSMsgType.TEXT, raw, None)]


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_invalid_utf8_single_frame(raw: bytes) -> None:
    exc = assert_error(server_frame(TEXT, raw), 1007)
    assert isinstance(exc, InvalidUTF8)
    assert exc.reason.startswith("text message is not valid UTF-8")


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_invalid_utf8_decode_text_false(raw: bytes) -> None:
    assert_error(server_frame(TEXT, raw), 1007, decode_text=False)


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_invalid_utf8_split_across_fragments(raw: bytes) -> None:
    for i in range(len(raw) + 1):
        stream = server_frame(TEXT, raw[:i], fin=False) + server_frame(0, raw[i:])
        assert_error(stream, 1007)
        assert_error(stream, 1007, decode_text=False)


def test_invalid_utf8_binary_is_fine() -> None:
    assert FrameParser().feed(server_frame(BINARY, b"\xff\xfe")) == [
        binary(b"\xff\xfe")
    ]


def test_invalid_utf8_after_good_message() -> None:
    stream = server_frame(TEXT, b"good") + server_frame(TEXT, b"\xc0\xaf")
    assert_error(stream, 1007, before=[text("good")])


@pytest.mark.parametrize("raw", [b"\xff", b"ab\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90"])
def test_invalid_first_fragment_fails_fast(raw: bytes) -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(TEXT, raw, fin=False)) == []
    assert isinstance(parser.exc, InvalidUTF8)
    assert parser.exc.code == 1007
    # The final fragment is never needed.
    assert parser.feed(server_frame(0, b"end")) == []


def test_invalid_middle_fragment_fails_fast() -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(TEXT, b"good\xe2", fin=False)) == []
    assert parser.exc is None
    assert parser.feed(server_frame(0, b"(", fin=False)) == []
    assert parser.exc is not None and parser.exc.code == 1007


def test_truncated_at_end_of_fragmented_message() -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(TEXT, b"a\xe2", fin=False)) == []
    assert parser.feed(server_frame(0, b"\x82", fin=False)) == []
    assert parser.exc is None
    assert parser.feed(server_frame(0, b"")) == []
    assert parser.exc is not None and parser.exc.code == 1007


@pytest.mark.parametrize("decode_text", [True, False])
def test_invalid_byte_in_first_chunk_of_large_frame(decode_text: bool) -> None:
    payload = b"valid text " * 10 + b"\xff" + b"x" * 100_000
    frame = server_frame(TEXT, payload)
    parser = FrameParser(decode_text=decode_text)
    assert parser.feed(frame[:200]) == []
    assert isinstance(parser.exc, InvalidUTF8)
    assert parser.feed(frame[200:]) == []


def test_large_text_frame_streamed_in_chunks() -> None:
    data = "añ€𝄞" * 30_000
    frame = server_frame(TEXT, data.encode())
    chunks = [frame[i : i + 997] for i in range(0, len(frame), 997)]
    parser = FrameParser()
    assert feed_chunks(parser, chunks) == [text(data)]
    parser = FrameParser(decode_text=False)
    assert feed_chunks(parser, chunks) == [
        WSMessage(WSMsgType.TEXT, data.encode(), None)
    ]


def test_decode_text_false_fragmented() -> None:
    stream = server_frame(TEXT, "h€".encode()[:2], fin=False)
    stream += server_frame(PING, b"!")
    stream += server_frame(0, "h€".encode()[2:])
    parser = FrameParser(decode_text=False)
    out = parser.feed(stream)
    assert out == [ping(b"!"), WSMessage(WSMsgType.TEXT, "h€".encode(), None)]
    assert type(out[1].data) is bytes


def test_decode_text_false_empty_fragments() -> None:
    stream = server_frame(TEXT, b"", fin=False) + server_frame(0, b"")
    assert FrameParser(decode_text=False).feed(stream) == [
        WSMessage(WSMsgType.TEXT, b"", None)
    ]


# -- close frames -------------------------------------------------------------------


def test_close_empty() -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(CLOSE)) == [close(1005)]
    assert parser.closed is True
    assert parser.exc is None


def test_close_one_byte() -> None:
    exc = assert_error(server_frame(CLOSE, b"\x03"), 1002)
    assert exc.reason == "close frame with a 1-byte payload"


@pytest.mark.parametrize("code", INVALID_CODES)
def test_close_invalid_code(code: int) -> None:
    exc = assert_error(server_frame(CLOSE, code.to_bytes(2, "big")), 1002)
    assert exc.reason == f"close frame with invalid close code {code}"
    assert_error(server_frame(CLOSE, code.to_bytes(2, "big") + b"why"), 1002)


@pytest.mark.parametrize("code", VALID_CODES)
def test_close_valid_code(code: int) -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(CLOSE, code.to_bytes(2, "big"))) == [close(code)]
    assert parser.closed is True
    parser = FrameParser()
    frame = server_frame(CLOSE, code.to_bytes(2, "big") + "bye ✓".encode())
    assert parser.feed(frame) == [close(code, "bye ✓")]


def test_close_longest_reason() -> None:
    reason = "r" * 123
    frame = server_frame(CLOSE, b"\x03\xe8" + reason.encode())
    for i in range(len(frame) + 1):
        parser = FrameParser()
        assert feed_chunks(parser, [frame[:i], frame[i:]]) == [close(1000, reason)]


@pytest.mark.parametrize("raw", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"ok\xe2\x82"])
def test_close_invalid_utf8_reason(raw: bytes) -> None:
    exc = assert_error(server_frame(CLOSE, b"\x03\xe8" + raw), 1007)
    assert isinstance(exc, InvalidUTF8)
    assert exc.reason.startswith("close reason is not valid UTF-8")


def test_bytes_after_close_ignored() -> None:
    stream = server_frame(TEXT, b"before") + server_frame(CLOSE, b"\x03\xe8")
    stream += server_frame(TEXT, b"after") + b"\xff\xff garbage"
    parser = FrameParser()
    assert parser.feed(stream) == [text("before"), close(1000)]
    assert parser.closed is True
    assert parser.exc is None
    assert parser.feed(server_frame(TEXT, b"later")) == []
    assert parser.feed(masked_frame(TEXT, b"bad")) == []
    assert parser.exc is None


def test_bytes_after_close_ignored_byte_by_byte() -> None:
    stream = server_frame(CLOSE, b"\x0b\xb8x") + masked_frame(TEXT, b"bad")
    parser = FrameParser()
    out = feed_chunks(parser, [stream[i : i + 1] for i in range(len(stream))])
    assert out == [close(3000, "x")]
    assert parser.exc is None


# -- state after errors ---------------------------------------------------------------


def test_messages_before_error_in_same_chunk() -> None:
    stream = server_frame(TEXT, b"one") + server_frame(BINARY, b"two")
    stream += server_frame(PONG, b"three") + server_frame(PING, b"", fin=False)
    stream += server_frame(TEXT, b"never")
    assert_error(stream, 1002, before=[text("one"), binary(b"two"), pong(b"three")])


def test_error_in_later_chunk_keeps_earlier_messages() -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(TEXT, b"ok")) == [text("ok")]
    assert parser.feed(server_frame(BINARY, b"x" * 10)[:5]) == []
    assert parser.feed(server_frame(BINARY, b"x" * 10)[5:] + b"\x83\x00") == [
        binary(b"x" * 10)
    ]
    assert parser.exc is not None and parser.exc.code == 1002


def test_initial_state() -> None:
    parser = FrameParser()
    assert parser.closed is False
    assert parser.exc is None


# -- fragment mode (fragments=True) ---------------------------------------------------


def frag(kind: WSMsgType, data: str | bytes, fin: bool) -> Fragment:
    return Fragment(kind, data, fin)


def test_fragment_mode_single_frame_messages_stay_whole() -> None:
    stream = server_frame(TEXT, b"one") + server_frame(BINARY, b"two")
    parser = FrameParser(fragments=True)
    out = parser.feed(stream)
    assert out == [text("one"), binary(b"two")]
    assert all(type(event) is WSMessage for event in out)
    # Also when the single frame arrives in pieces.
    frame = server_frame(BINARY, b"x" * 300)
    parser = FrameParser(fragments=True)
    assert feed_chunks(parser, [frame[:3], frame[3:100], frame[100:]]) == [
        binary(b"x" * 300)
    ]


def test_fragment_mode_one_piece_per_frame_within_one_chunk() -> None:
    # As websockets' recv_streaming(): one piece per frame, an empty one too,
    # in order with the control frames between them.
    stream = server_frame(TEXT, b"Hel", fin=False)
    stream += server_frame(PING, b"p")
    stream += server_frame(0, b"", fin=False)
    stream += server_frame(0, b"lo")
    stream += server_frame(TEXT, b"whole")
    out = FrameParser(fragments=True).feed(stream)
    assert out == [
        frag(WSMsgType.TEXT, "Hel", False),
        ping(b"p"),
        frag(WSMsgType.TEXT, "", False),
        frag(WSMsgType.TEXT, "lo", True),
        text("whole"),
    ]


def test_fragment_mode_one_piece_per_frame_across_chunks() -> None:
    frames = [
        server_frame(TEXT, "😀".encode(), fin=False),
        server_frame(PING, b"p"),
        server_frame(0, "😀".encode(), fin=False),
        server_frame(0, b"l", fin=False) + server_frame(0, b"l", fin=False),
        server_frame(0, b""),
    ]
    parser = FrameParser(fragments=True)
    assert [parser.feed(frame) for frame in frames] == [
        [frag(WSMsgType.TEXT, "😀", False)],
        [ping(b"p")],
        [frag(WSMsgType.TEXT, "😀", False)],
        [frag(WSMsgType.TEXT, "l", False), frag(WSMsgType.TEXT, "l", False)],
        [frag(WSMsgType.TEXT, "", True)],
    ]


def test_fragment_mode_binary_however_chunked() -> None:
    stream = server_frame(BINARY, b"ab", fin=False) + server_frame(0, b"cd")
    for i in range(len(stream) + 1):
        parser = FrameParser(fragments=True)
        out = feed_chunks(parser, [stream[:i], stream[i:]])
        assert out == [
            frag(WSMsgType.BINARY, b"ab", False),
            frag(WSMsgType.BINARY, b"cd", True),
        ]


def test_fragment_mode_hands_out_a_budget_of_pieces_per_feed() -> None:
    # A read of many tiny frames is handed out FRAGMENT_BUDGET pieces at a
    # time: feed(b"") goes on where the last one stopped.
    count = 3 * FRAGMENT_BUDGET + 5
    stream = server_frame(BINARY, b"0", fin=False)
    stream += b"".join(
        server_frame(0, b"%d" % (i % 10), fin=False) for i in range(1, count)
    )
    stream += server_frame(0, b"")
    parser = FrameParser(fragments=True)
    batches = [parser.feed(stream)]
    while parser.pending:
        batches.append(parser.feed(b""))
    assert [len(batch) for batch in batches] == [FRAGMENT_BUDGET] * 3 + [6]
    out = [event for batch in batches for event in batch]
    assert [event.data for event in out] == [b"%d" % (i % 10) for i in range(count)] + [
        b""
    ]
    assert out[-1].fin is True and all(not event.fin for event in out[:-1])


def test_a_read_of_pings_is_parsed_a_budget_at_a_time() -> None:
    """A read full of control frames stops after CONTROL_BUDGET of them,
    with the data messages among them kept in order: a flood cannot hold
    the reader for a whole read's worth of answers."""
    count = 2 * CONTROL_BUDGET + 3
    stream = b"".join(server_frame(PING, b"%d" % i) for i in range(count))
    stream += server_frame(TEXT, b"after")
    parser = FrameParser()
    batches = [parser.feed(stream)]
    while parser.pending:
        batches.append(parser.feed(b""))
    assert [len(batch) for batch in batches] == [CONTROL_BUDGET] * 2 + [4]
    out = [event for batch in batches for event in batch]
    assert [event.data for event in out[:-1]] == [b"%d" % i for i in range(count)]
    assert out[-1] == WSMessage(WSMsgType.TEXT, "after", None)


def test_fragment_mode_utf8_split_across_frames() -> None:
    euro = "€".encode()
    first = server_frame(TEXT, b"a" + euro[:2], fin=False)
    last = server_frame(0, euro[2:] + b"b")
    parser = FrameParser(fragments=True)
    assert feed_chunks(parser, [first, last]) == [
        frag(WSMsgType.TEXT, "a", False),
        frag(WSMsgType.TEXT, "€b", True),
    ]
    parser = FrameParser(fragments=True, decode_text=False)
    assert feed_chunks(parser, [first, last]) == [
        frag(WSMsgType.TEXT, b"a" + euro[:2], False),
        frag(WSMsgType.TEXT, euro[2:] + b"b", True),
    ]


def test_fragment_mode_invalid_utf8() -> None:
    parser = FrameParser(fragments=True)
    assert parser.feed(server_frame(TEXT, b"ok", fin=False)) == [
        frag(WSMsgType.TEXT, "ok", False)
    ]
    assert parser.feed(server_frame(0, b"\xff")) == []
    assert parser.exc is not None and parser.exc.code == 1007
    # A message that fails in its first frame hands out nothing of itself.
    parser = FrameParser(fragments=True)
    stream = server_frame(TEXT, b"ok\xe2\x28", fin=False) + server_frame(0, b"")
    assert parser.feed(stream) == []
    assert parser.exc is not None and parser.exc.code == 1007


def test_fragment_mode_state_resets_between_messages() -> None:
    frames = [
        server_frame(BINARY, b"a", fin=False),
        server_frame(0, b"b") + server_frame(TEXT, b"c", fin=False),
        server_frame(0, b"d") + server_frame(BINARY, b"e"),
    ]
    parser = FrameParser(fragments=True)
    assert feed_chunks(parser, frames) == [
        frag(WSMsgType.BINARY, b"a", False),
        frag(WSMsgType.BINARY, b"b", True),
        frag(WSMsgType.TEXT, "c", False),
        frag(WSMsgType.TEXT, "d", True),
        binary(b"e"),
    ]
    # A continuation after the last fragment has nothing to continue.
    parser = FrameParser(fragments=True)
    bad = server_frame(BINARY, b"a", fin=False) + server_frame(0, b"b")
    assert parser.feed(bad + server_frame(0, b"c")) == [
        frag(WSMsgType.BINARY, b"a", False),
        frag(WSMsgType.BINARY, b"b", True),
    ]
    assert parser.exc is not None and parser.exc.code == 1002


def test_fragment_mode_size_limit_is_per_message() -> None:
    parser = FrameParser(fragments=True, max_msg_size=100)
    assert parser.feed(server_frame(BINARY, b"a" * 60, fin=False)) == [
        frag(WSMsgType.BINARY, b"a" * 60, False)
    ]
    assert parser.feed(server_frame(0, b"b" * 41)) == []
    assert isinstance(parser.exc, MessageTooBig)
    parser = FrameParser(fragments=True, max_msg_size=100)
    stream = server_frame(0, b"b" * 40) + server_frame(BINARY, b"c" * 100)
    assert feed_chunks(
        parser, [server_frame(BINARY, b"a" * 60, fin=False), stream]
    ) == [
        frag(WSMsgType.BINARY, b"a" * 60, False),
        frag(WSMsgType.BINARY, b"b" * 40, True),
        binary(b"c" * 100),
    ]


def test_fragment_mode_compressed() -> None:
    obj = zlib.compressobj(wbits=-15)
    first = obj.compress(b"Hello, ") + obj.flush(zlib.Z_SYNC_FLUSH)
    last = (obj.compress(b"World") + obj.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frames = [server_frame(TEXT, first, fin=False, rsv=RSV1), server_frame(0, last)]
    parser = FrameParser(fragments=True, deflate=deflate_on())
    assert feed_chunks(parser, frames) == [
        frag(WSMsgType.TEXT, "Hello, ", False),
        frag(WSMsgType.TEXT, "World", True),
    ]


def test_fragment_mode_close_inside_message() -> None:
    # The message can never complete: the close comes after its first piece.
    stream = server_frame(TEXT, b"part", fin=False) + server_frame(CLOSE, b"")
    stream += server_frame(0, b"more")
    parser = FrameParser(fragments=True)
    assert parser.feed(stream) == [frag(WSMsgType.TEXT, "part", False), close(1005)]
    assert parser.closed is True


@pytest.mark.parametrize(
    "prefix",
    [b"\xed\xa0", b"\xe0\x9f", b"\xe0\x80", b"\xf0\x8f", b"\xf4\x90", b"\xf0\x8f\xbf"],
)
def test_invalid_prefix_held_back_by_decoder_fails_fast(prefix: bytes) -> None:
    # The prefix ends the first fragment: it can never be completed validly,
    # so the parser fails before the next fragment arrives.
    parser = FrameParser()
    assert parser.feed(server_frame(0x1, b"ok" + prefix, fin=False)) == []
    assert parser.exc is not None
    assert parser.exc.code == 1007


@pytest.mark.parametrize(
    ("prefix", "rest", "text"),
    [
        (b"\xe2\x82", b"\xac", "€"),
        (b"\xed\x9f", b"\xbf", "\ud7ff"),
        (b"\xf0\x90\x80", b"\x80", "\U00010000"),
        (b"\xf4\x8f\xbf", b"\xbf", "\U0010ffff"),
    ],
)
def test_valid_prefix_split_across_fragments(
    prefix: bytes, rest: bytes, text: str
) -> None:
    parser = FrameParser()
    assert parser.feed(server_frame(0x1, prefix, fin=False)) == []
    assert parser.exc is None
    messages = parser.feed(server_frame(0x0, rest))
    assert [m.data for m in messages] == [text]


def test_negative_size_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_msg_size must be 0"):
        FrameParser(max_msg_size=-1)
