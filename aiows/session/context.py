"""What ``ws_connect`` and ``connect()`` return: one object, three uses.

``await`` it for the connection, ``async with`` it to close the connection
on the way out, or ``async for`` over it to reconnect whenever the
connection ends.  Each use runs the entry point's *opener*, the one open
path with its options already checked and frozen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Final, Generic, TypeVar

from yarl import URL

from .options import ReconnectOptions
from .reconnect import Closable, Reconnector, process_exception

C = TypeVar("C", bound=Closable)

#: aiohttp's words for ``async with`` on a ``ws_connect()`` already in use
#: (its context manager awaits one coroutine, once).
AIOHTTP_NOT_REENTRANT: Final = "cannot reuse already awaited coroutine"
#: websockets' words for the same on ``connect()``.
WEBSOCKETS_NOT_REENTRANT: Final = "connect() isn't reentrant"


class WSConnectContext(AbstractAsyncContextManager[C], Awaitable[C], Generic[C]):
    """What ``ws_connect`` and ``connect()`` return.

    ::

        ws = await session.ws_connect(url)
        async with session.ws_connect(url) as ws:
            ...
        async for ws in session.ws_connect(url):
            ...
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[C]],
        url: str | URL,
        reconnect: ReconnectOptions,
        exit_close: Callable[[C, BaseException | None], Awaitable[Any]] | None = None,
        *,
        not_reentrant: str = AIOHTTP_NOT_REENTRANT,
    ) -> None:
        self._opener = opener
        self._url = url
        self._reconnect = reconnect
        # How leaving ``async with`` closes the connection; by default
        # ``close()``, whatever the exception.
        self._exit_close = exit_close
        # The words of the RuntimeError for ``async with`` inside itself.
        self._not_reentrant = not_reentrant
        # The connection of the ``async with`` under way, if one is.
        self._ws: C | None = None

    def __aiter__(self) -> Reconnector[C]:
        return Reconnector(
            self._opener,
            url=str(URL(self._url).with_user(None)),
            backoff=self._reconnect.backoff,
            process_exception=self._reconnect.process_exception or process_exception,
        )

    def __await__(self) -> Generator[Any, None, C]:
        return self._opener().__await__()

    async def __aenter__(self) -> C:
        if self._ws is not None:
            raise RuntimeError(self._not_reentrant)
        self._ws = await self._opener()
        return self._ws

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        if self._exit_close is not None:
            await self._exit_close(ws, exc)
        else:
            await ws.close()
