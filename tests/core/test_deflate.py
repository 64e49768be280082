"""permessage-deflate (RFC 7692): offer, negotiation, compression, inflation."""

from __future__ import annotations

import itertools
import os
import tracemalloc
import zlib

import pytest

from aiows.core import deflate
from aiows.core.deflate import (
    TRAILER,
    DeflateParams,
    PerMessageDeflate,
    build_offer,
    negotiate,
)
from aiows.core.errors import MessageTooBig, NegotiationError, ProtocolError
from aiows.core.headers import HeaderSyntaxError, parse_extension_list
from aiows.core.messages import WSMessage, WSMsgType
from aiows.core.parser import FrameParser
from tests.conftest import server_frame

RSV1 = 0x40


class ServerCompressor:
    """What a server does: one raw-deflate stream, sync-flushed per message."""

    def __init__(self, bits: int = 15, *, no_context_takeover: bool = False) -> None:
        self.bits = bits
        self.reset = no_context_takeover
        self.obj = zlib.compressobj(wbits=-bits)

    def fragment(self, data: bytes, fin: bool = True) -> bytes:
        out = self.obj.compress(data) + self.obj.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            assert out.endswith(TRAILER)
            out = out[:-4]
            if self.reset:
                self.obj = zlib.compressobj(wbits=-self.bits)
        return out


def inflate_all(payloads: list[bytes], bits: int = 15) -> list[bytes]:
    """What a server does with client messages: one inflater, trailer added."""
    obj = zlib.decompressobj(-bits)
    return [obj.decompress(p + TRAILER) for p in payloads]


# -- the offer ---------------------------------------------------------------


def test_constants() -> None:
    assert deflate.EXTENSION_NAME == "permessage-deflate"
    assert TRAILER == b"\x00\x00\xff\xff"
    assert (deflate.MIN_WINDOW_BITS, deflate.MAX_WINDOW_BITS) == (8, 15)
    assert deflate.ZLIB_MIN_WINDOW_BITS == 9


def test_build_offer_default() -> None:
    assert build_offer() == "permessage-deflate; client_max_window_bits"
    assert build_offer(15) == "permessage-deflate; client_max_window_bits"


@pytest.mark.parametrize("bits", range(9, 15))
def test_build_offer_server_window(bits: int) -> None:
    assert build_offer(bits) == (
        f"permessage-deflate; client_max_window_bits; server_max_window_bits={bits}"
    )


def test_build_offer_no_context_takeover() -> None:
    assert build_offer(server_no_context_takeover=True) == (
        "permessage-deflate; client_max_window_bits; server_no_context_takeover"
    )
    assert build_offer(client_no_context_takeover=True) == (
        "permessage-deflate; client_max_window_bits; client_no_context_takeover"
    )
    assert build_offer(
        12, server_no_context_takeover=True, client_no_context_takeover=True
    ) == (
        "permessage-deflate; client_max_window_bits; server_max_window_bits=12; "
        "server_no_context_takeover; client_no_context_takeover"
    )


@pytest.mark.parametrize("bits", [-1, 0, 1, 7, 8, 16, 100])
def test_build_offer_rejects_bad_window(bits: int) -> None:
    with pytest.raises(ValueError, match=f"compress={bits} is not a window size"):
        build_offer(bits)


def test_build_offer_parses_back() -> None:
    offer = build_offer(10, server_no_context_takeover=True)
    assert parse_extension_list([offer]) == [
        (
            "permessage-deflate",
            [
                ("client_max_window_bits", None),
                ("server_max_window_bits", "10"),
                ("server_no_context_takeover", None),
            ],
        )
    ]


# -- negotiation ---------------------------------------------------------------

BITS_CHOICES: list[int | None] = [None, *range(8, 16)]


@pytest.mark.parametrize(
    ("snct", "cnct", "sbits", "cbits"),
    list(itertools.product([False, True], [False, True], BITS_CHOICES, BITS_CHOICES)),
)
def test_negotiate_every_combination(
    snct: bool, cnct: bool, sbits: int | None, cbits: int | None
) -> None:
    parts = ["permessage-deflate"]
    if snct:
        parts.append("server_no_context_takeover")
    if cnct:
        parts.append("client_no_context_takeover")
    if sbits is not None:
        parts.append(f"server_max_window_bits={sbits}")
    if cbits is not None:
        parts.append(f"client_max_window_bits={cbits}")
    expected = DeflateParams(
        server_no_context_takeover=snct,
        client_no_context_takeover=cnct,
        server_max_window_bits=15 if sbits is None else sbits,
        client_max_window_bits=15 if cbits is None else cbits,
    )
    assert negotiate(["; ".join(parts)], 15) == expected
    # Parameter order does not matter.
    assert negotiate(["; ".join([parts[0], *reversed(parts[1:])])], 15) == expected


