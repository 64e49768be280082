"""The public exceptions the threading face raises, built from what went wrong.

aiows's exceptions (:mod:`aiows.exceptions`) are websockets' classes that
also derive from aiohttp's; the handshake ones carry an
``aiohttp.RequestInfo`` (built here, with credentials masked) and the
response, as the asyncio faces' do.  Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiohttp import RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import exceptions
from ..core import errors as core_errors
from ..core.extensions import add_note
from ..core.handshake import Response
from ..core.headers import HeaderSyntaxError
from ..core.http11 import ResponseHead
from ..core.redirects import SECRET_HEADERS
from ..websockets_state import make_headers

_HANDSHAKE_ERRORS: Final[
    dict[type[core_errors.HandshakeError], type[exceptions.InvalidHandshake]]
] = {
    core_errors.InvalidStatusCode: exceptions.InvalidStatus,
    core_errors.InvalidUpgrade: exceptions.InvalidUpgrade,
    core_errors.InvalidAccept: exceptions.InvalidAccept,
    core_errors.NegotiationError: exceptions.NegotiationError,
    HeaderSyntaxError: exceptions.InvalidHeaderFormat,
}

#: Which part of an answer was over a limit, by the core's ``what``.
_LIMITS: Final[dict[str, type[exceptions.SecurityError]]] = {
    "status line": exceptions.StatusLineTooLong,
    "header line": exceptions.HeaderLineTooLong,
    "headers": exceptions.TooManyHeaders,
}


def request_info(
    url: str, headers: Iterable[tuple[str, str]] = (), method: str = "GET"
) -> RequestInfo:
    """What an exception says of the request: no credentials in it."""
    masked: CIMultiDict[str] = CIMultiDict()
    secret = {name.lower() for name in SECRET_HEADERS}
    for name, value in headers:
        masked.add(name, "<redacted>" if name.lower() in secret else value)
    target = URL(url).with_user(None)
    return RequestInfo(target, method, CIMultiDictProxy(masked), target)


def response_of(head: ResponseHead, body: bytes = b"") -> Response:
    """websockets' ``Response`` of a parsed answer."""
    return Response(head.status, head.reason, make_headers(head.headers), body)


def _headers(head: ResponseHead | None) -> CIMultiDictProxy[str] | None:
    return None if head is None else CIMultiDictProxy(CIMultiDict(head.headers))


def handshake_error(
    exc: core_errors.HandshakeError,
    info: RequestInfo,
    head: ResponseHead | None,
    body: bytes = b"",
    offered: tuple[str, ...] = (),
) -> exceptions.InvalidHandshake:
    """The public exception for the core's verdict on the server's answer,
    in websockets' words (aiows's own account is its ``detail``).

    ``offered``: the subprotocols the client offered.  An answer that is
    not valid HTTP is :class:`~aiows.InvalidMessage`; raise it from
    :func:`syntax_cause`, as websockets chains what was wrong.
    """
    cls = _HANDSHAKE_ERRORS.get(type(exc), exceptions.InvalidHandshake)
    if isinstance(exc, core_errors.HTTPLimitError):
        cls = _LIMITS.get(exc.what, exceptions.SecurityError)
    elif isinstance(exc, core_errors.HTTPSyntaxError):
        cls = exceptions.InvalidMessage
    elif cls is exceptions.InvalidHandshake and exc.header:
        cls = exceptions.InvalidHeader
    status = 0 if head is None else head.status
    message = str(exc)
    if cls is exceptions.InvalidMessage:
        message = f"{core_errors.NO_VALID_RESPONSE}: {exc}"
    error = cls(info, (), status=status, message=message, headers=_headers(head))
    if head is not None:
        error.response = response_of(head, body)
    if isinstance(error, exceptions.InvalidHeader):
        error.name = exc.header or ""
        error.value = exc.value
    if cls is exceptions.InvalidMessage:
        words: str | None = core_errors.NO_VALID_RESPONSE
    else:
        words = core_errors.websockets_words(exc, status, offered)
    # aiows's reasons, where the message is websockets' words (why each
    # extension factory refused the server's answer).
    for note in getattr(exc, "__notes__", ()):
        add_note(error, note)
    return _worded(error, words)


def syntax_cause(exc: core_errors.HTTPSyntaxError) -> ValueError:
    """What websockets chains to an answer that is not valid HTTP: a
    ``ValueError`` saying what was wrong."""
    return ValueError(str(exc))


def _worded(
    error: exceptions.InvalidHandshake, words: str | None
) -> exceptions.InvalidHandshake:
    """``error`` shown in websockets' ``words`` (its message when None), with
    its message as ``detail``."""
    error.detail = error.message
    error.websockets_message = words
    error.in_websockets_words()
    return error


def no_answer(info: RequestInfo, received: bool) -> exceptions.InvalidMessage:
    """The server closed the connection before answering the upgrade (or in
    the middle of its answer, when ``received``); raise it from
    :func:`eof_cause`."""
    error = exceptions.InvalidMessage(
        info,
        (),
        message=(
            "the server closed the connection in the middle of its answer"
            if received
            else "the server closed the connection before answering the upgrade"
        ),
    )
    _worded(error, core_errors.NO_VALID_RESPONSE)
    return error


def eof_cause(received: bool) -> EOFError:
    """The ``EOFError`` websockets chains to a server that hung up."""
    if received:
        return EOFError("connection closed while reading HTTP headers")
    return EOFError(core_errors.EOF_BEFORE_STATUS)


def refused_redirect(
    message: str,
    info: RequestInfo,
    head: ResponseHead,
    cls: type[exceptions.InvalidHandshake] = exceptions.InvalidHandshake,
    words: str | None = None,
) -> exceptions.InvalidHandshake:
    """A redirect the client will not follow (``words``: websockets')."""
    error = cls(info, (), status=head.status, message=message, headers=_headers(head))
    error.response = response_of(head)
    return _worded(error, words)


def rejected(info: RequestInfo, head: ResponseHead) -> exceptions.InvalidStatus:
    """The status other than 101 of a redirect, as websockets chains it to
    a redirect it will not follow."""
    error = exceptions.InvalidStatus(
        info,
        (),
        status=head.status,
        message=f"server answered the upgrade with status {head.status}, not 101",
        headers=_headers(head),
    )
    error.response = response_of(head)
    _worded(error, core_errors.rejected_words(head.status))
    return error


def proxy_message(
    info: RequestInfo, message: str, *, invalid: bool = True
) -> exceptions.InvalidProxyMessage:
    """The proxy's answer to CONNECT was not a valid HTTP response
    (``invalid``: shown in websockets' words, ``message`` is the
    ``detail``), or came with bytes after it (websockets has no words for
    that: ``message`` is shown)."""
    error = exceptions.InvalidProxyMessage(
        info, (), message=core_errors.NO_VALID_PROXY_RESPONSE if invalid else message
    )
    if invalid:
        error.detail = message
    error.in_websockets_words()
    return error


def proxy_status(
    info: RequestInfo, head: ResponseHead
) -> exceptions.InvalidProxyStatus:
    """The proxy answered CONNECT with a status other than 2xx."""
    error = exceptions.InvalidProxyStatus(
        info,
        (),
        status=head.status,
        message=core_errors.rejected_words(head.status, proxy=True),
        headers=_headers(head),
    )
    error.response = response_of(head)
    error.detail = f"the proxy answered CONNECT with {head.status}"
    error.in_websockets_words()
    return error
