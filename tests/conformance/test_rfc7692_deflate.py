"""RFC 7692: permessage-deflate, against a raw server that really deflates.

The server side is written here with Python's ``zlib``: it compresses what
it sends with the negotiated ``server_max_window_bits`` and context-takeover
rule, and inflates what the client sends with ``client_max_window_bits`` and
the client's rule, so a client that used a larger window than allowed, or
kept context it promised to drop, fails to decode ("invalid distance too
far back").  The server inflates 64 bytes of output at a time: zlib checks
distances against its window only across calls, so inflating a message in
one call would accept any distance.  The messages repeat random blocks at
distances just above each window size (600 > 2**9, 1100 > 2**10, ...), and
the server's first message comes twice, so the second copy refers back
almost a whole window into the previous message: a client inflating with a
smaller window than negotiated fails.

Already covered in ``tests/core/test_deflate.py``: every parameter
combination through ``negotiate()``, each invalid value and duplicate as a
unit test, bombs and bounded inflation.  In ``tests/interop/``: negotiation
with the websockets server.  This module takes the whole matrix over the
wire with real round trips.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import zlib
from collections.abc import Awaitable, Callable

import pytest

import aiows
from tests.conftest import RawPeer, RawServer

from ._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    bounded,
    close_payload,
    deflate_response,
    first_message_payload,
    read_wire_frame,
    server_frame,
)
from .conftest import Scripted, ScriptedConnect, expect_failure

TRAILER = b"\x00\x00\xff\xff"
OFFER_15 = "permessage-deflate; client_max_window_bits"

_rng = random.Random(7692)
# Random blocks, each repeated at a distance just above a window size.
LONG = b"".join(
    block + block
    for block in (_rng.randbytes(size) for size in (600, 1100, 2100, 4200, 8300, 16500))
)
SHORT = _rng.randbytes(200)


def messages_for(server_bits: int) -> list[bytes]:
    """What the server sends: a block almost as long as its window, twice
    (the second copy refers back across the message boundary when context
    is kept), LONG, and SHORT twice (the second copy nearly free to
    compress when context is kept)."""
    window = _rng_block(max(server_bits, 9))
    return [window, window, LONG, SHORT, SHORT]


def _rng_block(bits: int) -> bytes:
    # zlib looks back at most window - 262 bytes.
    return random.Random(bits).randbytes((1 << bits) - 300)


def response_header(snct: bool, cnct: bool, smwb: int | None, cmwb: int | None) -> str:
    parts = ["permessage-deflate"]
    if snct:
        parts.append("server_no_context_takeover")
    if cnct:
        parts.append("client_no_context_takeover")
    if smwb is not None:
        parts.append(f"server_max_window_bits={smwb}")
    if cmwb is not None:
        parts.append(f"client_max_window_bits={cmwb}")
    return "; ".join(parts)


class Deflater:
    """The server's compressor: a fresh one per message when told so."""

    def __init__(self, bits: int, no_context_takeover: bool) -> None:
        # zlib cannot deflate with an 8-bit raw window; with 9 it never
        # looks back more than 250 bytes, so its output is a valid 8-bit
        # stream (the same reasoning as a real 8-bit server's).
        self._bits = max(bits, 9)
        self._reset = no_context_takeover
        self._obj = zlib.compressobj(wbits=-self._bits)

    def message(self, data: bytes, cuts: tuple[int, ...] = ()) -> list[bytes]:
        """The payload of each frame of one message (RFC 7692 §7.2.1)."""
        bounds = [0, *cuts, len(data)]
        out = [
            self._obj.compress(data[a:b]) + self._obj.flush(zlib.Z_SYNC_FLUSH)
            for a, b in itertools.pairwise(bounds)
        ]
        assert out[-1].endswith(TRAILER)
        out[-1] = out[-1][:-4]
        if self._reset:
            self._obj = zlib.compressobj(wbits=-self._bits)
        return out


class Inflater:
    """The server's decompressor for the client's messages."""

    def __init__(self, bits: int, no_context_takeover: bool) -> None:
        self._bits = bits
        self._reset = no_context_takeover
        self._obj = zlib.decompressobj(-bits)

    def message(self, payload: bytes) -> bytes:
        # 64 bytes of output per call, so distances are checked against the
        # window (see the module docstring).
        out: list[bytes] = []
        data = payload + TRAILER
        while True:
            chunk = self._obj.decompress(data, 64)
            data = self._obj.unconsumed_tail
            if not chunk and not data:
                break
            out.append(chunk)
        if self._reset:
            self._obj = zlib.decompressobj(-self._bits)
        return b"".join(out)