def test_negotiate_defaults() -> None:
    params = negotiate(["permessage-deflate"], 15)
    assert params == DeflateParams(False, False, 15, 15)


def test_negotiate_declined() -> None:
    assert negotiate([], 15) is None
    assert negotiate([], None) is None
    assert negotiate([""], 15) is None
    assert negotiate([" , "], None) is None


def test_negotiate_extension_name_case_insensitive() -> None:
    assert negotiate(["PerMessage-Deflate"], 15) == DeflateParams()


def test_negotiate_quoted_value() -> None:
    params = negotiate(['permessage-deflate; server_max_window_bits="10"'], 15)
    assert params == DeflateParams(server_max_window_bits=10)


@pytest.mark.parametrize("offered", range(9, 16))
def test_negotiate_server_bits_up_to_offer(offered: int) -> None:
    for bits in range(8, offered + 1):
        value = f"permessage-deflate; server_max_window_bits={bits}"
        assert negotiate([value], offered) == DeflateParams(server_max_window_bits=bits)
    for bits in range(offered + 1, 16):
        value = f"permessage-deflate; server_max_window_bits={bits}"
        with pytest.raises(NegotiationError, match="larger than the"):
            negotiate([value], offered)


@pytest.mark.parametrize(
    "value",
    [
        "7",
        "16",
        "09",
        "0",
        "-9",
        "+9",
        "9.0",
        "",
        "15 ",
        "abc",
        "1e1",
    ],
)
@pytest.mark.parametrize("name", ["server_max_window_bits", "client_max_window_bits"])
def test_negotiate_invalid_window_bits(name: str, value: str) -> None:
    header = f'permessage-deflate; {name}="{value}"'
    with pytest.raises(NegotiationError, match="needs a value from 8 to 15"):
        negotiate([header], 15)


@pytest.mark.parametrize("name", ["server_max_window_bits", "client_max_window_bits"])
def test_negotiate_missing_window_bits(name: str) -> None:
    with pytest.raises(NegotiationError, match=f"{name}=None is invalid"):
        negotiate([f"permessage-deflate; {name}"], 15)


@pytest.mark.parametrize(
    "name", ["server_no_context_takeover", "client_no_context_takeover"]
)
@pytest.mark.parametrize("value", ["1", '""', "true"])
def test_negotiate_value_on_flag(name: str, value: str) -> None:
    with pytest.raises(NegotiationError, match=f"{name} takes no value"):
        negotiate([f"permessage-deflate; {name}={value}"], 15)


@pytest.mark.parametrize(
    "param",
    [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits=10",
        "client_max_window_bits=10",
    ],
)
def test_negotiate_duplicate_parameter(param: str) -> None:
    name = param.split("=")[0]
    with pytest.raises(NegotiationError, match=f"{name} appears twice"):
        negotiate([f"permessage-deflate; {param}; {param}"], 15)


def test_negotiate_duplicate_with_different_values() -> None:
    with pytest.raises(NegotiationError, match="appears twice"):
        negotiate(
            ["permessage-deflate; client_max_window_bits=9; client_max_window_bits=10"],
            15,
        )


@pytest.mark.parametrize(
    "param", ["foo", "foo=1", "Server_No_Context_Takeover", "max_window_bits=10"]
)
def test_negotiate_unknown_parameter(param: str) -> None:
    with pytest.raises(NegotiationError, match="is unknown"):
        negotiate([f"permessage-deflate; {param}"], 15)


def test_negotiate_unknown_extension() -> None:
    with pytest.raises(NegotiationError, match="extension 'x-webkit-deflate-frame'"):
        negotiate(["x-webkit-deflate-frame"], 15)
    with pytest.raises(NegotiationError, match="did not offer"):
        negotiate(["permessage-deflate, foo"], 15)


def test_negotiate_extension_when_none_offered() -> None:
    with pytest.raises(NegotiationError, match="permessage-deflate, foo which"):
        negotiate(["permessage-deflate", "foo"], None)


