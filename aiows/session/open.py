"""The one path that opens a WebSocket, for every entry point.

:func:`open_websocket` checks the URL, sends the upgrade with
``aiohttp.ClientSession.request`` (so the session's connector pool, proxy,
TLS, cookies and trace configs apply), follows redirects the way a
WebSocket client must, validates the answer with the core's handshake
rules, and hands the socket to a *binder*: the function that builds the
engine and the face the entry point asked for (:mod:`aiows.session.bind`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl as ssl_module
from collections.abc import Callable
from typing import Any, Final, TypeVar

import aiohttp
from aiohttp import ClientResponse, ClientSession, hdrs
from multidict import CIMultiDict
from yarl import URL

from .. import exceptions
from ..core import deflate as core_deflate
from ..core import errors as core_errors
from ..core import extensions as core_extensions
from ..core import handshake
from ..core.headers import HeaderSyntaxError, parse_token_list
from ..extension_factories import error_kinds, is_own
from .credentials import (
    ProxyCredentials,
    drop_origin_bound,
    redacted,
    with_credentials,
    without_credentials,
)
from .deadline import timeout
from .options import UpgradeOptions
from .takeover import discard, record_history

logger: Final = logging.getLogger("aiows.client")

T = TypeVar("T")

#: Builds the engine and the face on a 101 response; see :mod:`.bind`.
Binder = Callable[[ClientResponse, handshake.HandshakeResult], T]

_HANDSHAKE_ERRORS: Final[
    dict[type[core_errors.HandshakeError], type[exceptions.InvalidHandshake]]
] = {
    core_errors.InvalidStatusCode: exceptions.InvalidStatus,
    core_errors.InvalidUpgrade: exceptions.InvalidUpgrade,
    core_errors.InvalidAccept: exceptions.InvalidAccept,
    core_errors.NegotiationError: exceptions.NegotiationError,
}

_WS_SCHEMES: Final = frozenset({"ws", "wss", "http", "https"})
_SECURE: Final = frozenset({"wss", "https"})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def session_url(session: ClientSession, url: str | URL) -> str | URL:
    """``url`` joined with the session's ``base_url``, as aiohttp joins the
    URL of its own requests (and of its ``ws_connect``).

    aiohttp internal used: ``ClientSession._build_url`` (and ``_base_url``,
    to leave ``url`` as it is on a session without one); each aiohttp
    version's own rules apply (3.10 takes only a path there, later versions
    an absolute URL too).
    """
    if getattr(session, "_base_url", None) is None:
        return url
    build = getattr(session, "_build_url", None)
    if build is None:  # pragma: no cover - every supported aiohttp has it
        return url
    try:
        joined: URL = build(url)
    except (TypeError, ValueError):
        return url  # check_url() says what is wrong with it
    return joined


def request_url(session: ClientSession, url: URL) -> URL:
    """``url``, already joined with the session's ``base_url``, as the
    session's ``request()`` takes it.

    aiohttp 3.10 joins every request's URL with ``base_url`` again and takes
    only a path there; an absolute URL on the base's origin is given to it
    as its path and query.  Another origin (a redirect) cannot be requested
    through such a session on aiohttp 3.10: :class:`~aiows.InvalidURI` says so.
    aiohttp internal used: ``ClientSession._build_url``, as in
    :func:`session_url`.
    """
    base: URL | None = getattr(session, "_base_url", None)
    if base is None:
        return url
    try:
        session._build_url(url)
    except AssertionError:  # aiohttp 3.10: a path only
        http = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
        if url.with_scheme(http).origin() != base.origin():
            raise exceptions.InvalidURI(
                str(url),
                "aiohttp 3.10 requests only URLs on the origin of the "
                "session's base_url (aiohttp 3.11 lifts this)",
            ) from None
        return url.relative()
    return url


def check_url(url: str | URL) -> URL:
    """``url`` parsed, or :class:`~aiows.InvalidURI` naming what is wrong."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidURI(url, f"not a URI: {exc}") from None
    if parsed.scheme not in _WS_SCHEMES or not parsed.host:
        raise exceptions.InvalidURI(
            url, "a WebSocket URI starts with ws:// or wss:// and names a host"
        )
    return parsed


