"""aiows: a WebSocket client for asyncio that lives inside your aiohttp session.

::

    import aiohttp
    import aiows

    async with aiows.ClientSession() as session:
        async with session.get("https://api.example/token") as r:
            token = await r.text()
        async with session.ws_connect("wss://api.example/feed") as ws:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    print(msg.data)

The message types and close codes are aiohttp's own: ``aiows.WSMsgType is
aiohttp.WSMsgType``.
"""

# Before the imports: the modules below may read it while this one loads.
__version__ = "0.1.0"

from aiohttp import (
    ClientConnectionResetError,
    ClientError,
    ServerTimeoutError,
    TCPConnector,
    WSCloseCode,
    WSMsgType,
    WSServerHandshakeError,
)

from .core.frames import Close
from .exceptions import (
    ConcurrencyError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    DuplicateParameter,
    HeaderLineTooLong,
    InvalidAccept,
    InvalidHandshake,
    InvalidHeader,
    InvalidHeaderFormat,
    InvalidHeaderValue,
    InvalidMessage,
    InvalidMethod,
    InvalidOrigin,
    InvalidParameterName,
    InvalidParameterValue,
    InvalidProtocol,
    InvalidProxy,
    InvalidProxyMessage,
    InvalidProxyStatus,
    InvalidState,
    InvalidStatus,
    InvalidStatusCode,
    InvalidUpgrade,
    InvalidURI,
    NegotiationError,
    OpenTimeout,
    PayloadTooBig,
    PongTimeout,
    ProtocolError,
    ProxyError,
    RequestLineTooLong,
    SecurityError,
    StatusLineTooLong,
    TooManyFragments,
    TooManyHeaders,
    TooManyPings,
    WebSocketException,
    WSMessageTypeError,
)
from .faces.aiohttp_face import ClientWebSocketResponse
from .faces.aiohttp_messages import WSMessage
from .faces.listener import Listener, ListenerConnection
from .faces.websockets_face import ClientConnection
from .feeds import Feed, feed
from .session.auth import BasicAuth
from .session.client import ClientSession, ws_connect
from .session.context import WSConnectContext
from .session.install import install, uninstall
from .session.options import ClientWSTimeout
from .session.reconnect import Backoff, process_exception
from .session.unix import UnixConnector
from .session.websockets_compat import connect, unix_connect
from .websockets_state import State

#: aiohttp 0.x name of :class:`WSMsgType`.
MsgType = WSMsgType

__all__ = [
    "Backoff",
    "BasicAuth",
    "ClientConnection",
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
    "DuplicateParameter",
    "Feed",
    "HeaderLineTooLong",
    "InvalidAccept",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidHeaderFormat",
    "InvalidHeaderValue",
    "InvalidMessage",
    "InvalidMethod",
    "InvalidOrigin",
    "InvalidParameterName",
    "InvalidParameterValue",
    "InvalidProtocol",
    "InvalidProxy",
    "InvalidProxyMessage",
    "InvalidProxyStatus",
    "InvalidState",
    "InvalidStatus",
    "InvalidStatusCode",
    "InvalidURI",
    "InvalidUpgrade",
    "Listener",
    "ListenerConnection",
    "MsgType",
    "NegotiationError",
    "OpenTimeout",
    "PayloadTooBig",
    "PongTimeout",
    "ProtocolError",
    "ProxyError",
    "RequestLineTooLong",
    "SecurityError",
    "ServerTimeoutError",
    "State",
    "StatusLineTooLong",
    "TCPConnector",
    "TooManyFragments",
    "TooManyHeaders",
    "TooManyPings",
    "UnixConnector",
    "WSCloseCode",
    "WSConnectContext",
    "WSMessage",
    "WSMessageTypeError",
    "WSMsgType",
    "WSServerHandshakeError",
    "WebSocketException",
    "connect",
    "feed",
    "install",
    "process_exception",
    "uninstall",
    "unix_connect",
    "ws_connect",
]