@pytest.mark.parametrize(
    "values",
    [
        ["permessage-deflate, permessage-deflate"],
        ["permessage-deflate", "permessage-deflate; server_no_context_takeover"],
    ],
)
def test_negotiate_twice(values: list[str]) -> None:
    with pytest.raises(NegotiationError, match="permessage-deflate twice"):
        negotiate(values, 15)


def test_negotiate_syntax_error() -> None:
    with pytest.raises(HeaderSyntaxError) as info:
        negotiate(["permessage-deflate", "permessage-deflate; ="], 15)
    assert info.value.header == "Sec-WebSocket-Extensions"
    assert info.value.value == "permessage-deflate; ="


# -- compression ---------------------------------------------------------------


def test_params_defaults() -> None:
    params = DeflateParams()
    assert params.server_no_context_takeover is False
    assert params.client_no_context_takeover is False
    assert params.server_max_window_bits == 15
    assert params.client_max_window_bits == 15


def test_compress_strips_trailer_and_inflates() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    payload = pmd.compress(b"Hello")
    assert not payload.endswith(TRAILER)
    assert zlib.decompressobj(-15).decompress(payload + TRAILER) == b"Hello"


def test_compress_empty_message() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.compress(b"") == b"\x00"
    assert inflate_all([pmd.compress(b"")]) == [b""]


def test_compress_context_takeover() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    data = os.urandom(200)
    first = pmd.compress(data)
    second = pmd.compress(data)
    # The second message refers back to the first.
    assert len(second) < 20 < len(first)
    assert inflate_all([first, second]) == [data, data]
    with pytest.raises(zlib.error):
        zlib.decompressobj(-15).decompress(second + TRAILER)


def test_compress_client_no_context_takeover() -> None:
    pmd = PerMessageDeflate(DeflateParams(client_no_context_takeover=True))
    data = os.urandom(200)
    first = pmd.compress(data)
    second = pmd.compress(data)
    assert first == second
    assert zlib.decompressobj(-15).decompress(second + TRAILER) == data


def test_compress_accepts_bytes_like() -> None:
    pmd = PerMessageDeflate(DeflateParams(client_no_context_takeover=True))
    expected = pmd.compress(b"abcabc")
    assert pmd.compress(bytearray(b"abcabc")) == expected
    assert pmd.compress(memoryview(b"xabcabc")[1:]) == expected


def test_compress_fragments() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    parts = [pmd.compress_fragment(b"Hel", False), pmd.compress_fragment(b"lo", True)]
    assert parts[0].endswith(TRAILER)
    assert not parts[1].endswith(TRAILER)
    assert inflate_all([b"".join(parts)]) == [b"Hello"]
    # An empty final fragment still ends the message correctly.
    parts = [pmd.compress_fragment(b"abc", False), pmd.compress_fragment(b"", True)]
    assert inflate_all([b"".join(parts)]) == [b"abc"]


def test_compress_fragment_keeps_context_until_fin() -> None:
    pmd = PerMessageDeflate(DeflateParams(client_no_context_takeover=True))
    data = os.urandom(100)
    first = pmd.compress_fragment(data, False)
    second = pmd.compress_fragment(data, True)
    assert len(second) < 20  # a back-reference into the first fragment
    assert inflate_all([first + second]) == [data + data]
    # After fin the compressor was reset, so the next message stands alone.
    third = pmd.compress(data)
    assert zlib.decompressobj(-15).decompress(third + TRAILER) == data


@pytest.mark.parametrize("bits", range(8, 16))
def test_compress_with_each_window_inflates_with_that_window(bits: int) -> None:
    pmd = PerMessageDeflate(DeflateParams(client_max_window_bits=bits))
    block = os.urandom(300)
    # Repeats at distances 260..600 tempt a compressor with a window over 8 bits.
    messages = [block * 4, os.urandom(5) + block[:200] * 3, b"x" * 5000]
    payloads = [pmd.compress(m) for m in messages]
    assert inflate_all(payloads, bits) == messages


def test_window_bits_8_uses_zlib_9() -> None:
    pmd = PerMessageDeflate(
        DeflateParams(server_max_window_bits=8, client_max_window_bits=8)
    )
    assert pmd._compress_bits == 9
    assert pmd._decompress_bits == 9
    data = os.urandom(256) * 8
    inflater = zlib.decompressobj(-8)
    assert inflater.decompress(pmd.compress(data) + TRAILER) == data


def test_level_and_mem_level_are_used() -> None:
    data = b"abcdefgh" * 100 + os.urandom(100)
    stored = PerMessageDeflate(DeflateParams(), level=0).compress(data)
    best = PerMessageDeflate(DeflateParams(), level=9, mem_level=9).compress(data)
    assert len(stored) > len(data) > len(best)
    assert inflate_all([stored]) == [data]
    assert inflate_all([best]) == [data]