def check_tls(url: URL, ssl: Any) -> None:
    """Refuse TLS settings for a URI that would not use them.

    Asking for TLS and not getting it is an error, never a quiet downgrade.
    """
    if url.scheme not in _SECURE and isinstance(
        ssl, (ssl_module.SSLContext, aiohttp.Fingerprint)
    ):
        raise ValueError(
            f"ssl={type(ssl).__name__} was given for {url.scheme}://, which does "
            "not use TLS; use a wss:// URI, or leave ssl out"
        )


#: How much of the body of a refusal (a status other than 101) is kept for
#: ``InvalidStatus.response.body``; the rest is not read.
MAX_REFUSAL_BODY: Final = 64 * 1024
#: How long the body of a refusal may pause before the error is raised with
#: what came of it (seconds).
REFUSAL_BODY_WAIT: Final = 0.5


def check_call(url: str | URL, options: UpgradeOptions) -> None:
    """Check what a call can be checked for before anything is sent: the URL,
    and TLS settings that it would not use."""
    check_tls(check_url(url), options.ssl)


#: aiohttp's words for the failures its own ``ws_connect`` checks.
_AIOHTTP_WORDS: Final = {
    exceptions.InvalidStatus: "Invalid response status",
    exceptions.InvalidHeaderValue: "Invalid challenge response",
}
_AIOHTTP_UPGRADE_WORDS: Final = {
    "Upgrade": "Invalid upgrade header",
    "Connection": "Invalid connection header",
}


def _words(
    exc: core_errors.HandshakeError,
    cls: type[exceptions.InvalidHandshake],
    status: int,
    offered: tuple[str, ...],
) -> tuple[str, str | None]:
    """aiohttp's words and websockets' for the failure ``exc`` (aiows's own
    where the library has none: aiohttp checks no subprotocol, say)."""
    aiohttp_words = _AIOHTTP_WORDS.get(cls, str(exc))
    if cls is exceptions.InvalidUpgrade and exc.header in _AIOHTTP_UPGRADE_WORDS:
        aiohttp_words = _AIOHTTP_UPGRADE_WORDS[exc.header]
    return aiohttp_words, core_errors.websockets_words(exc, status, offered)


def _handshake_error(
    exc: core_errors.HandshakeError,
    response: ClientResponse,
    body: bytes = b"",
    offered: tuple[str, ...] = (),
) -> exceptions.InvalidHandshake:
    cls = _HANDSHAKE_ERRORS.get(type(exc), exceptions.InvalidHandshake)
    if cls is exceptions.InvalidHandshake and isinstance(exc, HeaderSyntaxError):
        cls = exceptions.InvalidHeaderFormat
    elif cls is exceptions.InvalidHandshake and exc.header:
        cls = exceptions.InvalidHeader
    message, websockets_message = _words(exc, cls, response.status, offered)
    error = cls(
        redacted(response.request_info),
        response.history,
        status=response.status,
        message=message,
        headers=response.headers,
    )
    error.detail = str(exc)
    error.websockets_message = websockets_message
    error.response = handshake.Response(
        response.status, response.reason or "", response.headers, body
    )
    if isinstance(error, exceptions.InvalidHeader):
        error.name = exc.header or ""
        error.value = exc.value
    # aiows's reasons, where the message is websockets' words (why each
    # extension factory refused the server's answer).
    for note in getattr(exc, "__notes__", ()):
        core_extensions.add_note(error, note)
    return error


#: A refusal by aiows's own permessage-deflate factory.
_REFUSED: Final = (core_errors.NegotiationError,)


def _deflate_factory(bits: int) -> core_deflate.DeflateFactory:
    """aiows's permessage-deflate offering ``server_max_window_bits=bits``
    (15: leaving the server's window to the server)."""
    return core_deflate.DeflateFactory(
        None if bits == core_deflate.MAX_WINDOW_BITS else bits
    )


