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
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from ..faces.aiohttp_face import ClientWebSocketResponse
from .aiohttp_args import ws_connect_options
from .bind import bind_aiohttp
from .context import WSConnectContext
from .open import check_call, open_websocket, session_url

# The state of install(): changed under _lock only, so that two threads
# installing (or one installing, one uninstalling) cannot take aiows's
# method for aiohttp's and leave it in place for good.
_lock = threading.Lock()
# aiohttp's method (or whatever held ws_connect before install()).
_original: Callable[..., Any] | None = None
# aiows's method, as long as it is in aiohttp's class, or in the chain of
# another library's patch made after install().
_replacement: Callable[..., Any] | None = None
# Whether aiows's method opens through aiows (False: it passes the call on
# to _original, once uninstalled under another library's patch).
_active = False


def _ws_connect(
    self: aiohttp.ClientSession, url: str | URL, **kwargs: Any
) -> WSConnectContext[ClientWebSocketResponse]:
    options = ws_connect_options(kwargs)
    url = session_url(self, url)
    check_call(url, options.upgrade)
    bind = bind_aiohttp(options.connection, options.face)
    return WSConnectContext(
        lambda: open_websocket(self, url, options.upgrade, bind),
        url,
        options.reconnect,
    )


def _make_replacement(original: Callable[..., Any]) -> Callable[..., Any]:
    """aiows's ``ws_connect``, with the name and docstring of ``original``."""

    @functools.wraps(original)
    def ws_connect(self: aiohttp.ClientSession, url: str | URL, **kwargs: Any) -> Any:
        if not _active:
            # Uninstalled while another library's patch, made after
            # install(), still calls this one: aiohttp's method answers.
            return original(self, url, **kwargs)
        return _ws_connect(self, url, **kwargs)

    return ws_connect


def install() -> None:
    """Make every ``aiohttp.ClientSession.ws_connect`` open through aiows.

    Process-wide, idempotent and thread-safe; it takes aiohttp's
    ``ws_connect`` arguments and aiows's additions.  Call it before the
    library opens its WebSocket::

        import aiows
        aiows.install()
        # any library using aiohttp now gets aiows WebSockets
    """
    global _original, _replacement, _active
    with _lock:
        if _active:
            return
        _active = True
        if _replacement is not None:
            return  # still in place, under another library's patch
        _original = aiohttp.ClientSession.ws_connect
        _replacement = _make_replacement(_original)
        aiohttp.ClientSession.ws_connect = _replacement  # type: ignore[method-assign]


def uninstall() -> None:
    """Give ``aiohttp.ClientSession.ws_connect`` back to aiohttp.

    When another library replaced ``ws_connect`` after :func:`install`
    (wrapping aiows's), its replacement stays, and the call it passes on
    goes to aiohttp's method again instead of aiows's.
    """
    global _original, _replacement, _active
    with _lock:
        if not _active:
            return
        _active = False
        if aiohttp.ClientSession.__dict__.get("ws_connect") is _replacement:
            aiohttp.ClientSession.ws_connect = _original  # type: ignore[method-assign,assignment]
            _original = _replacement = None


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return _active
