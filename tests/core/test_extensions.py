"""Extensions in the core: websockets' extension API, negotiated and run in
the frame path (RFC 6455 §9), with permessage-deflate as one of them.

The extensions here are written against the core's own names
(:class:`~aiows.core.extensions.Frame`, :class:`~aiows.core.frames.Opcode`);
the same rules against websockets' classes and a websockets server are in
``tests/session/test_extensions.py``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import zlib
from collections.abc import Sequence
from typing import Any

import pytest

from aiows.core import extensions as ext
from aiows.core.deflate import (
    TRAILER,
    DeflateFactory,
    DeflateParams,
    PerMessageDeflate,
)
from aiows.core.errors import (
    ExtensionFailed,
    InvalidUTF8,
    MessageTooBig,
    NegotiationError,
    ProtocolError,
)
from aiows.core.extensions import (
    ErrorKinds,
    ExtensionChain,
    ExtensionParser,
    ExtensionWriter,
    Frame,
    FrameTypes,
    build_offer,
    frame_path,
    negotiate,
)
from aiows.core.frames import Opcode
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import (
    CONTROL_BUDGET,
    DEFAULT_INFLATE_BUDGET,
    FRAGMENT_BUDGET,
    FrameParser,
)
from aiows.core.protocol import ClientProtocol
from aiows.core.writer import FrameWriter
from tests.conftest import server_frame
from tests.core.helpers import decode_client_frames

RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

# -- extensions written against the core's names ----------------------------


class Recorder:
    """Changes nothing; records each frame and ``max_size`` it was given."""

    def __init__(self, name: str = "x-rec") -> None:
        self.name = name
        self.encoded: list[Frame] = []
        self.decoded: list[tuple[Frame, int | None]] = []

    def encode(self, frame: Frame) -> Frame:
        self.encoded.append(frame)
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.decoded.append((dataclasses.replace(frame), max_size))
        return frame


class Xor:
    """XOR data payloads with ``key``, RSV2 marking the frames it changed."""

    name = "x-xor"

    def __init__(self, key: int = 0x5A) -> None:
        self.key = key

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode in ext.CTRL_OPCODES:
            return frame
        return dataclasses.replace(
            frame, data=bytes(b ^ self.key for b in frame.data), rsv2=True
        )

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        if frame.opcode in ext.CTRL_OPCODES or not frame.rsv2:
            return frame
        return dataclasses.replace(
            frame, data=bytes(b ^ self.key for b in frame.data), rsv2=False
        )


def xor(data: bytes, key: int = 0x5A) -> bytes:
    return bytes(b ^ key for b in data)


class Raising:
    """``decode`` raises what it is given."""

    name = "x-raise"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def encode(self, frame: Frame) -> Frame:
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        raise self.exc


class Rewriting:
    """``decode`` hands back a frame built by ``change``."""

    name = "x-rewrite"

    def __init__(self, **change: Any) -> None:
        self.change = change

    def encode(self, frame: Frame) -> Frame:
        return dataclasses.replace(frame, **self.change)

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return dataclasses.replace(frame, **self.change)


class Factory:
    """A client factory: offers ``params``; refuses when ``refuse`` is set;
    records what it was given."""

    def __init__(
        self,
        name: str,
        params: Sequence[tuple[str, str | None]] = (),
        *,
        refuse: BaseException | None = None,
    ) -> None:
        self.name = name
        self.params = list(params)
        self.refuse = refuse
        self.calls: list[tuple[list[Any], list[Any]]] = []

    def __repr__(self) -> str:
        return f"Factory({self.name!r})"

    def get_request_params(self) -> list[tuple[str, str | None]]:
        return self.params

    def process_response_params(
        self, params: Sequence[tuple[str, str | None]], accepted: Sequence[Any]
    ) -> Recorder:
        self.calls.append((list(params), list(accepted)))
        if self.refuse is not None:
            raise self.refuse
        return Recorder(self.name)


class ServerDeflate:
    """A server's permessage-deflate, with Python's zlib."""

    def __init__(self) -> None:
        self.compressor = zlib.compressobj(wbits=-15)
        self.inflater = zlib.decompressobj(-15)

    def compress(self, data: bytes, fin: bool = True) -> bytes:
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if fin else out

    def inflate(self, data: bytes) -> bytes:
        return self.inflater.decompress(data + TRAILER)


def messages(*items: tuple[WSMsgType, Any]) -> list[WSMessage]:
    return [WSMessage(kind, data, None) for kind, data in items]


def chain_parser(*extensions: Any, **options: Any) -> ExtensionParser:
    parser, _ = frame_path(extensions, **options)
    assert isinstance(parser, ExtensionParser)
    return parser


# -- the frame and its names ---------------------------------------------------


def test_the_frame_mirrors_websockets() -> None:
    frame = Frame(Opcode.TEXT, b"hi")
    assert [f.name for f in dataclasses.fields(Frame)] == [
        "opcode",
        "data",
        "fin",
        "rsv1",
        "rsv2",
        "rsv3",
    ]
    assert (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (
        True,
        False,
        False,
        False,
    )
    assert Frame(Opcode.BINARY, b"", False, True, True, True).rsv3


def test_websockets_opcode_names() -> None:
    assert Opcode.CONT is Opcode.CONTINUATION
    assert [int(op) for op in Opcode] == [0x0, 0x1, 0x2, 0x8, 0x9, 0xA]
    assert (ext.CONT, ext.TEXT, ext.BINARY) == ext.DATA_OPCODES
    assert (ext.CLOSE, ext.PING, ext.PONG) == ext.CTRL_OPCODES
    assert ext.OP_CONT is ext.CONT and ext.OP_TEXT is Opcode.TEXT
    assert (ext.OP_BINARY, ext.OP_CLOSE, ext.OP_PING, ext.OP_PONG) == (
        Opcode.BINARY,
        Opcode.CLOSE,
        Opcode.PING,
        Opcode.PONG,
    )
    assert FrameTypes(Frame, Opcode) == ext.CORE_FRAME_TYPES


# -- the offer -----------------------------------------------------------------


def test_build_offer_in_order() -> None:
    factories = [
        Factory("x-one", [("key", "5a"), ("flag", None)]),
        DeflateFactory(10),
        Factory("x-two"),
    ]
    assert build_offer(factories) == (
        "x-one; key=5a; flag, "
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
        "x-two"
    )
    assert build_offer([]) == ""


# -- negotiation -----------------------------------------------------------------


def test_no_answer_accepts_nothing() -> None:
    assert negotiate([Factory("x-one")], []) == []
    assert negotiate(None, ["", " , "]) == []


def test_an_answer_when_nothing_was_offered() -> None:
    with pytest.raises(NegotiationError, match=r"^no extensions supported$"):
        negotiate(None, ["x-one"])


def test_an_answer_no_factory_has_the_name_of() -> None:
    with pytest.raises(NegotiationError) as info:
        negotiate([Factory("x-one")], ["x-two; a=1; b"])
    assert str(info.value) == (
        "Unsupported extension: name = x-two, params = [('a', '1'), ('b', None)]"
    )
    assert getattr(info.value, "__notes__", []) == []


def test_names_match_exactly() -> None:
    with pytest.raises(NegotiationError, match="name = X-One"):
        negotiate([Factory("x-one")], ["X-One"])


def test_accepted_in_the_answers_order_each_seeing_those_before() -> None:
    one, two = Factory("x-one"), Factory("x-two")
    accepted = negotiate([one, two], ["x-two; k=v", "x-one"])
    assert [e.name for e in accepted] == ["x-two", "x-one"]
    assert two.calls == [([("k", "v")], [])]
    assert one.calls == [([], [accepted[0]])]


def test_a_refusal_goes_to_the_next_factory_of_that_name() -> None:
    first = Factory("x-one", refuse=NegotiationError("not for me"))
    other = Factory("x-other")
    second = Factory("x-one")
    accepted = negotiate([first, other, second], ["x-one"])
    assert len(first.calls) == 1
    assert other.calls == []
    assert [e.name for e in accepted] == ["x-one"]
    assert len(second.calls) == 1


def test_every_factory_refusing_fails_with_their_reasons_as_notes() -> None:
    first = Factory("x-one", refuse=NegotiationError("bad key"))
    second = Factory("x-one", refuse=NegotiationError("no key"))
    with pytest.raises(NegotiationError) as info:
        negotiate([first, second], ["x-one; key=zz"])
    assert str(info.value) == (
        "Unsupported extension: name = x-one, params = [('key', 'zz')]"
    )
    assert info.value.__notes__ == [
        "Factory('x-one') refused it: bad key",
        "Factory('x-one') refused it: no key",
    ]


def test_what_counts_as_a_refusal_is_given() -> None:
    class Refused(Exception):
        pass

    factory = Factory("x-one", refuse=Refused("theirs"))
    with pytest.raises(NegotiationError, match="Unsupported extension"):
        negotiate([factory], ["x-one"], refused=(Refused,))
    # Anything else propagates, as it is.
    with pytest.raises(Refused, match="theirs"):
        negotiate([factory], ["x-one"])


def test_a_duplicate_is_the_factorys_to_refuse() -> None:
    # As in websockets: a factory that does not look at what was accepted
    # accepts its extension twice.
    twice = negotiate([Factory("x-one")], ["x-one, x-one"])
    assert [e.name for e in twice] == ["x-one", "x-one"]
    with pytest.raises(NegotiationError) as info:
        negotiate([DeflateFactory()], ["permessage-deflate, permessage-deflate"])
    assert "params = []" in str(info.value)
    assert "twice" in info.value.__notes__[0]


# -- permessage-deflate as a factory ------------------------------------------


def test_deflate_factory_offer() -> None:
    assert DeflateFactory().get_request_params() == [("client_max_window_bits", None)]
    assert DeflateFactory(
        12,
        client_max_window_bits=10,
        server_no_context_takeover=True,
        client_no_context_takeover=True,
    ).get_request_params() == [
        ("client_max_window_bits", "10"),
        ("server_max_window_bits", "12"),
        ("server_no_context_takeover", None),
        ("client_no_context_takeover", None),
    ]
    assert DeflateFactory(client_max_window_bits=False).get_request_params() == []
    assert repr(DeflateFactory(9)) == (
        "DeflateFactory(server_max_window_bits=9, client_max_window_bits=True, "
        "server_no_context_takeover=False, client_no_context_takeover=False)"
    )


@pytest.mark.parametrize("bits", [7, 16])
def test_deflate_factory_server_bits_range(bits: int) -> None:
    with pytest.raises(ValueError, match="use 8-15"):
        DeflateFactory(bits)


@pytest.mark.parametrize("bits", [8, 16])
def test_deflate_factory_client_bits_range(bits: int) -> None:
    with pytest.raises(ValueError, match="use 9-15"):
        DeflateFactory(client_max_window_bits=bits)


def accept(factory: DeflateFactory, answer: str) -> DeflateParams:
    (made,) = negotiate([factory], [answer])
    assert isinstance(made, PerMessageDeflate)
    return made.params


def refusal(factory: DeflateFactory, answer: str) -> str:
    with pytest.raises(NegotiationError) as info:
        negotiate([factory], [answer])
    (note,) = info.value.__notes__
    return str(note)


def test_deflate_factory_settings() -> None:
    factory = DeflateFactory(level=1, mem_level=9)
    (made,) = negotiate([factory], ["permessage-deflate"])
    assert made.params == DeflateParams()
    assert (made._level, made._mem_level) == (1, 9)


def test_deflate_factory_rules() -> None:
    # An explicit server_max_window_bits, 15 included, must be answered.
    assert "leaves it out" in refusal(DeflateFactory(15), "permessage-deflate")
    assert accept(DeflateFactory(15), "permessage-deflate; server_max_window_bits=15")
    # server_no_context_takeover asked for must be granted.
    asked = DeflateFactory(server_no_context_takeover=True)
    assert "server_no_context_takeover" in refusal(asked, "permessage-deflate")
    assert accept(
        asked, "permessage-deflate; server_no_context_takeover"
    ).server_no_context_takeover
    # The client's own limit holds when the server sets none, and caps it.
    limited = DeflateFactory(client_max_window_bits=10)
    assert accept(limited, "permessage-deflate").client_max_window_bits == 10
    assert (
        accept(
            limited, "permessage-deflate; client_max_window_bits=9"
        ).client_max_window_bits
        == 9
    )
    assert "larger than the 10" in refusal(
        limited, "permessage-deflate; client_max_window_bits=11"
    )
    # client_max_window_bits not offered may not be answered.
    silent = DeflateFactory(client_max_window_bits=False)
    assert accept(silent, "permessage-deflate").client_max_window_bits == 15
    assert "did not offer" in refusal(
        silent, "permessage-deflate; client_max_window_bits=10"
    )
    # client_no_context_takeover asked for holds whatever the answer.
    assert accept(
        DeflateFactory(client_no_context_takeover=True), "permessage-deflate"
    ).client_no_context_takeover


# -- permessage-deflate as an extension ------------------------------------------


def test_deflate_encode_and_decode_frames() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    server = ServerDeflate()
    first = deflate.encode(Frame(Opcode.TEXT, b"hello ", fin=False))
    last = deflate.encode(Frame(Opcode.CONT, b"world"))
    assert (first.rsv1, last.rsv1, first.fin, last.fin) == (True, False, False, True)
    assert server.inflate(first.data + last.data) == b"hello world"
    ping = Frame(Opcode.PING, b"p")
    assert deflate.encode(ping) is ping
    assert deflate.decode(ping) is ping

    one = deflate.decode(
        Frame(Opcode.TEXT, server.compress(b"abc", fin=False), False, True)
    )
    assert (one.data, one.rsv1) == (b"abc", False)
    middle = deflate.decode(
        Frame(Opcode.CONT, server.compress(b"--", fin=False), False)
    )
    assert (middle.data, middle.fin) == (b"--", False)
    two = deflate.decode(Frame(Opcode.CONT, server.compress(b"def"), True))
    assert (two.data, two.fin) == (b"def", True)
    # The message ended: a continuation is no longer inflated.
    plain = Frame(Opcode.CONT, b"raw")
    assert deflate.decode(plain) is plain
    uncompressed = Frame(Opcode.BINARY, b"raw")
    assert deflate.decode(uncompressed) is uncompressed


def test_deflate_decode_refuses_rsv1_on_a_continuation() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    server = ServerDeflate()
    deflate.decode(Frame(Opcode.TEXT, server.compress(b"a", fin=False), False, True))
    with pytest.raises(ProtocolError, match="RSV1 set on a continuation"):
        deflate.decode(Frame(Opcode.CONT, server.compress(b"b"), True, True))


def test_deflate_decode_is_bounded_by_max_size() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    bomb = ServerDeflate().compress(b"\0" * 100_000)
    with pytest.raises(MessageTooBig, match="limit of 1000 bytes"):
        deflate.decode(Frame(Opcode.BINARY, bomb, True, True), max_size=1000)


def test_deflate_encode_keeps_the_frame_class() -> None:
    @dataclasses.dataclass
    class Theirs:
        opcode: Any
        data: Any
        fin: bool = True
        rsv1: bool = False
        rsv2: bool = False
        rsv3: bool = False

    deflate = PerMessageDeflate(DeflateParams())
    encoded = deflate.encode(Theirs(Opcode.BINARY, b"x" * 100, True, False, True))
    assert type(encoded) is Theirs
    assert (encoded.rsv1, encoded.rsv2) == (True, True)
    decoded = deflate.decode(encoded)
    assert type(decoded) is Theirs
    assert (decoded.data, decoded.rsv1, decoded.rsv2) == (b"x" * 100, False, True)


# -- the chain -----------------------------------------------------------------


def test_encode_in_order_decode_in_reverse() -> None:
    order: list[str] = []

    class Step:
        def __init__(self, name: str) -> None:
            self.name = name

        def encode(self, frame: Frame) -> Frame:
            order.append(f"encode {self.name}")
            return dataclasses.replace(
                frame, data=bytes(frame.data) + self.name.encode()
            )

        def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
            order.append(f"decode {self.name}")
            assert bytes(frame.data).endswith(self.name.encode())
            return dataclasses.replace(frame, data=bytes(frame.data)[: -len(self.name)])

    chain = ExtensionChain([Step("a"), Step("b")])
    sent = chain.encode(OP_TEXT, b"m", True)
    assert (sent.data, sent.opcode) == (b"mab", Opcode.TEXT)
    got = chain.decode(OP_TEXT, sent.data, 0x80 | OP_TEXT, None)
    assert got.data == b"m"
    assert order == ["encode a", "encode b", "decode b", "decode a"]


def test_plain_skips_permessage_deflate_only() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    recorder = Recorder()
    chain = ExtensionChain([deflate, recorder])
    frame = chain.encode(OP_BINARY, b"x" * 50, True, plain=True)
    assert (frame.data, frame.rsv1) == (b"x" * 50, False)
    assert len(recorder.encoded) == 1
    assert chain.encode(OP_BINARY, b"x" * 50, True).rsv1


def test_frames_of_the_given_types() -> None:
    made: list[tuple[Any, ...]] = []

    def frame(*args: Any) -> Frame:
        made.append(args)
        return Frame(*args)

    class Opcodes(enum.IntEnum):
        CONT = 0
        TEXT = 1
        BINARY = 2
        CLOSE = 8
        PING = 9
        PONG = 10

    chain = ExtensionChain([Recorder()], FrameTypes(frame, Opcodes))
    chain.encode(OP_TEXT, b"a", False)
    chain.decode(OP_PING, b"p", 0x80 | RSV3 | OP_PING, 7)
    assert made == [
        (Opcodes.TEXT, b"a", False, False, False, False),
        (Opcodes.PING, b"p", True, False, False, True),
    ]
    assert made[0][0] is Opcodes.TEXT


@pytest.mark.parametrize(
    ("raised", "error", "code", "reason"),
    [
        (MessageTooBig("core's own"), MessageTooBig, 1009, "core's own"),
        (ProtocolError("core's own"), ProtocolError, 1002, "core's own"),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            InvalidUTF8,
            1007,
            "invalid start byte at position 0",
        ),
        (ValueError("secret detail"), ProtocolError, 1011, ""),
    ],
)
def test_what_decode_raises(
    raised: Exception, error: type[ProtocolError], code: int, reason: str
) -> None:
    chain = ExtensionChain([Raising(raised)])
    with pytest.raises(error) as info:
        chain.decode(OP_TEXT, b"x", 0x81, None)
    assert type(info.value) is error
    assert (info.value.code, info.value.reason) == (code, reason)
    if not isinstance(raised, ProtocolError):
        assert info.value.__cause__ is raised
    else:
        assert info.value is raised


def test_other_libraries_errors_by_kind() -> None:
    class TheirTooBig(Exception):
        pass

    class TheirProtocolError(Exception):
        pass

    kinds = ErrorKinds(protocol=(TheirProtocolError,), too_big=(TheirTooBig,))
    for raised, error, code in (
        (TheirTooBig("big"), MessageTooBig, 1009),
        (TheirProtocolError("bad"), ProtocolError, 1002),
    ):
        chain = ExtensionChain([Raising(raised)], errors=kinds)
        with pytest.raises(error) as info:
            chain.decode(OP_BINARY, b"x", 0x82, None)
        assert (info.value.code, info.value.reason) == (code, str(raised))
        assert info.value.__cause__ is raised


def test_a_base_exception_is_not_caught() -> None:
    chain = ExtensionChain([Raising(KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt):
        chain.decode(OP_BINARY, b"x", 0x82, None)


# -- choosing the path -----------------------------------------------------------


def test_no_extension_is_the_plain_path() -> None:
    parser, writer = frame_path((), max_msg_size=10)
    assert (type(parser), type(writer)) == (FrameParser, FrameWriter)
    assert parser._max_size == 10
    assert parser.extensions == []


def test_deflate_alone_keeps_its_own_path() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    parser, writer = frame_path([deflate], fragments=True)
    assert (type(parser), type(writer)) == (FrameParser, FrameWriter)
    assert parser._deflate is deflate and writer.deflate is deflate
    assert parser._fragments
    assert parser.extensions == [deflate]


def test_a_subclass_of_deflate_goes_through_the_chain() -> None:
    class MyDeflate(PerMessageDeflate):
        pass

    parser, writer = frame_path([MyDeflate(DeflateParams())])
    assert (type(parser), type(writer)) == (ExtensionParser, ExtensionWriter)


def test_any_other_extension_goes_through_the_chain() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    recorder = Recorder()
    parser, writer = frame_path([deflate, recorder], max_msg_size=100)
    assert isinstance(parser, ExtensionParser)
    assert isinstance(writer, ExtensionWriter)
    assert parser._chain is writer._chain
    assert parser.extensions == [deflate, recorder]
    assert parser._deflate is None and writer.deflate is None
    assert parser._max_size == 100


# -- receiving through the chain ---------------------------------------------------


def test_every_frame_goes_through_decode() -> None:
    recorder = Recorder()
    parser = chain_parser(recorder, max_msg_size=1000)
    stream = (
        server_frame(OP_TEXT, b"hi")
        + server_frame(OP_PING, b"p")
        + server_frame(OP_BINARY, b"ab", fin=False)
        + server_frame(OP_PONG)
        + server_frame(OP_CONT, b"cd")
        + server_frame(OP_CLOSE, b"\x03\xe8bye")
        + server_frame(OP_TEXT, b"after the close")
    )
    assert parser.feed(stream) == [
        WSMessage(WSMsgType.TEXT, "hi", None),
        WSMessage(WSMsgType.PING, b"p", None),
        WSMessage(WSMsgType.PONG, b"", None),
        WSMessage(WSMsgType.BINARY, b"abcd", None),
        WSMessage(WSMsgType.CLOSE, 1000, "bye"),
    ]
    assert [(f.opcode, bytes(f.data), f.fin, size) for f, size in recorder.decoded] == [
        (Opcode.TEXT, b"hi", True, 1000),
        (Opcode.PING, b"p", True, 1000),
        (Opcode.BINARY, b"ab", False, 1000),
        (Opcode.PONG, b"", True, 998),
        (Opcode.CONT, b"cd", True, 998),
        (Opcode.CLOSE, b"\x03\xe8bye", True, 1000),
    ]
    assert parser.closed and parser._raw == bytearray()
    assert parser.feed(server_frame(OP_TEXT, b"x")) == []


def test_no_limit_gives_no_max_size() -> None:
    recorder = Recorder()
    parser = chain_parser(recorder, max_msg_size=0)
    parser.feed(server_frame(OP_BINARY, b"x"))
    assert recorder.decoded[0][1] is None


def test_frames_split_anywhere() -> None:
    xored = Xor()
    parser = chain_parser(xored, fragments=True)
    big = bytes(range(256)) * 300  # a 64-bit length
    mid = b"m" * 300  # a 16-bit length
    stream = (
        server_frame(OP_BINARY, xor(big), rsv=RSV2)
        + server_frame(OP_TEXT, xor(b"caf\xc3"), fin=False, rsv=RSV2)
        + server_frame(OP_CONT, xor(b"\xa9"), rsv=RSV2)
        + server_frame(OP_BINARY, xor(mid), rsv=RSV2)
        + server_frame(OP_TEXT, b"plain")
    )
    out: list[Any] = []
    for i in range(0, len(stream), 7):
        out += parser.feed(memoryview(stream)[i : i + 7])
    assert out == [
        WSMessage(WSMsgType.BINARY, big, None),
        Fragment(WSMsgType.TEXT, "caf", False),
        Fragment(WSMsgType.TEXT, "é", True),
        WSMessage(WSMsgType.BINARY, mid, None),
        WSMessage(WSMsgType.TEXT, "plain", None),
    ]
    assert parser._raw == bytearray()
    assert parser.read_into() is None


def test_undecoded_text_and_an_incomplete_header() -> None:
    parser = chain_parser(Recorder(), decode_text=False)
    stream = server_frame(OP_TEXT, b"x" * 200) + server_frame(OP_BINARY, b"y" * 70000)
    assert parser.feed(stream[:3]) == []  # half a 16-bit length
    assert parser.feed(stream[3:206]) == [WSMessage(WSMsgType.TEXT, b"x" * 200, None)]
    assert parser.feed(stream[206:211]) == []  # half a 64-bit length
    assert parser.feed(stream[211:]) == [
        WSMessage(WSMsgType.BINARY, b"y" * 70000, None)
    ]


def fails(parser: FrameParser, data: bytes) -> ProtocolError:
    assert parser.feed(data) == []
    assert parser.exc is not None
    return parser.exc


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (bytes([0x81, 0x81]) + b"mask" + b"x", "masked frame"),
        (server_frame(0x3, b""), "unknown opcode 0x3"),
        (server_frame(OP_PING, b"", fin=False), "fragmented control frame"),
        (bytes([0x89, 126]) + (126).to_bytes(2, "big"), "announces more than 125"),
        (server_frame(OP_CONT, b"x"), "continuation frame with no message"),
        (
            server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_TEXT, b"b"),
            "new data frame while",
        ),
        (bytes([0x82, 127]) + (1 << 63).to_bytes(8, "big"), "top bit set"),
        (server_frame(OP_TEXT, b"x", rsv=RSV1), "^RSV1 set; no negotiated"),
        (server_frame(OP_TEXT, b"x", rsv=RSV1 | RSV3), "^RSV1/RSV3 set"),
        (server_frame(OP_PING, b"x", rsv=RSV2), "^RSV2 set"),
        (server_frame(OP_TEXT, b"\xff"), "not valid UTF-8"),
    ],
)
def test_protocol_errors(data: bytes, match: str) -> None:
    parser = chain_parser(Recorder())
    exc = fails(parser, data)
    assert exc.code in (1002, 1007)
    assert re.search(match, exc.reason), exc.reason
    assert parser._raw == bytearray()


def test_messages_before_an_error_are_kept() -> None:
    parser = chain_parser(Recorder())
    out = parser.feed(server_frame(OP_TEXT, b"ok") + server_frame(0x3))
    assert out == [WSMessage(WSMsgType.TEXT, "ok", None)]
    assert parser.exc is not None


def test_a_frame_too_big_is_refused_on_its_header() -> None:
    recorder = Recorder()
    parser = chain_parser(recorder, max_msg_size=10)
    parser.feed(server_frame(OP_TEXT, b"12345", fin=False))
    # 5 + 6 > 10: refused before its payload arrived, nothing decoded.
    exc = fails(parser, server_frame(OP_CONT, b"123456")[:2])
    assert type(exc) is MessageTooBig
    assert exc.reason == "message of at least 11 bytes is over the limit of 10 bytes"
    assert len(recorder.decoded) == 1


def test_what_decodes_past_the_limit_is_refused() -> None:
    grow = Rewriting(data=b"x" * 11)
    parser = chain_parser(grow, max_msg_size=10)
    exc = fails(parser, server_frame(OP_BINARY, b"small"))
    assert type(exc) is MessageTooBig


def test_a_control_frame_that_decodes_too_long() -> None:
    parser = chain_parser(Rewriting(data=b"x" * 126))
    exc = fails(parser, server_frame(OP_PING, b"p"))
    assert "decodes to more than 125" in exc.reason


@pytest.mark.parametrize(
    "change", [{"opcode": Opcode.BINARY}, {"fin": False}], ids=["opcode", "fin"]
)
def test_an_extension_may_not_change_opcode_or_fin(change: dict[str, Any]) -> None:
    parser = chain_parser(Rewriting(**change))
    exc = fails(parser, server_frame(OP_TEXT, b"x"))
    assert (exc.code, exc.reason) == (
        1011,
        "an extension changed a frame's opcode or FIN bit",
    )


def test_an_extension_failing_is_an_internal_error() -> None:
    parser = chain_parser(Raising(RuntimeError("oops")))
    exc = fails(parser, server_frame(OP_TEXT, b"x"))
    assert (exc.code, exc.reason) == (1011, "")
    assert isinstance(exc.__cause__, RuntimeError)


def test_the_inflate_budget_counts_decoded_bytes() -> None:
    parser = chain_parser(Recorder(), max_msg_size=0, inflate_budget=1000)
    frame = server_frame(OP_BINARY, b"x" * 600)
    out = parser.feed(frame * 3)
    assert len(out) == 2 and parser.pending
    assert parser.feed(b"") == [WSMessage(WSMsgType.BINARY, b"x" * 600, None)]
    assert not parser.pending
    assert ExtensionParser(ExtensionChain([]))._inflate_budget == DEFAULT_INFLATE_BUDGET


def test_the_fragment_budget() -> None:
    parser = chain_parser(Recorder(), fragments=True)
    stream = server_frame(OP_BINARY, b"a", fin=False) + b"".join(
        server_frame(OP_CONT, b"b", fin=False) for _ in range(FRAGMENT_BUDGET + 5)
    )
    out = parser.feed(stream)
    assert len(out) == FRAGMENT_BUDGET and parser.pending
    assert len(parser.feed(b"")) == 6


def test_the_control_budget() -> None:
    parser = chain_parser(Recorder())
    stream = server_frame(OP_PONG, b"p") * (CONTROL_BUDGET + 5)
    out = parser.feed(stream)
    assert len(out) == CONTROL_BUDGET and parser.pending
    assert len(parser.feed(b"")) == 5 and not parser.pending


def test_deflate_in_the_chain_inflates_bounded() -> None:
    """Behind another extension, permessage-deflate still inflates at most
    one byte past the limit."""
    deflate = PerMessageDeflate(DeflateParams())
    parser = chain_parser(deflate, Xor(), max_msg_size=1000)
    server = ServerDeflate()
    ok = server.compress(b"a" * 1000)
    bomb = server.compress(b"\0" * 500_000)
    assert len(bomb) < 1000  # its header passes the raw size check
    out = parser.feed(
        server_frame(OP_BINARY, xor(ok), rsv=RSV1 | RSV2)
        + server_frame(OP_BINARY, xor(bomb), rsv=RSV1 | RSV2)
    )
    assert out == [WSMessage(WSMsgType.BINARY, b"a" * 1000, None)]
    assert type(parser.exc) is MessageTooBig
    assert (
        parser.exc.reason == "compressed message inflates past the limit of 1000 bytes"
    )


def test_deflate_first_in_the_chain() -> None:
    """[deflate, xor]: the server XORs the compressed bytes; the client
    undoes the XOR, then inflates, a fragmented message too."""
    deflate = PerMessageDeflate(DeflateParams())
    parser = chain_parser(deflate, Xor())
    server = ServerDeflate()
    stream = (
        server_frame(
            OP_TEXT,
            xor(server.compress(b"hello ", fin=False)),
            fin=False,
            rsv=RSV1 | RSV2,
        )
        + server_frame(OP_CONT, xor(server.compress(b"world")), rsv=RSV2)
        + server_frame(OP_BINARY, xor(b"raw"), rsv=RSV2)
    )
    assert parser.feed(stream) == [
        WSMessage(WSMsgType.TEXT, "hello world", None),
        WSMessage(WSMsgType.BINARY, b"raw", None),
    ]


# -- sending through the chain -----------------------------------------------------


def test_writer_sends_every_frame_through_encode() -> None:
    recorder = Recorder()
    _, writer = frame_path([Xor(), recorder])
    wire = (
        writer.message(Opcode.TEXT, b"hi", into=bytearray(64))
        + writer.fragment(Opcode.BINARY, b"ab", first=True, fin=False)
        + writer.fragment(Opcode.BINARY, b"cd", first=False, fin=True)
        + writer.control(Opcode.PING, b"p")
        + writer.close(1000, "bye")
    )
    frames = decode_client_frames(wire)
    assert [(f.opcode, f.fin, f.rsv, f.payload) for f in frames] == [
        (OP_TEXT, True, RSV2, xor(b"hi")),
        (OP_BINARY, False, RSV2, xor(b"ab")),
        (OP_CONT, True, RSV2, xor(b"cd")),
        (OP_PING, True, 0, b"p"),
        (OP_CLOSE, True, 0, b"\x03\xe8bye"),
    ]
    assert all(f.masked for f in frames)
    assert [f.opcode for f in recorder.encoded] == [
        Opcode.TEXT,
        Opcode.BINARY,
        Opcode.CONT,
        Opcode.PING,
        Opcode.CLOSE,
    ]


def test_writer_rsv_bits_come_from_the_encoded_frame() -> None:
    _, writer = frame_path([Rewriting(rsv1=True, rsv3=True)])
    (frame,) = decode_client_frames(writer.message(Opcode.BINARY, b"x"))
    assert frame.rsv == RSV1 | RSV3


def test_writer_compress_false_leaves_deflate_out() -> None:
    deflate = PerMessageDeflate(DeflateParams())
    _, writer = frame_path([deflate, Xor()])
    plain, packed = decode_client_frames(
        writer.message(Opcode.BINARY, b"z" * 100, compress=False)
        + writer.message(Opcode.BINARY, b"z" * 100)
    )
    assert (plain.rsv, plain.payload) == (RSV2, xor(b"z" * 100))
    assert packed.rsv == RSV1 | RSV2
    server = ServerDeflate()
    assert server.inflate(xor(packed.payload)) == b"z" * 100


def test_writer_encode_errors_propagate() -> None:
    class Refusing(Recorder):
        def encode(self, frame: Frame) -> Frame:
            raise ValueError("cannot encode")

    _, writer = frame_path([Refusing()])
    with pytest.raises(ExtensionFailed, match="cannot encode") as info:
        writer.message(Opcode.TEXT, b"x")
    assert type(info.value.__cause__) is ValueError


def test_encode_protocol_errors_propagate_as_they_are() -> None:
    class TheirProtocolError(Exception):
        pass

    kinds = ErrorKinds(protocol=(TheirProtocolError,))
    for raised in (ProtocolError("core's own"), TheirProtocolError("theirs")):

        class Refusing(Recorder):
            def encode(self, frame: Frame, raised: Exception = raised) -> Frame:
                raise raised

        chain = ExtensionChain([Refusing()], errors=kinds)
        with pytest.raises(type(raised)) as info:
            chain.encode(OP_TEXT, b"x", True)
        assert info.value is raised


# -- the protocol --------------------------------------------------------------


def test_an_extension_failing_to_encode_the_pong_fails_the_connection() -> None:
    """As websockets: an internal error (1011, no reason) chaining the
    extension's exception; the close frame still goes through the chain."""

    class NoPongs(Recorder):
        def encode(self, frame: Frame) -> Frame:
            if frame.opcode is Opcode.PONG:
                raise ValueError("cannot encode a pong")
            return super().encode(frame)

    parser, writer = frame_path([NoPongs()])
    protocol = ClientProtocol(parser, writer)
    events = protocol.receive_data(server_frame(OP_PING, b"ping"))
    failure = protocol.failure
    assert failure is not None and events[-1][1] is failure
    assert (failure.code, failure.reason) == (1011, "")
    assert type(failure.__cause__) is ValueError
    (close,) = decode_client_frames(b"".join(protocol.take_outgoing()))
    assert (close.opcode, close.payload) == (OP_CLOSE, (1011).to_bytes(2, "big"))


