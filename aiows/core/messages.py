"""Message types and the message tuple handed to applications.

Both mirror aiohttp's ``WSMsgType`` and ``WSMessage`` value for value, so
code written against aiohttp compares equal and runs unchanged.  They are
defined here, not imported, because the core must not import aiohttp; the
message tuple also adds ``tp``, the aiohttp 0.x spelling of ``type``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple


class WSMsgType(IntEnum):
    """What a :class:`WSMessage` holds.

    The first six values are RFC 6455 opcodes; ``CLOSING``, ``CLOSED`` and
    ``ERROR`` are states the client reports.  Lowercase aliases keep aiohttp
    0.x code (``MsgType.text``) working.
    """

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    PING = 0x9
    PONG = 0xA
    CLOSE = 0x8

    CLOSING = 0x100
    CLOSED = 0x101
    ERROR = 0x102

    continuation = CONTINUATION
    text = TEXT
    binary = BINARY
    ping = PING
    pong = PONG
    close = CLOSE
    closing = CLOSING
    closed = CLOSED
    error = ERROR


class WSMessage(NamedTuple):
    """One message received from the server.

    ``data`` is ``str`` for TEXT (``bytes`` with ``decode_text=False``),
    ``bytes`` for BINARY, PING and PONG, the close code for CLOSE, and the
    exception for ERROR.  ``extra`` is the close reason for CLOSE.

    >>> msg = WSMessage(WSMsgType.TEXT, '{"a": 1}', None)
    >>> msg.json()
    {'a': 1}
    """

    type: WSMsgType
    data: Any
    extra: Any

    @property
    def tp(self) -> WSMsgType:
        """Alias of :attr:`type`, the spelling of aiohttp 0.x."""
        return self.type

    def json(self, *, loads: Callable[[Any], Any] = json.loads) -> Any:
        """Decode :attr:`data` as JSON."""
        return loads(self.data)


class Fragment(NamedTuple):
    """One frame of a fragmented message, for streaming (RFC 6455 §5.4).

    ``type`` is the message's type (TEXT or BINARY) on every fragment,
    ``data`` this frame's share (decoded ``str`` for text), and ``fin`` is
    True on the last one.
    """

    type: WSMsgType
    data: Any
    fin: bool


WS_CLOSED_MESSAGE = WSMessage(WSMsgType.CLOSED, None, None)
WS_CLOSING_MESSAGE = WSMessage(WSMsgType.CLOSING, None, None)