async def round_trip(
    scripted: Scripted,
    snct: bool,
    cnct: bool,
    smwb: int | None,
    cmwb: int | None,
) -> list[int]:
    """Send ``messages_for()`` compressed; the client echoes; check the echoes decode.

    Returns the compressed size of each echoed message.
    """
    messages = messages_for(smwb or 15)

    async def server(peer: RawPeer) -> list[int]:
        assert peer.request_headers["sec-websocket-extensions"] == OFFER_15
        deflater = Deflater(smwb or 15, snct)
        for message in messages:
            (payload,) = deflater.message(message)
            peer.send(server_frame(OP_BINARY, payload, rsv=RSV1))
        inflater = Inflater(cmwb or 15, cnct)
        sizes = []
        for message in messages:
            frame = await read_wire_frame(peer)
            assert (frame.opcode, frame.fin, frame.rsv) == (OP_BINARY, True, RSV1)
            assert inflater.message(frame.payload) == message
            sizes.append(len(frame.payload))
        return sizes

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        # What ws.compress reports is test_compress_reports_client_window's.
        assert ws.compress
        for message in messages:
            data = await bounded(ws.receive_bytes())
            assert data == message
            await ws.send_bytes(data)

    return await scripted(
        server,
        client,
        compress=15,
        response=deflate_response(response_header(snct, cnct, smwb, cmwb)),
    )


WINDOWS = [None, *range(9, 16)]
MATRIX = [
    pytest.param(snct, cnct, smwb, cmwb, id=f"s{int(snct)}c{int(cnct)}-{smwb}-{cmwb}")
    for snct in (False, True)
    for cnct in (False, True)
    for smwb in WINDOWS
    for cmwb in WINDOWS
]


@pytest.mark.parametrize(("snct", "cnct", "smwb", "cmwb"), MATRIX)
async def test_negotiation_matrix_round_trip(
    scripted: Scripted,
    snct: bool,
    cnct: bool,
    smwb: int | None,
    cmwb: int | None,
) -> None:
    sizes = await round_trip(scripted, snct, cnct, smwb, cmwb)
    if cnct:
        # A fresh compressor cannot refer to the first copy of SHORT.
        assert sizes[4] > len(SHORT)
    else:
        # aiows keeps its context when allowed: the second copy is tiny.
        assert sizes[4] < 20


# (server_max_window_bits, client_max_window_bits) in the server's answer.
REPORTED = [(None, None), (15, 15), (None, 10), (10, None), (12, 9), (9, 12)]


@pytest.mark.parametrize(
    ("smwb", "cmwb"), REPORTED, ids=[f"{smwb}-{cmwb}" for smwb, cmwb in REPORTED]
)
async def test_compress_reports_client_window(
    scripted: Scripted, smwb: int | None, cmwb: int | None
) -> None:
    """``ws.compress`` is what aiohttp's client reports: the window the client
    compresses with, ``client_max_window_bits`` of the answer (15 without
    one), whatever the server's own window."""
    reported: list[int] = []

    async def server(peer: RawPeer) -> None:
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        reported.append(ws.compress)
        await ws.close()

    header = response_header(False, False, smwb, cmwb)
    await scripted(server, client, compress=15, response=deflate_response(header))
    assert reported == [cmwb or 15]


EIGHT = [
    pytest.param(snct, cnct, smwb, cmwb, id=f"s{int(snct)}c{int(cnct)}-{smwb}-{cmwb}")
    for snct, cnct in ((False, False), (True, True))
    for smwb, cmwb in ((8, None), (None, 8), (8, 8), (8, 15), (15, 8))
]


@pytest.mark.parametrize(("snct", "cnct", "smwb", "cmwb"), EIGHT)
async def test_window_bits_8(
    scripted: Scripted,
    snct: bool,
    cnct: bool,
    smwb: int | None,
    cmwb: int | None,
) -> None:
    """A server that says 8 works: the client's stream inflates with a real
    8-bit window (zlib's inflater accepts 8), and the client reads a stream
    that only looks 256 bytes back."""
    await round_trip(scripted, snct, cnct, smwb, cmwb)


CUTS = [(), (1,), (100, 101, 5000), (600, 1200, 1800, 2400, 3000)]


