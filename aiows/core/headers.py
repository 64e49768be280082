"""Parsing of the handshake header values the client must check.

Grammar from RFC 7230 §3.2.6 (tokens, quoted strings) and RFC 6455 §9.1
(``Sec-WebSocket-Extensions``).  Every parser raises :class:`HeaderSyntaxError`
with the offending value and position, never a bare ``IndexError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .errors import HandshakeError

# RFC 7230 §3.2.6 tchar.
_TOKEN: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_QUOTED: Final = re.compile(r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t !-~\x80-\xff])*"')
_OWS: Final = re.compile(r"[ \t]*")
_QUOTED_PAIR: Final = re.compile(r"\\(.)")

ExtensionParams = list[tuple[str, str | None]]


class HeaderSyntaxError(HandshakeError):
    """A handshake header value does not follow its grammar.

    ``header`` names the header, when the caller said which, and ``value``
    is the value that does not parse.
    """


def is_token(value: str) -> bool:
    """Whether ``value`` is an HTTP token (RFC 7230 §3.2.6), e.g. a subprotocol.

    >>> is_token("chat.v2"), is_token("a b")
    (True, False)
    """
    return _TOKEN.fullmatch(value) is not None


def _skip_ows(value: str, pos: int) -> int:
    match = _OWS.match(value, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _error(
    expected: str, pos: int, value: str, header: str | None
) -> HeaderSyntaxError:
    return HeaderSyntaxError(
        f"expected {expected} at position {pos} in {value!r}",
        header=header,
        value=value,
    )


def _token(value: str, pos: int, what: str, header: str | None) -> tuple[str, int]:
    match = _TOKEN.match(value, pos)
    if match is None:
        raise _error(what, pos, value, header)
    return match.group(), match.end()


def parse_token_list(values: Iterable[str], header: str | None = None) -> list[str]:
    """Tokens of a comma-separated list such as ``Connection: keep-alive, Upgrade``.

    Empty list elements are allowed, as RFC 7230 §7 asks of recipients.
    ``header`` is the name a :class:`HeaderSyntaxError` gives.
    """
    tokens: list[str] = []
    for value in values:
        pos = 0
        while pos < len(value):
            pos = _skip_ows(value, pos)
            if pos < len(value) and value[pos] == ",":
                pos += 1
                continue
            if pos == len(value):
                break
            token, pos = _token(value, pos, "a token", header)
            tokens.append(token)
            pos = _skip_ows(value, pos)
            if pos < len(value) and value[pos] != ",":
                raise _error("','", pos, value, header)
    return tokens


def parse_extension_list(
    values: Iterable[str], header: str = "Sec-WebSocket-Extensions"
) -> list[tuple[str, ExtensionParams]]:
    """Extensions and their parameters from ``Sec-WebSocket-Extensions`` values.

    >>> parse_extension_list(["permessage-deflate; server_max_window_bits=10"])
    [('permessage-deflate', [('server_max_window_bits', '10')])]
    """
    extensions: list[tuple[str, ExtensionParams]] = []
    for value in values:
        pos = 0
        while pos < len(value):
            pos = _skip_ows(value, pos)
            if pos < len(value) and value[pos] == ",":
                pos += 1
                continue
            if pos == len(value):
                break
            name, pos = _token(value, pos, "an extension name", header)
            params: ExtensionParams = []
            pos = _skip_ows(value, pos)
            while pos < len(value) and value[pos] == ";":
                pos = _skip_ows(value, pos + 1)
                key, pos = _token(value, pos, "a parameter name", header)
                param: str | None = None
                pos = _skip_ows(value, pos)
                if pos < len(value) and value[pos] == "=":
                    pos = _skip_ows(value, pos + 1)
                    quoted = _QUOTED.match(value, pos)
                    if quoted is not None:
                        param = _QUOTED_PAIR.sub(r"\1", quoted.group()[1:-1])
                        pos = quoted.end()
                    else:
                        param, pos = _token(value, pos, "a parameter value", header)
                    pos = _skip_ows(value, pos)
                params.append((key, param))
            if pos < len(value) and value[pos] != ",":
                raise _error("',' or ';'", pos, value, header)
            extensions.append((name, params))
    return extensions
