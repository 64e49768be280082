"""FrameWriter: masked client frames, byte for byte."""

from __future__ import annotations

import zlib

import pytest

from aiows.core import mask
from aiows.core.deflate import TRAILER, DeflateParams, PerMessageDeflate
from aiows.core.frames import Opcode
from aiows.core.writer import FrameWriter

from .helpers import ClientFrame, decode_client_frames, xor_mask


def one_frame(data: bytes) -> ClientFrame:
    [frame] = decode_client_frames(data)
    return frame


def payload(n: int) -> bytes:
    return bytes((i * 11 + 1) & 0xFF for i in range(n))


@pytest.mark.parametrize(
    ("n", "header"),
    [
        (0, b"\x82\x80"),
        (1, b"\x82\x81"),
        (125, b"\x82\xfd"),
        (126, b"\x82\xfe\x00\x7e"),
        (65535, b"\x82\xfe\xff\xff"),
        (65536, b"\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00"),
        (70000, b"\x82\xff" + (70000).to_bytes(8, "big")),
    ],
)
def test_header_layout(n: int, header: bytes) -> None:
    data = payload(n)
    out = FrameWriter().frame(Opcode.BINARY, data)
    assert out[: len(header)] == header
    assert len(out) == len(header) + 4 + n
    key = out[len(header) : len(header) + 4]
    assert xor_mask(key, out[len(header) + 4 :]) == data
    frame = one_frame(out)
    assert (frame.fin, frame.rsv, frame.opcode, frame.masked) == (True, 0, 2, True)
    assert frame.payload == data


def test_docstring_example() -> None:
    out = FrameWriter().frame(Opcode.TEXT, b"hi")
    assert out[:2] == b"\x81\x82"
    assert len(out) == 8
    assert one_frame(out).payload == b"hi"


def test_frame_flags() -> None:
    writer = FrameWriter()
    assert writer.frame(Opcode.TEXT, b"", fin=False)[0] == 0x01
    assert writer.frame(Opcode.TEXT, b"", rsv1=True)[0] == 0xC1
    assert writer.frame(Opcode.CONTINUATION, b"", fin=False, rsv1=True)[0] == 0x40
    assert writer.frame(Opcode.PONG, b"")[0] == 0x8A


def test_mask_keys_come_from_key_source(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = bytes(range(256)) * 16
    monkeypatch.setattr(mask.os, "urandom", lambda n: pool[:n])
    # The key pool is shared by the process; empty it so the next key is
    # drawn, and have the real pool restored afterwards.
    monkeypatch.setattr(mask.KEYS, "_pool", mask.KEYS._pool)
    monkeypatch.setattr(mask.KEYS, "_offset", mask.KEYS.REFILL)
    writer = FrameWriter()
    first = writer.frame(Opcode.TEXT, b"abcd")
    second = writer.frame(Opcode.TEXT, b"abcd")
    assert first == b"\x81\x84" + b"\x00\x01\x02\x03" + xor_mask(
        b"\x00\x01\x02\x03", b"abcd"
    )
    assert second[2:6] == b"\x04\x05\x06\x07"
    assert one_frame(second).payload == b"abcd"


def test_fresh_key_per_frame() -> None:
    writer = FrameWriter()
    keys = {one_frame(writer.frame(Opcode.BINARY, b"x")).key for _ in range(200)}
    assert len(keys) > 190


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_payloads(kind: type) -> None:
    out = FrameWriter().message(Opcode.BINARY, kind(b"bytes-like"))
    assert one_frame(out).payload == b"bytes-like"


def test_message_without_deflate() -> None:
    writer = FrameWriter()
    assert writer.deflate is None
    frame = one_frame(writer.message(Opcode.TEXT, "héllo".encode()))
    assert (frame.fin, frame.rsv, frame.opcode) == (True, 0, 1)
    assert frame.payload == "héllo".encode()
    frame = one_frame(writer.message(Opcode.BINARY, b"\x00", compress=True))
    assert (frame.rsv, frame.payload) == (0, b"\x00")


def test_message_with_deflate() -> None:
    writer = FrameWriter(PerMessageDeflate(DeflateParams()))
    inflater = zlib.decompressobj(-15)
    for data in [b"Hello", b"Hello", b"", b"x" * 100_000]:
        frame = one_frame(writer.message(Opcode.TEXT, data))
        assert (frame.fin, frame.rsv, frame.opcode) == (True, 0x40, 1)
        assert inflater.decompress(frame.payload + TRAILER) == data


def test_message_compress_false_with_deflate() -> None:
    writer = FrameWriter(PerMessageDeflate(DeflateParams()))
    frame = one_frame(writer.message(Opcode.BINARY, b"raw", compress=False))
    assert (frame.rsv, frame.payload) == (0, b"raw")


def test_fragments_without_deflate() -> None:
    writer = FrameWriter()
    out = [
        writer.fragment(Opcode.TEXT, b"He", first=True, fin=False),
        writer.fragment(Opcode.TEXT, b"ll", first=False, fin=False),
        writer.fragment(Opcode.TEXT, b"o", first=False, fin=True),
    ]
    frames = [one_frame(f) for f in out]
    assert [(f.fin, f.rsv, f.opcode, f.payload) for f in frames] == [
        (False, 0, 1, b"He"),
        (False, 0, 0, b"ll"),
        (True, 0, 0, b"o"),
    ]


def test_single_fragment_is_whole_message() -> None:
    frame = one_frame(FrameWriter().fragment(Opcode.BINARY, b"x", first=True, fin=True))
    assert (frame.fin, frame.rsv, frame.opcode, frame.payload) == (True, 0, 2, b"x")


def test_fragments_with_deflate() -> None:
    writer = FrameWriter(PerMessageDeflate(DeflateParams()))
    out = [
        writer.fragment(Opcode.BINARY, b"abc" * 50, first=True, fin=False),
        writer.fragment(Opcode.BINARY, b"def" * 50, first=False, fin=False),
        writer.fragment(Opcode.BINARY, b"ghi", first=False, fin=True),
    ]
    frames = [one_frame(f) for f in out]
    assert [(f.fin, f.rsv, f.opcode) for f in frames] == [
        (False, 0x40, 2),
        (False, 0, 0),
        (True, 0, 0),
    ]
    compressed = b"".join(f.payload for f in frames)
    assert zlib.decompressobj(-15).decompress(compressed + TRAILER) == (
        b"abc" * 50 + b"def" * 50 + b"ghi"
    )


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
@pytest.mark.parametrize("n", [0, 1, 125])
def test_control(opcode: Opcode, n: int) -> None:
    data = payload(n)
    frame = one_frame(FrameWriter().control(opcode, data))
    assert (frame.fin, frame.rsv, frame.opcode, frame.payload) == (
        True,
        0,
        opcode,
        data,
    )
    assert frame.length_field == n


def test_control_default_payload() -> None:
    out = FrameWriter().control(Opcode.PING)
    assert out[:2] == b"\x89\x80" and len(out) == 6


@pytest.mark.parametrize("n", [126, 200, 65536])
def test_control_too_long(n: int) -> None:
    with pytest.raises(
        ValueError, match=f"payload is {n} bytes; RFC 6455 §5.5 allows at most 125"
    ):
        FrameWriter().control(Opcode.PING, b"x" * n)


def test_control_never_compressed() -> None:
    writer = FrameWriter(PerMessageDeflate(DeflateParams()))
    frame = one_frame(writer.control(Opcode.PING, b"aaaaaaaa"))
    assert (frame.rsv, frame.payload) == (0, b"aaaaaaaa")


def test_close_without_code() -> None:
    out = FrameWriter().close()
    assert out[:2] == b"\x88\x80"
    assert len(out) == 6


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1000, b"", b"\x03\xe8"),
        (1001, "bye", b"\x03\xe9bye"),
        (4999, "é", b"\x13\x87\xc3\xa9"),
        (3000, b"r" * 123, b"\x0b\xb8" + b"r" * 123),
    ],
)
def test_close_payloads(code: int, reason: str | bytes, expected: bytes) -> None:
    frame = one_frame(FrameWriter().close(code, reason))
    assert (frame.fin, frame.opcode, frame.payload) == (True, 8, expected)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_close_invalid_code(code: int) -> None:
    with pytest.raises(ValueError, match=f"close code {code} may not be sent"):
        FrameWriter().close(code)


