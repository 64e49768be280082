"""``extensions=`` through both threading clients: websockets' and aiows's.

tests/custom_extensions.py's x-noop and x-xor (written against websockets'
API, comparing opcodes by identity), alone and with permessage-deflate in
either order, against websockets' server; negotiation failures, extensions
failing to decode and to encode against the scripted server and websockets'.
Each scenario runs through ``websockets.sync.client.connect`` and
``aiows.sync.connect`` and what the program sees must be the same, but for
the differences :func:`tests.sync.differential.differences` lists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets.exceptions
import websockets.frames
from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

import aiows
import aiows.sync
from tests import custom_extensions as cx
from tests.conftest import RawPeer, server_frame, upgrade_response
from tests.helpers import OP_CLOSE, OP_TEXT
from tests.sync.conftest import (
    Raw,
    ServerLog,
    ServerLoop,
    WsServer,
    close_frame,
    commands,
    run_of,
    settle,
)
from tests.sync.differential import (
    OLD_WEBSOCKETS,
    Api,
    Record,
    assert_same,
    both,
    kind,
)

FAST = {"close_timeout": 2, "open_timeout": 5, "ping_interval": None}

pytestmark = pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained); websockets 16, "
    "the oracle on Python 3.10, differs",
)


def offer_of(header: str | None) -> list[list[str]] | None:
    """A ``Sec-WebSocket-Extensions`` value, extension by extension, each with
    its parameters sorted (their order carries no meaning)."""
    if header is None:
        return None
    found = []
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        found.append([name, *sorted(params)])
    return found


def deflate_settings(extensions: list[Any]) -> list[str]:
    """The negotiated permessage-deflate's settings, as its ``repr()``
    shows them (websockets' attribute names)."""
    return [repr(ext) for ext in extensions if ext.name == "permessage-deflate"]


def what_extensions_saw(factories: list[Any]) -> list[Any]:
    """Each frame the client's extensions were handed, as user code could
    tell them apart: opcode, bits, ``max_size``, and whether the frame and
    its opcode were websockets' own classes."""
    seen: list[Any] = []
    for factory in factories:
        for made in getattr(factory, "made", []):
            if isinstance(made, cx.Xor):
                seen.append(
                    [
                        (
                            op.name,
                            rsv1,
                            rsv2,
                            cls is websockets.frames.Frame,
                            op_cls is websockets.frames.Opcode,
                            max_size,
                        )
                        for op, rsv1, rsv2, cls, op_cls, max_size in made.seen
                    ]
                )
            else:
                seen.append(
                    (
                        [f.opcode.name for f in made.encoded],
                        [f.opcode.name for f in made.decoded],
                    )
                )
    return seen


@pytest.fixture
def extension_server(server_loop: ServerLoop) -> Iterator[WsServer]:
    """websockets' server offering x-noop, x-xor and permessage-deflate;
    ``/echo`` runs the sync tests' :func:`commands`."""
    log = ServerLog()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        run = run_of(ws.request.path)
        log.add(run, "extensions", [type(e).__name__ for e in ws.protocol.extensions])
        try:
            await commands(ws, log, run)
        except Exception:
            pass
        finally:
            await ws.wait_closed()
            log.add(run, "close rcvd", close_frame(ws.protocol.close_rcvd))
            log.finished(run)

    factories: list[Any] = [
        cx.ServerNoopFactory(),
        cx.ServerXorFactory(),
        ServerPerMessageDeflateFactory(),
    ]

    async def start() -> Any:
        return await serve(
            handler,
            "127.0.0.1",
            0,
            extensions=factories,
            process_response=log.process_response,
        )

    server = server_loop.run(start())
    port = server.sockets[0].getsockname()[1]
    yield WsServer(f"ws://127.0.0.1:{port}", log, port)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    server_loop.run(stop())


#: What each run offers: factories, made fresh for each client, and
#: ``compression``.
OFFERS: dict[str, tuple[Callable[[], list[Any]], str | None]] = {
    "x-noop": (lambda: [cx.ClientNoopFactory()], None),
    "x-xor": (lambda: [cx.ClientXorFactory()], None),
    "websockets' deflate": (lambda: [ClientPerMessageDeflateFactory()], None),
    "x-xor, deflate": (
        lambda: [cx.ClientXorFactory(), ClientPerMessageDeflateFactory()],
        None,
    ),
    "deflate, x-xor": (
        lambda: [ClientPerMessageDeflateFactory(), cx.ClientXorFactory()],
        None,
    ),
    "x-xor and compression=deflate": (lambda: [cx.ClientXorFactory()], "deflate"),
    "x-noop, x-xor, deflate": (
        lambda: [
            cx.ClientNoopFactory(),
            cx.ClientXorFactory(),
            ClientPerMessageDeflateFactory(),
        ],
        None,
    ),
}


@pytest.mark.parametrize("offer", list(OFFERS))
def test_extensions_round_trip(extension_server: WsServer, offer: str) -> None:
    """The offer, the answer, what is negotiated in which order, messages
    both ways (fragmented, streamed, pings), and every frame each extension
    is handed, with its bits and ``max_size``."""
    make, compression = OFFERS[offer]

    def scenario(api: Api, url: str, r: Record) -> None:
        factories = make()
        with api.connect(
            url, extensions=factories, compression=compression, **FAST
        ) as ws:
            request = ws.request.headers.get("Sec-WebSocket-Extensions")
            r.add("offer", offer_of(request))
            answer = ws.response.headers.get("Sec-WebSocket-Extensions")
            r.add("answer", offer_of(answer))
            r.add("negotiated", [ext.name for ext in ws.protocol.extensions])
            r.add("deflate settings", deflate_settings(ws.protocol.extensions))
            for message in ("text " * 100, b"\x00\xff" * 5000):
                ws.send(message)
                r.add("echo", ws.recv(timeout=5) == message)
            ws.send(["frag", "mented"])
            r.outcome("fragmented echo", lambda: ws.recv(timeout=5))
            ws.send("fragments")
            r.add("streamed", list(ws.recv_streaming()))
            ws.send("ping")
            r.outcome("after the server's ping", lambda: ws.recv(timeout=5))
            r.add("pong", ws.ping(b"cli").wait(5))
        r.state(ws, "closed")
        r.add("the extensions saw", what_extensions_saw(factories))

    result = both(f"{extension_server.url}/echo", scenario, extension_server.log)
    assert_same(result, f"extensions: {offer}")


class PickyXor(cx.ClientXorFactory):
    """Refuses any key but 0x11: the next x-xor factory gets the answer."""

    def process_response_params(self, params: Any, accepted: Any) -> cx.Xor:
        if params != [("key", "11")]:
            raise websockets.exceptions.NegotiationError("not my key")
        return super().process_response_params(params, accepted)


class BrokenXor(cx.ClientXorFactory):
    """Fails with an exception that is not a refusal."""

    def process_response_params(self, params: Any, accepted: Any) -> cx.Xor:
        raise ValueError("broken factory")


#: Answer, factories, compression.
NEGOTIATIONS: dict[str, tuple[str, Callable[[], list[Any] | None], str | None]] = {
    "refused value": ("x-xor; key=zz", lambda: [cx.ClientXorFactory()], None),
    "unknown parameter": (
        "x-xor; key=3c; extra=1",
        lambda: [cx.ClientXorFactory()],
        None,
    ),
    "refused duplicate": (
        "x-xor; key=3c, x-xor; key=3c",
        lambda: [cx.ClientXorFactory()],
        None,
    ),
    "not offered": ("x-noop", lambda: [cx.ClientXorFactory()], None),
    "none offered": ("x-noop", lambda: None, None),
    "the next factory of the name": (
        "x-xor; key=3c",
        lambda: [PickyXor(), cx.ClientXorFactory()],
        None,
    ),
    "deflate window above the offer": (
        "permessage-deflate; server_max_window_bits=12",
        lambda: [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        None,
    ),
    "deflate settings accepted": (
        "permessage-deflate; server_max_window_bits=10; "
        "client_no_context_takeover; client_max_window_bits=12",
        lambda: [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        None,
    ),
    "deflate unknown parameter": (
        "permessage-deflate; foo",
        lambda: [cx.ClientXorFactory()],
        "deflate",
    ),
    "deflate and x-xor, deflate refused": (
        "x-xor; key=3c, permessage-deflate; client_max_window_bits=20",
        lambda: [cx.ClientXorFactory(), ClientPerMessageDeflateFactory()],
        None,
    ),
    "empty extensions=": ("x-xor; key=3c", lambda: [], None),
}


@pytest.mark.parametrize("name", list(NEGOTIATIONS))
def test_extension_negotiation(raw: Callable[..., Raw], name: str) -> None:
    """What the server answers is accepted or refused as websockets does,
    with websockets' class and message."""
    answer, make, compression = NEGOTIATIONS[name]
    offers: dict[str, str | None] = {}

    async def handler(peer: RawPeer) -> None:
        offers[run_of(peer.request_line.split()[1])] = peer.request_headers.get(
            "sec-websocket-extensions"
        )
        # A client that connected closes; one that failed hangs up.
        await peer.read_close(timeout=10)
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    server = raw(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers=f"Sec-WebSocket-Extensions: {answer}\r\n"
        ),
    )

    def scenario(api: Api, url: str, r: Record) -> None:
        factories = make()
        try:
            with api.connect(
                url,
                extensions=factories,
                compression=compression,
                ping_interval=None,
                open_timeout=1,
                close_timeout=2,
            ) as ws:
                r.add("negotiated", [ext.name for ext in ws.protocol.extensions])
                r.add("deflate settings", deflate_settings(ws.protocol.extensions))
                keys = [getattr(e, "key", None) for e in ws.protocol.extensions]
                r.add("keys", keys)
        except Exception as exc:
            r.error("connect", exc)
            r.add("message", str(exc))
            r.add("cause", None if exc.__cause__ is None else kind(exc.__cause__))
        settle(lambda: api.name in offers)
        r.add("offer", offer_of(offers[api.name]))

    result = both(server.url, scenario)
    assert_same(result, f"extension negotiation: {name}")


def test_a_factory_failing_otherwise(raw: Callable[..., Raw]) -> None:
    """An exception from ``process_response_params()`` other than a refusal
    fails the handshake with that exception, as in the asyncio face.

    Not compared: websockets' threading client loses its reading thread to
    it, opens the connection with no extension and fails later with an
    ``AssertionError``, leaving its socket to the garbage collector.
    """

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    server = raw(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: x-xor; key=3c\r\n"
        ),
    )
    with pytest.raises(ValueError, match="broken factory"):
        aiows.sync.connect(server.url, extensions=[BrokenXor()], **FAST)


#: What the client's x-xor raises decoding the server's text frame (None:
#: nothing; the frame comes with RSV3, which no extension takes).
DECODE_FAILURES: dict[str, Callable[[], Exception | None]] = {
    "RSV3 left set": lambda: None,
    "ProtocolError": lambda: websockets.exceptions.ProtocolError("bad frame"),
    "PayloadTooBig": lambda: websockets.exceptions.PayloadTooBig(10, 5),
    "another exception": lambda: ValueError("secret detail"),
}


@pytest.mark.parametrize("name", list(DECODE_FAILURES))
def test_an_extension_failing_to_decode(raw: Callable[..., Raw], name: str) -> None:
    """The connection fails with websockets' close code, and the
    ConnectionClosedError chains what websockets chains: the extension's
    own exception."""
    closes: dict[str, Any] = {}
    lock = threading.Lock()

    async def handler(peer: RawPeer) -> None:
        rsv = 0x10 if name == "RSV3 left set" else 0x20
        peer.send(server_frame(OP_TEXT, cx.xor(b"hello", 0x3C), rsv=rsv))
        code, _ = await peer.read_close()
        with lock:
            closes[run_of(peer.request_line.split()[1])] = code
        peer.send(server_frame(OP_CLOSE, b""))

    server = raw(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: x-xor; key=3c\r\n"
        ),
    )

    def scenario(api: Api, url: str, r: Record) -> None:
        raised = DECODE_FAILURES[name]()
        factory = (
            cx.ClientXorFactory() if raised is None else cx.FailingXorFactory(raised)
        )
        with api.connect(url, extensions=[factory], compression=None, **FAST) as ws:
            exc = r.outcome("recv()", lambda: ws.recv(timeout=5))
            r.add("cause class", kind(exc.__cause__))
            r.add("cause is the extension's", exc.__cause__ is raised)
            r.outcome("wait_closed", lambda: ws.wait_closed(5))
        settle(lambda: api.name in closes)
        r.add("close code on the wire", closes[api.name])

    result = both(server.url, scenario, masked=True)
    assert_same(result, f"extension failing to decode: {name}")