def _offered_factories(options: UpgradeOptions) -> tuple[Any, ...] | None:
    """The extension factories the upgrade offers, in order; None for none
    (the application may still write its own offer in the headers)."""
    if options.extensions is not None:
        return options.extensions
    if options.compress:
        return (_deflate_factory(options.compress),)
    return None


async def _refusal_body(response: ClientResponse) -> bytes:
    """What the server said with its refusal, up to :data:`MAX_REFUSAL_BODY`:
    to its end, which is the end of the connection when the answer has no
    ``Content-Length`` (as websockets reads it); the rest is not read."""
    body = b""
    try:
        while len(body) < MAX_REFUSAL_BODY:
            # A server that stops sending before the end it announced (or
            # before it closes) does not hold the error up for long: the
            # refusal is known, the body is only shown.
            chunk = await asyncio.wait_for(
                response.content.read(MAX_REFUSAL_BODY - len(body)), REFUSAL_BODY_WAIT
            )
            if not chunk:
                break
            body += chunk
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
        pass
    return body


async def open_websocket(
    session: ClientSession,
    url: str | URL,
    options: UpgradeOptions,
    bind: Binder[T],
    *,
    credentials: CIMultiDict[str] | None = None,
    application_proxy_authorization: bool = False,
) -> T:
    """Open a WebSocket to ``url`` through ``session``; ``bind`` makes the face.

    ``credentials`` are the headers an :class:`aiows.ClientSession` adds to
    each of its requests.  With ``application_proxy_authorization``, a
    ``Proxy-Authorization`` header among the request's headers goes to the
    server like any other (``connect()``, as websockets sends it); without,
    it is for the proxy only.  The whole of it, TCP to the face, redirects
    included, is bounded by ``options.open_timeout`` or by the session's
    ``ClientTimeout.total``, whichever is shorter.
    """
    parsed = check_url(url)
    check_tls(parsed, options.ssl)
    # The session's total timeout bounds the upgrade here, with
    # open_timeout, instead of in aiohttp: aiohttp's timer for it would stay
    # in the event loop, with its context, for as long as the connection
    # is open (about 0.8 KiB per idle connection).
    total = session.timeout.total
    limit = options.open_timeout
    by_session = False
    if total and (limit is None or total < limit):
        limit, by_session = total, True
    if limit is None:
        return await _open(
            session, parsed, options, bind, credentials, application_proxy_authorization
        )
    expired: BaseException = exceptions.OpenTimeout(
        f"opening handshake with {parsed.host} did not finish within "
        f"{options.open_timeout} s"
    )
    # In this task, not in one of wait_for()'s: see aiows.session.deadline.
    deadline = timeout(limit)
    try:
        async with deadline:
            return await _open(
                session,
                parsed,
                options,
                bind,
                credentials,
                application_proxy_authorization,
            )
    except asyncio.TimeoutError as exc:  # TimeoutError from Python 3.11 on
        if deadline.expired() and not by_session:
            raise expired from None
        error = _session_timeout(session, parsed, exc)
        if error is exc:
            raise
        raise error from exc


def _without_total(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """``timeout`` for one request of the upgrade: its total is bounded by
    :func:`open_websocket`, the rest is aiohttp's."""
    if not timeout.total:
        return timeout
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeout.connect,
        sock_read=timeout.sock_read,
        sock_connect=timeout.sock_connect,
        ceil_threshold=timeout.ceil_threshold,
    )


def _session_timeout(
    session: ClientSession, url: URL, exc: BaseException
) -> BaseException:
    """The error for a timeout that is not ``open_timeout``: aiohttp's own.

    aiohttp's timeouts with a message of their own (``sock_connect``, ...)
    are raised as they are; a bare one is the session's ``ClientTimeout``,
    named here with its value.
    """
    if isinstance(exc, aiohttp.ClientError) and str(exc):
        return exc
    return exceptions.OpenTimeout(
        f"the aiohttp session's timeout fired during the opening handshake "
        f"with {url.host}: {session.timeout!r}"
    )


