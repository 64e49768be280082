"""WebSocket extensions (RFC 6455 §9), with websockets' extension API.

A *client extension factory* has a ``name``, the parameters it offers
(``get_request_params()``), and ``process_response_params(params,
accepted_extensions)``, which takes the server's answer and returns an
*extension*, or raises a negotiation error to refuse it.  An extension has a
``name``, ``encode(frame)`` for what the client sends and ``decode(frame, *,
max_size=None)`` for what it receives.  These are websockets' names and
rules, so a websockets extension runs here unchanged:

* the factories are offered in order (:func:`build_offer`) and negotiated in
  the order the server accepted them, each factory seeing the extensions
  accepted before it; a refusal passes the answer to the next factory of
  that name, and an answer no factory takes fails the handshake
  (:func:`negotiate`);
* outgoing frames go through each extension's ``encode`` in that order,
  incoming frames through each ``decode`` in the reverse order, control
  frames included; ``max_size`` is what the message may still grow by;
* a reserved bit (RSV1-3) still set once every extension decoded the frame
  is a protocol error: an extension claims its bit by clearing it.

:class:`~aiows.core.deflate.PerMessageDeflate` is one such extension.  When
it is the only one, :func:`frame_path` gives the parser and the writer their
own compression path (compiled scanner, in-place receives, the send buffer);
with any other extension, :class:`ExtensionParser` and
:class:`ExtensionWriter` take every frame whole through the chain.

Frames are built from a :class:`FrameTypes`: the class and the opcode enum.
This module's :class:`Frame` and :class:`~aiows.core.frames.Opcode` mirror
websockets' (same fields, same names); the session layer passes websockets'
own when websockets is installed, since extensions written for it compare
opcodes with its members by identity.  The core never imports websockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from .deflate import PerMessageDeflate
from .errors import (
    ExtensionFailed,
    InvalidUTF8,
    MessageTooBig,
    NegotiationError,
    ProtocolError,
)
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
    WSCloseCode,
)
from .headers import parse_extension_list
from .mask import KEYS, build_frame
from .parser import CONTROL_BUDGET, FRAGMENT_BUDGET, FrameParser
from .writer import FrameWriter, Payload

__all__ = [
    "BINARY",
    "CLOSE",
    "CONT",
    "CORE_ERRORS",
    "CORE_FRAME_TYPES",
    "CTRL_OPCODES",
    "DATA_OPCODES",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "PING",
    "PONG",
    "TEXT",
    "ClientExtensionFactory",
    "ErrorKinds",
    "Extension",
    "ExtensionChain",
    "ExtensionParser",
    "ExtensionWriter",
    "Frame",
    "FrameTypes",
    "add_note",
    "build_offer",
    "frame_path",
    "negotiate",
]


@dataclass
class Frame:
    """One frame as an extension sees it: websockets' ``Frame``, field for field.

    The mask and the length are the parser's and the writer's business, not
    the frame's.
    """

    #: The frame's opcode.
    opcode: Opcode
    #: The payload.
    data: bytes | bytearray | memoryview
    #: The FIN bit: the last frame of its message.
    fin: bool = True
    #: RSV1, RSV2 and RSV3, for the extensions that use them.
    rsv1: bool = False
    rsv2: bool = False
    rsv3: bool = False


# websockets' module-level names (websockets.frames), for extensions written
# against them; the OP_ spellings are older websockets versions'.
CONT: Final = Opcode.CONT
TEXT: Final = Opcode.TEXT
BINARY: Final = Opcode.BINARY
CLOSE: Final = Opcode.CLOSE
PING: Final = Opcode.PING
PONG: Final = Opcode.PONG
OP_CONT, OP_TEXT, OP_BINARY = CONT, TEXT, BINARY
OP_CLOSE, OP_PING, OP_PONG = CLOSE, PING, PONG
DATA_OPCODES: Final = (CONT, TEXT, BINARY)
CTRL_OPCODES: Final = (CLOSE, PING, PONG)


class Extension(Protocol):
    """What a negotiated extension is: websockets' ``Extension`` API."""

    #: The extension's registered name.
    name: str

    def encode(self, frame: Any) -> Any:
        """The frame to send in place of ``frame``."""

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        """The frame received, undone; past ``max_size`` bytes of payload,
        a "payload too big" error."""


