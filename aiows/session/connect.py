"""Opening a WebSocket through an aiohttp session.

:func:`open_websocket` sends the upgrade with ``aiohttp.ClientSession.request``,
validates the answer with the core's handshake rules, and hands the socket to
the connection layer.  :class:`WSConnectContext` is what ``ws_connect``
returns: await it, or use it as an async context manager.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Final

import aiohttp
from aiohttp import ClientResponse, ClientSession, Fingerprint, hdrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import exceptions
from ..connection.protocol import WebSocketProtocol
from ..connection.websocket import DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_QUEUE
from ..core import deflate as core_deflate
from ..core import errors as core_errors
from ..core import handshake
from ..core.deflate import PerMessageDeflate
from ..core.parser import DEFAULT_MAX_MSG_SIZE, FrameParser
from ..core.writer import FrameWriter
from .auth import Credentials
from .reconnect import Backoff, ProcessException, Reconnector, process_exception
from .response import ClientWebSocketResponse
from .takeover import discard, record_history, take_over, upgraded_transport

if sys.version_info >= (3, 11):
    from asyncio import timeout as _timeout
else:  # pragma: no cover - exercised on Python 3.10 only
    _timeout = None

logger: Final = logging.getLogger("aiows.client")

DEFAULT_OPEN_TIMEOUT: Final = 10.0

try:
    from aiohttp import ClientWSTimeout
except ImportError:  # pragma: no cover - aiohttp 3.10 has no ClientWSTimeout

    @dataclass(frozen=True)
    class ClientWSTimeout:  # type: ignore[no-redef]
        """Timeouts of a WebSocket: ``ws_receive`` and ``ws_close`` (seconds).

        aiohttp 3.11 added this class; on aiohttp 3.10 aiows supplies the same.
        """

        ws_receive: float | None = None
        ws_close: float | None = None


DEFAULT_WS_TIMEOUT: Final = ClientWSTimeout(
    ws_receive=None, ws_close=DEFAULT_CLOSE_TIMEOUT
)

_HANDSHAKE_ERRORS: Final[
    dict[type[core_errors.HandshakeError], type[exceptions.InvalidHandshake]]
] = {
    core_errors.InvalidStatusCode: exceptions.InvalidStatus,
    core_errors.InvalidUpgrade: exceptions.InvalidUpgrade,
    core_errors.InvalidAccept: exceptions.InvalidAccept,
    core_errors.NegotiationError: exceptions.NegotiationError,
}

_WS_SCHEMES: Final = frozenset({"ws", "wss", "http", "https"})


@dataclass
class ConnectOptions:
    """Everything ``ws_connect`` accepts besides the URL, with aiohttp's defaults."""

    method: str = hdrs.METH_GET
    protocols: Iterable[str] = ()
    timeout: Any = None
    receive_timeout: float | None = None
    autoclose: bool = True
    autoping: bool = True
    heartbeat: float | None = None
    auth: Credentials | None = None
    origin: str | None = None
    params: Any = None
    headers: Any = None
    proxy: Any = None
    proxy_auth: Credentials | None = None
    ssl: aiohttp.Fingerprint | bool | Any = True
    server_hostname: str | None = None
    proxy_headers: Any = None
    compress: int = 0
    max_msg_size: int = DEFAULT_MAX_MSG_SIZE
    decode_text: bool = True
    # aiows additions
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT
    max_queue: int | None = DEFAULT_MAX_QUEUE
    ping_timeout: float | None = None
    write_limit: int | None = None
    allow_redirects: bool = True
    max_redirects: int = 10
    skip_auto_headers: Iterable[str] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    process_exception: ProcessException | None = None
    iterate_data: bool = False
    # Credentials an aiows.ClientSession adds to each of its requests.
    session_headers: CIMultiDict[str] | None = None
    # Where the connection logs (websockets' logger= option).
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None


