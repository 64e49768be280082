"""``aiows.install()``: aiohttp's own ``ws_connect``, served by aiows.

Libraries that make their own ``aiohttp.ClientSession`` (GraphQL clients,
Slack's Socket Mode, chat bots) call ``session.ws_connect(...)`` and never
see ``aiows.ClientSession``.  :func:`install` replaces
``aiohttp.ClientSession.ws_connect`` for the whole process with one that
opens the WebSocket through aiows, on that same session: its connector,
cookies, default headers, auth and trace configs still apply.  The
connection it returns is an ``aiohttp.ClientWebSocketResponse`` (aiows's
subclass), so the library's code runs unchanged.  :func:`uninstall` puts
aiohttp's method back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from ..faces.aiohttp_face import ClientWebSocketResponse
from .aiohttp_args import ws_connect_options
from .bind import bind_aiohttp
from .context import WSConnectContext
from .open import check_call, open_websocket

# aiohttp's own method while aiows's is installed.
_original: Callable[..., Any] | None = None


def _ws_connect(
    self: aiohttp.ClientSession, url: str | URL, **kwargs: Any
) -> WSConnectContext[ClientWebSocketResponse]:
    options = ws_connect_options(kwargs)
    check_call(url, options.upgrade)
    bind = bind_aiohttp(options.connection, options.face)
    return WSConnectContext(
        lambda: open_websocket(self, url, options.upgrade, bind),
        url,
        options.reconnect,
    )


def install() -> None:
    """Make every ``aiohttp.ClientSession.ws_connect`` open through aiows.

    Process-wide and idempotent; it takes aiohttp's ``ws_connect`` arguments
    and aiows's additions.  Call it before the library opens its
    WebSocket::

        import aiows
        aiows.install()
        # any library using aiohttp now gets aiows WebSockets
    """
    global _original
    if _original is not None:
        return
    _original = aiohttp.ClientSession.ws_connect
    replacement = functools.wraps(_original)(_ws_connect)
    aiohttp.ClientSession.ws_connect = replacement  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Give ``aiohttp.ClientSession.ws_connect`` back to aiohttp."""
    global _original
    if _original is None:
        return
    aiohttp.ClientSession.ws_connect = _original  # type: ignore[method-assign]
    _original = None


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _original is not None
