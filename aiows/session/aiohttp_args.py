"""``ws_connect``'s keyword arguments, as aiohttp 3.14 takes them, checked.

:func:`ws_connect_options` turns them into the frozen option objects of
:mod:`aiows.session.options`, with aiohttp's defaults, aiohttp's deprecation
warnings for the spellings it still accepts, and an error naming the
argument for anything else that is wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from ..core.parser import DEFAULT_MAX_MSG_SIZE
from ..engine.assembler import DEFAULT_MAX_QUEUE
from .options import (
    DEFAULT_OPEN_TIMEOUT,
    DEFAULT_WS_TIMEOUT,
    AiohttpOptions,
    ClientWSTimeout,
    ConnectionOptions,
    ReconnectOptions,
    UpgradeOptions,
    count,
    flag,
    response_class,
    seconds,
    ssl_setting,
    subprotocols,
    window_bits,
)
from .reconnect import Backoff

#: Every keyword ``ws_connect`` takes: aiohttp's, then aiows's additions.
KEYWORDS: Final = frozenset(
    {
        # aiohttp 3.14
        "method",
        "protocols",
        "timeout",
        "receive_timeout",
        "autoclose",
        "autoping",
        "heartbeat",
        "auth",
        "origin",
        "params",
        "headers",
        "proxy",
        "proxy_auth",
        "ssl",
        "verify_ssl",
        "fingerprint",
        "ssl_context",
        "server_hostname",
        "proxy_headers",
        "compress",
        "max_msg_size",
        "decode_text",
        # aiohttp 0.x: ws_response_class is honoured, loop ignored with a warning
        "ws_response_class",
        "loop",
        # aiows
        "open_timeout",
        "max_queue",
        "ping_timeout",
        "write_limit",
        "allow_redirects",
        "max_redirects",
        "skip_auto_headers",
        "backoff",
        "process_exception",
        "logger",
    }
)

_EXCLUSIVE: Final = (
    "verify_ssl, ssl_context, fingerprint and ssl parameters are mutually exclusive"
)


@dataclass(frozen=True, slots=True)
class WSConnectOptions:
    """Everything one ``ws_connect`` call asked for."""

    upgrade: UpgradeOptions
    connection: ConnectionOptions
    face: AiohttpOptions
    reconnect: ReconnectOptions


def _warn(message: str, stacklevel: int) -> None:
    """Warn at the user's call, ``stacklevel`` frames above the caller's
    caller (one frame for this function, one for its caller)."""
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 2)


def _ws_timeout(given: Mapping[str, Any], stacklevel: int) -> Any:
    timeout = given.get("timeout")
    if timeout is None:
        timeout = DEFAULT_WS_TIMEOUT
    elif not isinstance(timeout, ClientWSTimeout):
        _warn(
            "parameter 'timeout' of type 'float' is deprecated, please use "
            "'timeout=ClientWSTimeout(ws_close=...)'",
            stacklevel,
        )
        timeout = ClientWSTimeout(
            ws_receive=None, ws_close=seconds("timeout", timeout, zero=True)
        )
    receive_timeout = given.get("receive_timeout")
    if receive_timeout is not None:
        _warn(
            "float parameter 'receive_timeout' is deprecated, please use "
            "parameter 'timeout=ClientWSTimeout(ws_receive=...)'",
            stacklevel,
        )
        timeout = ClientWSTimeout(
            ws_receive=seconds("receive_timeout", receive_timeout, zero=True),
            ws_close=timeout.ws_close,
        )
    seconds("timeout.ws_receive", timeout.ws_receive, zero=True)
    seconds("timeout.ws_close", timeout.ws_close, zero=True)
    return timeout


def _ssl(given: Mapping[str, Any], stacklevel: int) -> Any:
    """``ssl`` merged with the deprecated spellings, as aiohttp merges them."""
    ssl = given.get("ssl", True)
    if ssl is None:
        _warn("ssl=None is deprecated, please use ssl=True", stacklevel)
        ssl = True
    ssl = ssl_setting(ssl)
    verify_ssl = given.get("verify_ssl")
    if verify_ssl is not None and not verify_ssl:
        _warn("verify_ssl is deprecated, use ssl=False instead", stacklevel)
        if ssl is not True:
            raise ValueError(_EXCLUSIVE)
        ssl = False
    context = given.get("ssl_context")
    if context is not None:
        _warn("ssl_context is deprecated, use ssl=context instead", stacklevel)
        if ssl is not True:
            raise ValueError(_EXCLUSIVE)
        ssl = ssl_setting(context)
    fingerprint = given.get("fingerprint")
    if fingerprint is not None:
        _warn(
            "fingerprint is deprecated, use ssl=Fingerprint(fingerprint) instead",
            stacklevel,
        )
        if ssl is not True:
            raise ValueError(_EXCLUSIVE)
        ssl = aiohttp.Fingerprint(fingerprint)
    return ssl


def ws_connect_options(
    given: Mapping[str, Any], *, stacklevel: int = 2
) -> WSConnectOptions:
    """Check ``ws_connect``'s keyword arguments and freeze them.

    ``stacklevel`` counts from the caller of this function to the user's
    call, for the deprecation warnings.
    """
    unknown = set(given) - KEYWORDS
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"ws_connect() got unexpected keyword argument(s): {names}")
    level = stacklevel + 1
    if given.get("loop") is not None:
        warnings.warn(
            "ws_connect() ignores loop=, an aiohttp 0.x argument: aiows "
            "always runs on the running loop",
            DeprecationWarning,
            stacklevel=level,
        )
    heartbeat = seconds("heartbeat", given.get("heartbeat"))
    skip = given.get("skip_auto_headers")
    method = given.get("method", "GET")
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {method!r}")
    upgrade = UpgradeOptions(
        method=method,
        protocols=subprotocols("protocols", given.get("protocols", ())),
        origin=given.get("origin"),
        params=given.get("params"),
        headers=given.get("headers"),
        auth=given.get("auth"),
        proxy=given.get("proxy"),
        proxy_auth=given.get("proxy_auth"),
        proxy_headers=given.get("proxy_headers"),
        ssl=_ssl(given, level),
        server_hostname=given.get("server_hostname"),
        compress=window_bits("compress", given.get("compress", 0)),
        skip_auto_headers=None if skip is None else tuple(skip),
        allow_redirects=flag("allow_redirects", given.get("allow_redirects", True)),
        max_redirects=count(
            "max_redirects", given.get("max_redirects", 10), minimum=0, none=False
        )
        or 0,
        open_timeout=seconds(
            "open_timeout", given.get("open_timeout", DEFAULT_OPEN_TIMEOUT)
        ),
    )
    timeout = _ws_timeout(given, level)
    connection = ConnectionOptions(
        max_msg_size=count(
            "max_msg_size",
            given.get("max_msg_size", DEFAULT_MAX_MSG_SIZE),
            minimum=0,
            none=False,
        )
        or 0,
        decode_text=flag("decode_text", given.get("decode_text", True)),
        max_queue=count(
            "max_queue",
            given.get("max_queue", DEFAULT_MAX_QUEUE),
            minimum=1,
            none=True,
        ),
        write_limit=count(
            "write_limit", given.get("write_limit"), minimum=0, none=True
        ),
        close_timeout=timeout.ws_close,
        logger=given.get("logger"),
    )
    face = AiohttpOptions(
        timeout=timeout,
        autoclose=flag("autoclose", given.get("autoclose", True)),
        autoping=flag("autoping", given.get("autoping", True)),
        heartbeat=heartbeat,
        ping_timeout=seconds("ping_timeout", given.get("ping_timeout")),
        response_class=response_class(
            "ws_response_class", given.get("ws_response_class")
        ),
    )
    backoff = given.get("backoff") or Backoff()
    if not isinstance(backoff, Backoff):
        raise TypeError(f"backoff must be an aiows.Backoff, not {backoff!r}")
    reconnect = ReconnectOptions(
        backoff=backoff, process_exception=given.get("process_exception")
    )
    return WSConnectOptions(upgrade, connection, face, reconnect)
