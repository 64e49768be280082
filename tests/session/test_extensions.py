"""``connect(extensions=...)``: websockets-style extensions over real sockets.

The extensions are ``tests/custom_extensions.py``'s, written against
websockets' API (``x-noop``, and ``x-xor``, which XORs payloads and marks
them with RSV2), run against websockets' own server offering them, alone
and with permessage-deflate in both orders, and against scripted servers
for the bytes on the wire and for aiows's own fast path.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets.frames
from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate as WebsocketsDeflate,
)

import aiows
from aiows.core import parser as core_parser
from aiows.core.deflate import TRAILER, DeflateFactory, PerMessageDeflate
from aiows.core.extensions import ExtensionParser, ExtensionWriter
from aiows.core.parser import FrameParser
from aiows.core.protocol import ClientProtocol
from aiows.core.speedups import compiled
from aiows.core.writer import FrameWriter
from aiows.engine.connection import Connection
from aiows.extension_factories import client_factories, client_factory, frame_types
from tests.conftest import RawPeer, RawServer, server_frame, upgrade_response
from tests.custom_extensions import (
    ClientNoopFactory,
    ClientXorFactory,
    Noop,
    ServerNoopFactory,
    ServerXorFactory,
    Xor,
    xor,
)
from tests.helpers import OP_BINARY, OP_CLOSE, OP_TEXT, bounded

StartServer = Callable[..., Any]
RSV1, RSV2 = 0x40, 0x20


# -- websockets' server, offering the extensions ---------------------------------


class RecordingDeflate(WebsocketsDeflate):
    """websockets' permessage-deflate, recording each data frame it decodes
    as (RSV1, payload size): what the client put on the wire for it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[tuple[bool, int]] = []

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        if frame.opcode not in websockets.frames.CTRL_OPCODES:
            self.frames.append((frame.rsv1, len(frame.data)))
        return super().decode(frame, max_size=max_size)


class RecordingDeflateFactory(ServerPerMessageDeflateFactory):
    def __init__(self) -> None:
        super().__init__()
        self.made: list[RecordingDeflate] = []

    def process_request_params(self, params: Any, accepted: Any) -> Any:
        answer, made = super().process_request_params(params, accepted)
        recording = RecordingDeflate(
            made.remote_no_context_takeover,
            made.local_no_context_takeover,
            made.remote_max_window_bits,
            made.local_max_window_bits,
        )
        self.made.append(recording)
        return answer, recording


@dataclass
class Server:
    url: str
    xor: ServerXorFactory
    deflate: RecordingDeflateFactory
    #: What the handler received, and the close code it got.
    got: list[Any] = field(default_factory=list)
    closes: list[int | None] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def websockets_server(*, xor_first: bool = True) -> AsyncIterator[Server]:
    """A websockets server offering x-noop, x-xor and permessage-deflate.

    It echoes, except ``fragments`` (a message in three frames and an empty
    last one), ``zeros N`` (N zero bytes, compressed to almost nothing) and
    ``ping`` (a ping, then ``pinged``).
    """
    xor_factory = ServerXorFactory()
    deflate_factory = RecordingDeflateFactory()
    server: Server

    async def handler(ws: ServerConnection) -> None:
        try:
            async for message in ws:
                server.got.append(message)
                if message == "fragments":
                    await ws.send(["fra", "gm", "ent"])
                elif isinstance(message, str) and message.startswith("zeros "):
                    await ws.send(bytes(int(message.split()[1])))
                elif message == "ping":
                    await ws.ping(b"srv")
                    await ws.send("pinged")
                else:
                    await ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            rcvd = ws.protocol.close_rcvd
            server.closes.append(None if rcvd is None else int(rcvd.code))
            server.done.set()

    extensions: list[Any] = [ServerNoopFactory(), xor_factory, deflate_factory]
    async with serve(handler, "127.0.0.1", 0, extensions=extensions) as srv:
        port = srv.sockets[0].getsockname()[1]
        server = Server(f"ws://127.0.0.1:{port}/", xor_factory, deflate_factory)
        yield server


def chain_of(ws: aiows.ClientConnection) -> ClientProtocol:
    return ws._engine.protocol


# -- a no-op extension -------------------------------------------------------------


