"""``aiows.connect()``: a drop-in for ``websockets.asyncio.client.connect``.

It takes websockets' arguments, current and legacy
(:mod:`.websockets_args`), dials as websockets does (:mod:`.dial`: CONNECT
tunnels, SOCKS, ``sock=``, ``host=``/``port=``), and returns the websockets
face (:class:`aiows.ClientConnection`).  It runs on a private aiohttp
session, closed with the connection, unless ``session=`` is given.  Errors
are websockets' classes: no aiohttp exception escapes untranslated.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import exceptions
from ..core import errors as core_errors
from ..engine.connection import DEFAULT_CLOSE_TIMEOUT
from ..faces.websockets_face import ClientConnection
from ..websockets_state import USER_AGENT
from .bind import bind_websockets
from .client import ClientSession, on_private_session
from .context import WEBSOCKETS_NOT_REENTRANT, WSConnectContext
from .credentials import redacted
from .dial import (
    CREATE_CONNECTION_KEYWORDS,
    INVALID_ANSWER,
    PROXY_TLS_KEYWORDS,
    Dialer,
)
from .open import open_websocket
from .reconnect import Backoff, ProcessException
from .unix import UnixConnector
from .websockets_args import ConnectSettings, connect_settings, proxy_from_environment

#: websockets' words for an answer to the upgrade that is not valid HTTP,
#: or no answer at all.
NO_VALID_RESPONSE: Final = core_errors.NO_VALID_RESPONSE

#: The quoted line in aiohttp's "Bad status line" message: on a line of its
#: own as bytes (the C parser), or after the words (the Python parser).
_QUOTED_LINE: Final = re.compile(
    r"""(?:\n\s*|^Bad status line )(b?(['"]).*\2)\s*(?:\n|$)"""
)

#: The repr of a status line as aiohttp's LineTooLong shows it.
_STATUS_LINE: Final = re.compile(r"""b['"]HTTP/\d\.\d \d{3} """)

__all__ = ["USER_AGENT", "connect", "proxy_from_environment", "unix_connect"]


def connect(
    uri: str,
    *,
    origin: str | None = None,
    extensions: Sequence[Any] | None = None,
    subprotocols: Sequence[str] | None = None,
    compression: str | None = "deflate",
    additional_headers: Any = None,
    user_agent_header: str | None = USER_AGENT,
    proxy: str | bool | None = True,
    process_exception: ProcessException | None = None,
    open_timeout: float | None = 10,
    ping_interval: float | None = 20,
    ping_timeout: float | None = 20,
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
    reconnect_delays: Callable[[], Iterator[float]] | None = None,
    max_size: int | tuple[int | None, int | None] | None = 2**20,
    max_queue: int | tuple[int | None, int | None] | None = 16,
    write_limit: int | tuple[int, int | None] = 2**15,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    create_connection: Any = None,
    session: ClientSession | aiohttp.ClientSession | None = None,
    backoff: Backoff | None = None,
    **kwargs: Any,
) -> WSConnectContext[ClientConnection]:
    """Connect like ``websockets.asyncio.client.connect``, through aiohttp.

    ``await`` it, use it with ``async with``, or iterate it to reconnect::

        async with aiows.connect("wss://example.com/feed") as ws:
            await ws.send("hello")
            async for message in ws:
                print(message)

    Keywords have websockets' names and defaults.  ``compression`` is
    ``"deflate"`` or None.  ``proxy=True`` uses the environment's proxy
    settings as websockets reads them, a URL (``http://``, ``https://``,
    ``socks5://``, ``socks5h://``, ``socks4://``, ``socks4a://``) uses that
    proxy through a tunnel, None uses none; SOCKS needs the
    ``aiows-client[socks]`` extra.  ``host``/``port`` change only the TCP
    destination, ``sock`` is a connected socket to use, and the other
    keywords of ``loop.create_connection`` apply as there, with
    ``proxy_ssl``, ``proxy_server_hostname``, ``proxy_ssl_handshake_timeout``
    and ``proxy_ssl_shutdown_timeout`` for TLS to an ``https://`` proxy.
    A proxy's answer to ``CONNECT`` is read strictly, and bytes it sends
    after a 2xx answer are refused (:class:`aiows.InvalidProxyMessage`).
    websockets' legacy spellings (``extra_headers``, ``timeout``,
    ``read_limit``, ``create_protocol``/``klass``, ``extensions``, ``loop``)
    work, with a ``DeprecationWarning`` naming the current one.
    ``session`` runs the connection on an existing session, with its
    credentials.
    """
    given = {
        "origin": origin,
        "extensions": extensions,
        "subprotocols": subprotocols,
        "compression": compression,
        "additional_headers": additional_headers,
        "user_agent_header": user_agent_header,
        "proxy": proxy,
        "process_exception": process_exception,
        "open_timeout": open_timeout,
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "close_timeout": close_timeout,
        "reconnect_delays": reconnect_delays,
        "max_size": max_size,
        "max_queue": max_queue,
        "write_limit": write_limit,
        "logger": logger,
        "create_connection": create_connection,
        "backoff": backoff,
    }
    settings = connect_settings(uri, given, dict(kwargs), stacklevel=3)
    return _connect(settings, session=session, unix_path=None)


def unix_connect(
    path: str | None = None, uri: str | None = None, **kwargs: Any
) -> WSConnectContext[ClientConnection]:
    """Like :func:`connect`, over the Unix socket at ``path``, or over
    ``sock``, a connected Unix socket.

    ``uri`` defaults to ``ws://localhost/``, or ``wss://localhost/`` when
    ``ssl`` is given; it names the Host header and the request path.  A
    ``wss://`` URI speaks TLS on the socket.  Proxies from the environment
    never apply.
    """
    sock = kwargs.pop("sock", None)
    # asyncio's create_unix_connection() words, which websockets lets through.
    if path is None and sock is None:
        raise ValueError("no path and sock were specified")
    if path is not None and sock is not None:
        raise ValueError("path and sock can not be specified at the same time")
    if uri is None:
        uri = "ws://localhost/" if kwargs.get("ssl") is None else "wss://localhost/"
    unknown = set(kwargs) & (
        {"host", "port", "session"} | CREATE_CONNECTION_KEYWORDS | PROXY_TLS_KEYWORDS
    )
    if unknown:
        raise TypeError(f"unix_connect() does not take {', '.join(sorted(unknown))}")
    kwargs.setdefault("proxy", None)
    if kwargs["proxy"] is not None:
        raise TypeError("unix_connect() does not take a proxy")
    bound = inspect.signature(connect).bind(uri, **kwargs)
    bound.apply_defaults()
    given = dict(bound.arguments)
    extra = given.pop("kwargs")
    del given["uri"], given["session"]
    if sock is not None:
        extra["sock"] = sock
    settings = connect_settings(uri, given, extra, stacklevel=3)
    return _connect(settings, session=None, unix_path=path)


def _connect(
    settings: ConnectSettings,
    *,
    session: ClientSession | aiohttp.ClientSession | None,
    unix_path: str | None,
) -> WSConnectContext[ClientConnection]:
    """The one body of :func:`connect` and :func:`unix_connect`."""
    uri = settings.uri
    bind = bind_websockets(
        settings.connection,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        create_connection=settings.create_connection,
    )
    if session is not None:
        if settings.dial:
            raise TypeError(
                f"{', '.join(sorted(settings.dial))} configure connect()'s own "
                "connection; with session=, configure the session's connector"
            )
        if settings.proxy is not None and settings.proxy.scheme not in (
            "http",
            "https",
        ):
            raise exceptions.InvalidProxy(
                str(settings.proxy),
                "with session=, a SOCKS proxy belongs on the session's connector "
                "(aiohttp-socks' ProxyConnector)",
            )
        upgrade = settings.upgrade
        if settings.proxy is not None:
            upgrade = replace(upgrade, proxy=str(settings.proxy))
        shared = (
            session if isinstance(session, ClientSession) else ClientSession(session)
        )

        async def opener() -> ClientConnection:
            return await shared.open(
                uri, upgrade, bind, application_proxy_authorization=True
            )

        return WSConnectContext(
            _translated(opener),
            uri,
            settings.reconnect,
            _close_for,
            not_reentrant=WEBSOCKETS_NOT_REENTRANT,
        )

    dial = dict(settings.dial)

    def make_session() -> aiohttp.ClientSession:
        connector: aiohttp.BaseConnector
        if unix_path is not None:
            connector = UnixConnector(unix_path, origin_host=uri.host)
        else:
            connector = Dialer(
                host=dial.get("host"),
                port=dial.get("port"),
                sock=dial.get("sock"),
                proxy=settings.proxy,
                proxy_ssl=dial.get("proxy_ssl"),
                proxy_server_hostname=dial.get("proxy_server_hostname"),
                origin_host=uri.host,
                connection_kwargs={
                    name: value
                    for name, value in dial.items()
                    if name in CREATE_CONNECTION_KEYWORDS
                },
                proxy_tls_kwargs={
                    name.removeprefix("proxy_"): value
                    for name, value in dial.items()
                    if name
                    in ("proxy_ssl_handshake_timeout", "proxy_ssl_shutdown_timeout")
                    and value is not None
                },
                user_agent=settings.user_agent,
            )
        return aiohttp.ClientSession(connector=connector)

    async def open_on(http: aiohttp.ClientSession) -> ClientConnection:
        return await open_websocket(
            http, uri, settings.upgrade, bind, application_proxy_authorization=True
        )

    return WSConnectContext(
        _translated(on_private_session(make_session, open_on)),
        uri,
        settings.reconnect,
        _close_for,
        not_reentrant=WEBSOCKETS_NOT_REENTRANT,
    )


async def _close_for(ws: ClientConnection, exc: BaseException | None) -> None:
    await ws.close_for(exc)


def _translated(
    opener: Callable[[], Awaitable[ClientConnection]],
) -> Callable[[], Awaitable[ClientConnection]]:
    """``opener``, raising websockets' exceptions for aiohttp's."""

    async def translated() -> ClientConnection:
        try:
            return await opener()
        except exceptions.OpenTimeout as exc:
            # websockets' words, caused by a bare timeout as websockets'.
            exc.in_websockets_words()
            if exc.__cause__ is None:
                exc.__cause__ = asyncio.TimeoutError()
            raise
        except aiohttp.ClientError as exc:
            error = websockets_error(exc)
            cause: BaseException | None = error
            while isinstance(cause, exceptions.InvalidHandshake):
                # Its cause too: a redirect's status, say.
                cause.in_websockets_words()
                cause = cause.__cause__
            if error is exc:
                raise
            if error.__cause__ is not None:
                # An OSError out of aiohttp's wrapper that has a cause of its
                # own (python-socks' ProxyConnectionError: the refused
                # connection to the proxy), or the cause websockets chains
                # (the EOF or the bad status line), kept as websockets shows it.
                raise error  # noqa: B904
            raise error from exc

    return translated


def websockets_error(exc: aiohttp.ClientError) -> BaseException:
    """The exception websockets raises where aiohttp raised ``exc``."""
    if type(exc).__module__ == exceptions.__name__:
        return exc  # aiows's own, websockets' name already
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        certificate_error: BaseException = exc.certificate_error
        return certificate_error
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The OSError (ssl.SSLError included) behind aiohttp's wrapper.
        os_error: BaseException = exc.os_error
        return os_error
    if isinstance(exc, aiohttp.ServerTimeoutError):
        # One of the session's ClientTimeout (sock_read, sock_connect): a
        # timeout, as websockets' handshake timeouts are.
        return exceptions.OpenTimeout(f"timed out during opening handshake: {exc}")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return exceptions.InvalidProxyStatus(
            redacted(exc.request_info),
            exc.history,
            status=exc.status,
            message=core_errors.rejected_words(exc.status, proxy=True),
            headers=exc.headers,
        )
    if (
        isinstance(exc, aiohttp.ClientResponseError)
        and exc.request_info.method == "CONNECT"
    ):
        # aiohttp's own tunnel (with session=) could not read the proxy's
        # answer to CONNECT.
        return exceptions.InvalidProxyMessage(
            redacted(exc.request_info),
            exc.history,
            status=exc.status,
            message=INVALID_ANSWER,
            headers=exc.headers,
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        cls: type[exceptions.InvalidHandshake] = exceptions.InvalidMessage
        if "Too many headers" in exc.message:
            cls = exceptions.TooManyHeaders
        elif exc.message.startswith("Got more than "):
            cls = _line_too_long(exc.message)
        error = cls(
            redacted(exc.request_info),
            exc.history,
            status=exc.status,
            message=f"did not receive a valid HTTP response: {exc.message}",
            headers=exc.headers,
        )
        if cls is exceptions.InvalidMessage:
            error.websockets_message = NO_VALID_RESPONSE
            line = _bad_status_line(exc.message)
            if line is not None:
                # websockets chains what was wrong with the status line.
                error.__cause__ = ValueError(f"invalid HTTP status line: {line}")
        return error
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        error = exceptions.InvalidMessage(
            _no_request(),
            (),
            message="the server closed the connection before answering the upgrade",
        )
        error.websockets_message = NO_VALID_RESPONSE
        error.__cause__ = EOFError(core_errors.EOF_BEFORE_STATUS)
        return error
    if isinstance(exc, aiohttp.ClientSSLError):
        return ssl_module.SSLError(str(exc))
    if isinstance(exc, aiohttp.ClientOSError):
        return OSError(exc.errno, exc.strerror or str(exc))
    return exceptions.InvalidMessage(_no_request(), (), message=str(exc))


def _bad_status_line(message: str) -> str | None:
    """The status line aiohttp's "Bad status line" error quotes, if it does
    (aiohttp 3.10's C parser says only "Expected HTTP/" before it)."""
    if not message.startswith(("Bad status line", "Expected HTTP/")):
        return None
    match = _QUOTED_LINE.search(message)
    if match is None:
        return None
    try:
        line = ast.literal_eval(match[1])
    except (ValueError, SyntaxError):
        return None
    if isinstance(line, bytes):
        return line.decode("utf-8", "backslashreplace")
    return str(line)


def _line_too_long(message: str) -> type[exceptions.SecurityError]:
    """Which line of the answer was over aiohttp's limit, by its LineTooLong.

    aiohttp 3.10 says which ("Status line is too long").  Later versions show
    the start of what was read instead: with the C parser, the status line's
    buffer is a ``bytearray`` where a header's name or value is ``bytes``;
    with the pure-Python parser, the line itself, which is the status line
    when it starts as one (``HTTP/1.1 101 ``).
    """
    _, _, read = message.partition(" when reading: ")
    if (
        "Status line is too long" in message
        or read.startswith("bytearray(")
        or _STATUS_LINE.match(read)
    ):
        return exceptions.StatusLineTooLong
    return exceptions.HeaderLineTooLong


def _no_request() -> aiohttp.RequestInfo:
    return aiohttp.RequestInfo(URL(), "GET", CIMultiDictProxy(CIMultiDict()), URL())