class NoCloses(Recorder):
    def encode(self, frame: Frame) -> Frame:
        if frame.opcode is Opcode.CLOSE:
            raise ValueError("cannot encode a close")
        return super().encode(frame)


def test_an_unencodable_close_reply_keeps_the_messages_before_it() -> None:
    """The messages parsed before the server's close are returned; the
    extension's failure waits in ``reply_failed`` for the driver."""
    parser, writer = frame_path([NoCloses()])
    protocol = ClientProtocol(parser, writer)
    events = protocol.receive_data(
        server_frame(OP_TEXT, b"one")
        + server_frame(OP_TEXT, b"two")
        + server_frame(OP_CLOSE, (1000).to_bytes(2, "big") + b"bye")
    )
    assert [event[1] for event in events] == ["one", "two", 1000]
    failed = protocol.reply_failed
    assert failed is not None and type(failed.__cause__) is ValueError
    assert protocol.take_outgoing() == [] and protocol.close_sent is None


def test_an_unencodable_failing_close_keeps_the_messages_before_it() -> None:
    parser, writer = frame_path([NoCloses()])
    protocol = ClientProtocol(parser, writer)
    events = protocol.receive_data(server_frame(OP_TEXT, b"one") + b"\x83\x00")
    assert [event[1] for event in events[:1]] == ["one"]
    assert events[-1][1] is protocol.failure
    failed = protocol.reply_failed
    assert failed is not None and type(failed.__cause__) is ValueError
    assert protocol.take_outgoing() == []


def test_protocol_lists_the_extensions_and_pongs_through_them() -> None:
    xored, recorder = Xor(), Recorder()
    parser, writer = frame_path([xored, recorder])
    protocol = ClientProtocol(parser, writer)
    assert protocol.extensions == [xored, recorder]
    protocol.receive_data(server_frame(OP_PING, b"ping"))
    (pong,) = decode_client_frames(b"".join(protocol.take_outgoing()))
    assert (pong.opcode, pong.payload) == (OP_PONG, b"ping")
    assert recorder.encoded[-1].opcode is Opcode.PONG
    assert ClientProtocol(FrameParser(), FrameWriter()).extensions == []