def test_close_reason_too_long() -> None:
    with pytest.raises(ValueError, match="124 bytes; at most 123"):
        FrameWriter().close(1000, "r" * 124)


def test_several_frames_decode_back_to_back() -> None:
    writer = FrameWriter()
    stream = (
        writer.message(Opcode.TEXT, b"one")
        + writer.control(Opcode.PING, b"p")
        + writer.message(Opcode.BINARY, payload(300))
        + writer.close(1000, "done")
    )
    frames = decode_client_frames(stream)
    assert [(f.opcode, f.payload) for f in frames] == [
        (1, b"one"),
        (9, b"p"),
        (2, payload(300)),
        (8, b"\x03\xe8done"),
    ]


# -- a message built into reused memory -----------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_message_into_a_buffer_that_fits_is_a_view_of_it(kind: type) -> None:
    into = bytearray(70_100)
    data = payload(70_000)
    frame = FrameWriter().message(Opcode.BINARY, kind(data), into=into)
    assert isinstance(frame, memoryview)
    assert frame.obj is into and len(frame) == 70_014
    decoded = one_frame(bytes(frame))
    assert (decoded.fin, decoded.opcode, decoded.payload) == (True, 2, data)


def test_message_into_counts_the_bytes_of_a_wide_memoryview() -> None:
    # 100 items of 4 bytes: 400 payload bytes, which a 300-byte buffer cannot hold.
    wide = memoryview(bytearray(400)).cast("I")
    frame = FrameWriter().message(Opcode.BINARY, wide, into=bytearray(300))
    assert isinstance(frame, bytes)
    assert one_frame(frame).payload == bytes(400)


def test_message_into_a_buffer_too_small_is_new_bytes() -> None:
    into = bytearray(100)
    frame = FrameWriter().message(Opcode.TEXT, payload(95), into=into)
    assert isinstance(frame, bytes)
    assert one_frame(frame).payload == payload(95)
    assert into == bytearray(100)


def test_message_into_with_deflate_frames_the_compressed_payload() -> None:
    writer = FrameWriter(PerMessageDeflate(DeflateParams()))
    into = bytearray(1000)
    frame = writer.message(Opcode.TEXT, b"a" * 5000, into=into)
    assert isinstance(frame, memoryview)
    decoded = one_frame(bytes(frame))
    assert decoded.rsv == 0x40
    inflated = zlib.decompressobj(-15).decompress(decoded.payload + TRAILER)
    assert inflated == b"a" * 5000
