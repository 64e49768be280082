"""The frame parser: bytes from the server in, messages out (RFC 6455 §5).

:class:`FrameParser` accepts the byte stream in chunks of any size and
returns complete messages.  It enforces every rule a client must check on
what a server sends and stops at the first violation, keeping the messages
that came before it.  It never unmasks: a masked server frame is itself an
error (§5.1).

Two paths share the rules:

* the fast path takes a whole unfragmented frame that sits in one chunk and
  turns it into a message with one slice;
* the streaming path takes everything else (fragments, compressed messages,
  frames split across chunks) piece by piece, so UTF-8 is checked and
  compressed data is inflated as the bytes arrive, and a bad first fragment
  fails before the rest of the message is sent.

The input may be a view of a buffer the caller reuses for its next read:
the parser copies what it keeps.  A large binary message is received in
place: once its header has arrived, :meth:`FrameParser.read_into` offers
the rest of its payload as a writable view, so the caller can read the
socket straight into the message (see :data:`DIRECT_READ_MIN`).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from .deflate import PerMessageDeflate
from .errors import MessageTooBig, ProtocolError
from .frames import (
    FIN,
    LENGTH_16,
    LENGTH_64,
    LENGTH_MASK,
    MASK_BIT,
    MAX_CONTROL_PAYLOAD,
    OPCODE_MASK,
    RSV1,
    RSV2,
    RSV3,
    Opcode,
)
from .messages import (
    CORE_KINDS,
    ControlHandler,
    Event,
    MessageKinds,
    make_message,
    parse_close_payload,
)
from .pieces import DIRECT_READ_FRACTION, DIRECT_READ_MIN, MessagePieces
from .speedups import compiled

DEFAULT_MAX_MSG_SIZE: Final = 4 * 1024 * 1024

#: Bytes one :meth:`FrameParser.feed` may inflate before it stops at the
#: next frame boundary and keeps the rest for later (see
#: :attr:`FrameParser.pending`): one read of the socket's worth.
DEFAULT_INFLATE_BUDGET: Final = 256 * 1024
#: With ``fragments=True``, pieces one call to :meth:`FrameParser.feed` hands
#: out at most (one per frame) before it keeps the rest of its data: a read
#: of 256 KiB of two-byte frames would otherwise be 128 K pieces at once.
FRAGMENT_BUDGET: Final = 64
#: Ping, pong and close frames one call to :meth:`FrameParser.feed` parses at
#: most before it keeps the rest of its data: a read of 256 KiB of pings is
#: 21 K frames to answer, seconds of work in pure Python that a reader's
#: timeout could not interrupt.
CONTROL_BUDGET: Final = 256

_CONT: Final = Opcode.CONTINUATION.value
_TEXT: Final = Opcode.TEXT.value
_BINARY: Final = Opcode.BINARY.value
_CLOSE: Final = Opcode.CLOSE.value
_PING: Final = Opcode.PING.value
_PONG: Final = Opcode.PONG.value
_KNOWN_OPCODES: Final = frozenset(op.value for op in Opcode)
# RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
_MAX_LENGTH_64: Final = (1 << 63) - 1

# The compiled scanner turns runs of plain data frames into messages; it
# stops at anything else, which the Python loop below handles.
_scan_messages = None if compiled is None else compiled.scan_messages
# And runs of plain continuation frames of a message in progress, joined.
_scan_continuations = None if compiled is None else compiled.scan_continuations


@functools.lru_cache(maxsize=16)
def _scan_spec(kinds: MessageKinds) -> tuple[Any, ...]:
    return (kinds.text, kinds.binary, kinds.types.TEXT, kinds.types.BINARY, kinds.extra)


# What a step of the frame loop returns instead of the position of the next
# frame: the frame's header (or whole control frame) has not all arrived, so
# its bytes wait for the next chunk; or the rest of the data is taken (by a
# payload that continues in later chunks, or by a close), so none wait.
_INCOMPLETE: Final = -1
_TAKEN: Final = -2


def _payload_length(data: Any, pos: int, length: int) -> tuple[int, int]:
    """The size of the header at ``pos`` and its payload's length, from the
    7-bit length field ``length``; ``(0, 0)`` while the header is incomplete."""
    if length == LENGTH_16:
        if len(data) - pos < 4:
            return 0, 0
        return 4, int.from_bytes(data[pos + 2 : pos + 4], "big")
    if length == LENGTH_64:
        if len(data) - pos < 10:
            return 0, 0
        length = int.from_bytes(data[pos + 2 : pos + 10], "big")
        if length > _MAX_LENGTH_64:
            raise ProtocolError("64-bit frame length has its top bit set")
        return 10, length
    return 2, length


class FrameParser(MessagePieces):
    """Turns the server's byte stream into message tuples.

    >>> parser = FrameParser()
    >>> parser.feed(b"\\x81\\x02hi\\x89\\x00")
    [WSMessage(type=<WSMsgType.TEXT: 1>, data='hi', extra=None), \
WSMessage(type=<WSMsgType.PING: 9>, data=b'', extra=None)]

    After a protocol violation :meth:`feed` returns what came before it and
    sets :attr:`exc`; after a close frame it ignores the rest of the stream.

    With ``fragments=True`` a message sent in several frames comes out in
    :class:`~aiows.core.messages.Fragment` pieces, one per frame (an empty
    frame too), the last with ``fin`` set, so it can be streamed frame by
    frame without being held whole.  Messages sent in one frame still come
    out whole.  One call to :meth:`feed` hands out at most
    :data:`FRAGMENT_BUDGET` pieces; then it keeps the rest of its data, as it
    does past its inflate budget (:attr:`pending`) and past
    :data:`CONTROL_BUDGET` ping, pong and close frames.

    ``kinds`` chooses the message classes and type members (the core's own
    by default); ``on_control`` takes each ping, pong and close message in
    place of the output list (see :data:`ControlHandler`).

    Compressed data is small on the wire and large once inflated, so one
    chunk could hold many times ``max_msg_size``.  Once a call to
    :meth:`feed` has inflated ``inflate_budget`` bytes it stops at the next
    frame boundary and keeps the rest of the chunk: :attr:`pending` is then
    True, and ``feed(b"")`` (or the next chunk) goes on where it stopped.

    The frames are read here; what becomes of a data frame's payload is
    :class:`~aiows.core.pieces.MessagePieces`'s part.
    """

    __slots__ = (
        "_buffer",
        "_controls",
        "_inflate_budget",
        "_on_control",
        "_scan_spec",
        "closed",
        "exc",
        "pending",
    )

    def __init__(
        self,
        *,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
        decode_text: bool = True,
        deflate: PerMessageDeflate | None = None,
        fragments: bool = False,
        kinds: MessageKinds = CORE_KINDS,
        on_control: ControlHandler | None = None,
        inflate_budget: int = DEFAULT_INFLATE_BUDGET,
    ) -> None:
        if max_msg_size < 0:
            raise ValueError(
                f"max_msg_size must be 0 (no limit) or a positive number of bytes, "
                f"not {max_msg_size}"
            )
        super().__init__(max_msg_size or None, decode_text, deflate, fragments, kinds)
        # The compiled scanner takes the data-message ones as one tuple,
        # shared by the parsers of the same kinds.
        self._scan_spec = _scan_spec(kinds)
        # Where ping, pong and close messages go instead of the output.
        self._on_control = on_control
        # Bytes of an incomplete frame header (or control frame) kept for the
        # next chunk, or the rest of a chunk after a budget ran out.
        self._buffer = b""
        # Bytes one feed() may inflate.
        self._inflate_budget = inflate_budget
        # Control frames this feed() parsed (see CONTROL_BUDGET).
        self._controls = 0
        #: True when :meth:`feed` stopped before the end of its data because
        #: a budget ran out: call it again (``feed(b"")``) to go on.
        self.pending = False
        #: True once a close frame was parsed; later bytes are ignored.
        self.closed = False
        #: The protocol violation that stopped the parser, if any.
        self.exc: ProtocolError | None = None

    @property
    def extensions(self) -> list[Any]:
        """The extensions negotiated: permessage-deflate, or none."""
        deflate = self._deflate
        return [] if deflate is None else [deflate]

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse ``data`` and return the messages it completes, in order.

        Nothing refers to ``data`` once this returns, so it may be a view
        of a buffer the caller fills again.
        """
        out: list[Event] = []
        if self.exc is not None or self.closed:
            return out
        self.pending = False
        self._inflated = 0
        self._handed_out = 0
        self._controls = 0
        try:
            self._feed(data, out)
        except ProtocolError as exc:
            self.exc = exc
            self.pending = False
            self._buffer = b""
            self._drop_pieces()
            self._direct = self._direct_view = None
            self._direct_length = 0
        return out

    # -- the byte stream ---------------------------------------------------

    def _feed(self, data: bytes | bytearray | memoryview, out: list[Event]) -> None:
        if self._frame_remaining:
            rest = self._continue_frame(data, out)
            if rest is None:
                return
            data = rest
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        # The frames that start the data, one after another; what is left
        # (an incomplete frame, or the rest past a budget) waits in _buffer.
        end = len(data)
        pos = 0
        scan = _scan_messages
        scan_more = _scan_continuations
        inflating = self._deflate is not None
        while end - pos >= 2:
            if (
                (inflating and self._inflated >= self._inflate_budget)
                or self._handed_out >= FRAGMENT_BUDGET
                or self._controls >= CONTROL_BUDGET
            ):
                # The rest waits until what was handed out is taken away.
                self.pending = True
                break
            if scan is not None and self._msg_opcode is None:
                pos = scan(
                    data,
                    pos,
                    self._max_size or 0,
                    self._decode_text,
                    out,
                    self._scan_spec,
                )
                if end - pos < 2:
                    break
            elif (
                scan_more is not None
                and not self._msg_compressed
                and not self._fragments
            ):
                # Runs of continuation frames joined into one piece: only
                # where the pieces are not handed out frame by frame.
                max_size = self._max_size
                limit = -1 if max_size is None else max_size - self._msg_size
                after, payload, fin = scan_more(data, pos, limit)
                if after != pos:
                    pos = after
                    self._frame_fin = fin
                    self._data_piece(payload, True, out)
                    continue
            after = self._frame(data, pos, out)
            if after == _INCOMPLETE:
                break
            if after == _TAKEN:
                return
            pos = after
        if pos < end:
            self._buffer = bytes(data[pos:])

    # -- one frame ---------------------------------------------------------

    def _frame(self, data: Any, pos: int, out: list[Event]) -> int:
        """Parse the frame at ``pos``; the position of the next one, or
        :data:`_INCOMPLETE` or :data:`_TAKEN`."""
        b0 = data[pos]
        b1 = data[pos + 1]
        opcode = b0 & OPCODE_MASK
        if b0 & (RSV2 | RSV3) or (b0 & RSV1 and not self._rsv1_allowed(opcode)):
            self._bad_rsv(b0, opcode)
        if b1 & MASK_BIT:
            raise ProtocolError("server sent a masked frame (RFC 6455 §5.1)")
        if opcode not in _KNOWN_OPCODES:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        if opcode >= _CLOSE:
            return self._control_frame(data, pos, b0, b1 & LENGTH_MASK, out)
        return self._data_frame(data, pos, b0, b1 & LENGTH_MASK, out)

    def _rsv1_allowed(self, opcode: int) -> bool:
        # RFC 7692 §6: RSV1 marks the first frame of a compressed message.
        return self._deflate is not None and opcode in (_TEXT, _BINARY)

    def _bad_rsv(self, b0: int, opcode: int) -> None:
        if b0 & (RSV2 | RSV3):
            raise ProtocolError("RSV2 or RSV3 set; no extension defines them")
        if self._deflate is None:
            raise ProtocolError("RSV1 set but no extension was negotiated")
        if opcode >= _CLOSE:
            raise ProtocolError("RSV1 set on a control frame")
        raise ProtocolError("RSV1 set on a continuation frame")

    # -- control frames ----------------------------------------------------

    def _control_frame(
        self, data: Any, pos: int, b0: int, length: int, out: list[Event]
    ) -> int:
        opcode = b0 & OPCODE_MASK
        # RFC 6455 §5.5: control frames are short and never fragmented.
        if not b0 & FIN:
            raise ProtocolError(f"fragmented control frame (opcode {opcode:#x})")
        if length > MAX_CONTROL_PAYLOAD:
            raise ProtocolError(
                f"control frame (opcode {opcode:#x}) announces more than "
                f"{MAX_CONTROL_PAYLOAD} bytes"
            )
        start = pos + 2
        if len(data) - start < length:
            return _INCOMPLETE
        self._control(opcode, bytes(data[start : start + length]), out)
        return _TAKEN if self.closed else start + length

    def _control(self, opcode: int, payload: bytes, out: list[Event]) -> None:
        self._controls += 1
        kinds = self.kinds
        if opcode == _PING:
            msg = make_message(kinds.control, kinds.types.PING, payload, kinds.extra)
        elif opcode == _PONG:
            msg = make_message(kinds.control, kinds.types.PONG, payload, kinds.extra)
        else:
            code, reason = parse_close_payload(payload)
            msg = make_message(kinds.control, kinds.types.CLOSE, code, reason)
            self.closed = True
            self._buffer = b""
            self._drop_pieces()
        if self._on_control is None:
            out.append(msg)
        else:
            self._on_control(msg, out)

    # -- data frames -------------------------------------------------------

    def _data_frame(
        self, data: Any, pos: int, b0: int, length: int, out: list[Event]
    ) -> int:
        header, length = _payload_length(data, pos, length)
        if not header:
            return _INCOMPLETE
        opcode = b0 & OPCODE_MASK
        rsv1 = b0 & RSV1
        self._check_sequence(opcode, bool(rsv1), length)
        start = pos + header
        if b0 & FIN and opcode != _CONT and not rsv1 and len(data) - start >= length:
            # A whole unfragmented, uncompressed message: one slice.
            self._whole_message(opcode, bytes(data[start : start + length]), out)
            return start + length
        return self._frame_payload(data, start, b0, length, out)

    def _check_sequence(self, opcode: int, compressed: bool, length: int) -> None:
        """Whether a data frame may come now, and may be this long."""
        if opcode == _CONT:
            if self._msg_opcode is None:
                raise ProtocolError("continuation frame with no message to continue")
        elif self._msg_opcode is not None:
            raise ProtocolError(
                "new data frame while a fragmented message is incomplete"
            )
        max_size = self._max_size
        if (
            max_size is not None
            and not (compressed or self._msg_compressed)
            and self._msg_size + length > max_size
        ):
            raise MessageTooBig(
                f"message of at least {self._msg_size + length} bytes is over "
                f"the limit of {max_size} bytes"
            )

    def _frame_payload(
        self, data: Any, start: int, b0: int, length: int, out: list[Event]
    ) -> int:
        """Start a data frame of ``length`` bytes that is not a whole message
        here: a fragment, a compressed message, or one that continues in
        later chunks (streamed, or received in place)."""
        opcode = b0 & OPCODE_MASK
        fin = b0 & FIN
        rsv1 = b0 & RSV1
        available = len(data) - start
        direct = (
            opcode == _BINARY
            and fin
            and not rsv1
            and length - available >= DIRECT_READ_MIN
        )
        if direct and available * DIRECT_READ_FRACTION >= length:
            self._start_direct(length, memoryview(data)[start:])
            return _TAKEN
        if opcode != _CONT:
            self._start_message(opcode, bool(rsv1))
        self._frame_fin = bool(fin)
        if direct:
            self._direct_length = length
        if available >= length:
            self._data_piece(memoryview(data)[start : start + length], True, out)
            return start + length
        # The payload continues in later chunks: stream it.
        self._frame_remaining = length - available
        self._data_piece(memoryview(data)[start:], False, out)
        return _TAKEN
