"""RFC 6455 §5.4: fragmentation, in both directions, with control frames.

Already covered in ``tests/connection/test_protocol_errors.py``: a lone
continuation (with and without payload), a new TEXT or BINARY frame inside
a fragmented message, one ping between two fragments, and a fragmented
message over ``max_msg_size``.  This module adds many-fragment and
empty-fragment messages, every control frame kind interleaved, a close
inside a fragmented message, the client's own fragmented sends checked on
the wire, and the rules for a message cut short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import aiows
from tests.conftest import RawPeer

from ._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    bounded,
    close_payload,
    read_message,
    read_wire_frame,
    server_frame,
)
from .conftest import Scripted, ScriptedConnect, expect_failure


def fragmented(opcode: int, parts: list[bytes], between: bytes = b"") -> bytes:
    """``parts`` as one message, ``between`` after every non-final frame."""
    out = b""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        out += server_frame(opcode if i == 0 else OP_CONT, part, fin=last)
        if not last:
            out += between
    return out


SHAPES = {
    "2": [b"frag", b"ment"],
    "3": [b"a", b"b", b"c"],
    "100": [bytes([i]) for i in range(100)],
    "empty-first": [b"", b"data"],
    "empty-middle": [b"da", b"", b"ta"],
    "empty-last": [b"data", b""],
    "all-empty": [b"", b"", b""],
    "16bit-fragments": [b"x" * 300, b"y" * 70000, b"z"],
}


@pytest.mark.parametrize("parts", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
async def test_fragmented_message_reassembled(
    scripted: Scripted, opcode: int, parts: list[bytes]
) -> None:
    whole = b"".join(parts)

    async def server(peer: RawPeer) -> None:
        peer.send(fragmented(opcode, parts))
        got_opcode, frames = await read_message(peer)
        assert got_opcode == opcode
        assert len(frames) == 1
        assert frames[0].payload == whole

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        msg = await bounded(ws.receive())
        if opcode == OP_TEXT:
            assert msg.type == aiows.WSMsgType.TEXT
            await ws.send_str(msg.data)
        else:
            assert msg.type == aiows.WSMsgType.BINARY
            await ws.send_bytes(msg.data)

    await scripted(server, client)


# What goes between fragments, and the pongs it must produce (per gap).
INTERLEAVED: dict[str, tuple[bytes, list[bytes]]] = {
    "ping": (server_frame(OP_PING, b"p"), [b"p"]),
    "pong": (server_frame(OP_PONG, b"unsolicited"), []),
    "ping-pong-ping": (
        server_frame(OP_PING, b"1")
        + server_frame(OP_PONG, b"x")
        + server_frame(OP_PING, b"2"),
        [b"1", b"2"],
    ),
    "empty-ping": (server_frame(OP_PING, b""), [b""]),
}


@pytest.mark.parametrize(
    ("between", "pongs"), INTERLEAVED.values(), ids=INTERLEAVED.keys()
)
async def test_control_frames_interleaved_with_every_fragment(
    scripted: Scripted, between: bytes, pongs: list[bytes]
) -> None:
    parts = [b"one ", b"two ", b"three ", b"four"]
    gaps = len(parts) - 1

    async def server(peer: RawPeer) -> None:
        peer.send(fragmented(OP_TEXT, parts, between))
        frames = [await read_wire_frame(peer) for _ in range(gaps * len(pongs) + 1)]
        data = [f for f in frames if f.opcode != OP_PONG]
        assert [(f.opcode, f.payload) for f in data] == [(OP_TEXT, b"".join(parts))]
        # Every ping answered, in the order sent.
        assert [f.payload for f in frames if f.opcode == OP_PONG] == pongs * gaps

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        await ws.send_str(await bounded(ws.receive_str()))

    await scripted(server, client)


async def test_close_inside_fragmented_message(scripted: Scripted) -> None:
    """A close between fragments ends the connection; the partial message is
    never delivered, the close is echoed."""

    async def server(peer: RawPeer) -> tuple[int | None, bytes]:
        peer.send(
            server_frame(OP_TEXT, b"never ", fin=False)
            + server_frame(OP_CLOSE, close_payload(1001, b"bye"))
            + server_frame(OP_CONT, b"delivered")
        )
        return await peer.read_close()

    async def client(ws: aiows.ClientWebSocketResponse) -> None:
        msg = await bounded(ws.receive())
        assert (msg.type, msg.data, msg.extra) == (aiows.WSMsgType.CLOSE, 1001, "bye")

    assert await scripted(server, client) == (1001, b"")


@pytest.mark.parametrize(
    "bad",
    [
        server_frame(OP_TEXT, b"a", fin=False)
        + server_frame(OP_CONT, b"b", fin=False)
        # A third message start before the second ends.
        + server_frame(OP_BINARY, b"c"),
        # Two fragmented messages interleaved (no multiplexing extension).
        server_frame(OP_TEXT, b"a", fin=False)
        + server_frame(OP_BINARY, b"b", fin=False),
        # A continuation after a complete unfragmented message.
        server_frame(OP_TEXT, b"whole") + server_frame(OP_CONT, b"tail"),
    ],
    ids=["data-after-two-fragments", "interleaved-messages", "cont-after-whole"],
)
async def test_fragmentation_violations(scripted: Scripted, bad: bytes) -> None:
    await expect_failure(scripted, bad, 1002, delivered=bad.count(b"whole"))


@pytest.mark.parametrize(
    ("fragments", "opcode"),
    [
        (["a", "b", "c"], OP_TEXT),
        ([b"\x00", b"", b"\xff" * 200], OP_BINARY),
        (["only"], OP_TEXT),
        (["", ""], OP_TEXT),
        (["\u00e9t\u00e9", "\U0001f600"], OP_TEXT),
    ],
    ids=["text-3", "binary-empty-middle", "single", "empty-text", "utf8"],
)
async def test_client_fragmented_send_on_the_wire(
    scripted_connect: ScriptedConnect,
    fragments: list[str] | list[bytes],
    opcode: int,
) -> None:
    """``send(iterable)``: one frame per item as it is yielded, then an empty
    final continuation (websockets' way); the first frame has the opcode,
    the rest are continuations, only the last has FIN, all masked, no RSV."""
    raw = [f.encode() if isinstance(f, str) else f for f in fragments]

    async def server(peer: RawPeer) -> None:
        frames = [await read_wire_frame(peer) for _ in range(len(raw) + 1)]
        assert [f.opcode for f in frames] == [opcode] + [OP_CONT] * len(raw)
        assert [f.fin for f in frames] == [False] * len(raw) + [True]
        assert all(f.masked and f.rsv == 0 for f in frames)
        assert [f.payload for f in frames] == [*raw, b""]

    async def client(ws: aiows.ClientConnection) -> None:
        await ws.send(fragments)

    await scripted_connect(server, client)


async def test_server_ping_while_client_sends_fragments(
    scripted_connect: ScriptedConnect,
) -> None:
    """The client's pong goes out between its own fragments (§5.4 allows
    control frames there); its data frames stay in order as one message."""
    go = asyncio.Event()

    async def server(peer: RawPeer) -> None:
        # Each fragment leaves as it is yielded; the third waits for ``go``.
        sent = [await read_wire_frame(peer) for _ in range(2)]
        assert [(f.opcode, f.fin, f.payload) for f in sent] == [
            (OP_BINARY, False, b"1"),
            (OP_CONT, False, b"2"),
        ]
        peer.send(server_frame(OP_PING, b"during"))
        pong = await read_wire_frame(peer)
        assert (pong.opcode, pong.payload) == (OP_PONG, b"during")
        go.set()
        rest = [await read_wire_frame(peer) for _ in range(2)]
        assert [(f.opcode, f.fin, f.payload) for f in rest] == [
            (OP_CONT, False, b"3"),
            (OP_CONT, True, b""),
        ]

    async def client(ws: aiows.ClientConnection) -> None:
        async def parts() -> AsyncIterator[bytes]:
            yield b"1"
            yield b"2"
            await go.wait()  # the message is unfinished while the pong goes
            yield b"3"

        await ws.send(parts())

    await scripted_connect(server, client)