class ClientExtensionFactory(Protocol):
    """What ``extensions=`` takes: websockets' ``ClientExtensionFactory`` API."""

    #: The name offered, and matched against the server's answer.
    name: str

    def get_request_params(self) -> Sequence[tuple[str, str | None]]:
        """The parameters offered, as ``(name, value)`` pairs (None: no value)."""

    def process_response_params(
        self,
        params: Sequence[tuple[str, str | None]],
        accepted_extensions: Sequence[Any],
    ) -> Any:
        """The extension the server's ``params`` agree to, given those
        accepted before it; raise a negotiation error to refuse them."""


class FrameTypes(NamedTuple):
    """The frame class and opcode enum the chain builds frames from.

    ``frame`` is called as ``frame(opcode, data, fin, rsv1, rsv2, rsv3)``,
    as websockets' ``Frame`` is; ``opcode`` is an ``IntEnum`` with the
    RFC 6455 opcodes as values.
    """

    frame: Callable[..., Any]
    opcode: Any


#: The core's own: :class:`Frame` and :class:`~aiows.core.frames.Opcode`.
CORE_FRAME_TYPES: Final = FrameTypes(Frame, Opcode)


class ErrorKinds(NamedTuple):
    """What another library's exceptions mean, raised by its extensions.

    ``refused``: a factory refusing the server's parameters (the next
    factory of that name gets them); ``protocol``: a frame breaking the
    extension's rules (close code 1002); ``too_big``: a frame decoding past
    ``max_size`` (1009).  The core's own errors mean what they always do;
    any other exception from ``decode`` fails the connection with 1011.
    """

    refused: tuple[type[BaseException], ...] = (NegotiationError,)
    protocol: tuple[type[BaseException], ...] = ()
    too_big: tuple[type[BaseException], ...] = ()


#: The core's own: only its errors have a meaning.
CORE_ERRORS: Final = ErrorKinds()

# -- the opening handshake --------------------------------------------------


def build_offer(factories: Iterable[Any]) -> str:
    """The ``Sec-WebSocket-Extensions`` value offering ``factories``, in order.

    >>> from aiows.core.deflate import DeflateFactory
    >>> build_offer([DeflateFactory(10)])
    'permessage-deflate; client_max_window_bits; server_max_window_bits=10'
    """
    return ", ".join(
        "; ".join(
            [factory.name]
            + [
                name if value is None else f"{name}={value}"
                for name, value in factory.get_request_params()
            ]
        )
        for factory in factories
    )


def add_note(error: BaseException, note: str) -> None:
    """Add ``note`` to ``error`` (``BaseException.add_note`` from Python 3.11;
    the ``__notes__`` attribute it sets, before)."""
    if hasattr(error, "add_note"):  # Python 3.11
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        error.__notes__ = [*getattr(error, "__notes__", []), note]  # type: ignore[attr-defined]


def negotiate(
    factories: Sequence[Any] | None,
    header_values: Iterable[str],
    *,
    refused: tuple[type[BaseException], ...] = (NegotiationError,),
) -> list[Any]:
    """The extensions the server's ``Sec-WebSocket-Extensions`` accepted.

    ``factories`` are those offered (None: no extension was offered).  Each
    extension in the answer goes, in the answer's order, to the factories
    of its name in the offer's order, with the extensions accepted so far;
    the first that does not refuse it (an exception of a class in
    ``refused``) makes the extension.  Raises :class:`NegotiationError` with
    websockets' words when the server answers an extension and none was
    offered, or when no factory takes an extension of the answer; each
    refusal's reason is a note on it.  Any other exception from a factory
    propagates.
    """
    answered = parse_extension_list(header_values)
    accepted: list[Any] = []
    if not answered:
        return accepted
    if factories is None:
        raise NegotiationError("no extensions supported")
    for name, params in answered:
        reasons: list[str] = []
        for factory in factories:
            if factory.name != name:
                continue
            try:
                extension = factory.process_response_params(params, accepted)
            except refused as exc:
                reasons.append(f"{factory!r} refused it: {exc}")
                continue
            accepted.append(extension)
            break
        else:
            error = NegotiationError(
                f"Unsupported extension: name = {name}, params = {params}"
            )
            for reason in reasons:
                add_note(error, reason)
            raise error
    return accepted