@pytest.mark.parametrize("cuts", CUTS, ids=lambda c: f"{len(c) + 1}-frames")
@pytest.mark.parametrize("snct", [False, True], ids=["takeover", "no-takeover"])
async def test_compressed_fragmented_message_from_server(
    scripted: Scripted, cuts: tuple[int, ...], snct: bool
) -> None:
    """RSV1 on the first frame only; the client reassembles and inflates."""
    header = response_header(snct, False, None, None)

    async def server(peer: RawPeer) -> None:
        deflater = Deflater(15, snct)
        for _ in range(2):
            payloads = deflater.message(LONG, cuts)
            for i, payload in enumerate(payloads):
                peer.send(
                    server_frame(
                        OP_BINARY if i == 0 else OP_CONT,
                        payload,
                        fin=i == len(payloads) - 1,
                        rsv=RSV1 if i == 0 else 0,
                    )
                )
        assert first_message_payload(await read_wire_frame(peer)) == b"2 ok"

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert await bounded(ws.receive_bytes()) == LONG
        assert await bounded(ws.receive_bytes()) == LONG
        await ws.send_bytes(b"2 ok")

    await scripted(server, client, compress=15, response=deflate_response(header))


@pytest.mark.parametrize("cnct", [False, True], ids=["takeover", "no-takeover"])
async def test_compressed_fragmented_send_from_client(
    scripted_connect: ScriptedConnect, cnct: bool
) -> None:
    """``send(iterable)`` compresses: one frame per item and an empty final
    continuation, RSV1 on the first frame only, the joined payloads inflate
    to the message, context rules still apply."""
    parts = [LONG[:1000], b"", LONG[1000:5000], LONG[5000:]]
    header = response_header(False, cnct, None, 10)

    async def server(peer: RawPeer) -> None:
        assert peer.request_headers["sec-websocket-extensions"] == OFFER_15
        inflater = Inflater(10, cnct)
        for _ in range(2):
            frames = [await read_wire_frame(peer) for _ in range(len(parts) + 1)]
            assert [f.rsv for f in frames] == [RSV1, 0, 0, 0, 0]
            assert [f.opcode for f in frames] == [OP_BINARY] + [OP_CONT] * 4
            assert [f.fin for f in frames] == [False] * 4 + [True]
            joined = b"".join(f.payload for f in frames)
            assert inflater.message(joined) == LONG

    async def client(ws: aiows.ClientConnection) -> None:
        await ws.send(parts)
        await ws.send(parts)

    await scripted_connect(
        server, client, compression="deflate", response=deflate_response(header)
    )


async def test_uncompressed_and_special_messages_with_deflate(
    scripted: Scripted,
) -> None:
    """RSV1 clear means uncompressed (§6); a message may end with a final
    block (BFINAL, §7.2.3.4); an empty message compresses to 0x00 (§7.2.3.6);
    a compressed text message is UTF-8 checked after inflation."""
    final = zlib.compressobj(wbits=-15)
    bfinal = final.compress(b"final block") + final.flush(zlib.Z_FINISH)
    text = Deflater(15, True).message("h\u00e9llo".encode())[0]

    async def server(peer: RawPeer) -> None:
        peer.send(
            server_frame(OP_BINARY, b"plain")
            + server_frame(OP_BINARY, bfinal, rsv=RSV1)
            + server_frame(OP_BINARY, b"\x00", rsv=RSV1)
            + server_frame(OP_TEXT, text, rsv=RSV1)
            # After the BFINAL message the server starts a new stream.
            + server_frame(OP_BINARY, Deflater(15, True).message(b"next")[0], rsv=RSV1)
        )
        assert first_message_payload(await read_wire_frame(peer)) == b"5 ok"

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert await bounded(ws.receive_bytes()) == b"plain"
        assert await bounded(ws.receive_bytes()) == b"final block"
        assert await bounded(ws.receive_bytes()) == b""
        assert await bounded(ws.receive_str()) == "h\u00e9llo"
        assert await bounded(ws.receive_bytes()) == b"next"
        await ws.send_bytes(b"5 ok")

    await scripted(
        server, client, compress=15, response=deflate_response("permessage-deflate")
    )


def _invalid_utf8_compressed() -> bytes:
    return Deflater(15, True).message(b"ok \xed\xa0\x80")[0]


VIOLATIONS = {
    "rsv1-on-ping": (server_frame(OP_PING, b"", rsv=RSV1), 1002),
    "rsv1-on-pong": (server_frame(OP_PONG, b"", rsv=RSV1), 1002),
    "rsv1-on-close": (server_frame(OP_CLOSE, close_payload(1000), rsv=RSV1), 1002),
    "rsv1-on-continuation": (
        server_frame(
            OP_BINARY, Deflater(15, True).message(b"ab", (1,))[0], fin=False, rsv=RSV1
        )
        + server_frame(OP_CONT, b"\x02\x00", rsv=RSV1),
        1002,
    ),
    "rsv1-on-uncompressed-continuation": (
        server_frame(OP_BINARY, b"a", fin=False)
        + server_frame(OP_CONT, b"b", rsv=RSV1),
        1002,
    ),
    "rsv2-on-compressed": (server_frame(OP_BINARY, b"\x00", rsv=RSV1 | RSV2), 1002),
    "invalid-deflate-data": (server_frame(OP_BINARY, b"\xff\xff\xff", rsv=RSV1), 1002),
    "compressed-text-not-utf8": (
        server_frame(OP_TEXT, _invalid_utf8_compressed(), rsv=RSV1),
        1007,
    ),
}


