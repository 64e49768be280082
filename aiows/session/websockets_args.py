"""``connect()``'s arguments: websockets' (13 and later, and legacy), checked.

:func:`connect_settings` takes the union of both signatures, turns the
legacy spellings into the current ones with a ``DeprecationWarning`` that
names the replacement, checks every value as websockets does (with its
exception classes), and freezes the result.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from multidict import CIMultiDict
from yarl import URL

from .. import exceptions
from ..core.proxies import PROXY_SCHEMES
from ..core.proxies import proxy_from_environment as environment_proxy
from ..extension_factories import client_factories
from ..faces.websockets_face import ClientConnection
from .dial import (
    CREATE_CONNECTION_KEYWORDS,
    PROXY_TLS_KEYWORDS,
    check_proxy,
)
from .options import (
    ConnectionOptions,
    ReconnectOptions,
    UpgradeOptions,
    count,
    seconds,
)
from .options import subprotocols as check_subprotocols
from .reconnect import Backoff

#: Keywords that go to the connection itself, as websockets passes them to
#: ``loop.create_connection`` (plus the proxy's TLS settings).
DIAL_KEYWORDS: Final = (
    CREATE_CONNECTION_KEYWORDS
    | PROXY_TLS_KEYWORDS
    | {"host", "port", "sock", "ssl", "server_hostname"}
)

#: Requests websockets makes for one connection, redirects included.
MAX_REDIRECTS: Final = 10

#: Legacy spelling -> (current spelling, how it is carried over).
LEGACY: Final = {
    "extra_headers": "additional_headers",
    "timeout": "close_timeout",
    "klass": "create_connection",
    "create_protocol": "create_connection",
}


def proxy_from_environment(uri: URL) -> str | None:
    """The proxy ``connect(proxy=True)`` uses for ``uri``, as websockets picks it
    (see :func:`aiows.core.proxies.proxy_from_environment`)."""
    assert uri.host is not None and uri.port is not None
    return environment_proxy(uri.scheme == "wss", uri.host, uri.port)


def check_uri(uri: str) -> URL:
    """``uri`` parsed, or :class:`~aiows.InvalidURI` as websockets raises it."""
    try:
        parsed = URL(uri)
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidURI(uri, f"not a URI: {exc}") from None
    if parsed.scheme not in ("ws", "wss"):
        raise exceptions.InvalidURI(uri, "scheme isn't ws or wss")
    if not parsed.host:
        raise exceptions.InvalidURI(uri, "hostname isn't provided")
    if parsed.raw_fragment:
        raise exceptions.InvalidURI(uri, "fragment identifier is meaningless")
    if parsed.user is not None and parsed.password is None:
        raise exceptions.InvalidURI(uri, "username provided without password")
    return parsed


def _with_note(error: Exception, note: str) -> Exception:
    """``error`` with aiows's explanation as a note (shown in tracebacks,
    not in the message, which is websockets')."""
    if hasattr(error, "add_note"):  # Python 3.11
        error.add_note(note)
    return error


def check_tls(uri: URL, kwargs: dict[str, Any]) -> None:
    """Refuse ``ssl=`` values the URI cannot use, with websockets' errors.

    websockets passes ``ssl`` to ``loop.create_connection``, where False
    means no TLS; a ``wss://`` URI with it fails there, before connecting,
    with asyncio's words, which websockets lets through.
    """
    ssl = kwargs.get("ssl")
    if uri.scheme == "ws":
        if ssl is not None:
            raise ValueError("ssl argument is incompatible with a ws:// URI")
        return
    if "ssl" in kwargs and ssl is None:
        raise ValueError("ssl=None is incompatible with a wss:// URI")
    if ssl is False:
        raise _with_note(
            ValueError("server_hostname is only meaningful with ssl"),
            "ssl=False asks for no TLS, and a wss:// URI needs TLS: leave ssl "
            "out, or pass an ssl.SSLContext",
        )