# -- decompression ---------------------------------------------------------------


def test_decompress_whole_message() -> None:
    server = ServerCompressor()
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(server.fragment(b"Hello"), True, None) == b"Hello"
    assert pmd.decompress(b"\xf2\x48\xcd\xc9\xc9\x07\x00", True, None) == b"Hello"


def test_decompress_rfc7692_example() -> None:
    # RFC 7692 §7.2.3.1: "Hello" compressed as 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00.
    pmd = PerMessageDeflate(DeflateParams(server_no_context_takeover=True))
    for _ in range(2):
        assert pmd.decompress(bytes.fromhex("f248cdc9c90700"), True, None) == b"Hello"


def test_decompress_context_takeover() -> None:
    server = ServerCompressor()
    pmd = PerMessageDeflate(DeflateParams())
    data = os.urandom(300)
    for _ in range(3):
        assert pmd.decompress(server.fragment(data), True, 10_000) == data


def test_decompress_server_no_context_takeover_resets() -> None:
    server = ServerCompressor()  # the server (wrongly) keeps its context
    pmd = PerMessageDeflate(DeflateParams(server_no_context_takeover=True))
    data = os.urandom(300)
    assert pmd.decompress(server.fragment(data), True, None) == data
    # The second message refers to the first, but our inflater was reset.
    with pytest.raises(ProtocolError, match="invalid compressed data") as info:
        pmd.decompress(server.fragment(data), True, None)
    assert info.value.code == 1002


def test_decompress_server_no_context_takeover_with_compliant_server() -> None:
    server = ServerCompressor(no_context_takeover=True)
    pmd = PerMessageDeflate(DeflateParams(server_no_context_takeover=True))
    data = os.urandom(300)
    for _ in range(3):
        assert pmd.decompress(server.fragment(data), True, None) == data


def test_decompress_fragments() -> None:
    server = ServerCompressor()
    pmd = PerMessageDeflate(DeflateParams())
    first = server.fragment(b"Hello, ", False)
    last = server.fragment(b"World", True)
    assert pmd.decompress(first, False, None) == b"Hello, "
    assert pmd.decompress(last, True, None) == b"World"


def test_decompress_byte_by_byte() -> None:
    server = ServerCompressor()
    pmd = PerMessageDeflate(DeflateParams())
    data = b"byte by byte " * 20
    payload = server.fragment(data)
    out = b"".join(
        pmd.decompress(payload[i : i + 1], i == len(payload) - 1, 10_000)
        for i in range(len(payload))
    )
    assert out == data


def test_decompress_accepts_memoryview() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    payload = memoryview(b"__" + ServerCompressor().fragment(b"view"))[2:]
    assert pmd.decompress(payload, True, 4) == b"view"


def test_decompress_exactly_at_limit() -> None:
    data = os.urandom(1000)
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(ServerCompressor().fragment(data), True, 1000) == data


def test_decompress_one_over_limit() -> None:
    data = os.urandom(1001)
    pmd = PerMessageDeflate(DeflateParams())
    with pytest.raises(MessageTooBig, match="limit of 1000 bytes") as info:
        pmd.decompress(ServerCompressor().fragment(data), True, 1000)
    assert info.value.code == 1009
    # The inflater was dropped; a fresh one decodes a fresh stream.
    assert pmd.decompress(ServerCompressor().fragment(b"ok"), True, 1000) == b"ok"


def test_decompress_limit_zero() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(ServerCompressor().fragment(b""), True, 0) == b""
    with pytest.raises(MessageTooBig):
        PerMessageDeflate(DeflateParams()).decompress(
            ServerCompressor().fragment(b"a"), True, 0
        )


def test_decompress_non_final_over_limit() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    with pytest.raises(MessageTooBig):
        pmd.decompress(ServerCompressor().fragment(b"a" * 50, False), False, 49)


