"""HTTP/1.1 on the client's side, without I/O (RFC 9112).

Where aiows speaks HTTP itself rather than through aiohttp (the ``CONNECT``
exchange with a proxy, and the threading face's upgrade), it writes the
request with :func:`serialize_request` and reads the answer with a
:class:`ResponseReader`: bytes go in with :meth:`~ResponseReader.feed`, and
out come the parsed :class:`ResponseHead`, then the body.

It is strict where leniency has been used to smuggle or forge answers: the
status line and the header lines follow RFC 9112's grammar exactly (``2_00``
or ``+200`` is not a status), every line ends in CRLF, obsolete line folding
is refused, and a ``Content-Length`` must be one number.  Limits bound what a
hostile peer can make it hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .errors import HTTPLimitError, HTTPSyntaxError

#: The longest line (status or header, CRLF excluded) accepted; aiohttp's
#: default ``max_line_size`` and ``max_field_size``.
MAX_LINE: Final = 8190
#: The most header lines a response may have; aiohttp's default.
MAX_HEADERS: Final = 128
#: How much of a response body is kept; the rest is read and dropped (the
#: body of a refused upgrade is shown in errors, never trusted).
MAX_BODY: Final = 64 * 1024
#: Most a proxy's answer to ``CONNECT`` (status line and headers) may hold.
MAX_PROXY_ANSWER: Final = 64 * 1024

_CRLF: Final = b"\r\n"
# RFC 9112 §4: HTTP-version SP status-code SP [ reason-phrase ].  The reason
# is HTAB / SP / VCHAR / obs-text; the SP before an empty one is often left
# out in the field, and accepted.
_STATUS_LINE: Final = re.compile(
    rb"HTTP/(?P<version>1\.[0-9]) (?P<status>[0-9]{3})"
    rb"(?: (?P<reason>[\t\x20-\x7e\x80-\xff]*))?"
)
# RFC 9110 §5.1 field-name = token; §5.5 field-value: no CR, LF or NUL.
_FIELD: Final = re.compile(
    rb"(?P<name>[-!#$%&'*+.^_`|~0-9A-Za-z]+):[ \t]*(?P<value>[^\r\n\x00]*?)[ \t]*"
)
_TOKEN: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE: Final = re.compile(r"[\r\n\x00]")
_CHUNK_SIZE: Final = re.compile(rb"(?P<size>[0-9A-Fa-f]{1,16})(?:[ \t]*;.*)?")
# Where a chunked body is between chunks (RFC 9112 §7.1): a chunk-size line
# comes next, the CRLF that ends a chunk's data, or the trailer section.
_CHUNK_SIZE_NEXT: Final = -1
_CHUNK_END: Final = -2
_TRAILERS: Final = -3
# RFC 9110 §6.4.1: responses that never have a body.
_NO_BODY: Final = frozenset({204, 304})


@dataclass(frozen=True)
class ResponseHead:
    """A response's status line and headers, as received."""

    #: ``"1.1"`` or ``"1.0"``.
    version: str
    status: int
    reason: str
    #: ``(name, value)`` pairs in order, names as the server spelled them.
    headers: list[tuple[str, str]]

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in order."""
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]


def serialize_request(
    method: str, target: str, headers: Iterable[tuple[str, str]]
) -> bytes:
    """The bytes of a request without a body.

    Raises ``ValueError`` for a header name that is not a token or a value
    with CR, LF or NUL in it: such a header would end the line early and let
    its value write headers (or a whole request) of its own.
    """
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None:
            raise ValueError(f"invalid HTTP header name: {name!r}")
        if _FORBIDDEN_IN_VALUE.search(value) is not None:
            raise ValueError(f"invalid HTTP header value for {name}: {value!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


def parse_status_line(line: bytes) -> tuple[str, int, str]:
    """``(version, status, reason)`` of a status line without its CRLF."""
    match = _STATUS_LINE.fullmatch(line)
    if match is None:
        raise HTTPSyntaxError(f"invalid status line: {_shown(line)}")
    reason = match["reason"] or b""
    return match["version"].decode(), int(match["status"]), reason.decode("latin-1")


def parse_header_line(line: bytes) -> tuple[str, str]:
    """``(name, value)`` of a header line without its CRLF."""
    if line[:1] in (b" ", b"\t"):
        # RFC 9112 §5.2: obs-fold; refused rather than joined.
        raise HTTPSyntaxError(f"obsolete line folding: {_shown(line)}")
    match = _FIELD.fullmatch(line)
    if match is None:
        raise HTTPSyntaxError(f"invalid header line: {_shown(line)}")
    return match["name"].decode("ascii"), match["value"].decode("latin-1")


def _shown(line: bytes) -> str:
    """``line`` as an error shows it: its start, escaped."""
    return repr(line[:80])


class ResponseReader:
    """Reads one response from the bytes fed to it.

    :meth:`feed` returns the :class:`ResponseHead` once the head is complete
    (None until then).  The bytes after the head are then
    :attr:`rest`: a WebSocket's first frames after a 101, or bytes a proxy
    must not have sent after its answer to ``CONNECT``.  For a response with
    a body, call :meth:`read_body` next and keep feeding
    :meth:`feed_body` until it returns True (:meth:`feed_eof` at the end of
    the stream).
    """

    __slots__ = (
        "_body",
        "_buffer",
        "_chunk_left",
        "_framing",
        "_headers",
        "_left",
        "_scanned",
        "_status",
        "head",
        "rest",
    )

    def __init__(self) -> None:
        self._buffer = bytearray()
        # Where the search for the next LF goes on from in _buffer.
        self._scanned = 0
        # The head so far: the status line's parts, the headers.
        self._status: tuple[str, int, str] | None = None
        self._headers: list[tuple[str, str]] = []
        #: The parsed head, once complete.
        self.head: ResponseHead | None = None
        #: What came after the head, once it is complete.
        self.rest = b""
        # How the body ends: "length", "chunked", "eof" or "none".
        self._framing = "none"
        # Bytes of the body still to read (length framing).
        self._left = 0
        # Bytes of the current chunk still to read, or what line comes next
        # (_CHUNK_SIZE_NEXT, _CHUNK_END, _TRAILERS).
        self._chunk_left = _CHUNK_SIZE_NEXT
        self._body = bytearray()

    def _next_line(self, what: str) -> bytes | None:
        """The next line of the buffer without its CRLF, or None for now;
        ``what`` names the line in the error when it is too long."""
        buffer = self._buffer
        end = buffer.find(b"\n", self._scanned)
        if end < 0:
            self._scanned = len(buffer)
            if len(buffer) > MAX_LINE + 1:  # the line's CR may be in it
                raise _too_long(what)
            return None
        if end == 0 or buffer[end - 1] != 0x0D:
            raise HTTPSyntaxError(
                f"line not ended by CRLF: {_shown(bytes(buffer[:end]))}"
            )
        line = bytes(buffer[: end - 1])
        del buffer[: end + 1]
        self._scanned = 0
        if len(line) > MAX_LINE:
            raise _too_long(what)
        if b"\r" in line:
            raise HTTPSyntaxError(f"CR inside a line: {_shown(line)}")
        return line

    def feed(self, data: bytes) -> ResponseHead | None:
        """Add ``data``; the head once it is complete, else None.

        Each line is checked as soon as it is complete: an answer that is
        not HTTP fails at its first line.
        """
        if self.head is not None:
            raise RuntimeError("the head is already complete; feed the body")
        self._buffer += data
        while True:
            status_line = self._status is None
            line = self._next_line("status line" if status_line else "header line")
            if line is None:
                return None
            if status_line:
                self._status = parse_status_line(line)
            elif line:
                if len(self._headers) == MAX_HEADERS:
                    raise HTTPLimitError(
                        f"more than {MAX_HEADERS} headers", what="headers"
                    )
                self._headers.append(parse_header_line(line))
            else:
                break
        assert self._status is not None
        version, status, reason = self._status
        self.rest = bytes(self._buffer)
        self._buffer.clear()
        self.head = ResponseHead(version, status, reason, self._headers)
        return self.head

    # -- the body ------------------------------------------------------------

    def read_body(self) -> bool:
        """Start on the body; True when there is none to read.

        The body is framed as RFC 9112 §6.3 says: none for 1xx, 204 and 304,
        else chunked, else ``Content-Length``, else until the end of the
        stream.  What :attr:`rest` held is its start.
        """
        head = self.head
        if head is None:
            raise RuntimeError("the head is not complete yet")
        if head.status < 200 or head.status in _NO_BODY:
            return True
        codings = [
            item.strip().lower()
            for value in head.get_all("Transfer-Encoding")
            for item in value.split(",")
        ]
        if codings:
            self._framing = "chunked" if codings[-1] == "chunked" else "eof"
        else:
            lengths = {value.strip() for value in head.get_all("Content-Length")}
            if len(lengths) > 1:
                raise HTTPSyntaxError(f"conflicting Content-Length: {sorted(lengths)}")
            if lengths:
                (length,) = lengths
                if not (length.isascii() and length.isdigit()):
                    raise HTTPSyntaxError(f"invalid Content-Length: {length!r}")
                self._framing = "length"
                self._left = int(length)
            else:
                self._framing = "eof"
        rest, self.rest = self.rest, b""
        return self.feed_body(rest)

    @property
    def body(self) -> bytes:
        """The body read so far, up to :data:`MAX_BODY` bytes."""
        return bytes(self._body)

    def _keep(self, data: bytes | bytearray) -> None:
        room = MAX_BODY - len(self._body)
        if room > 0:
            self._body += data[:room]

    def feed_body(self, data: bytes) -> bool:
        """Add ``data`` to the body; True once the body is complete.

        Bytes after the end of the body are kept in :attr:`rest`.
        """
        framing = self._framing
        if framing == "none":
            self.rest += data
            return True
        if framing == "eof":
            self._keep(data)
            return False
        if framing == "length":
            taken = data[: self._left]
            self._keep(taken)
            self._left -= len(taken)
            self.rest += data[len(taken) :]
            if self._left:
                return False
            self._framing = "none"
            return True
        return self._feed_chunked(data)

    def _feed_chunked(self, data: bytes) -> bool:
        buffer = self._buffer
        buffer += data
        while True:
            if self._chunk_left > 0:
                taken = buffer[: self._chunk_left]
                self._keep(taken)
                self._chunk_left -= len(taken)
                del buffer[: len(taken)]
                if self._chunk_left:
                    return False
                self._chunk_left = _CHUNK_END
            line = self._next_line("chunk line")
            if line is None:
                return False
            if self._chunk_left == _CHUNK_END:
                if line:
                    raise HTTPSyntaxError("chunk data not followed by CRLF")
                self._chunk_left = _CHUNK_SIZE_NEXT
            elif self._chunk_left == _TRAILERS:
                if not line:
                    self.rest = bytes(buffer)
                    buffer.clear()
                    self._framing = "none"
                    return True
                parse_header_line(line)
            else:
                match = _CHUNK_SIZE.fullmatch(line)
                if match is None:
                    raise HTTPSyntaxError(f"invalid chunk size line: {_shown(line)}")
                size = int(match["size"], 16)
                self._chunk_left = size if size else _TRAILERS

    def feed_eof(self) -> None:
        """The stream ended; raises unless the body may end there."""
        if self._framing in ("length", "chunked"):
            raise HTTPSyntaxError("the connection closed in the middle of the body")
        self._framing = "none"


def _too_long(line: str) -> HTTPLimitError:
    return HTTPLimitError(f"{line} longer than {MAX_LINE} bytes", what=line)