# -- the frame path ----------------------------------------------------------


class ExtensionChain:
    """The extensions of one connection, in the order they were negotiated.

    :meth:`encode` runs an outgoing frame through each ``encode`` in order,
    :meth:`decode` an incoming one through each ``decode`` in reverse
    order, turning what they raise into the core's protocol errors (see
    :class:`ErrorKinds`).
    """

    __slots__ = ("_decoders", "_errors", "_frame", "_opcodes", "extensions")

    def __init__(
        self,
        extensions: Sequence[Any],
        frame_types: FrameTypes = CORE_FRAME_TYPES,
        errors: ErrorKinds = CORE_ERRORS,
    ) -> None:
        #: The extensions, in the order outgoing frames go through them.
        self.extensions = tuple(extensions)
        self._decoders = self.extensions[::-1]
        self._frame = frame_types.frame
        # Iterating an enum skips its aliases: one member per value.
        self._opcodes = {int(member): member for member in frame_types.opcode}
        self._errors = errors

    def encode(
        self, opcode: int, data: Payload, fin: bool, *, plain: bool = False
    ) -> Any:
        """The frame to send for ``data``; with ``plain``, permessage-deflate
        leaves it uncompressed (RFC 7692 §6 allows it per message).

        A protocol error from an extension reaches the caller as it is (as
        in websockets, nothing was sent and the connection goes on); any
        other exception comes as :class:`ExtensionFailed`, for the caller to
        end the connection."""
        frame = self._frame(self._opcodes[opcode], data, fin, False, False, False)
        for extension in self.extensions:
            if plain and isinstance(extension, PerMessageDeflate):
                continue
            try:
                frame = extension.encode(frame)
            except ProtocolError:
                raise
            except Exception as exc:
                if isinstance(exc, self._errors.protocol):
                    raise
                raise ExtensionFailed(str(exc)) from exc
        return frame

    def decode(self, opcode: int, data: Payload, b0: int, max_size: int | None) -> Any:
        """The frame received (first header byte ``b0``), decoded."""
        frame = self._frame(
            self._opcodes[opcode],
            data,
            bool(b0 & FIN),
            bool(b0 & RSV1),
            bool(b0 & RSV2),
            bool(b0 & RSV3),
        )
        for extension in self._decoders:
            try:
                frame = extension.decode(frame, max_size=max_size)
            except ProtocolError:
                raise
            except Exception as exc:
                raise self._error(exc) from exc
        return frame

    def _error(self, exc: Exception) -> ProtocolError:
        """The core's error for what an extension's ``decode`` raised."""
        errors = self._errors
        if isinstance(exc, errors.too_big):
            return MessageTooBig(str(exc))
        if isinstance(exc, errors.protocol):
            return ProtocolError(str(exc))
        if isinstance(exc, UnicodeDecodeError):
            return InvalidUTF8(f"{exc.reason} at position {exc.start}")
        # As websockets: an extension's own failure is an internal error, and
        # its details (which may be sensitive) stay out of the close frame.
        return ProtocolError("", WSCloseCode.INTERNAL_ERROR)


_CONT: Final = int(Opcode.CONT)
_CLOSE: Final = int(Opcode.CLOSE)
_KNOWN_OPCODES: Final = frozenset(int(op) for op in Opcode)
_MAX_LENGTH_64: Final = (1 << 63) - 1


