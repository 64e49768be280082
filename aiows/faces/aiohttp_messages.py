"""aiohttp's message classes, as the aiohttp face hands them out.

The parser builds these directly (see :func:`message_kinds`), so a message
is created once, already of the class aiohttp user code expects.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from aiohttp import WSMsgType

from ..core.messages import MessageKinds

try:  # aiohttp 3.14: undecoded text has a class of its own
    from aiohttp.http import WSMessageTextBytes

    _TextBytes: type[tuple[Any, ...]] = WSMessageTextBytes
except ImportError:  # pragma: no cover - aiohttp 3.13 and older
    _TextBytes = aiohttp.WSMessage


class WSMessage(aiohttp.WSMessage):
    """aiohttp's ``WSMessage``, with ``tp``, the aiohttp 0.x name of ``type``.

    It *is* an ``aiohttp.WSMessage`` (a subclass adding one property), so
    ``isinstance``, equality and unpacking behave as in aiohttp.
    """

    __slots__ = ()

    @property
    def tp(self) -> WSMsgType:
        """Alias of :attr:`type`, the spelling of aiohttp 0.x."""
        return self.type


# aiohttp puts "" in the extra field of data, ping and pong messages.
_DECODED: Final = MessageKinds(WSMessage, WSMessage, WSMessage, WSMsgType, "")
_UNDECODED: Final = MessageKinds(_TextBytes, WSMessage, WSMessage, WSMsgType, "")


def message_kinds(decode_text: bool) -> MessageKinds:
    """The message classes the parser builds for this face (one shared
    instance each: nothing per connection)."""
    return _DECODED if decode_text else _UNDECODED


WS_CLOSED_MESSAGE: Final = WSMessage(WSMsgType.CLOSED, None, None)
WS_CLOSING_MESSAGE: Final = WSMessage(WSMsgType.CLOSING, None, None)