async def _open(
    session: ClientSession,
    url: URL,
    options: UpgradeOptions,
    bind: Binder[T],
    credentials: CIMultiDict[str] | None,
    application_proxy_authorization: bool,
) -> T:
    extra_headers = options.headers
    if callable(extra_headers):
        # Called on every attempt, so a reconnect sends fresh credentials.
        extra_headers = extra_headers()
        if inspect.isawaitable(extra_headers):
            extra_headers = await extra_headers
    headers = with_credentials(
        credentials, extra_headers, auth_given=options.auth is not None
    )
    key = handshake.generate_key()
    factories = _offered_factories(options)
    offer = core_extensions.build_offer(factories) if factories else None
    for name, value in handshake.request_headers(
        key, protocols=options.protocols, origin=options.origin, extensions=offer
    ).items():
        if name in (hdrs.SEC_WEBSOCKET_KEY, hdrs.SEC_WEBSOCKET_PROTOCOL, hdrs.ORIGIN):
            headers[name] = value
        else:
            headers.setdefault(name, value)
    # aiohttp 3.14 deprecates auth=/proxy_auth= on requests; the header they
    # stand for is sent instead, with the same meaning.
    if options.auth is not None:
        if hdrs.AUTHORIZATION in headers:
            raise ValueError("pass auth= or an Authorization header, not both")
        headers[hdrs.AUTHORIZATION] = options.auth.encode()
    # What was offered is what the request carries: the application may
    # write the subprotocol or extension headers itself (RFC 6455 §4.1).
    offered_protocols = tuple(
        parse_token_list(
            headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, []),
            hdrs.SEC_WEBSOCKET_PROTOCOL,
        )
    )
    if factories is None:
        offered_bits = core_deflate.offered_window_bits(
            headers.getall(hdrs.SEC_WEBSOCKET_EXTENSIONS, [])
        )
        if offered_bits is not None:
            factories = (_deflate_factory(offered_bits),)
    proxy = ProxyCredentials.gather(
        headers,
        options.proxy_headers,
        None if options.proxy_auth is None else options.proxy_auth.encode(),
        from_request=not application_proxy_authorization,
    )
    response = await _request_following_redirects(session, url, options, headers, proxy)
    try:
        result = handshake.check_response(
            response.status,
            list(response.headers.items()),
            key=key,
            protocols=offered_protocols,
            extensions=factories,
            refused=_REFUSED if is_own(factories) else error_kinds().refused,
        )
    except core_errors.HandshakeError as exc:
        body = b""
        try:
            if isinstance(exc, core_errors.InvalidStatusCode):
                body = await _refusal_body(response)
        finally:
            discard(response)
        raise _handshake_error(exc, response, body, offered_protocols) from None
    except BaseException:
        discard(response)
        raise
    try:
        face = bind(response, result)
    except BaseException:
        response.close()
        raise
    logger.debug(
        "connected to %s (subprotocol=%s, extensions=%s)",
        response.url,
        result.subprotocol,
        [getattr(extension, "name", extension) for extension in result.extensions],
    )
    return face


