"""The asyncio protocol object installed on the upgraded transport.

It is deliberately thin: every callback goes straight to the
:class:`~aiows.connection.websocket.WebSocketConnection` it serves.  Keeping
it separate lets the session layer install it with ``transport.set_protocol``
while the connection object stays free of asyncio's callback names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .websocket import WebSocketConnection


class WebSocketProtocol(asyncio.Protocol):
    """Forwards transport events to a :class:`WebSocketConnection`."""

    def __init__(
        self,
        connection: WebSocketConnection,
        on_lost: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        #: The connection that receives the bytes and events.
        self.connection = connection
        #: Called after the connection has handled connection_lost; the
        #: session layer uses it to tell aiohttp the socket is gone.
        self.on_lost = on_lost
        # data_received is the hot path: bind the target once.
        self.data_received = connection._data_received  # type: ignore[method-assign]

    def data_received(self, data: bytes) -> None:  # pragma: no cover - rebound
        self.connection._data_received(data)

    def eof_received(self) -> bool:
        # Returning False lets asyncio close the transport: after the server
        # half-closes there is nothing more to read, and a client that
        # closed the TCP connection last is what RFC 6455 §7.1.1 asks for.
        return False

    def pause_writing(self) -> None:
        self.connection._pause_writing()

    def resume_writing(self) -> None:
        self.connection._resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.connection._connection_lost(exc)
        if self.on_lost is not None:
            self.on_lost(exc)
