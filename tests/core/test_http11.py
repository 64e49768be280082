"""HTTP/1.1 responses and requests without I/O (RFC 9112)."""

from __future__ import annotations

import pytest

from aiows.core import http11
from aiows.core.errors import HTTPLimitError, HTTPSyntaxError
from aiows.core.http11 import (
    MAX_BODY,
    MAX_HEADERS,
    MAX_LINE,
    ResponseHead,
    ResponseReader,
    parse_header_line,
    parse_status_line,
    serialize_request,
)

OK = b"HTTP/1.1 200 Connection established\r\n\r\n"


def read_head(data: bytes) -> ResponseReader:
    reader = ResponseReader()
    assert reader.feed(data) is not None
    return reader


# -- requests -------------------------------------------------------------------


def test_serialize_request() -> None:
    data = serialize_request(
        "CONNECT", "example.com:443", [("Host", "example.com:443"), ("X-A", "b c")]
    )
    assert data == (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-A: b c\r\n\r\n"
    )


def test_serialize_request_without_headers() -> None:
    assert serialize_request("GET", "/", []) == b"GET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b", "a\rb"])
def test_serialize_request_refuses_a_value_that_ends_the_line(value: str) -> None:
    with pytest.raises(ValueError, match="invalid HTTP header value for X-A"):
        serialize_request("GET", "/", [("X-A", value)])


@pytest.mark.parametrize("name", ["", "X A", "X:A", "X\r\nA", "é"])
def test_serialize_request_refuses_a_name_that_is_not_a_token(name: str) -> None:
    with pytest.raises(ValueError, match="invalid HTTP header name"):
        serialize_request("GET", "/", [(name, "v")])


# -- status line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"HTTP/1.1 200 OK", ("1.1", 200, "OK")),
        (
            b"HTTP/1.0 407 Proxy Authentication Required",
            ("1.0", 407, "Proxy Authentication Required"),
        ),
        (b"HTTP/1.1 101 ", ("1.1", 101, "")),
        (b"HTTP/1.1 101", ("1.1", 101, "")),
        (b"HTTP/1.1 200 caf\xe9\tok", ("1.1", 200, "caf\xe9\tok")),
    ],
)
def test_status_line(line: bytes, expected: tuple[str, int, str]) -> None:
    assert parse_status_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"HTTP/1.1 2_00 OK",
        b"HTTP/1.1 +200 OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.1 \xd9\xa2\xd9\xa0\xd9\xa0 OK",  # Arabic-Indic digits
        b"HTTP/2 200 OK",
        b"HTTP/2.0 200 OK",
        b"HTTP/1.10 200 OK",
        b"http/1.1 200 OK",
        b"ICY 200 OK",
        b"HTTP/1.1 200 O\x00K",
        b"HTTP/1.1 200 O\x7fK",
        b"",
        b"SSH-2.0-OpenSSH_9.2",
    ],
)
def test_status_line_is_strict(line: bytes) -> None:
    with pytest.raises(HTTPSyntaxError, match="invalid status line"):
        parse_status_line(line)


# -- header lines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"Upgrade: websocket", ("Upgrade", "websocket")),
        (b"X-Empty:", ("X-Empty", "")),
        (b"X-Spaces: \t a b \t", ("X-Spaces", "a b")),
        (b"Server:caf\xe9", ("Server", "caf\xe9")),
    ],
)
def test_header_line(line: bytes, expected: tuple[str, str]) -> None:
    assert parse_header_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [b"Upgrade : websocket", b"no colon", b": empty name", b"X\x00: v", b"X: a\x00b"],
)
def test_header_line_is_strict(line: bytes) -> None:
    with pytest.raises(HTTPSyntaxError, match="invalid header line"):
        parse_header_line(line)


@pytest.mark.parametrize("line", [b" folded", b"\tfolded"])
def test_obsolete_line_folding_is_refused(line: bytes) -> None:
    with pytest.raises(HTTPSyntaxError, match="obsolete line folding"):
        parse_header_line(line)


