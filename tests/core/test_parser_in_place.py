"""The parser on reused buffers: views of the caller's read buffer in, and
large binary messages received in place (``read_into`` / ``written``)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

import pytest

from aiows.core import pieces as pieces_module
from aiows.core.deflate import DeflateParams, PerMessageDeflate
from aiows.core.errors import MessageTooBig
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import FrameParser
from aiows.core.pieces import DIRECT_READ_FRACTION, DIRECT_READ_MIN, py_new_payload
from aiows.core.protocol import ClientProtocol, Policy, State
from aiows.core.writer import FrameWriter
from tests.conftest import server_frame

try:
    from aiows.core import _speedups
except ImportError:  # pragma: no cover - built without a compiler
    _speedups = None  # type: ignore[assignment]

TEXT, BINARY, CONT, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9
needs_speedups = pytest.mark.skipif(_speedups is None, reason="no compiled module")


def binary(data: bytes) -> WSMessage:
    return WSMessage(WSMsgType.BINARY, data, None)


class Reader:
    """Feeds a parser the way the engine does: into one reused buffer, or
    into the view ``read_into`` offers, scribbling over the buffer after
    each read so that a view kept by mistake shows."""

    def __init__(self, parser: FrameParser, size: int = 4096) -> None:
        self.parser = parser
        self.buffer = memoryview(bytearray(size))
        self.in_place = 0  # reads that went straight into a message

    def read(self, stream: bytes, chunk: int) -> list[WSMessage]:
        out: list[WSMessage] = []
        pos = 0
        while pos < len(stream):
            view = self.parser.read_into()
            target = self.buffer if view is None else view
            n = min(chunk, len(target), len(stream) - pos)
            target[:n] = stream[pos : pos + n]
            pos += n
            if view is None:
                out += self.parser.feed(self.buffer[:n])
                self.buffer[:] = b"\xee" * len(self.buffer)
            else:
                self.in_place += 1
                out += self.parser.written(n)
        return out


def stream_of_everything() -> Iterator[tuple[bytes, list[WSMessage]]]:
    """Byte streams and what they parse to, covering every kind of piece."""
    big = os.urandom(3 * DIRECT_READ_MIN)
    yield (
        server_frame(TEXT, "héllo".encode())
        + server_frame(BINARY, b"x" * 300)
        + server_frame(PING, b"p")
        + server_frame(BINARY, big)
        + server_frame(TEXT, b"a", fin=False)
        + server_frame(CONT, b"b" * 2000, fin=False)
        + server_frame(CONT, b"c")
        + server_frame(BINARY, b"after"),
        [
            WSMessage(WSMsgType.TEXT, "héllo", None),
            binary(b"x" * 300),
            WSMessage(WSMsgType.PING, b"p", None),
            binary(big),
            WSMessage(WSMsgType.TEXT, "a" + "b" * 2000 + "c", None),
            binary(b"after"),
        ],
    )


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 4096])
def test_views_of_a_reused_buffer(chunk: int) -> None:
    for stream, expected in stream_of_everything():
        reader = Reader(FrameParser())
        got = reader.read(stream, chunk)
        assert got == expected
        assert all(type(m[1]) in (bytes, str) for m in got)


@pytest.mark.parametrize("chunk", [100, 4096, 70_000])
def test_large_binary_message_is_received_in_place(chunk: int) -> None:
    payload = os.urandom(200_000)
    stream = server_frame(BINARY, payload) + server_frame(BINARY, b"next")
    reader = Reader(FrameParser(), size=max(chunk, 4096))
    got = reader.read(stream, chunk)
    assert got == [binary(payload), binary(b"next")]
    assert type(got[0][1]) is bytes
    assert reader.in_place > 0


def test_read_into_offers_exactly_the_rest_of_the_payload() -> None:
    parser = FrameParser()
    payload = os.urandom(DIRECT_READ_MIN * 2)
    frame = server_frame(BINARY, payload)
    first = len(frame) - len(payload) + len(payload) // 2
    assert parser.read_into() is None
    assert parser.feed(frame[:first]) == []
    view = parser.read_into()
    assert view is not None and len(view) == len(payload) // 2
    view[:] = payload[len(payload) // 2 :]
    assert parser.written(len(view)) == [binary(payload)]
    assert parser.read_into() is None


def test_in_place_only_once_a_fraction_arrived() -> None:
    """A header announcing much more than came cannot make the client
    allocate it all: the message is streamed until a quarter arrived."""
    parser = FrameParser(max_msg_size=0)
    length = 64 * DIRECT_READ_MIN
    header = server_frame(BINARY, bytes(length))[:-length]
    assert parser.feed(header + b"\x01" * 100) == []
    assert parser.read_into() is None
    step = length // DIRECT_READ_FRACTION // 4
    sent = 100
    while parser.read_into() is None:
        assert parser.feed(b"\x01" * step) == []
        sent += step
    assert sent * DIRECT_READ_FRACTION >= length
    assert sent * DIRECT_READ_FRACTION < length + step * DIRECT_READ_FRACTION
    rest = parser.read_into()
    assert rest is not None and len(rest) == length - sent
    rest[:] = b"\x02" * len(rest)
    assert parser.written(len(rest)) == [
        binary(b"\x01" * sent + b"\x02" * (length - sent))
    ]


def test_switch_to_in_place_after_many_pieces() -> None:
    """Pieces already folded together are carried over too."""
    parser = FrameParser()
    length = 4 * DIRECT_READ_MIN * 4
    payload = os.urandom(length)
    stream = server_frame(BINARY, payload)
    reader = Reader(parser, size=200)
    assert reader.read(stream, 200) == [binary(payload)]
    assert reader.in_place > 0


def test_in_place_message_fed_as_bytes() -> None:
    """The bytes of a message received in place may still come through
    feed(), e.g. those that arrived with the handshake."""
    payload = os.urandom(DIRECT_READ_MIN * 2)
    frame = server_frame(BINARY, payload)
    parser = FrameParser()
    half = len(frame) // 2
    assert parser.feed(frame[:half]) == []
    assert parser.read_into() is not None
    assert parser.feed(frame[half : half + 10]) == []
    rest = frame[half + 10 :] + server_frame(TEXT, b"t")
    assert parser.feed(rest) == [binary(payload), WSMessage(WSMsgType.TEXT, "t", None)]
    assert parser.read_into() is None


def test_in_place_message_then_a_bad_frame() -> None:
    payload = os.urandom(DIRECT_READ_MIN * 2)
    frame = server_frame(BINARY, payload)
    parser = FrameParser()
    assert parser.feed(frame[:100]) == []
    assert parser.feed(frame[100:] + b"\x83\x00") == [binary(payload)]
    assert parser.exc is not None
    assert parser.read_into() is None


@pytest.mark.parametrize(
    ("opcode", "fin"), [(TEXT, True), (BINARY, False)], ids=["text", "fragment"]
)
def test_only_whole_binary_messages_are_received_in_place(
    opcode: int, fin: bool
) -> None:
    parser = FrameParser()
    payload = b"a" * (DIRECT_READ_MIN * 2)
    frame = server_frame(opcode, payload, fin=fin)
    assert parser.feed(frame[: len(frame) // 2 + 50]) == []
    assert parser.read_into() is None


def test_compressed_messages_are_not_received_in_place() -> None:
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(os.urandom(4 * DIRECT_READ_MIN))
    data += compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = server_frame(BINARY, data[:-4], rsv=0x40)
    parser = FrameParser(deflate=PerMessageDeflate(DeflateParams()))
    reader = Reader(parser)
    assert len(reader.read(frame, 1000)) == 1
    assert reader.in_place == 0


def test_size_limit_still_decided_from_the_header() -> None:
    parser = FrameParser(max_msg_size=DIRECT_READ_MIN * 2)
    frame = server_frame(BINARY, bytes(DIRECT_READ_MIN * 2 + 1))
    assert parser.feed(frame[:100]) == []
    assert isinstance(parser.exc, MessageTooBig)
    assert parser.read_into() is None


def test_pure_python_payload_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pieces_module, "_new_payload", py_new_payload)
    payload = os.urandom(DIRECT_READ_MIN * 3)
    reader = Reader(FrameParser())
    got = reader.read(server_frame(BINARY, payload), 4096)
    assert got == [binary(payload)]
    assert type(got[0][1]) is bytes
    assert reader.in_place > 0


def test_py_new_payload() -> None:
    target, view = py_new_payload(5)
    view[:] = b"hello"
    assert bytes(target) == b"hello"
    assert not view.readonly


@needs_speedups
def test_compiled_new_payload_matches() -> None:
    target, view = _speedups.new_payload(5)
    assert type(target) is bytes and len(view) == 5 and not view.readonly
    view[:] = b"hello"
    assert target == b"hello"
    del target
    assert bytes(view) == b"hello"  # the view keeps the storage alive
    empty, view = _speedups.new_payload(0)
    assert empty == b"" and len(view) == 0


@needs_speedups
def test_compiled_new_payload_errors() -> None:
    with pytest.raises(ValueError):
        _speedups.new_payload(-1)
    with pytest.raises(TypeError):
        _speedups.new_payload("5")  # type: ignore[arg-type]


# -- the protocol -----------------------------------------------------------


def protocol() -> ClientProtocol:
    return ClientProtocol(FrameParser(), FrameWriter(), failure=Policy.WHEN_READ)


def test_protocol_receives_in_place() -> None:
    proto = protocol()
    payload = os.urandom(DIRECT_READ_MIN * 2)
    frame = server_frame(BINARY, payload)
    assert proto.receive_buffer() is None
    half = len(frame) // 2
    assert proto.receive_data(memoryview(bytearray(frame[:half]))) == []
    view = proto.receive_buffer()
    assert view is not None
    view[:] = frame[half:]
    assert proto.receive_into(len(view)) == [binary(payload)]
    assert proto.receive_buffer() is None


def test_protocol_offers_no_buffer_once_failed_or_done() -> None:
    frame = server_frame(BINARY, bytes(DIRECT_READ_MIN * 2))
    half = len(frame) // 2
    proto = protocol()
    proto.receive_data(frame[:half])
    assert proto.receive_buffer() is not None
    proto.fail(1011, "going")
    assert proto.state is State.CLOSE_DONE
    assert proto.receive_buffer() is None

    proto = protocol()
    proto.receive_data(frame[:half])
    proto.failure = MessageTooBig("as if")
    assert proto.receive_buffer() is None


def test_fragments_from_views_are_kept_whole() -> None:
    parser = FrameParser(fragments=True)
    reader = Reader(parser, size=64)
    got = reader.read(
        server_frame(BINARY, b"ab" * 20, fin=False)
        + server_frame(CONT, b"cd" * 50, fin=False)
        + server_frame(CONT, b"ef"),
        64,
    )
    assert len(got) > 1
    assert b"".join(f.data for f in got) == b"ab" * 20 + b"cd" * 50 + b"ef"
    assert all(type(f) is Fragment and type(f.data) is bytes for f in got)