def _after_the_servers_ping(ws: Any) -> Any:
    ws.send("ping")
    return ws.recv(timeout=5)


#: The payload ``encode`` fails on, and how a frame carrying it is sent.
ENCODE_FAILURES: dict[str, tuple[bytes, Callable[[Any], Any]]] = {
    "send": (b"boom", lambda ws: ws.send("boom")),
    "second fragment": (b"boom", lambda ws: ws.send(["ok", "boom"])),
    "ping": (b"boom", lambda ws: ws.ping(b"boom")),
    "pong": (b"boom", lambda ws: ws.pong(b"boom")),
    # A protocol error: that send fails, the connection goes on.
    "protocol error": (b"boom", lambda ws: ws.send("refused")),
    "protocol error in a ping": (b"boom", lambda ws: ws.ping(b"refused")),
    # The server pings with b"srv": the automatic pong fails.
    "automatic pong": (b"srv", _after_the_servers_ping),
}


@pytest.mark.parametrize("how", list(ENCODE_FAILURES))
def test_an_extension_failing_to_encode(extension_server: WsServer, how: str) -> None:
    """What a send raises when an extension's ``encode`` fails, and whether
    the connection still works after it."""
    word, send = ENCODE_FAILURES[how]

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(
            url, extensions=[cx.EncodeFailingXorFactory(word)], compression=None, **FAST
        ) as ws:
            r.outcome("the failing send", lambda: send(ws))
            r.outcome("send(after)", lambda: ws.send("after"))
            r.outcome("recv()", lambda: ws.recv(timeout=5))
        r.state(ws, "closed")

    result = both(
        f"{extension_server.url}/echo", scenario, extension_server.log, masked=True
    )
    assert_same(result, f"extension failing to encode: {how}")


