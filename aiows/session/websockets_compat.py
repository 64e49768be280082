"""``aiows.connect()``: a drop-in for ``websockets.asyncio.client.connect``.

Same keyword names and defaults as websockets, mapped onto ``ws_connect``.
It runs on a private aiohttp session (closed with the connection) unless
``session=`` is given.  ``async for message in ws`` yields ``str``/``bytes``
and raises :class:`~aiows.ConnectionClosedError` on an abnormal close, as in
websockets.
"""

from __future__ import annotations

import inspect
import logging
import socket
import sys
import urllib.request
from collections.abc import Sequence
from typing import Any, Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from .. import __name__ as _package
from ..engine.connection import DEFAULT_CLOSE_TIMEOUT
from ..faces.websockets_face import ClientConnection
from .bind import bind_websockets
from .client import ClientSession, on_private_session
from .context import WSConnectContext
from .open import open_websocket
from .options import (
    ConnectionOptions,
    ReconnectOptions,
    UpgradeOptions,
    count,
    seconds,
)
from .options import (
    subprotocols as check_subprotocols,
)
from .reconnect import Backoff, ProcessException
from .unix import UnixConnector

#: websockets' default ``User-Agent``, with aiows's name.
USER_AGENT: Final = (
    f"Python/{sys.version_info.major}.{sys.version_info.minor} {_package}/0.1.0"
)

# Keywords websockets passes to loop.create_connection that aiows supports.
_CONNECTION_KEYWORDS: Final = frozenset(
    {"host", "port", "ssl", "server_hostname", "local_addr", "family"}
)


def proxy_from_environment(uri: str) -> str | None:
    """The proxy ``connect(proxy=True)`` uses for ``uri``, as websockets picks it.

    ``no_proxy`` wins; then a proxy declared for ``ws``/``wss`` itself, then
    the HTTPS proxy, then (for ``ws://`` only) the HTTP proxy.  SOCKS proxies
    are not supported by aiohttp, so one that would be chosen is an error
    rather than silently skipped.
    """
    url = URL(uri)
    if urllib.request.proxy_bypass(f"{url.host}:{url.port}"):
        return None
    proxies = urllib.request.getproxies()
    secure = url.scheme in ("wss", "https")
    schemes = ["wss", "socks", "https"] if secure else ["ws", "socks", "https", "http"]
    for scheme in schemes:
        proxy = proxies.get(scheme)
        if proxy is None:
            continue
        if scheme == "socks" or proxy.startswith("socks"):
            raise ValueError(
                f"the environment names a SOCKS proxy ({scheme}_proxy) for {url.host}; "
                "aiows supports HTTP proxies only: pass proxy=None or proxy='http://...'"
            )
        return proxy
    return None


def _first(value: Any) -> Any:
    """websockets accepts (message, fragment) pairs for some limits; aiows
    applies the first."""
    return value[0] if isinstance(value, tuple) else value


class _DestinationResolver(AbstractResolver):
    """Sends every connection to ``host:port``, whatever the URI names.

    This is how ``connect(uri, host=..., port=...)`` changes only the TCP
    destination: the URI's host still goes in the Host header, SNI and
    certificate verification, which aiohttp takes from the URL.
    """

    def __init__(self, host: str | None, port: int | None) -> None:
        self._host = host
        self._port = port
        self._resolver = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(
            self._host or host, self._port or port, family
        )
        return [{**result, "hostname": host} for result in results]

    async def close(self) -> None:
        await self._resolver.close()