async def test_a_noop_extension_sees_every_frame() -> None:
    factory = ClientNoopFactory()
    async with websockets_server() as server:
        async with aiows.connect(
            server.url, extensions=[factory], compression=None, ping_interval=None
        ) as ws:
            assert ws.request_headers["Sec-WebSocket-Extensions"] == "x-noop"
            assert ws.response_headers["Sec-WebSocket-Extensions"] == "x-noop"
            (noop,) = factory.made
            assert ws.protocol.extensions == [noop]
            assert type(chain_of(ws)._parser) is ExtensionParser
            await ws.send("text")
            assert await ws.recv() == "text"
            await ws.send(b"\x00\x01")
            assert await ws.recv() == b"\x00\x01"
            await ws.send(["frag", "mented"])
            assert await ws.recv() == "fragmented"
            await ws.send("ping")
            assert await ws.recv() == "pinged"
        await bounded(server.done.wait())
    assert server.got == ["text", b"\x00\x01", "fragmented", "ping"]
    assert server.closes == [1000]
    assert isinstance(noop, Noop)
    # Every frame, control frames included, websockets' own classes.
    assert all(type(f) is websockets.frames.Frame for f in noop.encoded + noop.decoded)
    assert all(type(f.opcode) is websockets.frames.Opcode for f in noop.decoded)
    op = websockets.frames.Opcode
    assert [f.opcode for f in noop.encoded] == [
        op.TEXT,
        op.BINARY,
        op.TEXT,
        op.CONT,
        op.CONT,
        op.TEXT,
        op.PONG,
        op.CLOSE,
    ]
    assert [f.opcode for f in noop.decoded] == [
        op.TEXT,
        op.BINARY,
        op.TEXT,
        op.PING,
        op.TEXT,
        op.CLOSE,
    ]


# -- a real second extension ----------------------------------------------------------


async def test_xor_alone() -> None:
    factory = ClientXorFactory(0x5A)
    async with websockets_server() as server:
        async with aiows.connect(
            server.url, extensions=[factory], compression=None, ping_interval=None
        ) as ws:
            # The server picked its own key.
            assert ws.response_headers["Sec-WebSocket-Extensions"] == "x-xor; key=3c"
            (mine,) = factory.made
            assert mine.key == 0x3C
            for message in ("hello", b"\xff\x00" * 100, "x" * 70_000):
                await ws.send(message)
                assert await ws.recv() == message
        await bounded(server.done.wait())
    (theirs,) = server.xor.made
    # Both ends saw RSV2 on every data frame: the payloads were XORed on
    # the wire both ways; the frames were websockets' own, opcodes included.
    data = (websockets.frames.Opcode.TEXT, websockets.frames.Opcode.BINARY)
    for seen in (mine.seen, theirs.seen):
        frames = [s for s in seen if s[0] in data]
        assert len(frames) == 3
        assert all(s[2] for s in frames)
        assert all(s[3] is websockets.frames.Frame for s in seen)
        assert all(s[4] is websockets.frames.Opcode for s in seen)
    # max_size as websockets gives it: what the message may still grow by.
    assert {s[5] for s in mine.seen} == {2**20}


XOR_ANSWER = "Sec-WebSocket-Extensions: x-xor; key=3c\r\n"


async def test_xor_bytes_on_the_wire(raw_server: StartServer) -> None:
    """The payloads on the wire are XORed with the server's key and carry
    RSV2; a frame the server sends XORed comes out as it was meant."""
    seen: list[tuple[int, int, bytes]] = []
    done = asyncio.Event()

    async def handler(peer: RawPeer) -> None:
        got = await peer.read_frame()
        seen.append((got.opcode, got.rsv, got.payload))
        peer.send(
            server_frame(OP_TEXT, xor(b"back", 0x3C), rsv=RSV2)
            + server_frame(OP_BINARY, b"plain")
        )
        code, _ = await peer.read_close()
        seen.append((OP_CLOSE, 0, (code or 0).to_bytes(2, "big")))
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        done.set()

    srv: RawServer = await raw_server(
        handler, response=lambda key: upgrade_response(key, extra_headers=XOR_ANSWER)
    )
    async with aiows.connect(
        srv.url,
        extensions=[ClientXorFactory(0x5A)],
        compression=None,
        ping_interval=None,
    ) as ws:
        await ws.send("hello")
        assert await ws.recv() == "back"
        assert await ws.recv() == b"plain"
    await bounded(done.wait())
    assert seen == [
        (OP_TEXT, RSV2, xor(b"hello", 0x3C)),
        (OP_CLOSE, 0, b"\x03\xe8"),
    ]