def test_decompression_bomb_is_bounded() -> None:
    limit = 1 << 20
    bomb = ServerCompressor().fragment(b"\0" * (64 << 20))
    assert len(bomb) < 100_000
    pmd = PerMessageDeflate(DeflateParams())
    tracemalloc.start()
    try:
        with pytest.raises(MessageTooBig) as info:
            pmd.decompress(bomb, True, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == 1009
    # Inflating the whole bomb would take 64 MiB; bounded inflation stays
    # within a small multiple of the limit.
    assert peak < 4 * limit


def test_decompression_bomb_through_parser() -> None:
    bomb = ServerCompressor().fragment(b"\0" * (16 << 20))
    parser = FrameParser(
        max_msg_size=1 << 20, deflate=PerMessageDeflate(DeflateParams())
    )
    tracemalloc.start()
    try:
        assert parser.feed(server_frame(2, bomb, rsv=RSV1)) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(parser.exc, MessageTooBig)
    assert parser.exc.code == 1009
    assert peak < 4 << 20


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xff",  # reserved block type 3
        b"\x07",  # BTYPE=11 in the first byte
        bytes.fromhex("0005000000") + b"abcde",  # stored block, NLEN != ~LEN
    ],
)
def test_decompress_invalid_data(payload: bytes) -> None:
    pmd = PerMessageDeflate(DeflateParams())
    with pytest.raises(ProtocolError, match="invalid compressed data") as info:
        pmd.decompress(payload, True, None)
    assert info.value.code == 1002
    assert type(info.value) is ProtocolError
    # The broken inflater is gone; a good message works again.
    assert pmd.decompress(ServerCompressor().fragment(b"ok"), True, None) == b"ok"


def test_decompress_without_limit() -> None:
    data = b"\0" * (8 << 20)
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(ServerCompressor().fragment(data), True, None) == data


# -- through the parser ---------------------------------------------------------


def make_parser(params: DeflateParams | None = None, **kwargs: object) -> FrameParser:
    return FrameParser(deflate=PerMessageDeflate(params or DeflateParams()), **kwargs)  # type: ignore[arg-type]


def test_parser_compressed_text_and_binary() -> None:
    server = ServerCompressor()
    parser = make_parser()
    stream = server_frame(1, server.fragment("héllo".encode()), rsv=RSV1)
    stream += server_frame(2, server.fragment(b"\x00\x01\x02"), rsv=RSV1)
    assert parser.feed(stream) == [
        WSMessage(WSMsgType.TEXT, "héllo", None),
        WSMessage(WSMsgType.BINARY, b"\x00\x01\x02", None),
    ]
    assert parser.exc is None


def test_parser_uncompressed_message_with_deflate_on() -> None:
    parser = make_parser()
    assert parser.feed(server_frame(1, b"plain")) == [
        WSMessage(WSMsgType.TEXT, "plain", None)
    ]


def test_parser_fragmented_compressed_message() -> None:
    server = ServerCompressor()
    parser = make_parser()
    text = "fragmented ünïcödé " * 10
    raw = text.encode()
    pieces = [raw[:7], raw[7:100], raw[100:]]
    stream = server_frame(1, server.fragment(pieces[0], False), fin=False, rsv=RSV1)
    stream += server_frame(9, b"ping")
    stream += server_frame(0, server.fragment(pieces[1], False), fin=False)
    stream += server_frame(0, server.fragment(pieces[2], True))
    assert parser.feed(stream) == [
        WSMessage(WSMsgType.PING, b"ping", None),
        WSMessage(WSMsgType.TEXT, text, None),
    ]


def test_parser_compressed_byte_by_byte() -> None:
    server = ServerCompressor()
    parser = make_parser()
    stream = server_frame(2, server.fragment(b"abc" * 100), rsv=RSV1)
    stream += server_frame(1, server.fragment(b"second"), rsv=RSV1)
    out: list[WSMessage] = []
    for i in range(len(stream)):
        out += parser.feed(stream[i : i + 1])
    assert out == [
        WSMessage(WSMsgType.BINARY, b"abc" * 100, None),
        WSMessage(WSMsgType.TEXT, "second", None),
    ]


def test_parser_context_takeover_across_messages() -> None:
    server = ServerCompressor()
    parser = make_parser()
    data = os.urandom(500)
    frames = [server_frame(2, server.fragment(data), rsv=RSV1) for _ in range(3)]
    assert len(frames[1]) < 30
    assert (
        parser.feed(b"".join(frames)) == [WSMessage(WSMsgType.BINARY, data, None)] * 3
    )