class ExtensionParser(FrameParser):
    """A :class:`~aiows.core.parser.FrameParser` that takes each frame whole
    through an :class:`ExtensionChain` before it joins its message.

    A frame is decoded once all of it has arrived, so its raw payload is
    bounded by what the message may still grow by (checked on its header,
    as websockets does), and what the chain makes of it is bounded again.
    The inflate budget of one :meth:`feed` counts every decoded byte.
    """

    __slots__ = ("_chain", "_raw")

    def __init__(self, chain: ExtensionChain, **options: Any) -> None:
        super().__init__(**options)
        self._chain = chain
        # The bytes of the frames not yet parsed.
        self._raw = bytearray()

    @property
    def extensions(self) -> list[Any]:
        """The extensions, in the order they were negotiated."""
        return list(self._chain.extensions)

    def _feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        raw = self._raw
        raw += data
        try:
            pos = self._frames(raw, out)
        except ProtocolError:
            raw.clear()
            raise
        if self.closed:
            raw.clear()
        else:
            del raw[:pos]

    def _frames(self, raw: bytearray, out: list[Any]) -> int:
        """Parse the whole frames at the start of ``raw``; return where the
        first one not parsed starts."""
        end = len(raw)
        pos = 0
        max_size = self._max_size
        while end - pos >= 2:
            if (
                self._inflated >= self._inflate_budget
                or self._handed_out >= FRAGMENT_BUDGET
                or self._controls >= CONTROL_BUDGET
            ):
                self.pending = True
                break
            b0 = raw[pos]
            b1 = raw[pos + 1]
            opcode = b0 & OPCODE_MASK
            length = b1 & LENGTH_MASK
            if b1 & MASK_BIT:
                raise ProtocolError("server sent a masked frame (RFC 6455 §5.1)")
            if opcode not in _KNOWN_OPCODES:
                raise ProtocolError(f"unknown opcode {opcode:#x}")
            header = 2
            if opcode >= _CLOSE:
                if not b0 & FIN:
                    raise ProtocolError(
                        f"fragmented control frame (opcode {opcode:#x})"
                    )
                if length > MAX_CONTROL_PAYLOAD:
                    raise ProtocolError(
                        f"control frame (opcode {opcode:#x}) announces more than "
                        f"{MAX_CONTROL_PAYLOAD} bytes"
                    )
            else:
                if length == LENGTH_16:
                    if end - pos < 4:
                        break
                    length = int.from_bytes(raw[pos + 2 : pos + 4], "big")
                    header = 4
                elif length == LENGTH_64:
                    if end - pos < 10:
                        break
                    length = int.from_bytes(raw[pos + 2 : pos + 10], "big")
                    if length > _MAX_LENGTH_64:
                        raise ProtocolError("64-bit frame length has its top bit set")
                    header = 10
                if opcode == _CONT:
                    if self._msg_opcode is None:
                        raise ProtocolError(
                            "continuation frame with no message to continue"
                        )
                elif self._msg_opcode is not None:
                    raise ProtocolError(
                        "new data frame while a fragmented message is incomplete"
                    )
                self._check_size(length)
            start = pos + header
            if end - start < length:
                break
            pos = start + length
            budget = None if max_size is None else max_size - self._msg_size
            frame = self._chain.decode(opcode, raw[start:pos], b0, budget)
            fin = bool(b0 & FIN)
            payload = self._decoded(frame, opcode, fin)
            if opcode >= _CLOSE:
                if len(payload) > MAX_CONTROL_PAYLOAD:
                    raise ProtocolError(
                        f"control frame (opcode {opcode:#x}) decodes to more than "
                        f"{MAX_CONTROL_PAYLOAD} bytes"
                    )
                self._control(opcode, bytes(payload), out)
                if self.closed:
                    break
                continue
            self._inflated += len(payload)
            self._check_size(len(payload))
            if opcode != _CONT:
                self._start_message(opcode, False)
            self._frame_fin = fin
            self._data_piece(payload, True, out)
        return pos

    def _check_size(self, length: int) -> None:
        """Refuse a frame of ``length`` bytes the message has no room for."""
        max_size = self._max_size
        if max_size is not None and self._msg_size + length > max_size:
            raise MessageTooBig(
                f"message of at least {self._msg_size + length} bytes is over "
                f"the limit of {max_size} bytes"
            )

    @staticmethod
    def _decoded(frame: Any, opcode: int, fin: bool) -> Payload:
        """``frame``'s payload, once the chain is known to have taken every
        reserved bit and left the frame what it was."""
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            bits = (frame.rsv1, frame.rsv2, frame.rsv3)
            names = "/".join(f"RSV{n}" for n, bit in enumerate(bits, 1) if bit)
            raise ProtocolError(f"{names} set; no negotiated extension takes it")
        if frame.opcode != opcode or bool(frame.fin) != fin:
            raise ProtocolError(
                "an extension changed a frame's opcode or FIN bit",
                WSCloseCode.INTERNAL_ERROR,
            )
        data: Payload = frame.data
        return data


