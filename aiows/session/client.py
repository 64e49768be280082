"""``aiows.ClientSession``: an aiohttp session that also opens WebSockets.

It wraps an ``aiohttp.ClientSession`` (its own, or one you pass in) and
forwards the REST methods to it unchanged, so REST calls and WebSockets share
one connector pool, cookie jar, default headers and trace configs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import BaseConnector, hdrs
from aiohttp.abc import AbstractCookieJar
from multidict import CIMultiDict
from yarl import URL

from .connect import ORIGIN_BOUND as _ORIGIN_BOUND
from .connect import (
    ConnectOptions,
    WSConnectContext,
    make_options,
    open_websocket,
    with_credentials,
)
from .response import ClientWebSocketResponse


class ClientSession:
    """An aiohttp session with aiows WebSockets.

    ``ClientSession()`` creates and owns an ``aiohttp.ClientSession`` built
    from the keyword arguments, which are aiohttp's.  ``ClientSession(s)``
    wraps an existing one and leaves closing it to its owner::

        async with aiows.ClientSession() as session:
            async with session.get("https://api.example/token") as r:
                token = await r.text()
            async with session.ws_connect("wss://api.example/feed") as ws:
                async for msg in ws:
                    ...
    """

    def __init__(
        self, session: aiohttp.ClientSession | None = None, /, **kwargs: Any
    ) -> None:
        if session is not None and kwargs:
            raise TypeError(
                "pass an aiohttp.ClientSession to wrap or aiohttp's keyword "
                "arguments to build one, not both"
            )
        # Credentials given for the whole session are kept out of aiohttp's
        # default headers and added to each request here instead, so a
        # redirect to another origin drops them (aiohttp re-applies its
        # session defaults to every request, whatever the origin).
        self._credentials: CIMultiDict[str] = CIMultiDict()
        if session is None:
            defaults: CIMultiDict[str] = CIMultiDict(kwargs.pop("headers", None) or {})
            for name in _ORIGIN_BOUND:
                for value in defaults.popall(name, []):
                    self._credentials.add(name, value)
            auth = kwargs.pop("auth", None)
            if auth is not None:
                if hdrs.AUTHORIZATION in self._credentials:
                    raise ValueError("pass auth= or an Authorization header, not both")
                self._credentials[hdrs.AUTHORIZATION] = auth.encode()
            kwargs["headers"] = defaults
        # Whether close() also closes the aiohttp session.
        self._owner = session is None
        self._session = aiohttp.ClientSession(**kwargs) if session is None else session
        # Open WebSockets, closed with 1001 (going away) by close().
        self._websockets: set[ClientWebSocketResponse] = set()

    @property
    def aiohttp_session(self) -> aiohttp.ClientSession:
        """The wrapped ``aiohttp.ClientSession``, for anything not forwarded."""
        return self._session

    @property
    def connector(self) -> BaseConnector | None:
        """The session's connector (shared by REST calls and WebSockets)."""
        return self._session.connector

    @property
    def cookie_jar(self) -> AbstractCookieJar:
        """The session's cookie jar."""
        return self._session.cookie_jar

    @property
    def headers(self) -> CIMultiDict[str]:
        """Default headers sent with every request, upgrades included.

        ``Authorization`` and ``Cookie`` given to the constructor are not
        here: aiows adds them to each request itself, so that they never
        follow a redirect to another origin.
        """
        return self._session.headers

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._session.closed

    def _with_credentials(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with the session's credentials added as request headers."""
        if not self._credentials:
            return kwargs
        headers = with_credentials(
            self._credentials,
            kwargs.get("headers"),
            auth_given=kwargs.get("auth") is not None,
        )
        return {**kwargs, "headers": headers}

    def request(self, method: str, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.request``, with the session's credentials."""
        return self._session.request(method, url, **self._with_credentials(kwargs))

    def get(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.get``, with the session's credentials."""
        return self.request(hdrs.METH_GET, url, **kwargs)

    def post(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.post``, with the session's credentials."""
        return self.request(hdrs.METH_POST, url, **kwargs)

    def put(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.put``, with the session's credentials."""
        return self.request(hdrs.METH_PUT, url, **kwargs)

    def patch(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.patch``, with the session's credentials."""
        return self.request(hdrs.METH_PATCH, url, **kwargs)

    def delete(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.delete``, with the session's credentials."""
        return self.request(hdrs.METH_DELETE, url, **kwargs)

    def head(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.head``, with the session's credentials."""
        return self.request(hdrs.METH_HEAD, url, **kwargs)

    def options(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.options``, with the session's credentials."""
        return self.request(hdrs.METH_OPTIONS, url, **kwargs)

    def ws_connect(self, url: str | URL, **kwargs: Any) -> WSConnectContext:
        """Open a WebSocket through this session.

        Takes aiohttp's ``ws_connect`` arguments with their meaning and
        defaults (``protocols``, ``timeout``, ``autoclose``, ``autoping``,
        ``heartbeat``, ``auth``, ``origin``, ``params``, ``headers``,
        ``proxy``, ``proxy_auth``, ``proxy_headers``, ``ssl``,
        ``server_hostname``, ``compress``, ``max_msg_size``,
        ``decode_text``, ...), plus ``open_timeout`` (10 s: bounds TCP,
        proxy, TLS and the upgrade), ``max_queue`` (16 unread messages before
        reading pauses), ``ping_timeout``, ``write_limit``,
        ``allow_redirects`` and ``max_redirects`` (10), and for
        ``async for ws in session.ws_connect(...)`` the reconnect policy:
        ``backoff`` (:class:`aiows.Backoff`) and ``process_exception``.
        ``headers`` may be a function or coroutine function returning the
        headers, called for every attempt.
        """
        options = make_options(kwargs)
        options.session_headers = self._credentials

        async def opener() -> ClientWebSocketResponse:
            ws = await open_websocket(self._session, url, options)
            self._websockets.add(ws)
            ws._closed_waiter.add_done_callback(lambda _: self._websockets.discard(ws))
            return ws

        return WSConnectContext(opener, url, options)

    async def close(self) -> None:
        """Close open WebSockets with 1001 (going away), then the session if owned."""
        if self._websockets:
            await asyncio.gather(
                *(ws.close(code=1001) for ws in list(self._websockets)),
                return_exceptions=True,
            )
        if self._owner:
            await self._session.close()

    async def __aenter__(self) -> ClientSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def ws_connect(url: str | URL, **kwargs: Any) -> WSConnectContext:
    """Open a WebSocket on a session of its own, closed with the WebSocket.

    Takes the arguments of :meth:`ClientSession.ws_connect`, plus
    ``connector`` for the private session::

        async with aiows.ws_connect("wss://h/ws", protocols=("chat",)) as ws:
            await ws.send_str("hi")
    """
    connector = kwargs.pop("connector", None)
    return on_private_session(
        url, make_options(kwargs), lambda: aiohttp.ClientSession(connector=connector)
    )


def on_private_session(
    url: str | URL,
    options: ConnectOptions,
    make_session: Callable[[], aiohttp.ClientSession],
) -> WSConnectContext:
    """Connections that each run on a new session, closed with the connection."""

    async def opener() -> ClientWebSocketResponse:
        session = make_session()
        try:
            ws = await open_websocket(session, url, options)
        except BaseException:
            await session.close()
            raise
        # Set before any await, so connection_lost (always a later loop
        # callback) cannot run before the hook is in place.
        ws._after_close = session.close
        return ws

    return WSConnectContext(opener, url, options)
