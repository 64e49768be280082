"""Token lists and Sec-WebSocket-Extensions parsing (RFC 7230, RFC 6455 §9.1)."""

from __future__ import annotations

import pytest

from aiows.core.errors import HandshakeError
from aiows.core.headers import (
    HeaderSyntaxError,
    is_token,
    parse_extension_list,
    parse_token_list,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([""], []),
        (["Upgrade"], ["Upgrade"]),
        (["keep-alive, Upgrade"], ["keep-alive", "Upgrade"]),
        (["keep-alive,Upgrade"], ["keep-alive", "Upgrade"]),
        ([" \tUpgrade \t"], ["Upgrade"]),
        (["a , b ,c"], ["a", "b", "c"]),
        ([",a,,b,"], ["a", "b"]),
        ([", ,\t,"], []),
        (["a", "b, c"], ["a", "b", "c"]),
        (["!#$%&'*+-.^_`|~09azAZ"], ["!#$%&'*+-.^_`|~09azAZ"]),
        (["   "], []),
    ],
)
def test_parse_token_list(values: list[str], expected: list[str]) -> None:
    assert parse_token_list(values) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a b", "expected ',' at position 2 in 'a b'"),
        ("a;b", "expected ',' at position 1 in 'a;b'"),
        ("a, (b)", "expected a token at position 3 in 'a, (b)'"),
        ('"quoted"', "expected a token at position 0"),
        ("a=1", "expected ',' at position 1"),
        ("up grade", "expected ',' at position 3"),
    ],
)
def test_parse_token_list_errors(value: str, message: str) -> None:
    with pytest.raises(HeaderSyntaxError) as info:
        parse_token_list(["ok", value], "Upgrade")
    assert message in str(info.value)
    assert isinstance(info.value, HandshakeError)
    assert (info.value.header, info.value.value) == ("Upgrade", value)
    with pytest.raises(HeaderSyntaxError) as info:
        parse_token_list([value])
    assert (info.value.header, info.value.value) == (None, value)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        ([""], []),
        ([" , ,"], []),
        (["permessage-deflate"], [("permessage-deflate", [])]),
        (
            ["permessage-deflate; server_max_window_bits=10"],
            [("permessage-deflate", [("server_max_window_bits", "10")])],
        ),
        (
            ["permessage-deflate;client_max_window_bits;server_no_context_takeover"],
            [
                (
                    "permessage-deflate",
                    [
                        ("client_max_window_bits", None),
                        ("server_no_context_takeover", None),
                    ],
                )
            ],
        ),
        (
            ['x; a="10"; b = 12 ; c = "q\\"d"'],
            [("x", [("a", "10"), ("b", "12"), ("c", 'q"d')])],
        ),
        (['x; a=""'], [("x", [("a", "")])]),
        (['x; a="\\\\"'], [("x", [("a", "\\")])]),
        (
            ["foo, bar; baz=1", "qux ;\tk"],
            [("foo", []), ("bar", [("baz", "1")]), ("qux", [("k", None)])],
        ),
        (["a,,b,"], [("a", []), ("b", [])]),
        (["a ;k=v ,b"], [("a", [("k", "v")]), ("b", [])]),
    ],
)
def test_parse_extension_list(
    values: list[str], expected: list[tuple[str, list[tuple[str, str | None]]]]
) -> None:
    assert parse_extension_list(values) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("; a", "expected an extension name at position 0"),
        ("x;", "expected a parameter name at position 2"),
        ("x; =1", "expected a parameter name at position 3"),
        ("x; a=", "expected a parameter value at position 5"),
        ("x; a=(1)", "expected a parameter value at position 5"),
        ('x; a="open', "expected a parameter value at position 5"),
        ("x y", "expected ',' or ';' at position 2 in 'x y'"),
        ("x; a=1 2", "expected ',' or ';' at position 7"),
        ("x; a b", "expected ',' or ';' at position 5"),
        ("x=1", "expected ',' or ';' at position 1"),
    ],
)
def test_parse_extension_list_errors(value: str, message: str) -> None:
    with pytest.raises(HeaderSyntaxError) as info:
        parse_extension_list([value])
    assert message in str(info.value)
    assert (info.value.header, info.value.value) == ("Sec-WebSocket-Extensions", value)


def test_is_token() -> None:
    assert is_token("chat") and is_token("graphql-transport-ws") and is_token("v1.2")
    assert not is_token("") and not is_token("a b") and not is_token("a,b")
    assert not is_token("x\r\nInjected: 1") and not is_token("é")
