"""The message in progress: where a data frame's payload goes (RFC 6455 §5.4).

:class:`MessagePieces` is the half of :class:`~aiows.core.parser.FrameParser`
that knows messages rather than frames.  It takes the payload of each data
frame, piece by piece as the bytes arrive, inflates it when the message is
compressed (RFC 7692), checks UTF-8 as it goes, holds what it must, and
hands out the message whole, or one piece per frame when the parser streams.

A large binary message is received in place instead: its storage is
allocated whole once enough of it has arrived, and the caller reads the
socket straight into it (:data:`DIRECT_READ_MIN`).
"""

from __future__ import annotations

import codecs
from typing import Any, Final

from .deflate import PerMessageDeflate
from .errors import InvalidUTF8
from .frames import Opcode
from .messages import Event, Fragment, MessageKinds, make_message
from .speedups import compiled

_TEXT: Final = Opcode.TEXT.value

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")

# Pieces of one message kept apart before they are folded together.
_FOLD_AT: Final = 64

#: A binary message whose payload still misses at least this many bytes
#: is received in place (:meth:`FrameParser.read_into`).  Below it the
#: pieces are copied as usual: a few reads' worth is cheap, and an
#: allocation of the whole message's size is not.
DIRECT_READ_MIN: Final = 16 * 1024

#: The storage of a message received in place is allocated whole, so it is
#: allocated only once at least this fraction of the message has arrived:
#: a server cannot make the client reserve much more memory than it sent
#: (here 4x; a 10-byte header announcing 4 MiB would otherwise cost 4 MiB).
DIRECT_READ_FRACTION: Final = 4


def py_new_payload(size: int) -> tuple[bytearray, memoryview]:
    """A buffer of ``size`` bytes to receive a payload into, and a view of it.

    The compiled ``new_payload`` returns a ``bytes`` object instead (written
    through the view before anyone else sees it), which saves copying the
    whole payload once more when the message is handed out.
    """
    buffer = bytearray(size)
    return buffer, memoryview(buffer)


_new_payload = py_new_payload if compiled is None else compiled.new_payload


def check_pending_utf8(decoder: codecs.IncrementalDecoder) -> None:
    """Fail now if the bytes the decoder holds back can never become valid.

    CPython's decoder keeps an incomplete sequence at the end of its input
    without judging it, so b"\\xed\\xa0" (the start of a surrogate) would pass
    until the next fragment.  Completing it with the lowest continuation
    bytes decides at once: only a lead byte and a second byte restrict what
    may follow.
    """
    pending = decoder.getstate()[0]
    if len(pending) >= 2:
        needed = 3 if pending[0] < 0xF0 else 4
        (pending + b"\x80" * (needed - len(pending))).decode("utf-8")