def _ws_timeout(options: ConnectOptions) -> Any:
    timeout = options.timeout
    if timeout is None:
        timeout = DEFAULT_WS_TIMEOUT
    elif not isinstance(timeout, ClientWSTimeout):
        warnings.warn(
            "timeout=<float> is deprecated as in aiohttp; use "
            "timeout=aiows.ClientWSTimeout(ws_close=...)",
            DeprecationWarning,
            stacklevel=4,
        )
        timeout = ClientWSTimeout(ws_receive=None, ws_close=float(timeout))
    if options.receive_timeout is not None:
        timeout = ClientWSTimeout(
            ws_receive=options.receive_timeout, ws_close=timeout.ws_close
        )
    return timeout


def _check_url(url: str | URL) -> URL:
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidURI(url, f"not a URI: {exc}") from None
    if parsed.scheme not in _WS_SCHEMES or not parsed.host:
        raise exceptions.InvalidURI(
            url, "a WebSocket URI starts with ws:// or wss:// and names a host"
        )
    return parsed


# Headers whose values are credentials; never shown in errors or logs.
_SECRET_HEADERS: Final = (hdrs.AUTHORIZATION, hdrs.PROXY_AUTHORIZATION, hdrs.COOKIE)


def redacted(info: aiohttp.RequestInfo) -> aiohttp.RequestInfo:
    """``info`` without credentials: secret headers masked, no URL userinfo.

    Exceptions carry the request's ``RequestInfo`` and show it in their
    ``repr()``, which ends up in logs and tracebacks.
    """
    headers: CIMultiDict[str] = CIMultiDict(info.headers)
    for name in _SECRET_HEADERS:
        if name in headers:
            headers[name] = "<redacted>"
    return aiohttp.RequestInfo(
        url=info.url.with_user(None),
        method=info.method,
        headers=CIMultiDictProxy(headers),
        real_url=info.real_url.with_user(None),
    )


def _without_credentials(
    exc: aiohttp.ClientResponseError,
) -> aiohttp.ClientResponseError:
    """A copy of aiohttp's ``exc`` (e.g. a proxy's 407) safe to show."""
    return type(exc)(
        redacted(exc.request_info),
        exc.history,
        status=exc.status,
        message=exc.message,
        headers=exc.headers,
    )


def with_credentials(
    credentials: CIMultiDict[str] | None, given: Any, *, auth_given: bool
) -> CIMultiDict[str]:
    """Request headers: a session's credentials, overridden by the call's.

    A header the call gives replaces the session's of that name, and an
    ``auth=`` given to the call replaces the session's ``Authorization``.
    """
    headers: CIMultiDict[str] = CIMultiDict(credentials or {})
    if auth_given:
        headers.popall(hdrs.AUTHORIZATION, None)
    given = CIMultiDict(given or {})
    for name in given:
        headers.popall(name, None)
    headers.extend(given)
    return headers


def _handshake_error(
    exc: core_errors.HandshakeError, response: ClientResponse
) -> exceptions.InvalidHandshake:
    cls = _HANDSHAKE_ERRORS.get(type(exc), exceptions.InvalidHandshake)
    error = cls(
        redacted(response.request_info),
        response.history,
        status=response.status,
        message=str(exc),
        headers=response.headers,
    )
    error.response = response
    return error


async def open_websocket(
    session: ClientSession, url: str | URL, options: ConnectOptions
) -> ClientWebSocketResponse:
    """Open a WebSocket to ``url`` through ``session``; see ``ws_connect``."""
    parsed = _check_url(url)
    if options.open_timeout is None:
        return await _open(session, parsed, options)
    expired = exceptions.OpenTimeout(
        f"opening handshake with {parsed.host} did not finish within "
        f"{options.open_timeout} s"
    )
    if _timeout is not None:
        try:
            async with _timeout(options.open_timeout):
                return await _open(session, parsed, options)
        except TimeoutError:
            raise expired from None
    try:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(
            _open(session, parsed, options), options.open_timeout
        )
    except asyncio.TimeoutError:  # pragma: no cover - Python 3.10
        raise expired from None