async def _request_following_redirects(
    session: ClientSession,
    url: URL,
    options: UpgradeOptions,
    headers: CIMultiDict[str],
    proxy: ProxyCredentials,
) -> ClientResponse:
    """Send the upgrade, following redirects the way a WebSocket client must.

    aiows follows redirects itself rather than letting aiohttp do it, so it
    can refuse one from ``wss://`` to ``ws://`` before anything is sent in
    clear text, and drop explicit ``Authorization`` and ``Cookie`` headers
    when the redirect leaves the origin (the session's cookie jar still
    applies per request).
    """
    history: list[ClientResponse] = []
    params = options.params
    request_timeout = _without_total(session.timeout)
    for _ in range(options.max_redirects + 1):
        failure: aiohttp.ClientResponseError | None = None
        hop_url = url
        if options.proxy is not None and url.scheme == "ws":
            # Through a forward proxy the request line carries the whole URL,
            # and proxies expect an http:// one there (RFC 9112 §3.2.2);
            # aiohttp would send ws://, which they refuse.
            hop_url = url.with_scheme("http")
        # Where the proxy's credentials go is decided per hop: a redirect
        # may turn a cleartext request into a tunnel.
        hop_headers, proxy_headers = proxy.for_hop(
            headers, options.proxy is not None, url.scheme in _SECURE
        )
        try:
            response = await session.request(
                options.method,
                request_url(session, hop_url),
                params=params,
                headers=hop_headers,
                # A refusal without Content-Length has a body to the end of
                # the connection (RFC 9112 §6.3), which InvalidStatus shows.
                read_until_eof=True,
                timeout=request_timeout,
                proxy=options.proxy,
                proxy_headers=proxy_headers,
                ssl=options.ssl,
                server_hostname=options.server_hostname,
                allow_redirects=False,
                skip_auto_headers=options.skip_auto_headers,
            )
        except exceptions.WebSocketException:
            raise  # aiows's own (a proxy's refusal): made without credentials
        except aiohttp.ClientResponseError as exc:
            # Raised below, outside this block, so the original (whose
            # request_info may hold proxy credentials) is not its context.
            failure = without_credentials(exc)
        if failure is not None:
            raise failure
        location = response.headers.get(hdrs.LOCATION)
        if (
            not options.allow_redirects
            or response.status not in _REDIRECTS
            or location is None
        ):
            record_history(response, history)
            return response
        discard(response)
        history.append(response)
        target = url.join(URL(location))
        if target.scheme in ("http", "https"):
            # A WebSocket server may redirect to its http(s) equivalent.
            target = target.with_scheme("ws" if target.scheme == "http" else "wss")
        if url.scheme in _SECURE and target.scheme not in _SECURE:
            refusal = _refusal(
                response,
                history,
                f"refusing to follow a redirect from {url.scheme}:// to "
                f"{target.scheme}:// ({target.with_query(None)}): the upgrade "
                "and its credentials would travel in clear text",
                exceptions.SecurityError,
                websockets_message=f"cannot follow redirect to non-secure URI {target}",
            )
            # As websockets chains it: the redirect, a status other than 101.
            raise refusal from _refusal(
                response,
                history,
                "Invalid response status",
                exceptions.InvalidStatus,
                websockets_message=core_errors.rejected_words(response.status),
            )
        if target.scheme not in ("ws", "wss") or not target.host:
            raise _refusal(
                response,
                history,
                f"redirect to {location!r}, which is not a WebSocket URI",
            )
        if target.origin() != url.origin():
            drop_origin_bound(headers)
            if session.auth is not None or any(
                name in session.headers for name in (hdrs.AUTHORIZATION, hdrs.COOKIE)
            ):
                # aiohttp adds its session's defaults to every request, and
                # aiows cannot take them back for this one.
                raise _refusal(
                    response,
                    history,
                    f"refusing to follow a redirect to another origin "
                    f"({target.origin()}): the aiohttp session's default "
                    "credentials (auth= or an Authorization or Cookie header) "
                    "would go with it",
                )
        # Query parameters belong to the first URL only, as in aiohttp.
        params = None
        url = target
    raise _refusal(
        response,
        history,
        f"more than {options.max_redirects} redirects",
        exceptions.SecurityError,
        # websockets counts its requests: one more than the redirects.
        websockets_message=f"more than {options.max_redirects + 1} redirects",
    )


def _refusal(
    response: ClientResponse,
    history: list[ClientResponse],
    message: str,
    cls: type[exceptions.InvalidHandshake] = exceptions.InvalidHandshake,
    *,
    websockets_message: str | None = None,
) -> exceptions.InvalidHandshake:
    """The error for a redirect aiows will not follow."""
    error = cls(
        redacted(response.request_info),
        tuple(history),
        status=response.status,
        message=message,
        headers=response.headers,
    )
    error.websockets_message = websockets_message
    return error
