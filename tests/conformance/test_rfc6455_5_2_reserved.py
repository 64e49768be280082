"""RFC 6455 §5.2: reserved bits and reserved opcodes fail with 1002.

With no extension negotiated every RSV combination on every kind of frame,
and every reserved data (0x3-0x7) and control (0xB-0xF) opcode, must make
the client send a close frame with code 1002, after delivering what came
before.

Already covered in ``tests/connection/test_protocol_errors.py``
(``VIOLATIONS``): RSV1 on TEXT and on PING, RSV2 and RSV3 on BINARY, opcodes
0x3, 0x7, 0xB and 0xF with a short payload.  This module adds the full
matrix, reserved opcodes inside a fragmented message and with an extended
length, and RSV bits while permessage-deflate is negotiated (RSV2/RSV3 stay
reserved).
"""

from __future__ import annotations

import pytest

from ._wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    RSV2,
    RSV3,
    close_payload,
    deflate_response,
    server_frame,
)
from .conftest import Scripted, expect_failure

BEFORE = server_frame(OP_TEXT, b"before")

RSV_COMBINATIONS = {
    "rsv1": RSV1,
    "rsv2": RSV2,
    "rsv3": RSV3,
    "rsv1+2": RSV1 | RSV2,
    "rsv1+3": RSV1 | RSV3,
    "rsv2+3": RSV2 | RSV3,
    "rsv1+2+3": RSV1 | RSV2 | RSV3,
}

# A frame of each kind, as (opcode, payload, prefix): the prefix opens a
# fragmented message so a continuation frame is legal but for its RSV bits.
FRAME_KINDS = {
    "text": (OP_TEXT, b"hi", b""),
    "binary": (OP_BINARY, b"\x00\x01", b""),
    "continuation": (OP_CONT, b"b", server_frame(OP_TEXT, b"a", fin=False)),
    "ping": (OP_PING, b"p", b""),
    "pong": (OP_PONG, b"p", b""),
    "close": (OP_CLOSE, close_payload(1000), b""),
}

MATRIX = [
    pytest.param(kind, rsv, id=f"{name}-{rsv_name}")
    for name, kind in FRAME_KINDS.items()
    for rsv_name, rsv in RSV_COMBINATIONS.items()
]


@pytest.mark.parametrize(("kind", "rsv"), MATRIX)
async def test_reserved_bits_without_extension(
    scripted: Scripted, kind: tuple[int, bytes, bytes], rsv: int
) -> None:
    opcode, payload, prefix = kind
    bad = prefix + server_frame(opcode, payload, rsv=rsv)
    await expect_failure(scripted, bad, 1002, before=BEFORE, delivered=1)


@pytest.mark.parametrize("rsv", [RSV2, RSV3, RSV2 | RSV3, RSV1 | RSV2])
@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY])
async def test_rsv2_rsv3_reserved_with_deflate(
    scripted: Scripted, opcode: int, rsv: int
) -> None:
    """permessage-deflate defines RSV1 only (RFC 7692 §6)."""
    bad = server_frame(opcode, b"\x00", rsv=rsv)
    await expect_failure(
        scripted,
        bad,
        1002,
        before=BEFORE,
        delivered=1,
        compress=15,
        response=deflate_response("permessage-deflate"),
    )


RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF]


@pytest.mark.parametrize("opcode", RESERVED_OPCODES, ids=hex)
@pytest.mark.parametrize("fin", [True, False], ids=["fin", "no-fin"])
async def test_reserved_opcode(scripted: Scripted, opcode: int, fin: bool) -> None:
    bad = server_frame(opcode, b"reserved", fin=fin)
    await expect_failure(scripted, bad, 1002, before=BEFORE, delivered=1)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES, ids=hex)
async def test_reserved_opcode_inside_fragmented_message(
    scripted: Scripted, opcode: int
) -> None:
    bad = (
        server_frame(OP_TEXT, b"frag", fin=False)
        + server_frame(opcode, b"")
        + server_frame(OP_CONT, b"ment")
    )
    await expect_failure(scripted, bad, 1002, before=BEFORE, delivered=1)


@pytest.mark.parametrize("opcode", [0x3, 0xB])
async def test_reserved_opcode_with_long_payload_fails_from_header(
    scripted: Scripted, opcode: int
) -> None:
    """Only the header of a 64 KiB frame is sent: the opcode decides at once."""
    header = bytes([0x80 | opcode, 127]) + (65536).to_bytes(8, "big")
    await expect_failure(scripted, header, 1002, before=BEFORE, delivered=1)
