"""The options of a connection: frozen, and checked once, where they are given.

Each entry point (``ws_connect``, ``connect()``, ``unix_connect()``) turns
its keyword arguments into these objects before anything is sent, so a bad
value fails at the call with an error that names the argument.  After that
nothing changes them; a reconnect reuses them as they are.

* :class:`UpgradeOptions`: how the upgrade request is sent and what it offers;
* :class:`ConnectionOptions`: the engine's limits, the same for every face;
* :class:`AiohttpOptions`: what only the aiohttp face uses;
* :class:`ReconnectOptions`: the policy of ``async for ws in ...``.
"""

from __future__ import annotations

import ssl as ssl_module
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import hdrs

from ..core.headers import is_token
from ..core.parser import DEFAULT_MAX_MSG_SIZE
from ..engine.assembler import DEFAULT_MAX_QUEUE
from ..engine.connection import DEFAULT_CLOSE_TIMEOUT, Logger
from .auth import Credentials
from .reconnect import Backoff, ProcessException

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


__all__ = [
    "DEFAULT_OPEN_TIMEOUT",
    "DEFAULT_WS_TIMEOUT",
    "AiohttpOptions",
    "ClientWSTimeout",
    "ConnectionOptions",
    "ReconnectOptions",
    "UpgradeOptions",
    "count",
    "flag",
    "response_class",
    "seconds",
    "ssl_setting",
    "subprotocols",
    "window_bits",
]

DEFAULT_OPEN_TIMEOUT: Final = 10.0

#: aiohttp's default: no receive timeout, 10 s for the closing handshake.
DEFAULT_WS_TIMEOUT: Final = ClientWSTimeout(
    ws_receive=None, ws_close=DEFAULT_CLOSE_TIMEOUT
)

# -- checks, each naming the argument ------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seconds(name: str, value: Any, *, zero: bool = False) -> float | None:
    """``value`` as a duration in seconds (None: no limit)."""
    if value is None:
        return None
    if not _is_number(value) or value < 0 or (value == 0 and not zero):
        allowed = "0 or more" if zero else "more than 0"
        raise ValueError(
            f"{name} must be a number of seconds ({allowed}) or None, not {value!r}"
        )
    return float(value)


def count(name: str, value: Any, *, minimum: int, none: bool) -> int | None:
    """``value`` as a whole number of at least ``minimum`` (None if allowed)."""
    if value is None and none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        alternative = " or None" if none else ""
        raise ValueError(
            f"{name} must be a whole number of at least {minimum}{alternative}, "
            f"not {value!r}"
        )
    return value


def response_class(name: str, value: Any) -> Any:
    """``ws_response_class=``: None, or a subclass of
    :class:`aiows.ClientWebSocketResponse` (aiows builds the connection, so
    aiohttp's class, which needs aiohttp's reader and writer, cannot do)."""
    from ..faces.aiohttp_face import ClientWebSocketResponse

    if value is None or (
        isinstance(value, type) and issubclass(value, ClientWebSocketResponse)
    ):
        return value
    raise TypeError(
        f"{name} must be a subclass of aiows.ClientWebSocketResponse, not "
        f"{value!r}: subclass aiows.ClientWebSocketResponse (itself an "
        "aiohttp.ClientWebSocketResponse) for your overrides"
    )


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool; anything else is a mistake."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def subprotocols(name: str, value: Any) -> tuple[str, ...]:
    """The subprotocols to offer, as a tuple of tokens (RFC 6455 §4.1)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{name} must be a list of subprotocol names, not a single string: "
            f"write {name}=[{value!r}]"
        )
    names = tuple(value)
    for item in names:
        if not isinstance(item, str) or not is_token(item):
            raise ValueError(
                f"{name} holds {item!r}, which is not a subprotocol name "
                "(an HTTP token: letters, digits and !#$%&'*+-.^_`|~)"
            )
    return names


def window_bits(name: str, value: Any) -> int:
    """aiohttp's ``compress=``: 0 (off) or the server's window bits, 9-15."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (value == 0 or 9 <= value <= 15)
    ):
        raise ValueError(
            f"{name} must be 0 (no compression) or a window size from 9 to 15 "
            f"(zlib cannot use 8), not {value!r}"
        )
    return value


def ssl_setting(value: Any) -> Any:
    """``ssl=``: True, False, an ``SSLContext`` or an ``aiohttp.Fingerprint``."""
    if value is True or value is False:
        return value
    if isinstance(value, (ssl_module.SSLContext, aiohttp.Fingerprint)):
        return value
    # aiohttp's words (its ws_connect checks the same).
    raise TypeError(
        f"ssl should be SSLContext, bool, Fingerprint or None, got {value!r} instead."
    )


# -- the option objects ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpgradeOptions:
    """How the upgrade request is sent, and what it offers the server."""

    method: str = hdrs.METH_GET
    #: Subprotocols offered, in order of preference.
    protocols: tuple[str, ...] = ()
    origin: str | None = None
    params: Any = None
    #: Extra headers: a mapping, or a function or coroutine function that
    #: returns one, called for every attempt (fresh credentials).
    headers: Any = None
    auth: Credentials | None = None
    proxy: Any = None
    proxy_auth: Credentials | None = None
    proxy_headers: Any = None
    ssl: Any = True
    server_hostname: str | None = None
    #: ``server_max_window_bits`` offered with permessage-deflate; 0: none.
    compress: int = 0
    #: Extension factories offered, in order (``connect(extensions=...)``);
    #: when set, they are the offer and ``compress`` is not used.
    extensions: tuple[Any, ...] | None = None
    skip_auto_headers: tuple[str, ...] | None = None
    allow_redirects: bool = True
    max_redirects: int = 10
    #: Bounds TCP, the proxy, TLS and the upgrade together.
    open_timeout: float | None = DEFAULT_OPEN_TIMEOUT


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """The engine's limits, the same for every face."""

    #: Largest message accepted, in bytes; 0: no limit.
    max_msg_size: int = DEFAULT_MAX_MSG_SIZE
    #: Whether TEXT data is decoded to ``str``.
    decode_text: bool = True
    #: Unread messages before reading pauses; None: never pauses.
    max_queue: int | None = DEFAULT_MAX_QUEUE
    #: The transport's write high-water mark; None: asyncio's default.
    write_limit: int | None = None
    #: How long the closing handshake may take.
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT
    #: Where the connection logs; None: ``aiows.client``.
    logger: Logger | None = None


@dataclass(frozen=True, slots=True)
class AiohttpOptions:
    """What only the aiohttp face uses."""

    #: aiohttp's ``ClientWSTimeout``.
    timeout: Any = DEFAULT_WS_TIMEOUT
    autoclose: bool = True
    autoping: bool = True
    #: Seconds without input before a ping; None: no heartbeat.
    heartbeat: float | None = None
    #: Seconds the server has to answer the heartbeat (aiohttp: half of it).
    ping_timeout: float | None = None
    #: The class of the connection ``ws_connect`` returns: a subclass of
    #: :class:`aiows.ClientWebSocketResponse`, or None for that class.
    response_class: Any = None


@dataclass(frozen=True, slots=True)
class ReconnectOptions:
    """The policy of ``async for ws in ws_connect(...)``."""

    backoff: Backoff = field(default_factory=Backoff)
    #: None retries what :func:`aiows.process_exception` retries.
    process_exception: ProcessException | None = None