# -- the head -------------------------------------------------------------------


def test_head_in_one_piece() -> None:
    reader = ResponseReader()
    head = reader.feed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00"
    )
    assert head == ResponseHead(
        "1.1", 101, "Switching Protocols", [("Upgrade", "websocket")]
    )
    assert reader.head is head
    assert reader.rest == b"\x81\x00"


def test_head_byte_by_byte() -> None:
    data = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\nrest"
    reader = ResponseReader()
    heads = [reader.feed(data[i : i + 1]) for i in range(len(data) - 4)]
    assert heads[:-1] == [None] * (len(heads) - 1)
    assert heads[-1] == ResponseHead("1.1", 200, "OK", [("A", "1"), ("B", "2")])
    assert reader.rest == b""


def test_head_get_all_is_case_insensitive() -> None:
    head = read_head(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a\r\nset-cookie: b\r\nX: c\r\n\r\n"
    ).head
    assert head is not None
    assert head.get_all("SET-COOKIE") == ["a", "b"]
    assert head.get_all("Y") == []


def test_not_http_fails_at_the_first_line() -> None:
    reader = ResponseReader()
    with pytest.raises(HTTPSyntaxError, match="invalid status line"):
        reader.feed(b"SSH-2.0-OpenSSH_9.2\r\n")


def test_bare_lf_is_refused() -> None:
    with pytest.raises(HTTPSyntaxError, match="not ended by CRLF"):
        ResponseReader().feed(b"HTTP/1.1 200 OK\nX: y\n\n")


def test_lf_at_the_start_is_refused() -> None:
    with pytest.raises(HTTPSyntaxError, match="not ended by CRLF"):
        ResponseReader().feed(b"\n")


