"""Hypothesis properties that ``tests/core/test_properties.py`` does not state.

That module already checks: messages built by the test round-trip through
the parser (plain and compressed), chunking independence of *valid*
streams, one cut of one text frame, masking twice with each implementation,
the writer's whole messages decoding back.  Added here:

* any *frame* sequence (every opcode, fragment shapes, each length class,
  RSV1 under deflate) serialized independently comes back frame for frame
  from the parser in ``fragments=True`` mode;
* every frame the writer builds (control frames included) decodes back to
  the same fields with the minimal length encoding;
* chunking independence for *any* byte stream, invalid ones included: the
  same messages and the same error, however the stream is split;
* masking of ``bytearray`` and unaligned ``memoryview`` input, in the
  compiled and the pure-Python path, and ``build_frame`` of each.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from aiows.core import mask
from aiows.core.deflate import DeflateParams, PerMessageDeflate
from aiows.core.frames import Opcode
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import FrameParser
from aiows.core.writer import FrameWriter
from tests.conftest import server_frame
from tests.core.helpers import decode_client_frames, reassembled, xor_mask

from .fuzz_parser import mutate, valid_stream

try:
    from aiows.core import _speedups
except ImportError:  # depends on the build
    _speedups = None

FAST = settings(max_examples=150, deadline=None)

SIZES = st.one_of(
    st.integers(0, 140),
    st.sampled_from([125, 126, 127, 65535, 65536]),
)


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[tuple[int, bytes, bool]]:
    """(opcode, payload, fin) frames forming a valid server stream."""
    frames: list[tuple[int, bytes, bool]] = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            opcode = draw(st.sampled_from([0x9, 0xA]))
            frames.append((opcode, draw(st.binary(max_size=125)), True))
            continue
        opcode = draw(st.sampled_from([0x1, 0x2]))
        count = draw(st.integers(1, 4))
        for i in range(count):
            size = draw(SIZES)
            if opcode == 0x1:
                payload = ("\u00e9" * (size // 2) + "a" * (size % 2)).encode()
            else:
                payload = random.Random(size).randbytes(size)
            frames.append((opcode if i == 0 else 0x0, payload, i == count - 1))
            if i < count - 1 and draw(st.booleans()):
                frames.append((0x9, b"between", True))
    return frames


def expected_events(
    frames: list[tuple[int, bytes, bool]],
) -> list[WSMessage | Fragment]:
    out: list[WSMessage | Fragment] = []
    current: int | None = None
    fragmented = False
    for opcode, payload, fin in frames:
        if opcode >= 0x8:
            kind = WSMsgType.PING if opcode == 0x9 else WSMsgType.PONG
            out.append(WSMessage(kind, payload, None))
            continue
        if opcode != 0x0:
            current, fragmented = opcode, not fin
        assert current is not None
        kind = WSMsgType.TEXT if current == 0x1 else WSMsgType.BINARY
        data = payload.decode() if current == 0x1 else payload
        if fragmented:
            out.append(Fragment(kind, data, fin))
        else:
            out.append(WSMessage(kind, data, None))
    return out


@FAST
@given(frame_sequences(), st.integers(1, 70000))
def test_any_frame_sequence_round_trips(
    frames: list[tuple[int, bytes, bool]], chunk: int
) -> None:
    stream = b"".join(server_frame(op, p, fin=fin) for op, p, fin in frames)
    parser = FrameParser(fragments=True, max_msg_size=0)
    events: list[WSMessage | Fragment] = []
    for i in range(0, len(stream), chunk):
        events += parser.feed(stream[i : i + chunk])
    assert parser.exc is None
    assert reassembled(events) == reassembled(expected_events(frames))


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Opcode)),
            SIZES,
            st.booleans(),
        ),
        max_size=6,
    )
)
def test_writer_frames_decode_to_the_same_fields(
    specs: list[tuple[Opcode, int, bool]],
) -> None:
    writer = FrameWriter()
    expected = []
    stream = b""
    for opcode, size, fin in specs:
        if opcode >= 0x8:
            size, fin = min(size, 125), True
        payload = random.Random(size).randbytes(size)
        if opcode >= 0x8:
            stream += writer.control(opcode, payload)
        else:
            stream += writer.frame(opcode, payload, fin=fin)
        minimal = size if size < 126 else (126 if size < 65536 else 127)
        expected.append((fin, 0, int(opcode), True, minimal, payload))
    got = [
        (f.fin, f.rsv, f.opcode, f.masked, f.length_field, f.payload)
        for f in decode_client_frames(stream)
    ]
    assert got == expected


def _parse(stream_pieces: list[bytes], deflate: bool, limit: int) -> tuple[object, ...]:
    parser = FrameParser(
        max_msg_size=limit,
        fragments=True,
        deflate=PerMessageDeflate(DeflateParams()) if deflate else None,
    )
    events: list[WSMessage | Fragment] = []
    for piece in stream_pieces:
        events += parser.feed(piece)
    exc = parser.exc
    return (
        reassembled(events),
        None if exc is None else (type(exc), exc.code),
        parser.closed,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32),
    st.booleans(),
    st.sampled_from([0, 10, 200, 4096]),
    st.lists(st.integers(0, 5000), max_size=12),
)
def test_any_stream_same_result_however_split(
    seed: int, deflate: bool, limit: int, cuts: list[int]
) -> None:
    """Valid or not: the same events, the same error, the same end state."""
    rng = random.Random(seed)
    stream = valid_stream(rng, deflate)
    if rng.random() < 0.8:
        stream = mutate(rng, stream)
    whole = _parse([stream], deflate, limit)
    points = sorted({min(c, len(stream)) for c in cuts})
    pieces = [stream[a:b] for a, b in itertools.pairwise([0, *points, len(stream)])]
    assert same_outcome(_parse(pieces, deflate, limit), whole, deflate)
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    assert same_outcome(_parse(one_by_one, deflate, limit), whole, deflate)


def same_outcome(
    split: tuple[object, ...], whole: tuple[object, ...], deflate: bool
) -> bool:
    """Equal, except for order effects that fail-fast makes inevitable.

    A compressed frame can break several rules at once: its output is bad
    UTF-8, its compressed data is corrupt further on, its output runs past
    the size limit.  Which is found first depends on where the stream is
    cut: in pieces, the text is checked as it inflates (1007); whole, zlib
    rejects a corrupt payload before giving output (1002) or the output
    passes the limit before any of it is decoded (1009).  Each answer is
    right.  Uncompressed frames have no such effect: the limit is decided
    from the header and the rest is checked in arrival order.
    """
    if split == whole:
        return True
    if not deflate or split[0] != whole[0] or split[2] != whole[2]:
        return False
    codes = {err[1] for err in (split[1], whole[1]) if isinstance(err, tuple)}
    return len(codes) == 2 and codes <= {1002, 1007, 1009}


MASKERS = [mask.py_apply_mask, mask.apply_mask]
FRAMERS = [mask.py_build_frame, mask.build_frame]
if _speedups is not None:
    MASKERS.append(_speedups.apply_mask)
    FRAMERS.append(_speedups.build_frame)


@FAST
@given(
    st.binary(min_size=4, max_size=4),
    st.binary(max_size=100),
    st.integers(0, 7),
    st.sampled_from(["bytes", "bytearray", "memoryview"]),
)
def test_masking_any_buffer_any_alignment(
    key: bytes, data: bytes, offset: int, kind: str
) -> None:
    backing = bytes(offset) + data
    buffer: bytes | bytearray | memoryview
    if kind == "bytes":
        buffer = backing[offset:]
    elif kind == "bytearray":
        buffer = bytearray(backing)[offset:]
    else:
        buffer = memoryview(backing)[offset:]
    reference = xor_mask(key, data)
    for func in MASKERS:
        once = func(key, buffer)
        assert once == reference
        assert func(key, once) == data
    for framer in FRAMERS:
        header = bytes([0x82, 0x80 | len(data)])  # data is under 126 bytes
        assert framer(0x82, key, buffer) == header + key + reference