def test_parser_no_context_takeover_resets() -> None:
    data = os.urandom(500)
    params = DeflateParams(server_no_context_takeover=True)
    compliant = ServerCompressor(no_context_takeover=True)
    parser = make_parser(params)
    frames = [server_frame(2, compliant.fragment(data), rsv=RSV1) for _ in range(2)]
    assert (
        parser.feed(b"".join(frames)) == [WSMessage(WSMsgType.BINARY, data, None)] * 2
    )

    sloppy = ServerCompressor()  # keeps its context although it promised not to
    parser = make_parser(params)
    frames = [server_frame(2, sloppy.fragment(data), rsv=RSV1) for _ in range(2)]
    assert parser.feed(b"".join(frames)) == [WSMessage(WSMsgType.BINARY, data, None)]
    assert parser.exc is not None
    assert parser.exc.code == 1002


@pytest.mark.parametrize("bits", range(8, 16))
def test_parser_server_window_bits(bits: int) -> None:
    zbits = max(bits, 9)
    server = ServerCompressor(zbits)
    parser = make_parser(DeflateParams(server_max_window_bits=bits))
    block = os.urandom(200)
    data = block * 5
    assert parser.feed(server_frame(2, server.fragment(data), rsv=RSV1)) == [
        WSMessage(WSMsgType.BINARY, data, None)
    ]


def test_parser_compressed_size_limit_exact() -> None:
    data = os.urandom(1000)
    parser = make_parser(max_msg_size=1000)
    frame = server_frame(2, ServerCompressor().fragment(data), rsv=RSV1)
    assert parser.feed(frame) == [WSMessage(WSMsgType.BINARY, data, None)]
    parser = make_parser(max_msg_size=999)
    assert parser.feed(frame) == []
    assert parser.exc is not None and parser.exc.code == 1009


def test_parser_compressed_size_limit_across_fragments() -> None:
    server = ServerCompressor()
    parser = make_parser(max_msg_size=100)
    stream = server_frame(2, server.fragment(b"a" * 60, False), fin=False, rsv=RSV1)
    stream += server_frame(0, server.fragment(b"b" * 41, True))
    assert parser.feed(stream) == []
    assert isinstance(parser.exc, MessageTooBig)


def test_parser_compressed_unlimited() -> None:
    data = b"\0" * (6 << 20)  # over the 4 MiB default
    frame = server_frame(2, ServerCompressor().fragment(data), rsv=RSV1)
    parser = make_parser(max_msg_size=0)
    assert parser.feed(frame) == [WSMessage(WSMsgType.BINARY, data, None)]
    parser = make_parser()
    assert parser.feed(frame) == []
    assert parser.exc is not None and parser.exc.code == 1009


def test_parser_compressed_invalid_utf8() -> None:
    server = ServerCompressor()
    parser = make_parser()
    frame = server_frame(1, server.fragment(b"ok \xff"), rsv=RSV1)
    assert parser.feed(server_frame(1, b"before") + frame) == [
        WSMessage(WSMsgType.TEXT, "before", None)
    ]
    assert parser.exc is not None and parser.exc.code == 1007


def test_parser_invalid_compressed_data() -> None:
    parser = make_parser()
    assert parser.feed(server_frame(2, b"\xff\xff\xff\xff", rsv=RSV1)) == []
    assert type(parser.exc) is ProtocolError
    assert parser.exc.code == 1002


def test_parser_stops_once_a_feed_inflated_its_budget() -> None:
    # Three 1,000-byte messages, a ping and a fourth message in one chunk,
    # with a budget of 1,500 bytes: each feed stops at the frame boundary
    # after the message that used the budget up, and keeps the rest.
    server = ServerCompressor()
    stream = b"".join(
        server_frame(2, server.fragment(bytes([i]) * 1000), rsv=RSV1) for i in range(3)
    )
    stream += server_frame(9, b"p")
    stream += server_frame(2, server.fragment(b"\x03" * 1000), rsv=RSV1)
    parser = make_parser(inflate_budget=1500)
    first = parser.feed(stream)
    assert [m.data for m in first] == [b"\x00" * 1000, b"\x01" * 1000]
    assert parser.pending is True
    second = parser.feed(b"")
    assert second == [
        WSMessage(WSMsgType.BINARY, b"\x02" * 1000, None),
        WSMessage(WSMsgType.PING, b"p", None),
        WSMessage(WSMsgType.BINARY, b"\x03" * 1000, None),
    ]
    assert parser.pending is False


