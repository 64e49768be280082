"""Hypothesis properties of the protocol core."""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from aiows.core import deflate, mask
from aiows.core.deflate import TRAILER, DeflateParams, PerMessageDeflate
from aiows.core.errors import MessageTooBig
from aiows.core.frames import Opcode
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import FrameParser
from aiows.core.writer import FrameWriter
from tests.conftest import server_frame

from .helpers import decode_client_frames, xor_mask

try:
    from aiows.core import _speedups
except ImportError:  # depends on the build
    _speedups = None

FAST = settings(max_examples=200, deadline=None)


@dataclass
class Message:
    """A message and how the server sends it."""

    opcode: int
    data: bytes
    cuts: list[int]  # fragment boundaries within ``data``
    pings: list[bytes]  # control frames slipped in after the first fragment
    compressed: bool

    def expected(self) -> WSMessage:
        if self.opcode == 1:
            return WSMessage(WSMsgType.TEXT, self.data.decode(), None)
        if self.opcode == 2:
            return WSMessage(WSMsgType.BINARY, self.data, None)
        kind = WSMsgType.PING if self.opcode == 9 else WSMsgType.PONG
        return WSMessage(kind, self.data, None)


@st.composite
def messages(draw: st.DrawFn, allow_compressed: bool) -> Message:
    kind = draw(st.sampled_from(["text", "binary", "ping", "pong"]))
    if kind == "text":
        data = draw(st.text(max_size=300)).encode()
        opcode = 1
    elif kind == "binary":
        data = draw(st.binary(max_size=300))
        opcode = 2
    else:
        return Message(
            9 if kind == "ping" else 10, draw(st.binary(max_size=125)), [], [], False
        )
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    pings = draw(st.lists(st.binary(max_size=10), max_size=2)) if cuts else []
    compressed = allow_compressed and draw(st.booleans())
    return Message(opcode, data, cuts, pings, compressed)