class ExtensionWriter(FrameWriter):
    """A :class:`~aiows.core.writer.FrameWriter` that sends every frame,
    control frames included, through an :class:`ExtensionChain`."""

    __slots__ = ("_chain",)

    def __init__(self, chain: ExtensionChain) -> None:
        super().__init__()
        self._chain = chain

    def frame(
        self, opcode: int, payload: Payload, *, fin: bool = True, rsv1: bool = False
    ) -> bytes:
        """One masked frame of ``payload``, as the extensions encode it."""
        return self._build(self._chain.encode(opcode, payload, fin))

    def message(
        self,
        opcode: int,
        payload: Payload,
        *,
        compress: bool = True,
        into: bytearray | None = None,
    ) -> bytes:
        """A whole data message in one frame, through the extensions; with
        ``compress=False``, permessage-deflate leaves it as it is.  ``into``
        is not used: the frame is always a new ``bytes``."""
        return self._build(
            self._chain.encode(opcode, payload, True, plain=not compress)
        )

    def fragment(
        self, opcode: int, payload: Payload, *, first: bool, fin: bool
    ) -> bytes:
        """One fragment of a message; ``opcode`` is the message's type."""
        return self.frame(opcode if first else _CONT, payload, fin=fin)

    @staticmethod
    def _build(frame: Any) -> bytes:
        b0 = int(frame.opcode)
        if frame.fin:
            b0 |= FIN
        if frame.rsv1:
            b0 |= RSV1
        if frame.rsv2:
            b0 |= RSV2
        if frame.rsv3:
            b0 |= RSV3
        return build_frame(b0, KEYS.next_key(), frame.data)


def frame_path(
    extensions: Sequence[Any],
    *,
    frame_types: FrameTypes = CORE_FRAME_TYPES,
    errors: ErrorKinds = CORE_ERRORS,
    **parser_options: Any,
) -> tuple[FrameParser, FrameWriter]:
    """The parser and the writer of a connection that negotiated ``extensions``.

    With none, or with aiows's own permessage-deflate alone, the plain
    :class:`~aiows.core.parser.FrameParser` and
    :class:`~aiows.core.writer.FrameWriter` (their fast paths); with any
    other, an :class:`ExtensionParser` and an :class:`ExtensionWriter`
    sharing one :class:`ExtensionChain`.  ``parser_options`` go to the
    parser (``max_msg_size``, ``fragments``, ``kinds`` ...).
    """
    if not extensions:
        return FrameParser(**parser_options), FrameWriter()
    if len(extensions) == 1 and type(extensions[0]) is PerMessageDeflate:
        deflate = extensions[0]
        return FrameParser(deflate=deflate, **parser_options), FrameWriter(deflate)
    chain = ExtensionChain(extensions, frame_types, errors)
    return ExtensionParser(chain, **parser_options), ExtensionWriter(chain)