@pytest.mark.parametrize(
    "deflate_first", [False, True], ids=["xor,deflate", "deflate,xor"]
)
async def test_xor_with_permessage_deflate(deflate_first: bool) -> None:
    """Negotiated in the order offered; outgoing frames go through them in
    that order and incoming ones in reverse, as the server expects."""
    xor_factory = ClientXorFactory()
    offered: list[Any] = [xor_factory, ClientPerMessageDeflateFactory()]
    if deflate_first:
        offered.reverse()
    big = "compress me " * 1000
    async with websockets_server() as server:
        async with aiows.connect(
            server.url, extensions=offered, ping_interval=None
        ) as ws:
            names = [e.name for e in ws.protocol.extensions]
            expected = ["x-xor", "permessage-deflate"]
            assert names == (expected[::-1] if deflate_first else expected)
            (mine,) = xor_factory.made
            deflate = next(e for e in ws.protocol.extensions if e is not mine)
            # websockets' factory became aiows's own deflate, in the chain.
            assert type(deflate) is PerMessageDeflate
            assert type(chain_of(ws)._parser) is ExtensionParser
            assert type(chain_of(ws)._writer) is ExtensionWriter
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send([b"part one ", b"part two"])
            assert await ws.recv() == b"part one part two"
            await ws.send("fragments")
            assert [p async for p in ws.recv_streaming()] == ["fra", "gm", "ent", ""]
        await bounded(server.done.wait())
    assert server.got == [big, b"part one part two", "fragments"]
    # What the client sent was compressed on the wire: RSV1 on the first
    # frame of each message, and far fewer bytes than the text.
    (recorded,) = server.deflate.made
    assert recorded.frames[0][0] is True
    assert recorded.frames[0][1] < len(big) // 20
    assert [rsv1 for rsv1, _ in recorded.frames] == [True, True, False, False, True]
    (theirs,) = server.xor.made
    data = [s for s in theirs.seen if s[0] is not websockets.frames.Opcode.CLOSE]
    # The server's x-xor decodes before its deflate when deflate came
    # first (it sees RSV1, compressed data), after it otherwise.
    assert [s[1] for s in data][:1] == [deflate_first]
    assert all(s[2] for s in data)
    # And what came back was compressed too, for the client's x-xor to see
    # RSV1 in the same order.
    client_data = [s for s in mine.seen if s[0] is websockets.frames.Opcode.TEXT]
    assert client_data[0][1] is deflate_first


async def test_inflation_stays_bounded_with_an_extension_after_deflate() -> None:
    """[deflate, xor]: the server's tiny frame of zeros inflates past
    max_size; aiows inflates at most one byte past it and fails with 1009."""
    outputs: list[int] = []
    async with websockets_server() as server:
        ws = await aiows.connect(
            server.url,
            extensions=[ClientPerMessageDeflateFactory(), ClientXorFactory()],
            max_size=10_000,
            ping_interval=None,
        )
        deflate = ws.protocol.extensions[0]
        assert type(deflate) is PerMessageDeflate
        inflate = deflate.decompress

        def recording(data: Any, fin: bool, limit: int | None) -> bytes:
            try:
                out = inflate(data, fin, limit)
            except aiows.core.errors.MessageTooBig:
                outputs.append(-1)
                raise
            outputs.append(len(out))
            return out

        deflate.decompress = recording  # type: ignore[method-assign]
        await ws.send("zeros 10000")
        assert await ws.recv() == bytes(10_000)
        await ws.send("zeros 5000000")
        with pytest.raises(aiows.ConnectionClosedError) as info:
            await ws.recv()
        await bounded(server.done.wait())
    assert outputs == [10_000, -1]
    assert info.value.sent is not None and info.value.sent.code == 1009
    assert type(info.value.__cause__) is aiows.PayloadTooBig
    assert server.closes == [1009]


async def test_permessage_deflate_offered_and_refused_is_declined() -> None:
    """A server without x-xor answers only permessage-deflate: the client's
    x-xor is not used, and deflate alone takes the fast path again."""
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        async with aiows.connect(
            f"ws://127.0.0.1:{port}/", extensions=[ClientXorFactory()]
        ) as ws:
            assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
            assert type(chain_of(ws)._parser) is FrameParser


