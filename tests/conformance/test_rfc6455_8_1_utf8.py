"""RFC 6455 §8.1 (and §5.6): text messages must be valid UTF-8 (RFC 3629).

A table of valid and invalid byte sequences, written for this suite from
RFC 3629 §3-4: the boundaries of each encoding length, overlong forms,
UTF-16 surrogates, code points above U+10FFFF, bytes that never appear,
truncated sequences.  Each is sent in one frame and split across fragments
at every byte; invalid text must fail with 1007, valid text is echoed.
Fail-fast: where the bytes already received can never become valid, the
client's 1007 must arrive before the server sends the rest of the message.

Already covered in ``tests/connection/test_protocol_errors.py``: a lone
0xFF, one surrogate, one truncated sequence, the first fragment failing
fast, a 100 kB frame whose first bytes are invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import aiows
from tests.conftest import RawPeer

from ._wire import OP_CONT, OP_TEXT, bounded, read_wire_frame, server_frame
from .conftest import Scripted, expect_failure

VALID: dict[str, bytes] = {
    "ascii": b"Hello, world",
    "nul": b"\x00",
    "del": b"\x7f",
    "2-byte-first-U+0080": b"\xc2\x80",
    "2-byte-last-U+07FF": b"\xdf\xbf",
    "3-byte-first-U+0800": b"\xe0\xa0\x80",
    "before-surrogates-U+D7FF": b"\xed\x9f\xbf",
    "after-surrogates-U+E000": b"\xee\x80\x80",
    "replacement-U+FFFD": b"\xef\xbf\xbd",
    "noncharacter-U+FFFE": b"\xef\xbf\xbe",
    "3-byte-last-U+FFFF": b"\xef\xbf\xbf",
    "4-byte-first-U+10000": b"\xf0\x90\x80\x80",
    "emoji-U+1F600": b"\xf0\x9f\x98\x80",
    "last-code-point-U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "bom": b"\xef\xbb\xbf",
    "greek-kosme": "\u03ba\u1f79\u03c3\u03bc\u03b5".encode(),
    "mixed-lengths": "a\u00e9\u20ac\U0001f600z".encode(),
}


@dataclass(frozen=True)
class Invalid:
    data: bytes
    #: Bytes up to which the sequence can already be judged invalid, so a
    #: message whose first fragment ends there must fail at once; None for
    #: a sequence that is only invalid because the message ends (truncated).
    decidable_after: int | None


INVALID: dict[str, Invalid] = {
    # Bytes that never appear in UTF-8.
    "byte-C0": Invalid(b"\xc0", 1),
    "byte-C1": Invalid(b"\xc1", 1),
    "byte-F5": Invalid(b"\xf5", 1),
    "byte-F8": Invalid(b"\xf8", 1),
    "byte-FE": Invalid(b"\xfe", 1),
    "byte-FF": Invalid(b"\xff", 1),
    # Continuation bytes without a lead byte.
    "lone-continuation-80": Invalid(b"\x80", 1),
    "lone-continuation-BF": Invalid(b"\xbf", 1),
    "continuation-after-ascii": Invalid(b"a\x80b", 2),
    "extra-continuation": Invalid(b"\xc3\xa9\x80", 3),
    # Overlong encodings.
    "overlong-slash-2": Invalid(b"\xc0\xaf", 1),
    "overlong-slash-3": Invalid(b"\xe0\x80\xaf", 2),
    "overlong-slash-4": Invalid(b"\xf0\x80\x80\xaf", 2),
    "overlong-nul-2": Invalid(b"\xc0\x80", 1),
    "overlong-max-2-U+007F": Invalid(b"\xc1\xbf", 1),
    "overlong-max-3-U+07FF": Invalid(b"\xe0\x9f\xbf", 2),
    "overlong-max-4-U+FFFF": Invalid(b"\xf0\x8f\xbf\xbf", 2),
    "5-byte-form": Invalid(b"\xf8\x88\x80\x80\x80", 1),
    "6-byte-form": Invalid(b"\xfc\x84\x80\x80\x80\x80", 1),
    # UTF-16 surrogates, alone and paired.
    "surrogate-D800": Invalid(b"\xed\xa0\x80", 2),
    "surrogate-DBFF": Invalid(b"\xed\xaf\xbf", 2),
    "surrogate-DC00": Invalid(b"\xed\xb0\x80", 2),
    "surrogate-DFFF": Invalid(b"\xed\xbf\xbf", 2),
    "surrogate-pair": Invalid(b"\xed\xa0\x80\xed\xb0\x80", 2),
    # Above U+10FFFF.
    "U+110000": Invalid(b"\xf4\x90\x80\x80", 2),
    "U+13FFFF": Invalid(b"\xf4\xbf\xbf\xbf", 2),
    "U+140000-F5": Invalid(b"\xf5\x80\x80\x80", 1),
    "U+1FFFFF-F7": Invalid(b"\xf7\xbf\xbf\xbf", 1),
    # A sequence interrupted by another character.
    "2-byte-then-ascii": Invalid(b"\xc3A", 2),
    "3-byte-then-ascii": Invalid(b"\xe2\x82A", 3),
    "4-byte-then-ascii": Invalid(b"\xf0\x9f\x98A", 4),
    "3-byte-then-lead": Invalid(b"\xe2\x82\xe2\x82\xac", 3),
    # Truncated at the end of the message: only the end decides.
    "truncated-2": Invalid(b"\xc3", None),
    "truncated-3-of-1": Invalid(b"\xe2", None),
    "truncated-3-of-2": Invalid(b"\xe2\x82", None),
    "truncated-4-of-3": Invalid(b"\xf0\x9f\x98", None),
    "truncated-U+10FFFF": Invalid(b"\xf4\x8f\xbf", None),
}


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
async def test_valid_single_frame_echoed(scripted: Scripted, data: bytes) -> None:
    text = b"<" + data + b">"

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, text))
        frame = await read_wire_frame(peer)
        assert (frame.opcode, frame.payload) == (OP_TEXT, text)

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        got = await bounded(ws.receive_str())
        assert got == text.decode("utf-8")
        await ws.send_str(got)

    await scripted(server, client)


@pytest.mark.parametrize("data", VALID.values(), ids=VALID.keys())
async def test_valid_split_at_every_byte(scripted: Scripted, data: bytes) -> None:
    """Two fragments, cut at each position in turn, one connection."""
    text = b"<" + data + b">"
    cuts = range(len(text) + 1)

    async def server(peer: RawPeer) -> None:
        for cut in cuts:
            peer.send(
                server_frame(OP_TEXT, text[:cut], fin=False)
                + server_frame(OP_CONT, text[cut:])
            )
            frame = await read_wire_frame(peer)
            assert (frame.opcode, frame.payload) == (OP_TEXT, text), cut

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        for _ in cuts:
            await ws.send_str(await bounded(ws.receive_str()))

    await scripted(server, client)


async def test_valid_one_byte_per_fragment(scripted: Scripted) -> None:
    text = b"".join(VALID.values())

    async def server(peer: RawPeer) -> None:
        peer.send(
            b"".join(
                server_frame(OP_TEXT if i == 0 else OP_CONT, text[i : i + 1], fin=False)
                for i in range(len(text))
            )
            + server_frame(OP_CONT, b"")
        )
        frame = await read_wire_frame(peer)
        assert frame.payload == text

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_str(await bounded(ws.receive_str()))

    await scripted(server, client)


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
async def test_invalid_single_frame(scripted: Scripted, case: Invalid) -> None:
    bad = server_frame(OP_TEXT, b"ok " + case.data + b" end")
    if case.decidable_after is None:
        bad = server_frame(OP_TEXT, b"ok " + case.data)
    await expect_failure(
        scripted, bad, 1007, before=server_frame(OP_TEXT, b"fine"), delivered=1
    )


SPLITS = [
    pytest.param(case, cut, id=f"{name}-cut{cut}")
    for name, case in INVALID.items()
    for cut in range(1, len(case.data))
]


@pytest.mark.parametrize(("case", "cut"), SPLITS)
async def test_invalid_split_across_fragments(
    scripted: Scripted, case: Invalid, cut: int
) -> None:
    """The invalid sequence straddles two fragments, cut at each byte."""
    data = b"ok " + case.data
    cut += 3
    bad = server_frame(OP_TEXT, data[:cut], fin=False) + server_frame(
        OP_CONT, data[cut:]
    )
    await expect_failure(scripted, bad, 1007)


FAIL_FAST = [
    pytest.param(case, id=name)
    for name, case in INVALID.items()
    if case.decidable_after is not None
]


@pytest.mark.parametrize("case", FAIL_FAST)
async def test_invalid_fails_before_message_ends(
    scripted: Scripted, case: Invalid
) -> None:
    """The first fragment ends right where the text became invalid; the rest
    is only sent after the client's 1007 close frame has arrived."""
    assert case.decidable_after is not None
    first = b"ok " + case.data[: case.decidable_after]

    async def server(peer: RawPeer) -> None:
        peer.send(server_frame(OP_TEXT, first, fin=False))
        code, _ = await peer.read_close()
        assert code == 1007
        peer.send(server_frame(OP_CONT, b"rest of the message"))

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        error = await bounded(ws.receive())
        assert error.type == aiows.WSMsgType.ERROR
        assert ws.close_code == 1007

    await scripted(server, client)


@pytest.mark.parametrize("case", FAIL_FAST[:8] + FAIL_FAST[-8:])
async def test_invalid_fails_before_long_frame_ends(
    scripted: Scripted, case: Invalid
) -> None:
    """One unfragmented frame announcing 64 KiB; only its invalid start is
    sent before the client must answer 1007."""
    assert case.decidable_after is not None
    start = b"ok " + case.data[: case.decidable_after]

    async def server(peer: RawPeer) -> None:
        peer.send(bytes([0x80 | OP_TEXT, 127]) + (65536).to_bytes(8, "big") + start)
        code, _ = await peer.read_close()
        assert code == 1007

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        assert (await bounded(ws.receive())).type == aiows.WSMsgType.ERROR

    await scripted(server, client)