def serialize(msgs: list[Message], compressor: zlib._Compress | None) -> bytes:
    """The server's frames for ``msgs``, built without aiows."""
    out: list[bytes] = []
    for msg in msgs:
        if msg.opcode >= 8:
            out.append(server_frame(msg.opcode, msg.data))
            continue
        bounds = [0, *msg.cuts, len(msg.data)]
        pieces = [msg.data[a:b] for a, b in itertools.pairwise(bounds)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if msg.compressed:
                assert compressor is not None
                piece = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
                if last:
                    piece = piece[:-4]
            rsv = 0x40 if msg.compressed and i == 0 else 0
            opcode = msg.opcode if i == 0 else 0
            out.append(server_frame(opcode, piece, fin=last, rsv=rsv))
            if i == 0:
                out.extend(server_frame(9, p) for p in msg.pings)
    return b"".join(out)


def expected(msgs: list[Message]) -> list[WSMessage]:
    result: list[WSMessage] = []
    for msg in msgs:
        if msg.opcode < 8 and msg.cuts:
            result.extend(WSMessage(WSMsgType.PING, p, None) for p in msg.pings)
        result.append(msg.expected())
    return result


@FAST
@given(st.lists(messages(allow_compressed=False), max_size=8))
def test_serialize_then_parse(msgs: list[Message]) -> None:
    parser = FrameParser()
    assert parser.feed(serialize(msgs, None)) == expected(msgs)
    assert parser.exc is None
    assert parser.closed is False


@FAST
@given(st.lists(messages(allow_compressed=True), max_size=8))
def test_serialize_then_parse_compressed(msgs: list[Message]) -> None:
    stream = serialize(msgs, zlib.compressobj(wbits=-15))
    parser = FrameParser(deflate=PerMessageDeflate(DeflateParams()))
    assert parser.feed(stream) == expected(msgs)
    assert parser.exc is None


@FAST
@given(
    st.lists(messages(allow_compressed=True), max_size=6),
    st.lists(st.integers(0, 5000), max_size=12),
    st.one_of(
        st.integers(1000, 1003), st.integers(1007, 1014), st.integers(3000, 4999)
    ),
    st.text(max_size=20),
)
def test_parse_independent_of_chunking(
    msgs: list[Message], cuts: list[int], code: int, reason: str
) -> None:
    stream = serialize(msgs, zlib.compressobj(wbits=-15))
    stream += server_frame(8, code.to_bytes(2, "big") + reason.encode())
    stream += server_frame(1, b"ignored after close")
    want = [*expected(msgs), WSMessage(WSMsgType.CLOSE, code, reason)]

    whole = FrameParser(deflate=PerMessageDeflate(DeflateParams()))
    assert whole.feed(stream) == want

    points = sorted({min(c, len(stream)) for c in cuts})
    bounds = [0, *points, len(stream)]
    parser = FrameParser(deflate=PerMessageDeflate(DeflateParams()))
    out: list[WSMessage] = []
    for a, b in itertools.pairwise(bounds):
        out += parser.feed(stream[a:b])
    assert out == want
    assert parser.closed is True
    assert parser.exc is None


@FAST
@given(st.binary(max_size=400), st.integers(1, 50))
def test_byte_stream_split_every_n_bytes(data: bytes, n: int) -> None:
    stream = server_frame(2, data) + server_frame(9, data[:125]) + server_frame(2, data)
    parser = FrameParser()
    out: list[WSMessage] = []
    for i in range(0, len(stream), n):
        out += parser.feed(stream[i : i + n])
    assert out == [
        WSMessage(WSMsgType.BINARY, data, None),
        WSMessage(WSMsgType.PING, data[:125], None),
        WSMessage(WSMsgType.BINARY, data, None),
    ]


@FAST
@given(st.binary(max_size=200), st.integers(0, 200))
def test_error_code_independent_of_chunking(data: bytes, cut: int) -> None:
    stream = server_frame(1, data)
    try:
        data.decode()
        want = 0
    except UnicodeDecodeError:
        want = 1007
    parser = FrameParser()
    cut = min(cut, len(stream))
    parser.feed(stream[:cut])
    parser.feed(stream[cut:])
    assert (parser.exc.code if parser.exc else 0) == want


@FAST
@given(st.binary(min_size=4, max_size=4), st.binary(max_size=2000))
def test_masking_twice_is_identity(key: bytes, data: bytes) -> None:
    funcs = [mask.py_apply_mask, mask.apply_mask]
    if _speedups is not None:
        funcs.append(_speedups.apply_mask)
    reference = xor_mask(key, data)
    for func in funcs:
        once = func(key, data)
        assert once == reference
        assert func(key, once) == data
    assert mask.py_build_frame(0x82, key, data) == mask.build_frame(0x82, key, data)


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from([Opcode.TEXT, Opcode.BINARY]), st.binary(max_size=70000)
        ),
        max_size=4,
    )
)
def test_writer_frames_decode_back(items: list[tuple[Opcode, bytes]]) -> None:
    writer = FrameWriter()
    stream = b"".join(writer.message(op, data) for op, data in items)
    frames = decode_client_frames(stream)
    assert [(f.opcode, f.payload, f.masked, f.fin) for f in frames] == [
        (op, data, True, True) for op, data in items
    ]


