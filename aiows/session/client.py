"""``aiows.ClientSession``: an aiohttp session that also opens WebSockets.

It wraps an ``aiohttp.ClientSession`` (its own, or one you pass in) and
forwards the REST methods to it unchanged, so REST calls and WebSockets share
one connector pool, cookie jar, default headers and trace configs.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import BaseConnector, hdrs
from aiohttp.abc import AbstractCookieJar
from multidict import CIMultiDict
from yarl import URL

from .connect import WSConnectContext, make_options, open_websocket
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
        auth = kwargs.pop("auth", None)
        if auth is not None:
            # Sent as a default header: the same effect as aiohttp's auth=,
            # which aiohttp 3.14 deprecates; aiohttp drops the header on a
            # redirect to another origin either way.
            headers = CIMultiDict(kwargs.pop("headers", None) or {})
            if hdrs.AUTHORIZATION in headers:
                raise ValueError("pass auth= or an Authorization header, not both")
            headers[hdrs.AUTHORIZATION] = auth.encode()
            kwargs["headers"] = headers
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
        """Default headers sent with every request, upgrades included."""
        return self._session.headers

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._session.closed

    def request(self, method: str, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.request``, unchanged."""
        return self._session.request(method, url, **kwargs)

    def get(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.get``, unchanged."""
        return self._session.get(url, **kwargs)

    def post(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.post``, unchanged."""
        return self._session.post(url, **kwargs)

    def put(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.put``, unchanged."""
        return self._session.put(url, **kwargs)

    def patch(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.patch``, unchanged."""
        return self._session.patch(url, **kwargs)

    def delete(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.delete``, unchanged."""
        return self._session.delete(url, **kwargs)

    def head(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.head``, unchanged."""
        return self._session.head(url, **kwargs)

    def options(self, url: str | URL, **kwargs: Any) -> Any:
        """``aiohttp.ClientSession.options``, unchanged."""
        return self._session.options(url, **kwargs)

    def ws_connect(self, url: str | URL, **kwargs: Any) -> WSConnectContext:
        """Open a WebSocket through this session.

        Takes aiohttp's ``ws_connect`` arguments with their meaning and
        defaults (``protocols``, ``timeout``, ``autoclose``, ``autoping``,
        ``heartbeat``, ``auth``, ``origin``, ``params``, ``headers``,
        ``proxy``, ``proxy_auth``, ``proxy_headers``, ``ssl``,
        ``server_hostname``, ``compress``, ``max_msg_size``,
        ``decode_text``, ...), plus ``open_timeout`` (10 s: bounds TCP,
        proxy, TLS and the upgrade), ``max_queue`` (16 unread messages before
        reading pauses), ``ping_timeout`` and ``write_limit``.
        """
        options = make_options(kwargs)

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
    options = make_options(kwargs)

    async def opener() -> ClientWebSocketResponse:
        session = aiohttp.ClientSession(connector=connector)
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