async def _open(
    session: ClientSession, url: URL, options: ConnectOptions
) -> ClientWebSocketResponse:
    ws_timeout = _ws_timeout(options)
    protocols = tuple(options.protocols)
    extra_headers = options.headers
    if callable(extra_headers):
        # Called on every attempt, so a reconnect sends fresh credentials.
        extra_headers = extra_headers()
        if inspect.isawaitable(extra_headers):
            extra_headers = await extra_headers
    headers = with_credentials(
        options.session_headers, extra_headers, auth_given=options.auth is not None
    )
    key = handshake.generate_key()
    offered_bits = options.compress or None
    extensions = (
        core_deflate.build_offer(options.compress) if options.compress else None
    )
    for name, value in handshake.request_headers(
        key, protocols=protocols, origin=options.origin, extensions=extensions
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
    proxy_headers: CIMultiDict[str] = CIMultiDict(options.proxy_headers or {})
    if options.proxy_auth is not None and options.proxy is not None:
        credentials = options.proxy_auth.encode()
        if url.scheme in ("wss", "https"):
            # Sent on the CONNECT that opens the tunnel, never to the server.
            proxy_headers[hdrs.PROXY_AUTHORIZATION] = credentials
        else:
            # A cleartext request goes to the proxy whole; the proxy reads
            # the credentials from it and strips them (RFC 9110 §11.7.1).
            headers[hdrs.PROXY_AUTHORIZATION] = credentials

    response = await _request_following_redirects(
        session, url, options, headers, proxy_headers
    )
    try:
        result = handshake.check_response(
            response.status,
            list(response.headers.items()),
            key=key,
            protocols=protocols,
            offered_server_max_window_bits=offered_bits,
        )
    except core_errors.HandshakeError as exc:
        discard(response)
        raise _handshake_error(exc, response) from None
    except BaseException:
        discard(response)
        raise

    try:
        return _connect(response, result, options, ws_timeout)
    except BaseException:
        response.close()
        raise


_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_SECURE: Final = frozenset({"wss", "https"})
#: Headers that carry credentials for one origin only (RFC 9110 §15.4).
ORIGIN_BOUND: Final = (hdrs.AUTHORIZATION, hdrs.COOKIE)


async def _request_following_redirects(
    session: ClientSession,
    url: URL,
    options: ConnectOptions,
    headers: CIMultiDict[str],
    proxy_headers: CIMultiDict[str],
) -> ClientResponse:
    """Send the upgrade, following redirects the way a WebSocket client must.

    aiows follows redirects itself rather than letting aiohttp do it, so it
    can refuse one from ``wss://`` to ``ws://`` before anything is sent in
    clear text, and drop explicit ``Authorization`` and ``Cookie`` headers
    when the redirect leaves the origin (the session's cookie jar still
    applies per request).
    """
    history: list[ClientResponse] = []
    for _ in range(options.max_redirects + 1):
        failure: aiohttp.ClientResponseError | None = None
        request_url = url
        if options.proxy is not None and url.scheme == "ws":
            # Through a forward proxy the request line carries the whole URL,
            # and proxies expect an http:// one there (RFC 9112 §3.2.2);
            # aiohttp would send ws://, which they refuse.
            request_url = url.with_scheme("http")
        try:
            response = await session.request(
                options.method,
                request_url,
                params=options.params,
                headers=headers,
                read_until_eof=False,
                proxy=options.proxy,
                proxy_headers=proxy_headers or None,
                ssl=options.ssl,
                server_hostname=options.server_hostname,
                allow_redirects=False,
                skip_auto_headers=options.skip_auto_headers,
            )
        except aiohttp.ClientResponseError as exc:
            # Raised below, outside this block, so the original (whose
            # request_info may hold proxy credentials) is not its context.
            failure = _without_credentials(exc)
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
            raise _refusal(
                response,
                history,
                f"refusing to follow a redirect from {url.scheme}:// to "
                f"{target.scheme}:// ({target.with_query(None)}): the upgrade "
                "and its credentials would travel in clear text",
            )
        if target.scheme not in ("ws", "wss") or not target.host:
            raise _refusal(
                response,
                history,
                f"redirect to {location!r}, which is not a WebSocket URI",
            )
        if target.origin() != url.origin():
            for name in ORIGIN_BOUND:
                headers.popall(name, None)
            if session.auth is not None or any(
                name in session.headers for name in ORIGIN_BOUND
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
        if options.params is not None:
            # Query parameters belong to the first URL only, as in aiohttp.
            options = replace(options, params=None)
        url = target
    raise _refusal(response, history, f"more than {options.max_redirects} redirects")


def _refusal(
    response: ClientResponse, history: list[ClientResponse], message: str
) -> exceptions.InvalidHandshake:
    """The error for a redirect aiows will not follow."""
    return exceptions.InvalidHandshake(
        redacted(response.request_info),
        tuple(history),
        status=response.status,
        message=message,
        headers=response.headers,
    )


def _connect(
    response: ClientResponse,
    result: handshake.HandshakeResult,
    options: ConnectOptions,
    ws_timeout: Any,
) -> ClientWebSocketResponse:
    params = result.deflate
    deflate = PerMessageDeflate(params) if params is not None else None
    transport = upgraded_transport(response)
    if options.write_limit is not None:
        transport.set_write_buffer_limits(high=options.write_limit)
    ws = ClientWebSocketResponse(
        transport,
        FrameParser(
            max_msg_size=options.max_msg_size,
            decode_text=options.decode_text,
            deflate=deflate,
            fragments=True,
        ),
        FrameWriter(deflate),
        loop=asyncio.get_running_loop(),
        response=response,
        subprotocol=result.subprotocol,
        compress=params.server_max_window_bits if params is not None else 0,
        client_notakeover=params.client_no_context_takeover if params else False,
        autoclose=options.autoclose,
        autoping=options.autoping,
        heartbeat=options.heartbeat,
        ping_timeout=options.ping_timeout,
        receive_timeout=ws_timeout.ws_receive,
        close_timeout=ws_timeout.ws_close,
        max_queue=options.max_queue,
    )
    ws.iterate_data = options.iterate_data
    if options.logger is not None:
        ws.logger = options.logger
    protocol = WebSocketProtocol(ws)
    protocol.on_lost = take_over(response, protocol)
    # aiohttp may resume reading after handing over the tail (3.14 does when
    # it had paused for a large tail); the queue's bound is what counts.
    ws._sync_reading()
    logger.debug(
        "connected to %s (subprotocol=%s, deflate=%s)",
        response.url,
        result.subprotocol,
        params,
    )
    return ws


class WSConnectContext(
    AbstractAsyncContextManager[ClientWebSocketResponse],
    Awaitable[ClientWebSocketResponse],
):
    """What ``ws_connect`` returns.

    ``await`` it for the connection, use ``async with`` to close it on exit,
    or ``async for`` to reconnect whenever the connection ends::

        ws = await session.ws_connect(url)
        async with session.ws_connect(url) as ws:
            ...
        async for ws in session.ws_connect(url):
            ...
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[ClientWebSocketResponse]],
        url: str | URL = "",
        options: ConnectOptions | None = None,
    ) -> None:
        self._opener = opener
        self._url = url
        self._options = options or ConnectOptions()
        self._ws: ClientWebSocketResponse | None = None

    def __aiter__(self) -> Reconnector:
        return Reconnector(
            self._opener,
            url=str(URL(self._url).with_user(None)),
            backoff=self._options.backoff,
            process_exception=self._options.process_exception or process_exception,
        )

    def __await__(self) -> Generator[Any, None, ClientWebSocketResponse]:
        return self._opener().__await__()

    async def __aenter__(self) -> ClientWebSocketResponse:
        self._ws = await self._opener()
        return self._ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()


def make_options(kwargs: Mapping[str, Any]) -> ConnectOptions:
    """``ConnectOptions`` from ``ws_connect`` keywords, naming any unknown one."""
    try:
        return ConnectOptions(**kwargs)
    except TypeError:
        known = set(ConnectOptions.__dataclass_fields__)
        unknown = ", ".join(sorted(set(kwargs) - known))
        raise TypeError(
            f"ws_connect() got unexpected keyword argument(s): {unknown}"
        ) from None


__all__ = [
    "DEFAULT_OPEN_TIMEOUT",
    "Backoff",
    "ClientWSTimeout",
    "ConnectOptions",
    "Fingerprint",
    "WSConnectContext",
    "make_options",
    "open_websocket",
]