def connect(
    uri: str,
    *,
    origin: str | None = None,
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
    max_size: int | tuple[int | None, int | None] | None = 2**20,
    max_queue: int | tuple[int | None, int | None] | None = 16,
    write_limit: int | tuple[int, int | None] = 2**15,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
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
    settings as websockets reads them (:func:`proxy_from_environment`), a
    URL uses that proxy, None uses none.  ``host``/``port``
    change only the TCP destination; ``ssl``, ``server_hostname``,
    ``local_addr`` and ``family`` apply as in ``loop.create_connection``.
    ``session`` runs the connection on an existing session, with its
    credentials.
    """
    given = {
        "origin": origin,
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
        "max_size": max_size,
        "max_queue": max_queue,
        "write_limit": write_limit,
        "logger": logger,
        "backoff": backoff,
    }
    return _connect(uri, given, kwargs, session=session, unix_path=None)


def _connect(
    uri: str,
    given: dict[str, Any],
    kwargs: dict[str, Any],
    *,
    session: ClientSession | aiohttp.ClientSession | None,
    unix_path: str | None,
) -> WSConnectContext[ClientConnection]:
    """The one body of :func:`connect` and :func:`unix_connect`."""
    upgrade, reconnect, bind = _options(uri, kwargs=kwargs, **given)
    if session is not None:
        if {"host", "port", "local_addr", "family"} & set(kwargs):
            raise TypeError(
                "host, port, local_addr and family configure a private session's "
                "connector; they cannot apply to session="
            )
        shared = (
            session if isinstance(session, ClientSession) else ClientSession(session)
        )
        return WSConnectContext(
            lambda: shared.open(uri, upgrade, bind), uri, reconnect, _close_for
        )

    def make_session() -> aiohttp.ClientSession:
        connector: aiohttp.BaseConnector
        if unix_path is not None:
            connector = UnixConnector(path=unix_path)
        else:
            resolver = None
            if kwargs.get("host") or kwargs.get("port"):
                resolver = _DestinationResolver(kwargs.get("host"), kwargs.get("port"))
            connector = aiohttp.TCPConnector(
                resolver=resolver,
                local_addr=kwargs.get("local_addr"),
                family=kwargs.get("family", 0),
            )
        return aiohttp.ClientSession(connector=connector)

    async def open_on(http: aiohttp.ClientSession) -> ClientConnection:
        return await open_websocket(http, uri, upgrade, bind)

    return WSConnectContext(
        on_private_session(make_session, open_on), uri, reconnect, _close_for
    )


async def _close_for(ws: ClientConnection, exc: BaseException | None) -> None:
    await ws.close_for(exc)


def _options(
    uri: str,
    *,
    kwargs: dict[str, Any],
    **given: Any,
) -> tuple[UpgradeOptions, ReconnectOptions, Any]:
    """``connect()``'s arguments, checked and frozen."""
    unknown = set(kwargs) - _CONNECTION_KEYWORDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"connect() got unsupported keyword argument(s): {names}")
    compression = given["compression"]
    if compression not in ("deflate", None):
        raise ValueError(f'compression must be "deflate" or None, not {compression!r}')
    additional_headers = given["additional_headers"]
    user_agent_header = given["user_agent_header"]
    headers: Any = additional_headers
    skip: tuple[str, ...] | None = None
    if user_agent_header is None:
        skip = ("User-Agent",)
    elif not callable(additional_headers):
        headers = {"User-Agent": user_agent_header, **dict(additional_headers or {})}
    proxy = given["proxy"]
    upgrade = UpgradeOptions(
        protocols=check_subprotocols("subprotocols", given["subprotocols"]),
        origin=given["origin"],
        compress=15 if compression == "deflate" else 0,
        headers=headers,
        skip_auto_headers=skip,
        proxy=proxy_from_environment(uri) if proxy is True else proxy or None,
        ssl=kwargs.get("ssl", True),
        server_hostname=kwargs.get("server_hostname"),
        open_timeout=seconds("open_timeout", given["open_timeout"]),
    )
    connection = ConnectionOptions(
        max_msg_size=count(
            "max_size", _first(given["max_size"]) or 0, minimum=0, none=False
        )
        or 0,
        max_queue=count("max_queue", _first(given["max_queue"]), minimum=1, none=True),
        write_limit=count(
            "write_limit", _first(given["write_limit"]), minimum=0, none=True
        ),
        close_timeout=seconds("close_timeout", given["close_timeout"], zero=True),
        logger=given["logger"],
    )
    reconnect = ReconnectOptions(
        backoff=given["backoff"] or Backoff(),
        process_exception=given["process_exception"],
    )
    bind = bind_websockets(
        connection,
        ping_interval=seconds("ping_interval", given["ping_interval"]),
        ping_timeout=seconds("ping_timeout", given["ping_timeout"]),
    )
    return upgrade, reconnect, bind


def unix_connect(
    path: str | None = None, uri: str | None = None, **kwargs: Any
) -> WSConnectContext[ClientConnection]:
    """Like :func:`connect`, over the Unix socket at ``path``.

    ``uri`` defaults to ``ws://localhost/``; it names the Host header and the
    request path.
    """
    if path is None:
        raise TypeError("unix_connect() needs the socket path")
    if uri is None:
        uri = "ws://localhost/"
    unknown = set(kwargs) & {"host", "port", "local_addr", "family", "session"}
    if unknown:
        raise TypeError(f"unix_connect() does not take {', '.join(sorted(unknown))}")
    # A Unix socket is local: proxies from the environment do not apply.
    kwargs.setdefault("proxy", None)
    bound = inspect.signature(connect).bind(uri, **kwargs)
    bound.apply_defaults()
    given = dict(bound.arguments)
    extra = given.pop("kwargs")
    del given["uri"], given["session"]
    return _connect(uri, given, extra, session=None, unix_path=path)
