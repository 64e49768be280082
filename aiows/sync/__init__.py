"""The threading face: websockets' threading client, on aiows's own core.

::

    from aiows.sync import connect

    with connect("wss://example.com/feed") as ws:
        ws.send("hello")
        print(ws.recv(timeout=10))

A drop-in for ``websockets.sync.client``: the same ``connect()`` and
``unix_connect()`` arguments, the same connection API (``recv(timeout,
decode)``, ``recv_streaming()``, ``send()``, ``close()``, ``ping()``
returning a :class:`threading.Event`, ``pong()``), the same exceptions.
It also follows redirects, reconnects with ``for ws in connect(...)``, and
calls ``additional_headers`` again for each attempt when it is a function.

It runs on the same sans-I/O core as the asyncio faces (parser, protocol
state machine, permessage-deflate, compiled speedups) over a blocking
socket API, with no event loop: the thread that waits reads, and one I/O
thread watches the connections nobody waits on (see :mod:`aiows.sync.hub`).
"""

from ..core.retry import Backoff
from ..websockets_state import USER_AGENT, Headers, State
from .client import (
    Connect,
    connect,
    process_exception,
    reconnect,
    unix_connect,
    unix_reconnect,
)
from .connection import ClientConnection

__all__ = [
    "USER_AGENT",
    "Backoff",
    "ClientConnection",
    "Connect",
    "Headers",
    "State",
    "connect",
    "process_exception",
    "reconnect",
    "unix_connect",
    "unix_reconnect",
]
