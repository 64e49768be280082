"""``connect()``'s arguments, checked at the call and frozen.

The names and defaults are websockets' (``websockets.sync.client.connect``),
and so are the errors for bad values; aiows adds ``process_exception``,
``reconnect_delays`` and ``backoff`` for the reconnect iterator, and lets
``additional_headers`` be a callable.  ``extensions`` takes any websockets
client extension factory, as the asyncio face does.
"""

from __future__ import annotations

import logging
import socket
import ssl as ssl_module
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from yarl import URL

from .. import exceptions
from ..core.headers import is_token
from ..core.retry import Backoff
from ..extension_factories import client_factories
from .messages import DEFAULT_MAX_QUEUE

#: ``socket.create_connection``'s keywords, passed on as they are.
SOCKET_KEYWORDS: Final = frozenset(
    {"address", "timeout", "source_address", "all_errors"}
)

#: Where the threading face logs by default.
LOGGER: Final = logging.getLogger("aiows.client")

ProcessException = Callable[[Exception], "Exception | None"]


@dataclass(frozen=True)
class _Delays(Backoff):
    """websockets' ``reconnect_delays``: a function giving the delays."""

    factory: Callable[[], Iterator[float]] | None = None

    def delays(self) -> Iterator[float]:
        assert self.factory is not None
        return iter(self.factory())


@dataclass(frozen=True)
class Settings:
    """Everything one ``connect()`` call asked for."""

    uri: str
    sock: socket.socket | None
    ssl: ssl_module.SSLContext | None
    server_hostname: str | None
    origin: str | None
    subprotocols: tuple[str, ...]
    #: Offer permessage-deflate (without ``extensions``).
    deflate: bool
    #: The extension factories offered, in order (``extensions=``, with
    #: permessage-deflate added per ``compression``), or None.
    extensions: tuple[Any, ...] | None
    #: A mapping, pairs, or a callable giving them, called per attempt.
    additional_headers: Any
    user_agent: str | None
    #: True (the environment's), a URL, or None.
    proxy: str | bool | None
    proxy_ssl: ssl_module.SSLContext | None
    proxy_server_hostname: str | None
    open_timeout: float | None
    ping_interval: float | None
    ping_timeout: float | None
    close_timeout: float | None
    max_size: int | None
    max_queue: tuple[int | None, int | None]
    logger: logging.Logger | logging.LoggerAdapter[Any]
    create_connection: Any
    process_exception: ProcessException | None
    backoff: Backoff
    #: The Unix socket to connect to, for ``unix_connect()``.
    unix_path: str | None = None
    #: Keywords for ``socket.create_connection``.
    socket_kwargs: dict[str, Any] = field(default_factory=dict)


def check_uri(uri: str) -> URL:
    """``uri`` parsed, or :class:`~aiows.InvalidURI` as websockets raises it."""
    try:
        url = URL(uri)
        url.port  # noqa: B018 - raises ValueError for a bad port
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidURI(uri, f"not a URI: {exc}") from None
    if url.scheme not in ("ws", "wss"):
        raise exceptions.InvalidURI(uri, "scheme isn't ws or wss")
    if not url.host:
        raise exceptions.InvalidURI(uri, "hostname isn't provided")
    return url


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds (0 or more) or None")
    return float(value)


def _subprotocols(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError("subprotocols must be a list")
    if "*" in value:
        raise ValueError("* is not a valid subprotocol")
    for item in value:
        if not isinstance(item, str) or not is_token(item):
            raise ValueError(f"{item!r} is not a valid subprotocol")
    return tuple(value)


def _size(value: Any) -> int | None:
    if isinstance(value, tuple):
        value = value[0]  # (message, fragment) limits: the message's applies
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"max_size must be a number of bytes or None, not {value!r}")
    return value