# -- permessage-deflate alone keeps its fast path -------------------------------------


DEFLATE_ANSWER = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
DEFLATE_AND_NOOP = "Sec-WebSocket-Extensions: permessage-deflate, x-noop\r\n"

#: How each case asks for permessage-deflate, and what the server answers.
FAST_PATH_CASES: dict[str, tuple[dict[str, Any], str, bool]] = {
    "compression=deflate": ({}, DEFLATE_ANSWER, True),
    "websockets' factory": (
        {"extensions": [ClientPerMessageDeflateFactory()]},
        DEFLATE_ANSWER,
        True,
    ),
    "aiows's factory": ({"extensions": [DeflateFactory()]}, DEFLATE_ANSWER, True),
    # The control case: another extension beside it takes the chain.
    "with x-noop": (
        {"extensions": [ClientPerMessageDeflateFactory(), ClientNoopFactory()]},
        DEFLATE_AND_NOOP,
        False,
    ),
}


@pytest.mark.parametrize("case", list(FAST_PATH_CASES))
async def test_deflate_alone_keeps_the_fast_path(
    raw_server: StartServer, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """With permessage-deflate alone: the plain parser and writer hold aiows's
    deflate; a sent message is framed in the scratch buffer; plain frames
    go through the compiled scanner; a large binary message is received in
    place; the same as with no extension at all."""
    kwargs, answer, fast = FAST_PATH_CASES[case]
    used: dict[str, int] = {"scratch": 0, "scan": 0, "in place": 0}

    # Spied on in the transport, a module and Connection, a Python class:
    # the protocol and the send lane may be C classes, whose methods cannot
    # be replaced.
    def spy_transport(ws: aiows.ClientConnection) -> None:
        transport = ws._engine.lane._transport
        write = transport.write

        def spy_write(data: Any) -> None:
            # Only a frame built in the scratch buffer is a view.
            used["scratch"] += type(data) is memoryview
            write(data)

        transport.write = spy_write  # type: ignore[method-assign]

    scan = core_parser._scan_messages
    if scan is not None:

        def spy_scan(data: Any, pos: int, *args: Any) -> int:
            after: int = scan(data, pos, *args)
            used["scan"] += after > pos
            return after

        monkeypatch.setattr(core_parser, "_scan_messages", spy_scan)
    get_buffer = Connection.get_buffer

    def spy_buffer(self: Connection, sizehint: int) -> memoryview:
        view = get_buffer(self, sizehint)
        used["in place"] += self._reading_into
        return view

    monkeypatch.setattr(Connection, "get_buffer", spy_buffer)

    big = bytes(range(256)) * 4096  # 1 MiB
    got: list[bytes] = []

    async def handler(peer: RawPeer) -> None:
        frame = await peer.read_frame()
        assert frame.rsv == RSV1
        got.append(zlib.decompressobj(-15).decompress(frame.payload + TRAILER))
        # Plain frames in one write, then a large plain binary message.
        peer.send(b"".join(server_frame(OP_TEXT, b"t%d" % i) for i in range(20)))
        peer.send(server_frame(OP_BINARY, big))
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    srv = await raw_server(
        handler, response=lambda key: upgrade_response(key, extra_headers=answer)
    )
    # Past the size from which messages are framed in the scratch buffer.
    message = b"compressible " * 10_000
    async with aiows.connect(
        srv.url, ping_interval=None, max_size=2**21, **kwargs
    ) as ws:
        spy_transport(ws)
        protocol = chain_of(ws)
        names = [e.name for e in ws.protocol.extensions]
        assert names[0] == "permessage-deflate"
        deflate = protocol.extensions[0]
        assert type(deflate) is PerMessageDeflate
        if fast:
            assert type(protocol._parser) is FrameParser
            assert type(protocol._writer) is FrameWriter
            assert protocol._parser._deflate is deflate
            assert protocol._writer.deflate is deflate
        else:
            assert type(protocol._parser) is ExtensionParser
            assert type(protocol._writer) is ExtensionWriter
        await ws.send(message)
        for i in range(20):
            assert await ws.recv() == f"t{i}"
        assert await ws.recv() == big
    assert got == [message]
    if fast:
        assert used["scratch"] == 1
        assert used["scan"] >= 1 or compiled is None
        assert used["in place"] >= 1
    else:
        assert used == {"scratch": 0, "scan": 0, "in place": 0}


# -- the arguments ---------------------------------------------------------------


def test_websockets_deflate_factory_becomes_aiows_deflate() -> None:
    mapped = client_factory(
        ClientPerMessageDeflateFactory(
            server_max_window_bits=10,
            client_max_window_bits=12,
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            compress_settings={"level": 3, "memLevel": 4},
        )
    )
    assert type(mapped) is DeflateFactory
    assert (
        mapped.server_max_window_bits,
        mapped.client_max_window_bits,
        mapped.server_no_context_takeover,
        mapped.client_no_context_takeover,
        mapped.level,
        mapped.mem_level,
    ) == (10, 12, True, True, 3, 4)
    # Without compress_settings websockets leaves zlib's defaults in place.
    default = client_factory(
        ClientPerMessageDeflateFactory(client_max_window_bits=None)
    )
    assert (default.client_max_window_bits, default.level, default.mem_level) == (
        False,
        zlib.Z_DEFAULT_COMPRESSION,
        8,
    )


def test_websockets_deflate_aiows_cannot_follow_runs_as_it_is() -> None:
    theirs = ClientPerMessageDeflateFactory(compress_settings={"strategy": 1})
    assert client_factory(theirs) is theirs

    class Subclass(ClientPerMessageDeflateFactory):
        pass

    mine = Subclass()
    assert client_factory(mine) is mine


@pytest.mark.parametrize(
    "bad",
    [object(), "permessage-deflate", type("Named", (), {"name": "x"})()],
    ids=["object", "str", "name only"],
)
def test_an_extension_factory_is_checked_at_the_call(bad: Any) -> None:
    with pytest.raises(TypeError, match="client extension factories"):
        aiows.connect("ws://127.0.0.1:1/", extensions=[bad])


@pytest.mark.parametrize("bad", ["x-noop", 42], ids=["str", "int"])
def test_extensions_must_be_a_sequence(bad: Any) -> None:
    with pytest.raises(TypeError, match="sequence of extension factories"):
        aiows.connect("ws://127.0.0.1:1/", extensions=bad)


def test_compression_adds_deflate_after_the_others() -> None:
    noop = ClientNoopFactory()
    factories = client_factories([noop], "deflate")
    assert factories is not None and factories[0] is noop
    assert type(factories[1]) is DeflateFactory
    assert factories[1].mem_level == 5  # websockets' memLevel for compression=
    theirs = ClientPerMessageDeflateFactory()
    offered = client_factories([theirs, noop], "deflate")
    assert offered is not None
    assert [type(f) for f in offered] == [DeflateFactory, ClientNoopFactory]
    assert client_factories([noop], None) == (noop,)
    assert client_factories([], None) == ()
    assert client_factories(None, "deflate") is None


def test_frames_are_websockets_own_when_it_is_installed() -> None:
    types = frame_types()
    assert types.frame is websockets.frames.Frame
    assert types.opcode is websockets.frames.Opcode


# -- negotiation failures --------------------------------------------------------


def answering(value: str) -> Callable[[str], bytes]:
    return lambda key: upgrade_response(
        key, extra_headers=f"Sec-WebSocket-Extensions: {value}\r\n"
    )


async def close_at_once(peer: RawPeer) -> None:
    peer.close()


@pytest.mark.parametrize(
    ("answer", "offered", "message", "notes"),
    [
        (
            "x-xor; key=zz",
            [ClientXorFactory()],
            "Unsupported extension: name = x-xor, params = [('key', 'zz')]",
            ["x-xor key must be two hex digits"],
        ),
        (
            "x-xor; key=3c, x-xor; key=3c",
            [ClientXorFactory()],
            "Unsupported extension: name = x-xor, params = [('key', '3c')]",
            ["received duplicate x-xor"],
        ),
        (
            "x-noop",
            [ClientXorFactory()],
            "Unsupported extension: name = x-noop, params = []",
            [],
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
            "Unsupported extension: name = permessage-deflate, "
            "params = [('server_max_window_bits', '12')]",
            ["server_max_window_bits=12 is larger than the 10 the client offered"],
        ),
    ],
    ids=["refused", "duplicate", "not offered", "deflate refused"],
)
async def test_negotiation_failures(
    raw_server: StartServer,
    answer: str,
    offered: list[Any],
    message: str,
    notes: list[str],
) -> None:
    srv = await raw_server(close_at_once, response=answering(answer))
    with pytest.raises(aiows.NegotiationError) as info:
        await aiows.connect(
            srv.url, extensions=offered, compression=None, ping_interval=None
        )
    assert info.value.message == message
    got = getattr(info.value, "__notes__", [])
    assert len(got) == len(notes)
    for note, expected in zip(got, notes, strict=True):
        assert expected in note
    assert info.value.response is not None
    assert info.value.response.headers["Sec-WebSocket-Extensions"] == answer


async def test_a_factory_failing_otherwise_fails_the_handshake_with_its_error(
    raw_server: StartServer,
) -> None:
    class Broken(ClientXorFactory):
        def process_response_params(self, params: Sequence[Any], accepted: Any) -> Xor:
            raise ValueError("broken factory")

    eof: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        eof.set_result(await peer.expect_eof())

    srv = await raw_server(handler, response=answering("x-xor; key=3c"))
    with pytest.raises(ValueError, match="broken factory"):
        await aiows.connect(srv.url, extensions=[Broken()], ping_interval=None)
    # The connection is not left open.
    assert await bounded(eof) == b""


# -- aiohttp.web's server: it answers permessage-deflate and nothing else ----------


@pytest.mark.parametrize(
    "offered",
    ["websockets' deflate", "x-noop, x-xor, websockets' deflate", "compression="],
)
async def test_against_aiohttp_web_only_deflate_is_negotiated(
    echo_url: str, offered: str
) -> None:
    """aiohttp.web reads the offer, skips what it does not know and accepts
    permessage-deflate: the others make no extension, and deflate alone
    takes the fast path, compressing on the wire both ways."""
    noop, xor_factory = ClientNoopFactory(), ClientXorFactory()
    extensions: list[Any] | None = {
        "websockets' deflate": [ClientPerMessageDeflateFactory()],
        "x-noop, x-xor, websockets' deflate": [
            noop,
            xor_factory,
            ClientPerMessageDeflateFactory(),
        ],
        "compression=": None,
    }[offered]
    big = "compress me " * 5000
    async with aiows.connect(echo_url, extensions=extensions, ping_interval=None) as ws:
        answer = ws.response_headers["Sec-WebSocket-Extensions"]
        assert answer.startswith("permessage-deflate")
        assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
        protocol = chain_of(ws)
        assert type(protocol._parser) is FrameParser
        assert type(protocol.extensions[0]) is PerMessageDeflate
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(b"\x00" * 100_000)
        assert await ws.recv() == b"\x00" * 100_000
    assert noop.made == [] and xor_factory.made == []


class OwnDeflateFactory(ClientPerMessageDeflateFactory):
    """websockets' factory, subclassed: aiows runs websockets' own
    PerMessageDeflate as a generic extension in the chain, recording it."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[RecordingDeflate] = []

    def process_response_params(self, params: Any, accepted: Any) -> Any:
        made = super().process_response_params(params, accepted)
        recording = RecordingDeflate(
            made.remote_no_context_takeover,
            made.local_no_context_takeover,
            made.remote_max_window_bits,
            made.local_max_window_bits,
        )
        self.made.append(recording)
        return recording


async def test_against_aiohttp_web_websockets_own_deflate_runs_in_the_chain(
    echo_url: str,
) -> None:
    """A factory aiows does not map (a subclass) runs as it is: websockets'
    PerMessageDeflate encodes and decodes every frame, against aiohttp's
    compressor, through the chain."""
    factory = OwnDeflateFactory()
    big = "compress me " * 5000
    async with aiows.connect(echo_url, extensions=[factory], ping_interval=None) as ws:
        (theirs,) = factory.made
        assert ws.protocol.extensions == [theirs]
        assert type(chain_of(ws)._parser) is ExtensionParser
        assert type(chain_of(ws)._writer) is ExtensionWriter
        for message in (big, b"\x01\x02" * 40_000, "short"):
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send(["frag", "mented"])
        assert await ws.recv() == "fragmented"
    # websockets' extension decoded what aiohttp compressed: RSV1 on each
    # echoed message (aiohttp echoes in one frame), far fewer bytes than the text.
    assert [rsv1 for rsv1, _ in theirs.frames] == [True] * 4
    assert theirs.frames[0][1] < len(big) // 20
