"""Frame-level constants and the close-code rules of RFC 6455.

This is where a reader looks for "what is a valid close code" or "how big
may a control frame be".  The parser and the writer both use it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 §5.2).

    ``CONT`` is another name of ``CONTINUATION``, websockets' spelling, so
    the names of websockets' ``Opcode`` all work here too.
    """

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    CONT = CONTINUATION


DATA_OPCODES: Final = frozenset({Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY})
CONTROL_OPCODES: Final = frozenset({Opcode.CLOSE, Opcode.PING, Opcode.PONG})


class WSCloseCode(IntEnum):
    """Close codes, value for value the same as aiohttp's ``WSCloseCode``."""

    OK = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    ABNORMAL_CLOSURE = 1006
    INVALID_TEXT = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014


# RFC 6455 §7.4.1: 1005 and 1006 are never sent; they report "the close frame
# had no code" and "there was no close frame at all".
NO_STATUS_RECEIVED: Final = 1005
ABNORMAL_CLOSURE: Final = 1006

# RFC 6455 §5.5: control frames carry at most 125 bytes and are never
# fragmented.
MAX_CONTROL_PAYLOAD: Final = 125

# RFC 6455 §5.5.1: a close payload is a 2-byte code and a UTF-8 reason, and
# the whole must fit a control frame.
MAX_CLOSE_REASON: Final = MAX_CONTROL_PAYLOAD - 2

# Frame header bits (RFC 6455 §5.2).
FIN: Final = 0x80
RSV1: Final = 0x40
RSV2: Final = 0x20
RSV3: Final = 0x10
OPCODE_MASK: Final = 0x0F
MASK_BIT: Final = 0x80
LENGTH_MASK: Final = 0x7F
# Payload-length values that announce a 16-bit or a 64-bit extended length.
LENGTH_16: Final = 126
LENGTH_64: Final = 127


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire.

    RFC 6455 §7.4.1 and the IANA registry allow 1000-1003 and 1007-1014;
    3000-3999 are for libraries and frameworks, 4000-4999 for applications.
    1004, 1005, 1006 and 1015 are reserved and never sent.

    >>> is_valid_close_code(1000), is_valid_close_code(1005)
    (True, False)
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def build_close_payload(code: int, reason: str | bytes = b"") -> bytes:
    """The payload of a close frame with ``code`` and ``reason``.

    Raises ``ValueError`` for a code that may not be sent or a reason that
    does not fit a control frame.
    """
    if not is_valid_close_code(code):
        raise ValueError(
            f"close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999"
        )
    raw = reason.encode("utf-8") if isinstance(reason, str) else bytes(reason)
    if not isinstance(reason, str):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            # RFC 6455 §5.5.1: the reason is UTF-8; the server would fail
            # the connection with 1007 on anything else.
            raise ValueError(f"close reason {raw!r} is not valid UTF-8") from None
    if len(raw) > MAX_CLOSE_REASON:
        raise ValueError(
            f"close reason is {len(raw)} bytes; at most {MAX_CLOSE_REASON} fit "
            "a close frame"
        )
    return code.to_bytes(2, "big") + raw


#: What each close code of RFC 6455 §7.4.1 and the IANA registry means, in
#: the words websockets prints them with.
CLOSE_CODE_MEANINGS: Final = {
    1000: "OK",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status received [internal]",
    1006: "abnormal closure [internal]",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure [internal]",
}


class Close:
    """The code and reason of a close frame, as sent or received."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        #: The close code; 1005 for a close frame that carried none.
        self.code = code
        #: The close reason, possibly empty.
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Close):
            return NotImplemented
        return (self.code, self.reason) == (other.code, other.reason)

    def __hash__(self) -> int:
        return hash((self.code, self.reason))

    def __repr__(self) -> str:
        return f"Close({self.code!r}, {self.reason!r})"

    def __str__(self) -> str:
        """The code, what it means, and the reason: ``1000 (OK) bye``."""
        if 3000 <= self.code < 4000:
            meaning = "registered"
        elif 4000 <= self.code < 5000:
            meaning = "private use"
        else:
            meaning = CLOSE_CODE_MEANINGS.get(self.code, "unknown")
        text = f"{self.code} ({meaning})"
        return f"{text} {self.reason}" if self.reason else text
