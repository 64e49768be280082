"""Helpers for the core tests, written independently of aiows's writer/parser."""

from __future__ import annotations

from dataclasses import dataclass


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