class MessagePieces:
    """The message being assembled, and the rules for its payload.

    The parser sets the message up (:meth:`_start_message`), gives it each
    piece of payload (:meth:`_data_piece`), and the message comes out on the
    output list once its last frame ends.
    """

    __slots__ = (
        "_decode_text",
        "_deflate",
        "_direct",
        "_direct_filled",
        "_direct_length",
        "_direct_view",
        "_fragments",
        "_frame_fin",
        "_frame_remaining",
        "_handed_out",
        "_inflated",
        "_max_size",
        "_msg_bytes",
        "_msg_compressed",
        "_msg_decoder",
        "_msg_folded",
        "_msg_fragmented",
        "_msg_opcode",
        "_msg_size",
        "_msg_text",
        "kinds",
    )

    def __init__(
        self,
        max_size: int | None,
        decode_text: bool,
        deflate: PerMessageDeflate | None,
        fragments: bool,
        kinds: MessageKinds,
    ) -> None:
        # Largest message accepted, in bytes; None means no limit.
        self._max_size = max_size
        # Whether TEXT data is handed out as str (True) or as UTF-8 bytes.
        self._decode_text = decode_text
        # The permessage-deflate state, when the extension was negotiated.
        self._deflate = deflate
        # Whether a fragmented message comes out in pieces (as Fragment
        # events) instead of whole.
        self._fragments = fragments
        # Pieces this feed() handed out (streaming), and bytes it inflated.
        self._handed_out = 0
        self._inflated = 0
        #: The classes and type members messages are built from.
        self.kinds = kinds

        # The data frame whose payload is still arriving, if any: its FIN bit
        # and how many payload bytes are still to come.
        self._frame_fin = False
        self._frame_remaining = 0

        # The message being assembled, if any: its opcode (None when no
        # message is in progress), whether it is compressed, its size so far
        # (uncompressed), its pieces, and the UTF-8 decoder for text.
        self._msg_opcode: int | None = None
        self._msg_compressed = False
        # Whether a piece of the message was already handed out (streaming),
        # so the rest must come as Fragment events too.
        self._msg_fragmented = False
        self._msg_size = 0
        self._msg_text: list[str] = []
        self._msg_bytes: list[bytes | bytearray | memoryview] = []
        # The pieces folded together once there were many (see _keep).
        self._msg_folded: bytearray | None = None
        self._msg_decoder: codecs.IncrementalDecoder | None = None

        # The binary message being received in place, if any: what becomes
        # its data (bytes, or a bytearray in pure Python), the writable view
        # of it, and how many of its bytes are filled.
        self._direct: bytes | bytearray | None = None
        self._direct_view: memoryview | None = None
        self._direct_filled = 0
        # The length of the message being streamed, while it is one frame
        # that may still be switched to in-place receiving; else 0.
        self._direct_length = 0

    # -- a message in pieces ----------------------------------------------

    def _whole_message(self, opcode: int, payload: bytes, out: list[Event]) -> None:
        """A data frame that is a whole message by itself, uncompressed."""
        kinds = self.kinds
        if opcode != _TEXT:
            out.append(
                make_message(kinds.binary, kinds.types.BINARY, payload, kinds.extra)
            )
            return
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = exc.reason
            raise InvalidUTF8(f"text message is not valid UTF-8: {reason}") from None
        data = text if self._decode_text else payload
        out.append(make_message(kinds.text, kinds.types.TEXT, data, kinds.extra))

    def _start_message(self, opcode: int, compressed: bool) -> None:
        self._direct_length = 0
        self._msg_opcode = opcode
        self._msg_compressed = compressed
        self._msg_fragmented = False
        self._msg_size = 0
        self._drop_pieces()
        self._msg_decoder = _Utf8Decoder() if opcode == _TEXT else None

    def _data_piece(
        self, piece: bytes | bytearray | memoryview, frame_end: bool, out: list[Event]
    ) -> None:
        """Take the next piece of the current data frame's payload."""
        final = frame_end and self._frame_fin
        if self._msg_compressed:
            assert self._deflate is not None
            limit = None if self._max_size is None else self._max_size - self._msg_size
            piece = self._deflate.decompress(piece, final, limit)
            self._inflated += len(piece)
        self._msg_size += len(piece)
        decoder = self._msg_decoder
        if decoder is not None:
            try:
                text = decoder.decode(piece, final)
                if not final:
                    check_pending_utf8(decoder)
            except UnicodeDecodeError as exc:
                raise InvalidUTF8(
                    f"text message is not valid UTF-8: {exc.reason}"
                ) from None
            if not self._decode_text:
                if piece:
                    self._keep(piece)
            elif text:
                self._msg_text.append(text)
        elif piece:
            self._keep(piece)
        if final and not self._msg_fragmented:
            self._emit_message(out)
        elif final:
            self._emit_fragment(True, out)
        elif frame_end and self._fragments:
            self._emit_fragment(False, out)

    def _keep(self, piece: bytes | bytearray | memoryview) -> None:
        """Hold a piece of the message's payload.

        Pieces are kept as they are (memoryviews of a ``bytes`` read
        included) and copied once, by the join; a view of anything else may
        be of the caller's reused buffer, and is copied now.  A message of
        many small frames would be as many objects for the garbage collector
        to walk, again and again as the message grows, so past ``_FOLD_AT``
        pieces they are folded into one bytearray.  Measured: 40,000
        one-byte fragments cost 12x the time of 10,000 before, 4x after.
        """
        if type(piece) is memoryview and type(piece.obj) is not bytes:
            piece = bytes(piece)
        pieces = self._msg_bytes
        pieces.append(piece)
        if len(pieces) >= _FOLD_AT:
            folded = self._msg_folded
            if folded is None:
                folded = self._msg_folded = bytearray()
            for item in pieces:
                folded += item
            pieces.clear()

    def _joined(self) -> str | bytes:
        if self._msg_opcode == _TEXT and self._decode_text:
            return "".join(self._msg_text)
        folded = self._msg_folded
        if folded is None:
            return b"".join(self._msg_bytes)
        self._msg_folded = None
        for item in self._msg_bytes:
            folded += item
        return bytes(folded)

    def _emit_message(self, out: list[Event]) -> None:
        kinds = self.kinds
        if self._msg_opcode == _TEXT:
            cls, kind = kinds.text, kinds.types.TEXT
        else:
            cls, kind = kinds.binary, kinds.types.BINARY
        out.append(make_message(cls, kind, self._joined(), kinds.extra))
        self._end_message()

    def _emit_fragment(self, fin: bool, out: list[Event]) -> None:
        types = self.kinds.types
        kind = types.TEXT if self._msg_opcode == _TEXT else types.BINARY
        out.append(Fragment(kind, self._joined(), fin))
        self._handed_out += 1
        self._drop_pieces()
        if fin:
            self._end_message()
        else:
            self._msg_fragmented = True

    def _drop_pieces(self) -> None:
        self._msg_text = []
        self._msg_bytes = []
        self._msg_folded = None

    def _end_message(self) -> None:
        self._direct_length = 0
        self._msg_opcode = None
        self._msg_compressed = False
        self._msg_fragmented = False
        self._msg_size = 0
        self._drop_pieces()
        self._msg_decoder = None

    # -- a large binary message, received in place ------------------------

    def _start_direct(self, length: int, first: memoryview) -> None:
        """Receive a whole binary message of ``length`` bytes in place."""
        target, view = _new_payload(length)
        view[: len(first)] = first
        self._direct = target
        self._direct_view = view
        self._direct_filled = len(first)
        self._frame_remaining = length - len(first)

    def _may_switch_to_direct(self, remaining: int) -> None:
        """Receive the rest of the message being streamed in place, once it
        is one large binary frame of which enough has arrived."""
        if (
            self._direct_length
            and remaining >= DIRECT_READ_MIN
            and self._msg_size * DIRECT_READ_FRACTION >= self._direct_length
        ):
            length = self._direct_length
            target, view = _new_payload(length)
            filled = 0
            folded = self._msg_folded
            pieces = self._msg_bytes if folded is None else [folded, *self._msg_bytes]
            for piece in pieces:
                view[filled : filled + len(piece)] = piece
                filled += len(piece)
            self._end_message()
            self._direct = target
            self._direct_view = view
            self._direct_filled = filled

    def _direct_write(self, data: Any, out: list[Event]) -> Any:
        """Copy the start of ``data`` into the message received in place
        (it was fed as bytes anyway); what is left of ``data``, or None."""
        take = min(len(data), self._frame_remaining)
        filled = self._direct_filled
        assert self._direct_view is not None
        self._direct_view[filled : filled + take] = data[:take]
        self._direct_advance(take, out)
        return None if take == len(data) else data[take:]

    def _direct_advance(self, n: int, out: list[Event]) -> None:
        self._direct_filled += n
        self._frame_remaining -= n
        if self._frame_remaining:
            return
        target = self._direct
        self._direct = self._direct_view = None
        data = target if type(target) is bytes else bytes(target)  # type: ignore[arg-type]
        kinds = self.kinds
        out.append(make_message(kinds.binary, kinds.types.BINARY, data, kinds.extra))

    # -- the frame in progress, and reads in place ----------------------

    def read_into(self) -> memoryview | None:
        """Where the next bytes from the server can go without a copy.

        While a large binary message is received in place, the rest of its
        payload, exactly (so a read into it cannot take the next frame's
        bytes); else None.  Report what was written with :meth:`written`.
        """
        view = self._direct_view
        if view is None:
            return None
        return view[self._direct_filled :]

    def written(self, n: int) -> list[Event]:
        """``n`` bytes were written into the view :meth:`read_into` gave."""
        out: list[Event] = []
        self._direct_advance(n, out)
        return out

    def _continue_frame(self, data: Any, out: list[Event]) -> Any:
        """Give the data frame in progress its payload from the start of
        ``data``; what is left of ``data`` once the frame ends, or None."""
        if self._direct_view is not None:
            return self._direct_write(data, out)
        remaining = self._frame_remaining
        if len(data) < remaining:
            remaining -= len(data)
            self._frame_remaining = remaining
            self._data_piece(data, False, out)
            self._may_switch_to_direct(remaining)
            return None
        self._frame_remaining = 0
        self._data_piece(memoryview(data)[:remaining], True, out)
        return data[remaining:]