def test_an_extension_failing_on_the_keepalive_ping(extension_server: WsServer) -> None:
    """The keepalive's ping cannot be encoded: the connection ends at once,
    chaining the extension's exception."""

    def scenario(api: Api, url: str, r: Record) -> None:
        factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.PING)
        with api.connect(
            url,
            extensions=[factory],
            compression=None,
            ping_interval=0.2,
            close_timeout=2,
            open_timeout=5,
        ) as ws:
            r.outcome("recv()", lambda: ws.recv(timeout=5))
        r.state(ws, "closed")

    result = both(f"{extension_server.url}/echo", scenario, extension_server.log)
    assert_same(result, "extension failing on the keepalive ping")


def test_an_extension_failing_on_the_close_frame(extension_server: WsServer) -> None:
    """The client's close frame cannot be encoded: ``close()`` returns and
    the connection ends without it, as in websockets."""

    def scenario(api: Api, url: str, r: Record) -> None:
        factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.CLOSE)
        with api.connect(url, extensions=[factory], compression=None, **FAST) as ws:
            r.outcome("close()", ws.close)
            r.outcome("wait_closed", lambda: ws.wait_closed(5))
            r.state(ws, "closed")
            r.outcome("send()", lambda: ws.send("late"))

    result = both(f"{extension_server.url}/echo", scenario, extension_server.log)
    assert_same(result, "extension failing on the close frame")


def test_an_extension_failing_on_the_answer_to_a_close(
    extension_server: WsServer,
) -> None:
    """The answer to the server's close frame cannot be encoded: the
    connection ends at once, and ``recv()`` raises ``ConnectionClosedError``
    chaining the extension's exception, once the messages that came before
    the close are read.

    Not compared: websockets' threading client loses its parser to it
    ("parser failed"), its ``recv()`` times out with the connection still
    OPEN, and ``close()`` then fails with an ``AssertionError``.
    """
    factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.CLOSE)
    url = f"{extension_server.url}/echo?run=aiows"
    with aiows.sync.connect(url, extensions=[factory], compression=None, **FAST) as ws:
        ws.send("three 1000")  # three messages, then a close
        assert [ws.recv(timeout=5) for _ in range(3)] == ["one", "two", "three"]
        with pytest.raises(aiows.ConnectionClosedError) as info:
            ws.recv(timeout=5)
        assert isinstance(info.value.__cause__, ValueError)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
        assert info.value.sent is None
        assert ws.wait_closed(5)
        assert ws.state.name == "CLOSED"
    extension_server.log.wait("aiows")