def check_proxy_tls(proxy: URL | None, kwargs: dict[str, Any]) -> None:
    """Refuse TLS settings for a proxy that would not use them, or TLS
    turned off for one that needs it, before anything connects.

    websockets splits the keywords between the proxy and the server, and
    the loop refuses those that do not fit: ``proxy_ssl`` with an
    ``http://`` proxy (websockets' own check), ``proxy_server_hostname``
    and the ``proxy_ssl_*`` timeouts without TLS to the proxy (asyncio's
    check, "only meaningful with ssl"), any of them without an HTTP proxy
    (``create_connection()`` has no such keyword: a ``TypeError``).
    """
    given = sorted(name for name in PROXY_TLS_KEYWORDS if name in kwargs)
    if proxy is None or PROXY_SCHEMES[proxy.scheme]:
        unused = [name for name in given if kwargs[name] is not None]
        if unused:
            where = (
                "a connection without a proxy"
                if proxy is None
                else f"a {proxy.scheme}:// proxy"
            )
            raise TypeError(f"{unused[0]} argument is incompatible with {where}")
        return
    proxy_ssl = kwargs.get("proxy_ssl")
    if proxy.scheme == "http":
        if proxy_ssl is not None:
            raise ValueError("proxy_ssl argument is incompatible with an http:// proxy")
        for name in given:
            if kwargs[name] is not None:
                raise ValueError(f"{name[len('proxy_') :]} is only meaningful with ssl")
        return
    if "proxy_ssl" in kwargs and proxy_ssl is None:
        raise ValueError("proxy_ssl=None is incompatible with an https:// proxy")
    if proxy_ssl is False:
        # websockets would speak clear text to the https:// proxy; aiows
        # refuses, as it refuses ssl=False with wss://.
        raise ValueError("proxy_ssl=False is incompatible with an https:// proxy")


def _first(value: Any) -> Any:
    """websockets accepts (message, fragment) pairs for some limits; aiows
    applies the first."""
    return value[0] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class CustomDelays(Backoff):
    """websockets' ``reconnect_delays``: a function giving the delays."""

    factory: Callable[[], Iterator[float]] | None = None

    def delays(self) -> Iterator[float]:
        assert self.factory is not None
        return iter(self.factory())


@dataclass(frozen=True)
class ConnectSettings:
    """Everything one ``connect()`` call asked for."""

    uri: URL
    upgrade: UpgradeOptions
    connection: ConnectionOptions
    reconnect: ReconnectOptions
    ping_interval: float | None
    ping_timeout: float | None
    #: The proxy for connect()'s own dialer, or None.
    proxy: URL | None
    #: Keywords for the dialer (see :mod:`.dial`).
    dial: dict[str, Any] = field(default_factory=dict)
    #: A subclass of :class:`aiows.ClientConnection`, or a factory of one.
    create_connection: Any = None
    #: The ``User-Agent`` of a proxy's CONNECT request (websockets sends
    #: ``user_agent_header`` there too).
    user_agent: str | None = None


