"""The frame writer: what the client sends, as bytes (RFC 6455 §5).

Every frame is masked with a fresh key (§5.3) and built as one ``bytes``
object, so the transport gets a single buffer per frame.  Messages are
compressed when permessage-deflate was negotiated; a fragmented message is
compressed fragment by fragment, RSV1 on its first frame only (RFC 7692 §6).
"""

from __future__ import annotations

from typing import overload

from .deflate import PerMessageDeflate
from .frames import FIN, MAX_CONTROL_PAYLOAD, RSV1, Opcode, build_close_payload
from .mask import KEYS, build_frame, build_frame_into, frame_size, payload_size

Payload = bytes | bytearray | memoryview


class FrameWriter:
    """Builds masked client frames, compressing data when negotiated.

    >>> frame = FrameWriter().frame(Opcode.TEXT, b"hi")
    >>> frame[:2], len(frame)
    (b'\\x81\\x82', 8)
    """

    __slots__ = ("deflate",)

    def __init__(self, deflate: PerMessageDeflate | None = None) -> None:
        #: The permessage-deflate state, when the extension was negotiated.
        self.deflate = deflate

    def frame(
        self, opcode: int, payload: Payload, *, fin: bool = True, rsv1: bool = False
    ) -> bytes:
        """One masked frame carrying ``payload`` as it is."""
        b0 = opcode | (FIN if fin else 0) | (RSV1 if rsv1 else 0)
        return build_frame(b0, KEYS.next_key(), payload)

    @overload
    def message(
        self, opcode: int, payload: Payload, *, compress: bool = ..., into: None = ...
    ) -> bytes: ...
    @overload
    def message(
        self, opcode: int, payload: Payload, *, compress: bool = ..., into: bytearray
    ) -> bytes | memoryview: ...
    def message(
        self,
        opcode: int,
        payload: Payload,
        *,
        compress: bool = True,
        into: bytearray | None = None,
    ) -> bytes | memoryview:
        """A whole data message in one frame, compressed if negotiated.

        ``compress=False`` sends this message uncompressed even when
        permessage-deflate is on, which RFC 7692 §6 allows.  With ``into``,
        the frame is written at its start when it fits, and a view of it is
        returned: the caller reuses that memory for the next frame.

        >>> frame = FrameWriter().message(Opcode.BINARY, b"hi", into=bytearray(16))
        >>> type(frame).__name__, len(frame)
        ('memoryview', 8)
        """
        b0 = opcode | FIN
        if self.deflate is not None and compress:
            payload = self.deflate.compress(payload)
            b0 |= RSV1
        if into is None or frame_size(payload_size(payload)) > len(into):
            return build_frame(b0, KEYS.next_key(), payload)
        size = build_frame_into(b0, KEYS.next_key(), payload, into)
        return memoryview(into)[:size]

    def fragment(
        self, opcode: int, payload: Payload, *, first: bool, fin: bool
    ) -> bytes:
        """One fragment of a message; ``opcode`` is the message's type.

        Continuation frames get opcode 0 here, so callers pass the message's
        opcode for every fragment.
        """
        frame_opcode = opcode if first else Opcode.CONTINUATION
        if self.deflate is not None:
            data = self.deflate.compress_fragment(payload, fin)
            return self.frame(frame_opcode, data, fin=fin, rsv1=first)
        return self.frame(frame_opcode, payload, fin=fin)

    def control(self, opcode: int, payload: Payload = b"") -> bytes:
        """A ping, pong or close frame; payloads over 125 bytes are refused."""
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise ValueError(
                f"control frame payload is {len(payload)} bytes; RFC 6455 §5.5 "
                f"allows at most {MAX_CONTROL_PAYLOAD}"
            )
        return self.frame(opcode, payload)

    def close(self, code: int | None = None, reason: str | bytes = b"") -> bytes:
        """A close frame; ``code=None`` sends one with no payload."""
        if code is None:
            return self.frame(Opcode.CLOSE, b"")
        return self.frame(Opcode.CLOSE, build_close_payload(code, reason))