def test_parser_goes_on_in_order_when_more_bytes_come_before_it_is_drained() -> None:
    server = ServerCompressor()
    frames = [
        server_frame(1, server.fragment(f"{i:04}".encode() * 250), rsv=RSV1)
        for i in range(4)
    ]
    parser = make_parser(inflate_budget=1000)
    got = parser.feed(frames[0] + frames[1] + frames[2][:5])
    assert len(got) == 1 and parser.pending is True
    # New bytes go behind the ones kept back.
    got += parser.feed(frames[2][5:] + frames[3])
    assert len(got) == 2 and parser.pending is True
    while parser.pending:
        got += parser.feed(b"")
    assert [m.data for m in got] == [f"{i:04}" * 250 for i in range(4)]


def test_parser_budget_ignores_uncompressed_messages() -> None:
    parser = make_parser(inflate_budget=10)
    stream = server_frame(2, b"x" * 100) * 3
    assert len(parser.feed(stream)) == 3
    assert parser.pending is False


def test_parser_error_after_a_stop_clears_pending() -> None:
    server = ServerCompressor()
    stream = server_frame(2, server.fragment(b"a" * 100), rsv=RSV1)
    stream += server_frame(2, server.fragment(b"b" * 100), rsv=RSV1)
    stream += server_frame(3, b"")  # reserved opcode
    parser = make_parser(inflate_budget=50)
    assert len(parser.feed(stream)) == 1
    assert parser.pending is True
    assert len(parser.feed(b"")) == 1
    assert parser.pending is True
    assert parser.feed(b"") == []
    assert parser.exc is not None and parser.exc.code == 1002
    assert parser.pending is False


def test_parser_compressed_decode_text_false() -> None:
    server = ServerCompressor()
    parser = make_parser(decode_text=False)
    assert parser.feed(server_frame(1, server.fragment("é".encode()), rsv=RSV1)) == [
        WSMessage(WSMsgType.TEXT, "é".encode(), None)
    ]


def bfinal_message(data: bytes) -> bytes:
    """A message compressed as one stream ending in a BFINAL=1 block."""
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush(zlib.Z_FINISH)


def test_parser_messages_ending_with_bfinal_block() -> None:
    # RFC 7692 §7.2.3.4 lets a sender end a message with a BFINAL=1 block.
    # Each such message is a complete DEFLATE stream, so the receiver must
    # start a new inflater for the next message, even with context takeover.
    parser = make_parser()
    stream = server_frame(1, bfinal_message(b"Hello"), rsv=RSV1)
    stream += server_frame(1, bfinal_message(b"World"), rsv=RSV1)
    assert parser.feed(stream) == [
        WSMessage(WSMsgType.TEXT, "Hello", None),
        WSMessage(WSMsgType.TEXT, "World", None),
    ]


def test_bfinal_message_alone_is_accepted() -> None:
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(bfinal_message(b"Hello"), True, None) == b"Hello"
    assert bfinal_message(b"Hello") == bytes.fromhex("f348cdc9c90700")


@pytest.mark.parametrize("offered", [9, 12, 14])
def test_answer_must_name_the_server_window_it_was_offered(offered: int) -> None:
    # RFC 7692 §7.1.2.1: leaving server_max_window_bits out means 15 bits,
    # more than the client allowed.
    with pytest.raises(NegotiationError, match="leaves it out"):
        negotiate(["permessage-deflate"], offered)
    params = negotiate(
        [f"permessage-deflate; server_max_window_bits={offered}"], offered
    )
    assert params is not None
    assert params.server_max_window_bits == offered
    # With 15 offered (the default), leaving it out is fine.
    assert negotiate(["permessage-deflate"], 15) == DeflateParams()


