"""The WebSocket object users get: a connection plus its HTTP handshake."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import ClientResponse
from multidict import CIMultiDictProxy

from ..connection.websocket import WebSocketConnection


class ClientWebSocketResponse(WebSocketConnection):
    """A client WebSocket connection opened through an aiohttp session.

    It has the surface of aiohttp's ``ClientWebSocketResponse`` and of the
    websockets client connection; see :class:`WebSocketConnection` for the
    methods.  It adds the handshake: :attr:`response`,
    :attr:`request_headers` and :attr:`response_headers`.
    """

    __slots__ = ("_after_close", "_after_close_task", "_response")

    def __init__(self, *args: Any, response: ClientResponse, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The 101 response; its connection is released when the socket closes.
        self._response = response
        # Run once the socket is gone, e.g. to close a one-shot session.
        self._after_close: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._after_close_task: asyncio.Task[None] | None = None

    @property
    def response(self) -> ClientResponse:
        """The handshake's ``aiohttp.ClientResponse`` (status 101, headers)."""
        return self._response

    @property
    def request_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the upgrade request as sent."""
        return self._response.request_info.headers

    @property
    def response_headers(self) -> CIMultiDictProxy[str]:
        """The headers of the 101 response."""
        return self._response.headers

    def _connection_lost(self, exc: BaseException | None) -> None:
        super()._connection_lost(exc)
        after, self._after_close = self._after_close, None
        if after is not None:
            self._after_close_task = self._loop.create_task(after())

    async def close(self, *args: Any, **kwargs: Any) -> bool:
        result = await super().close(*args, **kwargs)
        await self._finish_after_close()
        return result

    async def wait_closed(self) -> None:
        await super().wait_closed()
        await self._finish_after_close()

    async def _finish_after_close(self) -> None:
        if self._after_close_task is not None:
            await asyncio.shield(self._after_close_task)
