"""``aiows.ClientSession``: an aiohttp session that also opens WebSockets.

It wraps an ``aiohttp.ClientSession`` (its own, or one you pass in) and
forwards the REST methods to it unchanged, so REST calls and WebSockets share
one connector pool, cookie jar, default headers and trace configs.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar

import aiohttp
from aiohttp import BaseConnector, hdrs
from aiohttp.abc import AbstractCookieJar
from multidict import CIMultiDict
from yarl import URL

from ..engine.connection import Connection
from ..faces.aiohttp_face import ClientWebSocketResponse
from ..faces.listener import Listener, ListenerConnection
from .aiohttp_args import ws_connect_options
from .bind import bind_aiohttp, bind_listener
from .context import WSConnectContext
from .credentials import ORIGIN_BOUND, with_credentials
from .open import Binder, check_call, open_websocket, session_url
from .options import UpgradeOptions, response_class


class Face(Protocol):
    """A connection of either face, as the session layer sees it."""

    _engine: Connection

    async def close(self, *, code: int = 1000) -> Any: ...


F = TypeVar("F", bound=Face)

# The context a session's bookkeeping callbacks run in: an empty one, where
# asyncio would copy the caller's for each.  One per thread, since a Context
# is entered by one thread at a time: shared by the event loops of several
# threads, two callbacks running at once (on a free-threaded Python) would
# fail with "cannot enter context", and the WebSocket would never be
# forgotten.
_quiet: Final = threading.local()


def _quiet_context() -> contextvars.Context:
    """This thread's empty context for bookkeeping callbacks."""
    context: contextvars.Context | None = getattr(_quiet, "context", None)
    if context is None:
        context = _quiet.context = contextvars.Context()
    return context