def _queue(value: Any) -> tuple[int | None, int | None]:
    high, low = value if isinstance(value, tuple) else (value, None)
    for item in (high, low):
        if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
            raise TypeError(f"max_queue must be a whole number or None, not {item!r}")
    if high is not None and low is None:
        low = high // 4
    if high is None and low is not None:
        high = low * 4
    if low is not None and low < 0:
        raise ValueError("low must be positive or equal to zero")
    if high is not None and low is not None and high < low:
        raise ValueError("high must be greater than or equal to low")
    return high, low


def _extensions(
    compression: Any, extensions: Any
) -> tuple[bool, tuple[Any, ...] | None]:
    """Whether to offer aiows's permessage-deflate alone, and the factories
    of ``extensions=`` (see :func:`aiows.extension_factories.client_factories`:
    as in websockets, ``compression="deflate"`` adds permessage-deflate after
    them unless one of them is already permessage-deflate)."""
    if compression not in ("deflate", None):
        raise ValueError(f"unsupported compression: {compression}")
    factories = client_factories(extensions, compression)
    if factories is not None:
        return False, factories
    return compression == "deflate", None


def settings(uri: str, given: dict[str, Any], kwargs: dict[str, Any]) -> Settings:
    """Check ``connect()``'s arguments (``given``: the named ones; ``kwargs``:
    the rest) and freeze them."""
    if given["ssl"] is None and "ssl_context" in kwargs:
        given["ssl"] = kwargs.pop("ssl_context")
        warnings.warn(
            "ssl_context was renamed to ssl", DeprecationWarning, stacklevel=3
        )
    unix_path = kwargs.pop("path", None) if kwargs.pop("unix", False) else None
    unknown = set(kwargs) - SOCKET_KEYWORDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"connect() got unexpected keyword argument(s): {names}")
    url = check_uri(uri)
    if url.scheme == "ws" and given["ssl"] is not None:
        raise ValueError("ssl argument is incompatible with a ws:// URI")
    proxy = given["proxy"]
    if (
        isinstance(proxy, str)
        and given["proxy_ssl"] is not None
        and URL(proxy).scheme != "https"
    ):
        raise ValueError("proxy_ssl argument is incompatible with an http:// proxy")
    if proxy is not None and proxy is not True and not isinstance(proxy, str):
        raise TypeError(f"proxy must be True, a URL or None, not {proxy!r}")
    make = given["create_connection"]
    if make is not None and not callable(make):
        raise TypeError(f"create_connection must be callable, not {make!r}")
    process = given["process_exception"]
    if process is not None and not callable(process):
        raise TypeError(f"process_exception must be callable, not {process!r}")
    backoff = given["backoff"] or Backoff()
    if not isinstance(backoff, Backoff):
        raise TypeError(f"backoff must be an aiows.Backoff, not {backoff!r}")
    if given["reconnect_delays"] is not None:
        backoff = _Delays(factory=given["reconnect_delays"])
    deflate, factories = _extensions(given["compression"], given["extensions"])
    return Settings(
        uri=uri,
        sock=given["sock"],
        ssl=given["ssl"],
        server_hostname=given["server_hostname"],
        origin=given["origin"],
        subprotocols=_subprotocols(given["subprotocols"]),
        deflate=deflate,
        extensions=factories,
        additional_headers=given["additional_headers"],
        user_agent=given["user_agent_header"],
        proxy=None if unix_path is not None else proxy,
        proxy_ssl=given["proxy_ssl"],
        proxy_server_hostname=given["proxy_server_hostname"],
        open_timeout=_seconds("open_timeout", given["open_timeout"]),
        ping_interval=_seconds("ping_interval", given["ping_interval"]),
        ping_timeout=_seconds("ping_timeout", given["ping_timeout"]),
        close_timeout=_seconds("close_timeout", given["close_timeout"]),
        max_size=_size(given["max_size"]),
        max_queue=_queue(given["max_queue"]),
        logger=given["logger"] or LOGGER,
        create_connection=make,
        process_exception=process,
        backoff=backoff,
        unix_path=unix_path,
        socket_kwargs=kwargs,
    )


__all__ = ["DEFAULT_MAX_QUEUE", "SOCKET_KEYWORDS", "Settings", "check_uri", "settings"]
