"""permessage-deflate (RFC 7692): negotiation, compression, bounded inflation.

The client offers the extension, checks the server's answer against every
rule of RFC 7692 §7.1, and then compresses what it sends and inflates what it
receives with the negotiated window sizes and context-takeover settings.
Inflation is bounded: a tiny payload that would inflate past the message
limit fails with close code 1009 before the memory is spent.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .errors import MessageTooBig, NegotiationError, ProtocolError
from .frames import Opcode
from .headers import ExtensionParams, parse_extension_list

EXTENSION_NAME: Final = "permessage-deflate"

# RFC 7692 §7.2.1: a compressed message ends with an empty stored block,
# 00 00 ff ff, which the sender removes and the receiver puts back.
TRAILER: Final = b"\x00\x00\xff\xff"

MIN_WINDOW_BITS: Final = 8
MAX_WINDOW_BITS: Final = 15

# zlib cannot make a raw deflate stream with an 8-bit window: since 1.2.9 it
# turns 8 into 9.  That is safe in both directions: a 9-bit zlib window
# never looks back more than 250 bytes, within what an 8-bit inflater holds,
# and a 9-bit inflater reads any 8-bit stream.  So aiows accepts 8 on the wire
# and uses 9 with zlib.
ZLIB_MIN_WINDOW_BITS: Final = 9

# How much compressed input one zlib call gets.  After a final block zlib
# copies the rest of its input into ``unused_data``, so an unbounded slice
# would make each of many small streams copy the whole remaining payload
# (quadratic).  Bounded, a stream costs at most this many copied bytes;
# 4 KiB keeps the per-call overhead low for one large stream too (measured
# in benchmarks/scaling.py, docs/reliability.rst "Scaling").
INFLATE_SLICE: Final = 4096

_WINDOW_BITS_VALUES: Final = {
    str(bits): bits for bits in range(MIN_WINDOW_BITS, MAX_WINDOW_BITS + 1)
}


@dataclass(frozen=True)
class DeflateParams:
    """The permessage-deflate settings both sides agreed on."""

    #: The server resets its compressor after each message.
    server_no_context_takeover: bool = False
    #: The client resets its compressor after each message.
    client_no_context_takeover: bool = False
    #: Window bits of the server's compressor (so of our decompressor).
    server_max_window_bits: int = MAX_WINDOW_BITS
    #: Window bits of the client's compressor.
    client_max_window_bits: int = MAX_WINDOW_BITS


def build_offer(
    server_max_window_bits: int = MAX_WINDOW_BITS,
    *,
    server_no_context_takeover: bool = False,
    client_no_context_takeover: bool = False,
) -> str:
    """The ``Sec-WebSocket-Extensions`` value the client sends.

    ``server_max_window_bits`` is aiohttp's ``compress=`` value (9-15): the
    largest window the server may compress with.  The client always allows
    the server to shrink the client's window (``client_max_window_bits``).

    >>> build_offer(10)
    'permessage-deflate; client_max_window_bits; server_max_window_bits=10'
    """
    if not ZLIB_MIN_WINDOW_BITS <= server_max_window_bits <= MAX_WINDOW_BITS:
        raise ValueError(
            f"compress={server_max_window_bits} is not a window size; use 9-15, "
            "or 0 to turn compression off"
        )
    parts = [EXTENSION_NAME, "client_max_window_bits"]
    if server_max_window_bits < MAX_WINDOW_BITS:
        parts.append(f"server_max_window_bits={server_max_window_bits}")
    if server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if client_no_context_takeover:
        parts.append("client_no_context_takeover")
    return "; ".join(parts)


def _window_bits(name: str, value: str | None) -> int:
    if value is None or value not in _WINDOW_BITS_VALUES:
        raise NegotiationError(
            f"permessage-deflate parameter {name}={value!r} is invalid: "
            "it needs a value from 8 to 15"
        )
    return _WINDOW_BITS_VALUES[value]


def _accept_params(
    params: ExtensionParams,
    offered_server_max_window_bits: int | None,
    *,
    offered_client_max_window_bits: int | bool = True,
    offered_server_no_context_takeover: bool = False,
    offered_client_no_context_takeover: bool = False,
) -> DeflateParams:
    """The settings the server's answer ``params`` agrees to, or
    :class:`NegotiationError` naming the first rule of RFC 7692 §7.1 it breaks.

    ``offered_server_max_window_bits`` is None when the offer left the
    server's window to the server; ``offered_client_max_window_bits`` is
    True for the parameter without a value, False when it was not offered.
    """
    seen: set[str] = set()
    server_nct = client_nct = False
    server_bits = MAX_WINDOW_BITS
    client_bits: int | None = None
    for name, value in params:
        if name in seen:
            raise NegotiationError(f"permessage-deflate parameter {name} appears twice")
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                raise NegotiationError(
                    f"permessage-deflate parameter {name} takes no value, got {value!r}"
                )
            if name == "server_no_context_takeover":
                server_nct = True
            else:
                client_nct = True
        elif name == "server_max_window_bits":
            server_bits = _window_bits(name, value)
            if (
                offered_server_max_window_bits is not None
                and server_bits > offered_server_max_window_bits
            ):
                raise NegotiationError(
                    f"server_max_window_bits={server_bits} is larger than the "
                    f"{offered_server_max_window_bits} the client offered"
                )
        elif name == "client_max_window_bits":
            client_bits = _window_bits(name, value)
        else:
            raise NegotiationError(f"permessage-deflate parameter {name!r} is unknown")
    if (
        offered_server_max_window_bits is not None
        and "server_max_window_bits" not in seen
    ):
        # RFC 7692 §7.1.2.1: a server accepts that offer only by answering
        # with server_max_window_bits; leaving it out means a 15-bit window,
        # larger than the client allowed.
        raise NegotiationError(
            f"client offered server_max_window_bits={offered_server_max_window_bits} "
            "but the server's answer leaves it out"
        )
    if offered_server_no_context_takeover and not server_nct:
        # RFC 7692 §7.1.1.1: the server must accept it or decline the offer.
        raise NegotiationError(
            "client offered server_no_context_takeover but the server's answer "
            "leaves it out"
        )
    if client_bits is None:
        # RFC 7692 §7.1.2.2: the client's own limit holds when the server
        # sets none.
        offered = offered_client_max_window_bits
        client_bits = MAX_WINDOW_BITS if isinstance(offered, bool) else offered
    elif offered_client_max_window_bits is False:
        raise NegotiationError(
            "server answered client_max_window_bits, which the client did not offer"
        )
    elif (
        not isinstance(offered_client_max_window_bits, bool)
        and client_bits > offered_client_max_window_bits
    ):
        raise NegotiationError(
            f"client_max_window_bits={client_bits} is larger than the "
            f"{offered_client_max_window_bits} the client offered"
        )
    # RFC 7692 §7.1.1.2: a client that offered it resets its context anyway.
    client_nct = client_nct or offered_client_no_context_takeover
    return DeflateParams(server_nct, client_nct, server_bits, client_bits)


class DeflateFactory:
    """permessage-deflate as a client extension factory (websockets' API).

    What it offers (RFC 7692 §7.1): ``server_max_window_bits`` (None leaves
    the server's window to the server), ``client_max_window_bits`` (True:
    offered without a value, so the server may pick; a number: the client's
    own limit; False: not offered), and the two ``*_no_context_takeover``
    requests.  ``level`` and ``mem_level`` are zlib's settings for the
    compressor.  :meth:`process_response_params` checks the server's answer
    against every rule of RFC 7692 §7.1 and returns the
    :class:`PerMessageDeflate` it agrees to, or raises
    :class:`NegotiationError`.

    >>> DeflateFactory(10).get_request_params()
    [('client_max_window_bits', None), ('server_max_window_bits', '10')]
    """

    #: The extension's registered name (RFC 7692 §7).
    name = EXTENSION_NAME

    def __init__(
        self,
        server_max_window_bits: int | None = None,
        *,
        client_max_window_bits: int | bool = True,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 5,
    ) -> None:
        if server_max_window_bits is not None and not (
            MIN_WINDOW_BITS <= server_max_window_bits <= MAX_WINDOW_BITS
        ):
            raise ValueError(
                f"server_max_window_bits={server_max_window_bits} is not a window "
                f"size; use {MIN_WINDOW_BITS}-{MAX_WINDOW_BITS}"
            )
        if not isinstance(client_max_window_bits, bool) and not (
            ZLIB_MIN_WINDOW_BITS <= client_max_window_bits <= MAX_WINDOW_BITS
        ):
            raise ValueError(
                f"client_max_window_bits={client_max_window_bits} is not a window "
                f"size the client can compress with; use {ZLIB_MIN_WINDOW_BITS}-"
                f"{MAX_WINDOW_BITS}"
            )
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.level = level
        self.mem_level = mem_level

    def __repr__(self) -> str:
        return (
            f"DeflateFactory(server_max_window_bits={self.server_max_window_bits!r}, "
            f"client_max_window_bits={self.client_max_window_bits!r}, "
            f"server_no_context_takeover={self.server_no_context_takeover!r}, "
            f"client_no_context_takeover={self.client_no_context_takeover!r})"
        )

    def get_request_params(self) -> ExtensionParams:
        """The offer's parameters, in the order aiows has always sent them."""
        params: ExtensionParams = []
        bits = self.client_max_window_bits
        if bits is True:
            params.append(("client_max_window_bits", None))
        elif bits is not False:
            params.append(("client_max_window_bits", str(bits)))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        return params

    def accept(self, params: ExtensionParams) -> DeflateParams:
        """The settings the server's answer agrees to (see :func:`negotiate`)."""
        return _accept_params(
            params,
            self.server_max_window_bits,
            offered_client_max_window_bits=self.client_max_window_bits,
            offered_server_no_context_takeover=self.server_no_context_takeover,
            offered_client_no_context_takeover=self.client_no_context_takeover,
        )

    def process_response_params(
        self,
        params: Sequence[tuple[str, str | None]],
        accepted_extensions: Sequence[Any],
    ) -> PerMessageDeflate:
        """The extension the server's answer agrees to; a second
        permessage-deflate in the answer is refused."""
        if any(
            getattr(other, "name", None) == EXTENSION_NAME
            for other in accepted_extensions
        ):
            raise NegotiationError("server selected permessage-deflate twice")
        return PerMessageDeflate(
            self.accept(list(params)), level=self.level, mem_level=self.mem_level
        )


def offered_window_bits(header_values: Iterable[str]) -> int | None:
    """The ``server_max_window_bits`` an offer of permessage-deflate allows.

    For an offer the application wrote itself in ``Sec-WebSocket-Extensions``
    (rather than ``compress=``): None when it offers no permessage-deflate,
    15 when it sets no window.

    >>> offered_window_bits(["permessage-deflate; server_max_window_bits=10"])
    10
    """
    for name, params in parse_extension_list(header_values):
        if name.lower() == EXTENSION_NAME:
            for param, value in params:
                if param == "server_max_window_bits" and value is not None:
                    return _window_bits(param, value)
            return MAX_WINDOW_BITS
    return None


def negotiate(
    header_values: Iterable[str], offered_server_max_window_bits: int | None
) -> DeflateParams | None:
    """Check the server's ``Sec-WebSocket-Extensions`` against the offer.

    ``offered_server_max_window_bits`` is None when the client offered no
    compression.  Returns the agreed settings, or None when the server
    declined.  Raises :class:`NegotiationError` for anything RFC 6455 §4.1 or
    RFC 7692 §7.1 says the client must fail on: an extension that was not
    offered, an unknown or repeated parameter, a bad value.
    """
    extensions = parse_extension_list(header_values)
    if not extensions:
        return None
    if offered_server_max_window_bits is None:
        names = ", ".join(name for name, _ in extensions)
        raise NegotiationError(
            f"server selected extension(s) {names} which the client did not offer"
        )
    result: DeflateParams | None = None
    for name, params in extensions:
        if name.lower() != EXTENSION_NAME:
            raise NegotiationError(
                f"server selected extension {name!r} which the client did not "
                f"offer (offered: {EXTENSION_NAME!r})"
            )
        if result is not None:
            raise NegotiationError("server selected permessage-deflate twice")
        result = _accept_params(
            params,
            None
            if offered_server_max_window_bits == MAX_WINDOW_BITS
            else offered_server_max_window_bits,
        )
    return result


class PerMessageDeflate:
    """Compresses outgoing and inflates incoming messages for one connection."""

    #: The extension's registered name (RFC 7692 §7), as websockets' has it.
    name = EXTENSION_NAME

    def __init__(
        self,
        params: DeflateParams,
        *,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
        # zlib's default is 8; 5 shrinks the compressor's hash tables from
        # 128 KiB to 16 KiB.  Measured: 117 -> 62 KiB of RSS per connection
        # once both directions have carried a message (docs/compression.rst).
        mem_level: int = 5,
    ) -> None:
        #: The negotiated settings; fixed for the life of the connection.
        self.params = params
        # zlib settings for each new compressor.
        self._level = level
        self._mem_level = mem_level
        self._compress_bits = max(ZLIB_MIN_WINDOW_BITS, params.client_max_window_bits)
        self._decompress_bits = max(ZLIB_MIN_WINDOW_BITS, params.server_max_window_bits)
        # Created lazily and dropped after each message when the negotiated
        # settings forbid context takeover, so an idle connection holds none.
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    # websockets' names for the settings, from the client's side: "remote"
    # is the server's compressor, "local" the client's.

    @property
    def remote_no_context_takeover(self) -> bool:
        """Whether the server resets its compressor after each message."""
        return self.params.server_no_context_takeover

    @property
    def local_no_context_takeover(self) -> bool:
        """Whether the client resets its compressor after each message."""
        return self.params.client_no_context_takeover

    @property
    def remote_max_window_bits(self) -> int:
        """Window bits of the server's compressor."""
        return self.params.server_max_window_bits

    @property
    def local_max_window_bits(self) -> int:
        """Window bits of the client's compressor."""
        return self.params.client_max_window_bits

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate("
            f"remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.local_max_window_bits})"
        )

    # Whether the message decode() is taking frame by frame is compressed,
    # so its continuation frames are inflated too.  A class attribute until
    # decode() sets it: the parser's own path never calls decode(), and an
    # idle connection pays nothing for it.
    _decoding = False

    def encode(self, frame: Any) -> Any:
        """Compress an outgoing data frame, as an extension in a chain does
        (websockets' ``Extension.encode``).

        Control frames pass unchanged; RSV1 marks the first frame of each
        message (RFC 7692 §6).  The frame comes back as a new instance of
        its own class.
        """
        opcode = frame.opcode
        if opcode >= Opcode.CLOSE:
            return frame
        data = self.compress_fragment(frame.data, frame.fin)
        return type(frame)(
            opcode,
            data,
            frame.fin,
            opcode != Opcode.CONTINUATION,
            frame.rsv2,
            frame.rsv3,
        )

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        """Inflate an incoming frame of a compressed message, as an extension
        in a chain does (websockets' ``Extension.decode``), and clear RSV1.

        Control frames, and the frames of a message sent uncompressed, pass
        unchanged (an RSV1 left set is the parser's to refuse).  Inflation
        stops past ``max_size`` bytes with :class:`MessageTooBig`, as in
        :meth:`decompress`.
        """
        opcode = frame.opcode
        if opcode >= Opcode.CLOSE:
            return frame
        if opcode == Opcode.CONTINUATION:
            if not self._decoding:
                return frame
            if frame.rsv1:
                raise ProtocolError("RSV1 set on a continuation frame")
            if frame.fin:
                self._decoding = False
        elif not frame.rsv1:
            return frame
        elif not frame.fin:
            self._decoding = True
        data = self.decompress(frame.data, frame.fin, max_size)
        return type(frame)(opcode, data, frame.fin, False, frame.rsv2, frame.rsv3)

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """The payload of one whole compressed message (RFC 7692 §7.2.1)."""
        return self.compress_fragment(data, True)

    def compress_fragment(
        self, data: bytes | bytearray | memoryview, fin: bool
    ) -> bytes:
        """The payload of one fragment of a compressed message.

        Each fragment is sync-flushed so the server can inflate it on
        arrival; only the last one loses the empty block that ends the
        message (RFC 7692 §7.2.1).
        """
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self._level, zlib.DEFLATED, -self._compress_bits, self._mem_level
            )
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin and self.params.client_no_context_takeover:
            self._compressor = None
        else:
            self._compressor = compressor
        # A sync flush always ends with the 4-byte empty block.
        return out[:-4] if fin else out

    def decompress(
        self, data: bytes | bytearray | memoryview, fin: bool, limit: int | None
    ) -> bytes:
        """Inflate one frame of a compressed message.

        ``limit`` is how many bytes the message may still grow by (None for
        no limit).  Raises :class:`MessageTooBig` as soon as the output would pass
        it, having inflated at most ``limit + 1`` bytes.

        A message may end its deflate stream with a final (BFINAL=1) block
        (RFC 7692 §7.2.3.4).  Compressed data after such a block is a new
        stream and is inflated as one, so the result does not depend on how
        the bytes were split into frames or reads.
        """
        try:
            out = self._inflate(data, limit)
            if fin and (limit is None or len(out) <= limit):
                decompressor = self._decompressor
                if decompressor is not None and not decompressor.eof:
                    out += self._inflate(
                        TRAILER, None if limit is None else limit - len(out)
                    )
        except zlib.error as exc:
            self._decompressor = None
            raise ProtocolError(f"invalid compressed data: {exc}") from None
        if limit is not None and len(out) > limit:
            self._decompressor = None
            raise MessageTooBig(
                f"compressed message inflates past the limit of {limit} bytes"
            )
        if fin and self.params.server_no_context_takeover:
            self._decompressor = None
        return out

    def _inflate(
        self, data: bytes | bytearray | memoryview, limit: int | None
    ) -> bytes:
        """Inflate ``data``, starting new streams after final blocks.

        Stops once more than ``limit`` bytes came out; the caller decides.

        A hostile payload may hold thousands of tiny streams, so the cost
        must stay linear in its size: the output is joined once at the end,
        and the input is walked with an offset into a memoryview.  zlib
        copies whatever follows a stream's end into ``unused_data``, so each
        call gets at most ``INFLATE_SLICE`` bytes; that bounds the copy per
        stream, and only its length is used, to advance the offset.
        """
        pieces: list[bytes] = []
        size = 0
        view = memoryview(data)
        offset = 0
        end = len(view)
        while offset < end:
            decompressor = self._decompressor
            if decompressor is None:
                decompressor = self._decompressor = zlib.decompressobj(
                    -self._decompress_bits
                )
            chunk = view[offset : offset + INFLATE_SLICE]
            # zlib's max_length: 0 is "no limit"; one byte past the limit is
            # enough to know the message is too big.
            max_length = 0 if limit is None else limit + 1 - size
            piece = decompressor.decompress(chunk, max_length)
            pieces.append(piece)
            size += len(piece)
            if limit is not None and size > limit:
                break
            # Below max_length zlib takes in the whole slice, unless a final
            # block ended the stream; then the rest is in unused_data.
            offset += len(chunk) - len(decompressor.unused_data)
            if decompressor.eof:
                # The stream ended with a final block; what follows starts anew.
                self._decompressor = None
        return b"".join(pieces)