#: What :meth:`ClientSession.ws_feed` calls: ``aiows.feeds.feed``, set when
#: :mod:`aiows.feeds` is imported (``import aiows`` does).  The feeds sit
#: above the session layer, which may not import them.
feed_factory: Callable[..., Any] | None = None


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
        # The class ws_connect's connections are made of, as aiohttp's
        # ClientSession(ws_response_class=) (kept from aiohttp's session, where
        # it only builds aiohttp's own ws_connect's).
        self._ws_response_class = response_class(
            "ws_response_class", kwargs.pop("ws_response_class", None)
        )
        if session is not None:
            wrapped = getattr(session, "_ws_response_class", None)
            if isinstance(wrapped, type) and issubclass(
                wrapped, ClientWebSocketResponse
            ):
                self._ws_response_class = wrapped
        if session is None:
            defaults: CIMultiDict[str] = CIMultiDict(kwargs.pop("headers", None) or {})
            for name in ORIGIN_BOUND:
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
        # Open WebSockets, closed with 1001 (going away) by close(), by the
        # future their engine sets when it is gone; _forget drops one then
        # (made once: a closure per WebSocket cost 272 bytes of each).
        self._websockets: dict[asyncio.Future[None], Face] = {}
        self._forget = self._websockets.pop

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

    def ws_connect(
        self, url: str | URL, **kwargs: Any
    ) -> WSConnectContext[ClientWebSocketResponse]:
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
        headers, called for every attempt.  Every argument is checked here,
        before anything is sent.
        """
        if self._ws_response_class is not None:
            kwargs.setdefault("ws_response_class", self._ws_response_class)
        options = ws_connect_options(kwargs)
        url = session_url(self._session, url)
        check_call(url, options.upgrade)
        bind = bind_aiohttp(options.connection, options.face)
        return WSConnectContext(
            lambda: self.open(url, options.upgrade, bind), url, options.reconnect
        )

    def ws_listen(
        self, url: str | URL, listener: Listener, **kwargs: Any
    ) -> WSConnectContext[ListenerConnection]:
        """Open a WebSocket whose messages go to ``listener``'s callbacks.

        Takes :meth:`ws_connect`'s arguments (those about ``receive()``,
        ``autoclose`` and ``autoping`` have no effect: the server's close
        and pings are answered at once).  See :class:`aiows.Listener`.
        """
        options = ws_connect_options(kwargs)
        url = session_url(self._session, url)
        check_call(url, options.upgrade)
        bind = bind_listener(options.connection, options.face, listener)
        return WSConnectContext(
            lambda: self.open(url, options.upgrade, bind), url, options.reconnect
        )

    def ws_feed(self, url: str | URL, **kwargs: Any) -> Any:
        """A feed on ``url`` through this session: an :class:`aiows.feeds.Feed`
        that reconnects, replays its subscriptions and fails over by itself.

        Takes :func:`aiows.feed`'s arguments; ``face`` defaults to
        ``"aiohttp"`` (messages are ``aiohttp.WSMessage``), as for
        :meth:`ws_connect`, and every connection uses this session's
        credentials, cookies and connector::

            async with session.ws_feed(url, loads=json.loads) as feed:
                async for message in feed:
                    ...
        """
        if feed_factory is None:  # pragma: no cover - aiows imports aiows.feeds
            raise RuntimeError("ws_feed() needs aiows.feeds: import aiows")
        kwargs.setdefault("face", "aiohttp")
        return feed_factory(url, session=self, **kwargs)

    async def open(
        self,
        url: str | URL,
        upgrade: UpgradeOptions,
        bind: Binder[F],
        *,
        application_proxy_authorization: bool = False,
    ) -> F:
        """Open a WebSocket of the face ``bind`` makes, with this session's
        credentials, and close it with the session.

        ``application_proxy_authorization``: see
        :func:`aiows.session.open.open_websocket`.
        """
        ws = await open_websocket(
            self._session,
            url,
            upgrade,
            bind,
            credentials=self._credentials,
            application_proxy_authorization=application_proxy_authorization,
        )
        closed = ws._engine.closed
        self._websockets[closed] = ws
        closed.add_done_callback(self._forget, context=_quiet_context())
        return ws

    async def close(self) -> None:
        """Close open WebSockets with 1001 (going away), then the session if owned."""
        if self._websockets:
            await asyncio.gather(
                *(_going_away(ws) for ws in list(self._websockets.values())),
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


async def _going_away(ws: Face) -> None:
    await ws.close(code=1001)


def on_private_session(
    make_session: Callable[[], aiohttp.ClientSession],
    open_on: Callable[[aiohttp.ClientSession], Awaitable[F]],
) -> Callable[[], Awaitable[F]]:
    """An opener whose connections each run on a new session, closed with it."""

    async def opener() -> F:
        session = make_session()
        try:
            ws = await open_on(session)
        except BaseException:
            await session.close()
            raise
        engine = ws._engine
        release = engine.on_lost

        def lost(exc: BaseException | None) -> None:
            if release is not None:
                release(exc)
            engine.finalizer = asyncio.get_running_loop().create_task(session.close())

        # Set before any await, so connection_lost (always a later loop
        # callback) cannot run before the hook is in place: nothing between
        # the takeover and here may yield to the loop (on Python 3.10,
        # wait_for() around the upgrade did; see aiows.session.deadline).
        engine.on_lost = lost
        return ws

    return opener


def ws_connect(
    url: str | URL, **kwargs: Any
) -> WSConnectContext[ClientWebSocketResponse]:
    """Open a WebSocket on a session of its own, closed with the WebSocket.

    Takes the arguments of :meth:`ClientSession.ws_connect`, plus
    ``connector`` for the private session (left open: it is the caller's)::

        async with aiows.ws_connect("wss://h/ws", protocols=("chat",)) as ws:
            await ws.send_str("hi")
    """
    connector = kwargs.pop("connector", None)
    options = ws_connect_options(kwargs)
    check_call(url, options.upgrade)
    bind = bind_aiohttp(options.connection, options.face)

    def make_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector, connector_owner=connector is None
        )

    async def open_on(session: aiohttp.ClientSession) -> ClientWebSocketResponse:
        return await open_websocket(session, url, options.upgrade, bind)

    return WSConnectContext(
        on_private_session(make_session, open_on), url, options.reconnect
    )