def _finished_stream(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()  # ends with BFINAL=1


def test_data_after_a_final_block_is_a_new_stream() -> None:
    payload = _finished_stream(b"first ") + _finished_stream(b"second")
    whole = PerMessageDeflate(DeflateParams())
    assert whole.decompress(payload, True, None) == b"first second"
    # The same bytes one at a time give the same message.
    split = PerMessageDeflate(DeflateParams())
    out = b"".join(
        split.decompress(payload[i : i + 1], i == len(payload) - 1, None)
        for i in range(len(payload))
    )
    assert out == b"first second"
    # The next message starts afresh.
    assert whole.decompress(_finished_stream(b"next"), True, None) == b"next"


def test_limit_counts_every_stream_of_a_message() -> None:
    payload = _finished_stream(b"a" * 600) + _finished_stream(b"b" * 600)
    pmd = PerMessageDeflate(DeflateParams())
    with pytest.raises(MessageTooBig):
        pmd.decompress(payload, True, 1000)
    assert PerMessageDeflate(DeflateParams()).decompress(payload, True, 1200) == (
        b"a" * 600 + b"b" * 600
    )


# -- many streams in one message: linear cost (issue 11, defect 3) ----------


_real_decompressobj = zlib.decompressobj


class RecordingInflater:
    """A zlib decompressor that records each call's input and output sizes."""

    def __init__(self, wbits: int, calls: list[tuple[int, int]]) -> None:
        self._obj = _real_decompressobj(wbits)
        self._calls = calls

    def decompress(self, data: memoryview, max_length: int = 0) -> bytes:
        out = self._obj.decompress(data, max_length)
        self._calls.append((len(data), len(out)))
        return out

    def __getattr__(self, name: str) -> object:
        return getattr(self._obj, name)


def record_inflaters(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Make every new inflater a recording one; returns the shared record."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(
        zlib, "decompressobj", lambda wbits: RecordingInflater(wbits, calls)
    )
    return calls


def test_many_streams_give_zlib_bounded_slices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before the fix each stream's unused_data (all the rest of the payload)
    # was fed back to zlib, and copied by it: n streams cost n * len / 2.
    calls = record_inflaters(monkeypatch)
    count = 5000
    payload = _finished_stream(b"x") * count
    assert len(payload) == 3 * count
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(payload, True, None) == b"x" * count
    sizes = [given for given, _ in calls]
    assert len(sizes) == count  # one zlib call per stream
    # Each call is given one slice: a stream's copy of what follows it is
    # bounded, whatever the payload's size.
    assert max(sizes) == deflate.INFLATE_SLICE
    assert sizes[-1] == 3


@pytest.mark.parametrize("slice_size", [1, 2, 3, 7, 4096])
def test_streams_across_slice_boundaries(
    monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    # Streams of every length, so that stream ends fall on, before and after
    # the boundaries of the slices zlib is given.
    monkeypatch.setattr(deflate, "INFLATE_SLICE", slice_size)
    texts = [os.urandom(n) for n in range(0, 40)] + [b"z" * 20_000, os.urandom(9000)]
    payload = b"".join(_finished_stream(t) for t in texts)
    pmd = PerMessageDeflate(DeflateParams())
    assert pmd.decompress(payload, True, None) == b"".join(texts)
    # A sync-flushed stream longer than many slices, then the trailer.
    data = os.urandom(3 * 4096 + 5)
    assert pmd.decompress(ServerCompressor().fragment(data), True, None) == data


@pytest.mark.parametrize("slice_size", [1, 5, 4096])
def test_limit_across_many_streams(
    monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    monkeypatch.setattr(deflate, "INFLATE_SLICE", slice_size)
    payload = _finished_stream(b"ab") * 500
    exact = PerMessageDeflate(DeflateParams())
    assert exact.decompress(payload, True, 1000) == b"ab" * 500
    calls = record_inflaters(monkeypatch)
    over = PerMessageDeflate(DeflateParams())
    with pytest.raises(MessageTooBig, match="limit of 999 bytes"):
        over.decompress(payload, True, 999)
    # At most limit + 1 bytes were inflated before giving up.
    assert sum(out for _, out in calls) == 1000


def test_offered_window_bits_of_a_hand_written_offer() -> None:
    from aiows.core.deflate import offered_window_bits

    assert offered_window_bits([]) is None
    assert offered_window_bits(["x-other"]) is None
    assert offered_window_bits(["Permessage-Deflate"]) == 15
    assert offered_window_bits(["permessage-deflate; client_max_window_bits"]) == 15
    assert (
        offered_window_bits(["x-other, permessage-deflate; server_max_window_bits=9"])
        == 9
    )
    with pytest.raises(NegotiationError):
        offered_window_bits(["permessage-deflate; server_max_window_bits=99"])


def test_settings_by_websockets_names() -> None:
    """websockets' PerMessageDeflate attributes, from the client's side:
    "remote" is the server, "local" the client."""
    ext = deflate.PerMessageDeflate(
        deflate.DeflateParams(
            server_no_context_takeover=True,
            client_no_context_takeover=False,
            server_max_window_bits=10,
            client_max_window_bits=12,
        )
    )
    assert (
        ext.remote_no_context_takeover,
        ext.local_no_context_takeover,
        ext.remote_max_window_bits,
        ext.local_max_window_bits,
    ) == (True, False, 10, 12)
    assert repr(ext) == (
        "PerMessageDeflate(remote_no_context_takeover=True, "
        "local_no_context_takeover=False, remote_max_window_bits=10, "
        "local_max_window_bits=12)"
    )