@FAST
@given(
    st.lists(st.lists(st.binary(max_size=200), min_size=1, max_size=4), max_size=5),
    st.booleans(),
    st.sampled_from(range(8, 16)),
)
def test_writer_deflate_round_trips_through_parser(
    msgs: list[list[bytes]], no_context_takeover: bool, bits: int
) -> None:
    """What aiows compresses, aiows (and zlib) inflates with the same settings."""
    params = DeflateParams(
        server_no_context_takeover=no_context_takeover,
        client_no_context_takeover=no_context_takeover,
        server_max_window_bits=bits,
        client_max_window_bits=bits,
    )
    writer = FrameWriter(PerMessageDeflate(params))
    stream = b""
    for parts in msgs:
        for i, part in enumerate(parts):
            stream += writer.fragment(
                Opcode.BINARY, part, first=i == 0, fin=i == len(parts) - 1
            )
    # Re-frame the client's frames as server frames for the parser.
    frames = decode_client_frames(stream)
    server_stream = b"".join(
        server_frame(f.opcode, f.payload, fin=f.fin, rsv=f.rsv) for f in frames
    )
    parser = FrameParser(deflate=PerMessageDeflate(params))
    assert parser.feed(server_stream) == [
        WSMessage(WSMsgType.BINARY, b"".join(parts), None) for parts in msgs
    ]
    # And a zlib inflater with the negotiated window reads the same.
    inflater = zlib.decompressobj(-bits)
    inflated: list[bytes] = []
    message = b""
    for frame in frames:
        message += frame.payload
        if frame.fin:
            inflated.append(inflater.decompress(message + TRAILER))
            message = b""
            if no_context_takeover:
                inflater = zlib.decompressobj(-bits)
    assert inflated == [b"".join(parts) for parts in msgs]


@FAST
@given(
    st.lists(messages(allow_compressed=True), max_size=6),
    st.lists(st.integers(0, 3000), max_size=8),
)
def test_fragment_mode_reassembles_to_the_same_messages(
    msgs: list[Message], cuts: list[int]
) -> None:
    """Joining the Fragment events of each message gives the whole message."""
    stream = serialize(msgs, zlib.compressobj(wbits=-15))
    points = sorted({min(c, len(stream)) for c in cuts})
    parser = FrameParser(fragments=True, deflate=PerMessageDeflate(DeflateParams()))
    events: list[WSMessage | Fragment] = []
    for a, b in itertools.pairwise([0, *points, len(stream)]):
        events += parser.feed(stream[a:b])
    assert parser.exc is None
    rebuilt: list[WSMessage] = []
    pending: list[Fragment] = []
    for event in events:
        if isinstance(event, Fragment):
            pending.append(event)
            if event.fin:
                data = (str if event.type is WSMsgType.TEXT else bytes)().join(
                    p.data for p in pending
                )
                assert {p.type for p in pending} == {event.type}
                assert [p.fin for p in pending] == [False] * (len(pending) - 1) + [True]
                rebuilt.append(WSMessage(event.type, data, None))
                pending = []
        else:
            rebuilt.append(event)
    assert pending == []
    assert rebuilt == expected(msgs)


@FAST
@given(
    st.lists(st.binary(max_size=200), min_size=1, max_size=12),
    st.lists(st.integers(0, 3000), max_size=6),
    st.integers(1, 64),
    st.one_of(st.none(), st.integers(0, 2400)),
)
def test_many_final_streams_inflate_however_split(
    texts: list[bytes], cuts: list[int], slice_size: int, limit: int | None
) -> None:
    """One message of several BFINAL-terminated streams (RFC 7692 §7.2.3.4),
    cut into frames anywhere and inflated in slices of any size, gives the
    streams' concatenation, or 1009 exactly when it passes the limit."""
    payload = b""
    for text in texts:
        compressor = zlib.compressobj(wbits=-15)
        payload += compressor.compress(text) + compressor.flush()
    points = sorted({min(c, len(payload)) for c in cuts})
    pieces = [payload[a:b] for a, b in itertools.pairwise([0, *points, len(payload)])]
    want = b"".join(texts)
    saved = deflate.INFLATE_SLICE
    deflate.INFLATE_SLICE = slice_size  # type: ignore[misc]
    try:
        pmd = PerMessageDeflate(DeflateParams())
        out = b""
        try:
            for i, piece in enumerate(pieces):
                remaining = None if limit is None else limit - len(out)
                out += pmd.decompress(piece, i == len(pieces) - 1, remaining)
        except MessageTooBig:
            assert limit is not None and len(want) > limit
        else:
            assert out == want
            assert limit is None or len(want) <= limit
    finally:
        deflate.INFLATE_SLICE = saved  # type: ignore[misc]