@pytest.mark.parametrize(("bad", "code"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
async def test_violations_with_deflate(
    scripted: Scripted, bad: bytes, code: int
) -> None:
    await expect_failure(
        scripted,
        bad,
        code,
        compress=15,
        response=deflate_response("permessage-deflate"),
    )


# (client compress=, server's Sec-WebSocket-Extensions answer)
BAD_ANSWERS = {
    "server-bits-16": (15, "permessage-deflate; server_max_window_bits=16"),
    "server-bits-7": (15, "permessage-deflate; server_max_window_bits=7"),
    "server-bits-0": (15, "permessage-deflate; server_max_window_bits=0"),
    "server-bits-no-value": (15, "permessage-deflate; server_max_window_bits"),
    "server-bits-word": (15, "permessage-deflate; server_max_window_bits=ten"),
    "client-bits-16": (15, "permessage-deflate; client_max_window_bits=16"),
    "client-bits-7": (15, "permessage-deflate; client_max_window_bits=7"),
    "client-bits-no-value": (15, "permessage-deflate; client_max_window_bits"),
    "server-bits-over-offer": (10, "permessage-deflate; server_max_window_bits=12"),
    "dup-server-bits": (
        15,
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
    ),
    "dup-client-bits": (
        15,
        "permessage-deflate; client_max_window_bits=9; client_max_window_bits=10",
    ),
    "dup-server-nct": (
        15,
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ),
    "dup-client-nct": (
        15,
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    ),
    "nct-with-value": (15, "permessage-deflate; server_no_context_takeover=1"),
    "unknown-param": (15, "permessage-deflate; mystery=1"),
    "extension-twice": (15, "permessage-deflate, permessage-deflate"),
    "unknown-extension": (15, "x-webkit-deflate-frame"),
    "not-offered": (0, "permessage-deflate"),
}


@pytest.mark.parametrize(
    ("compress", "answer"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys()
)
async def test_invalid_answer_fails_handshake(
    raw_server: Callable[..., Awaitable[RawServer]],
    compress: int,
    answer: str,
) -> None:
    """The connection fails with NegotiationError and the socket is closed
    without one frame being sent."""
    left: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        left.set_result(await peer.expect_eof())

    server = await raw_server(handler, response=deflate_response(answer))
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.NegotiationError):
            await session.ws_connect(server.url, compress=compress)
    assert await bounded(left) == b""


async def test_offer_on_the_wire(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    """What each ``compress=`` offers (RFC 7692 §7.1)."""
    offers: list[str | None] = []

    async def handler(peer: RawPeer) -> None:
        offers.append(peer.request_headers.get("sec-websocket-extensions"))
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))

    server = await raw_server(handler)
    for compress in (0, 15, 9):
        async with aiows.ws_connect(server.url, compress=compress) as ws:
            assert ws.compress == 0  # the server declined
    assert offers == [
        None,
        OFFER_15,
        "permessage-deflate; client_max_window_bits; server_max_window_bits=9",
    ]


@pytest.mark.parametrize("compress", [9, 12, 14])
async def test_offered_server_window_omitted_in_answer(
    raw_server: Callable[..., Awaitable[RawServer]], compress: int
) -> None:
    """RFC 7692 §7.1.2.1: a server accepts the offer's server_max_window_bits
    by answering with it, with the same or a smaller value.  An answer that
    leaves it out means the server compresses with a 15-bit window, larger
    than the client asked for, so the client must fail the connection (as
    websockets' client does)."""
    left: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def handler(peer: RawPeer) -> None:
        left.set_result(await peer.expect_eof())

    server = await raw_server(handler, response=deflate_response("permessage-deflate"))
    async with aiows.ClientSession() as session:
        try:
            ws = await session.ws_connect(
                server.url,
                compress=compress,
                timeout=aiows.ClientWSTimeout(ws_close=0.1),
            )
        except aiows.NegotiationError:
            pass
        else:
            # What happens instead: the connection opens with a 15-bit window.
            negotiated = ws.compress
            await ws.close()
            pytest.fail(f"connected with server_max_window_bits={negotiated}")
    assert await bounded(left) == b""