def _legacy(given: dict[str, Any], named: dict[str, Any], stacklevel: int) -> None:
    """Turn the legacy spellings in ``given`` into the current ones, warning.

    ``named`` holds connect()'s named parameters: a current spelling given
    there with its legacy one is refused, as one given among the keywords is.
    """
    for old, new in LEGACY.items():
        if old in given:
            value = given.pop(old)
            warnings.warn(
                f"{old}= is deprecated; use {new}=",
                DeprecationWarning,
                stacklevel=stacklevel,
            )
            current = given.get(new) is not None or named.get(new) is not None
            if current and new != "close_timeout":
                raise TypeError(f"pass {new}= or {old}=, not both")
            given[new] = value
    if "read_limit" in given:
        given.pop("read_limit")
        warnings.warn(
            "read_limit= is deprecated and has no effect; max_queue= bounds what "
            "is held unread",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
    if "loop" in given:
        given.pop("loop")
        warnings.warn(
            "loop= is deprecated and ignored: the running loop is used",
            DeprecationWarning,
            stacklevel=stacklevel,
        )


def _extensions(
    extensions: Any, compression: Any
) -> tuple[int, tuple[Any, ...] | None]:
    """The ``compress`` value and the extension factories of ``compression=``
    and ``extensions=`` (see :func:`aiows.extension_factories.client_factories`)."""
    if compression not in ("deflate", None):
        raise ValueError(f"unsupported compression: {compression}")
    factories = client_factories(extensions, compression)
    if factories is not None:
        return 0, factories
    return (15 if compression == "deflate" else 0), None


def _user_agent_first(headers: Any, user_agent: str) -> CIMultiDict[str]:
    """``headers`` after a ``User-Agent``, unless they name their own."""
    given: CIMultiDict[str] = CIMultiDict(headers or {})
    merged: CIMultiDict[str] = CIMultiDict()
    if "User-Agent" not in given:
        merged["User-Agent"] = user_agent
    merged.extend(given)
    return merged


def _with_user_agent(headers: Any, user_agent: str) -> Any:
    """``additional_headers`` with ``user_agent_header``: a mapping, or a
    function (or coroutine function) called on every attempt, as given."""
    if not callable(headers):
        return _user_agent_first(headers, user_agent)
    make = headers

    def with_user_agent() -> Any:
        made = make()
        if not inspect.isawaitable(made):
            return _user_agent_first(made, user_agent)

        async def awaited() -> CIMultiDict[str]:
            return _user_agent_first(await made, user_agent)

        return awaited()

    return with_user_agent


def connect_settings(
    uri: str, given: dict[str, Any], kwargs: dict[str, Any], *, stacklevel: int
) -> ConnectSettings:
    """Check ``connect()``'s arguments and freeze them."""
    _legacy(kwargs, given, stacklevel + 1)
    for name in ("additional_headers", "close_timeout", "create_connection"):
        if name in kwargs:
            given[name] = kwargs.pop(name)
    extensions = kwargs.pop("extensions", given.pop("extensions", None))
    unknown = set(kwargs) - DIAL_KEYWORDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"connect() got unexpected keyword argument(s): {names}")
    parsed = check_uri(uri)
    check_tls(parsed, kwargs)
    if kwargs.get("sock") is not None and {"host", "port"} & set(kwargs):
        raise ValueError("host and port cannot be given with sock")

    compress, factories = _extensions(extensions, given["compression"])
    headers = given["additional_headers"]
    # websockets sends no Accept or Accept-Encoding; aiohttp adds them to
    # every request unless told not to.
    skip: tuple[str, ...] = ("Accept", "Accept-Encoding")
    user_agent = given["user_agent_header"]
    if user_agent is None:
        skip = (*skip, "User-Agent")
    else:
        headers = _with_user_agent(headers, user_agent)

    proxy = given["proxy"]
    if proxy is True:
        proxy = (
            None if kwargs.get("sock") is not None else proxy_from_environment(parsed)
        )
    proxy_url = check_proxy(proxy) if proxy else None
    # websockets dials the socket it is given, whatever the proxy.
    check_proxy_tls(None if kwargs.get("sock") is not None else proxy_url, kwargs)

    upgrade = UpgradeOptions(
        protocols=check_subprotocols("subprotocols", given["subprotocols"]),
        origin=given["origin"],
        compress=compress,
        extensions=factories,
        headers=headers,
        skip_auto_headers=skip,
        ssl=kwargs.get("ssl") or True,
        server_hostname=kwargs.get("server_hostname"),
        open_timeout=seconds("open_timeout", given["open_timeout"]),
        # websockets makes at most 10 requests: 9 redirects.
        max_redirects=MAX_REDIRECTS - 1,
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
    make = given.get("create_connection")
    if isinstance(make, type) and not issubclass(make, ClientConnection):
        raise TypeError(
            "create_connection must be a subclass of aiows.ClientConnection, "
            f"not {make!r}"
        )
    if make is not None and not callable(make):
        raise TypeError(f"create_connection must be callable, not {make!r}")
    backoff = given["backoff"] or Backoff()
    if given.get("reconnect_delays") is not None:
        backoff = CustomDelays(factory=given["reconnect_delays"])
    reconnect = ReconnectOptions(
        backoff=backoff, process_exception=given["process_exception"]
    )
    return ConnectSettings(
        uri=parsed,
        upgrade=upgrade,
        connection=connection,
        reconnect=reconnect,
        ping_interval=seconds("ping_interval", given["ping_interval"]),
        ping_timeout=seconds("ping_timeout", given["ping_timeout"]),
        proxy=proxy_url,
        dial={name: value for name, value in kwargs.items() if name != "ssl"},
        create_connection=given.get("create_connection"),
        user_agent=user_agent,
    )
