"""Helpers for the core tests, written independently of aiows's writer/parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiows.core.messages import Fragment, WSMessage, WSMsgType


@dataclass
class ClientFrame:
    """One decoded client frame, payload already unmasked."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    length_field: int
    header_len: int
    key: bytes
    payload: bytes


def xor_mask(key: bytes, data: bytes) -> bytes:
    """Byte-by-byte masking, the obvious reading of RFC 6455 §5.3."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def decode_client_frames(data: bytes) -> list[ClientFrame]:
    """Split ``data`` into client frames, checking every byte is used."""
    frames: list[ClientFrame] = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        length = b1 & 0x7F
        header = 2
        if length == 126:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            header = 4
        elif length == 127:
            length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            header = 10
        masked = bool(b1 & 0x80)
        key = data[pos + header : pos + header + 4] if masked else b""
        start = pos + header + len(key)
        body = data[start : start + length]
        assert len(body) == length, "truncated frame"
        frames.append(
            ClientFrame(
                fin=bool(b0 & 0x80),
                rsv=b0 & 0x70,
                opcode=b0 & 0x0F,
                masked=masked,
                length_field=b1 & 0x7F,
                header_len=header,
                key=key,
                payload=xor_mask(key, body) if masked else body,
            )
        )
        pos = start + length
    return frames


def reassembled(events: list[Any]) -> list[Any]:
    """Parser events with each message's Fragment pieces joined into one message.

    How a fragmented message is cut into pieces depends on how the stream was
    chunked; what the pieces add up to does not.  A joined message takes the
    place of its last piece, and a message that never finished (the stream
    ended, or a close came first) is left out, as a reader would lose it.
    """
    out: list[Any] = []
    pending: list[Fragment] = []
    for event in events:
        if type(event) is Fragment:
            pending.append(event)
            if event.fin:
                assert {p.type for p in pending} == {event.type}
                empty = "" if isinstance(event.data, str) else b""
                data = empty.join(p.data for p in pending)  # type: ignore[attr-defined]
                out.append(WSMessage(event.type, data, None))
                pending = []
            continue
        if event.type is WSMsgType.CLOSE:
            pending = []
        out.append(event)
    return out
