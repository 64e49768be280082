"""How a feed opens its connections, per face.

``face`` says what the feed holds and what it yields:

========================  =============================  ==================
``face=``                 opened with                    messages
========================  =============================  ==================
``"websockets"``          ``aiows.connect()``            ``str`` / ``bytes``
``"aiohttp"``             ``session.ws_connect()``       ``aiohttp.WSMessage``
a ``Listener`` instance   ``session.ws_listen()``        its callbacks
========================  =============================  ==================

The face's own keywords (``headers``, ``additional_headers``,
``ping_interval``, ``heartbeat``, ``max_queue``, ...) are checked by the
face at the call, and every attempt opens through the face's one open
path, so each one sends fresh credentials.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from ..faces.listener import Listener, ListenerConnection
from ..session.client import ClientSession, ws_connect
from ..session.context import WSConnectContext
from ..session.websockets_compat import connect
from .links import AiohttpLink, Codec, Link, WebsocketsLink
from .listening import FeedListener, ListenerLink
from .metrics import FeedMetrics

#: Messages a listener's connection may receive before it is ready (while
#: ``on_open`` hooks run), at most.
MAX_INBOX = 1024


class Opening:
    """Opens the connections of one feed, with one face."""

    def __init__(
        self,
        url: str | URL,
        face: str | Listener,
        session: ClientSession | aiohttp.ClientSession | None,
        kwargs: dict[str, Any],
        codec: Codec,
        metrics: FeedMetrics,
        clock: Callable[[], float],
    ) -> None:
        self._url = url
        self._codec = codec
        self._metrics = metrics
        self._clock = clock
        self._kwargs = kwargs
        #: Under a listener: the feed's own, between the connections and
        #: the application's.
        self.listener: FeedListener | None = None
        # A session the feed made for its listener, closed with it.
        self._own_session: ClientSession | None = None
        self._shared = session
        self._context: WSConnectContext[Any] | None = None
        if session is not None and not isinstance(
            session, (ClientSession, aiohttp.ClientSession)
        ):
            raise TypeError(
                "session must be an aiows.ClientSession or aiohttp.ClientSession, "
                f"not {session!r}"
            )
        if isinstance(face, Listener):
            self.listener = FeedListener(face, self._make_listener_link)
            self.face = "listener"
        elif face == "websockets":
            self._context = connect(str(url), session=session, **kwargs)
            self.face = face
        elif face == "aiohttp":
            if session is None:
                self._context = ws_connect(url, **kwargs)
            else:
                self._context = _wrapped(session).ws_connect(url, **kwargs)
            self.face = face
        else:
            raise ValueError(
                "face must be 'websockets', 'aiohttp' or an aiows.Listener "
                f"instance, not {face!r}"
            )

    async def open(self) -> Link:
        """Open one connection (one attempt)."""
        if self.face == "websockets":
            assert self._context is not None
            ws = await self._context
            return WebsocketsLink(ws, 0, self._codec, self._metrics)
        if self.face == "aiohttp":
            assert self._context is not None
            ws = await self._context
            return AiohttpLink(ws, 0, self._codec, self._metrics)
        assert self.listener is not None
        if self._context is None:
            session = self._shared
            if session is None:
                # Made here, inside the event loop, on the first attempt.
                session = self._own_session = ClientSession()
            self._context = _wrapped(session).ws_listen(
                self._url, self.listener, **self._kwargs
            )
        listening = await self._context
        return self.listener.link_of(listening)

    def _make_listener_link(self, ws: ListenerConnection) -> ListenerLink:
        return ListenerLink(ws, self._codec, self._metrics, MAX_INBOX, self._clock)

    async def close(self) -> None:
        """Close the session the feed made, if it made one."""
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None


def _wrapped(session: ClientSession | aiohttp.ClientSession) -> ClientSession:
    return session if isinstance(session, ClientSession) else ClientSession(session)