def test_cr_inside_a_line_is_refused() -> None:
    with pytest.raises(HTTPSyntaxError, match="CR inside a line"):
        ResponseReader().feed(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n")


def test_feeding_after_the_head_is_a_mistake() -> None:
    reader = read_head(OK)
    with pytest.raises(RuntimeError, match="already complete"):
        reader.feed(b"x")


def test_status_line_too_long_before_it_ends() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 " + b"x" * (MAX_LINE - 13))
    with pytest.raises(HTTPLimitError, match="status line longer") as info:
        reader.feed(b"xx")
    assert info.value.what == "status line"


def test_status_line_at_the_limit() -> None:
    line = b"HTTP/1.1 200 " + b"x" * (MAX_LINE - 13)
    assert len(line) == MAX_LINE
    assert ResponseReader().feed(line + b"\r\n\r\n") is not None


def test_header_line_too_long_when_it_ends() -> None:
    with pytest.raises(HTTPLimitError, match="header line longer") as info:
        ResponseReader().feed(b"HTTP/1.1 200 OK\r\nX: " + b"y" * MAX_LINE + b"\r\n")
    assert info.value.what == "header line"


def test_too_many_headers() -> None:
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS))
    assert ResponseReader().feed(b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n") is not None
    with pytest.raises(HTTPLimitError, match="more than 128 headers") as info:
        ResponseReader().feed(b"HTTP/1.1 200 OK\r\n" + headers + b"X: v\r\n")
    assert info.value.what == "headers"


# -- the body -------------------------------------------------------------------


def test_body_needs_the_head() -> None:
    with pytest.raises(RuntimeError, match="not complete"):
        ResponseReader().read_body()


@pytest.mark.parametrize("status", [101, 204, 304])
def test_no_body(status: int) -> None:
    reader = read_head(b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\nframes" % status)
    assert reader.read_body() is True
    assert reader.body == b""
    assert reader.rest == b"frames"


def test_body_by_content_length() -> None:
    reader = read_head(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nno")
    assert reader.read_body() is False
    assert reader.feed_body(b"pe") is False
    assert reader.feed_body(b"!next") is True
    assert reader.body == b"nope!"
    assert reader.rest == b"next"
    reader.feed_eof()  # complete: the end of the stream is fine now


def test_body_of_zero_length() -> None:
    reader = read_head(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert reader.read_body() is True


def test_repeated_equal_content_length() -> None:
    reader = read_head(
        b"HTTP/1.1 403 X\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"
    )
    assert reader.read_body() is True
    assert reader.body == b"ab"


@pytest.mark.parametrize(
    ("lengths", "match"),
    [
        ((b"2", b"3"), "conflicting Content-Length"),
        ((b"+2",), "invalid Content-Length"),
        ((b"2, 2",), "invalid Content-Length"),
        ((b"\xd9\xa2",), "invalid Content-Length"),
    ],
)
def test_bad_content_length(lengths: tuple[bytes, ...], match: str) -> None:
    head = b"HTTP/1.1 403 X\r\n" + b"".join(
        b"Content-Length: " + n + b"\r\n" for n in lengths
    )
    reader = read_head(head + b"\r\n")
    with pytest.raises(HTTPSyntaxError, match=match):
        reader.read_body()


def test_body_cut_short() -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\nContent-Length: 5\r\n\r\nab")
    reader.read_body()
    with pytest.raises(HTTPSyntaxError, match="in the middle of the body"):
        reader.feed_eof()


def test_body_until_eof() -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\n\r\nsome")
    assert reader.read_body() is False
    assert reader.feed_body(b" more") is False
    reader.feed_eof()
    assert reader.body == b"some more"


def test_body_is_kept_up_to_the_limit() -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\n\r\n")
    reader.read_body()
    reader.feed_body(b"x" * (MAX_BODY - 1))
    reader.feed_body(b"yz")
    reader.feed_body(b"more")
    assert reader.body == b"x" * (MAX_BODY - 1) + b"y"


def test_unknown_transfer_coding_reads_until_eof() -> None:
    reader = read_head(
        b"HTTP/1.1 403 X\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nab"
    )
    assert reader.read_body() is False
    reader.feed_eof()
    assert reader.body == b"ab"


def test_chunked_body() -> None:
    reader = read_head(
        b"HTTP/1.1 403 X\r\nTransfer-Encoding: gzip, Chunked\r\n"
        b"Content-Length: 1\r\n\r\n"
    )
    body = (
        b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nnext"
    )
    assert reader.read_body() is False
    done = [reader.feed_body(body[i : i + 1]) for i in range(len(body))]
    assert done.index(True) == body.index(b"next") - 1
    assert reader.body == b"hello 0123456789"
    assert reader.rest == b"next"


def test_chunked_body_in_one_piece() -> None:
    reader = read_head(
        b"HTTP/1.1 403 X\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
    )
    assert reader.read_body() is True
    assert reader.body == b"ab"
    assert reader.feed_body(b"late") is True
    assert reader.rest == b"late"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"zz\r\n", "invalid chunk size line"),
        (b"-1\r\n", "invalid chunk size line"),
        (b"2\r\nabc\r\n", "chunk data not followed by CRLF"),
        (b"0\r\nbad trailer\r\n", "invalid header line"),
    ],
)
def test_bad_chunked_body(body: bytes, match: str) -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\nTransfer-Encoding: chunked\r\n\r\n")
    reader.read_body()
    with pytest.raises(HTTPSyntaxError, match=match):
        reader.feed_body(body)


def test_chunk_line_too_long() -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\nTransfer-Encoding: chunked\r\n\r\n")
    reader.read_body()
    with pytest.raises(HTTPLimitError, match="chunk line longer") as info:
        reader.feed_body(b"1;" + b"x" * MAX_LINE)
    assert info.value.what == "chunk line"


def test_chunked_body_cut_short() -> None:
    reader = read_head(b"HTTP/1.1 403 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    reader.read_body()
    with pytest.raises(HTTPSyntaxError, match="in the middle of the body"):
        reader.feed_eof()


def test_module_limits_are_aiohttp_defaults() -> None:
    assert (http11.MAX_LINE, http11.MAX_HEADERS) == (8190, 128)
