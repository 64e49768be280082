"""aiows: a WebSocket client for asyncio that lives inside your aiohttp session.

::

    import aiows

    async with aiows.ClientSession() as session:
        async with session.get("https://api.example/token") as r:
            token = await r.text()
        async with session.ws_connect("wss://api.example/feed") as ws:
            async for msg in ws:
                if msg.type == aiows.WSMsgType.TEXT:
                    print(msg.data)
"""

from aiohttp import (
    ClientConnectionResetError,
    ClientError,
    ServerTimeoutError,
    TCPConnector,
    UnixConnector,
    WSServerHandshakeError,
)

from .connection.websocket import WebSocketConnection
from .core.frames import Close, WSCloseCode
from .core.messages import WSMessage, WSMsgType
from .exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidAccept,
    InvalidHandshake,
    InvalidStatus,
    InvalidUpgrade,
    InvalidURI,
    NegotiationError,
    OpenTimeout,
    PayloadTooBig,
    PongTimeout,
    ProtocolError,
)
from .session.auth import BasicAuth
from .session.client import ClientSession, ws_connect
from .session.connect import ClientWSTimeout, WSConnectContext
from .session.reconnect import Backoff, process_exception
from .session.response import ClientWebSocketResponse
from .session.websockets_compat import connect, unix_connect

__version__ = "0.1.0"

#: aiohttp 0.x name of :class:`WSMsgType`.
MsgType = WSMsgType

__all__ = [
    "Backoff",
    "BasicAuth",
    "ClientConnectionResetError",
    "ClientError",
    "ClientSession",
    "ClientWSTimeout",
    "ClientWebSocketResponse",
    "Close",
    "ConcurrencyError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidAccept",
    "InvalidHandshake",
    "InvalidStatus",
    "InvalidURI",
    "InvalidUpgrade",
    "MsgType",
    "NegotiationError",
    "OpenTimeout",
    "PayloadTooBig",
    "PongTimeout",
    "ProtocolError",
    "ServerTimeoutError",
    "TCPConnector",
    "UnixConnector",
    "WSCloseCode",
    "WSConnectContext",
    "WSMessage",
    "WSMsgType",
    "WSServerHandshakeError",
    "WebSocketConnection",
    "connect",
    "process_exception",
    "unix_connect",
    "ws_connect",
]
