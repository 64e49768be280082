"""What websockets' users read of a connection, shared by the asyncio
websockets face and the threading face (as websockets shares them between
its clients): ``State``, so ``ws.state is aiows.State.OPEN`` holds whichever
face opened ``ws``; ``ws.protocol``; the handshake's :class:`Headers`; and
the close codes after which iteration ends quietly.

A root module: it imports only the core, and both drivers' faces may import
it (``tests/test_layers.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from enum import IntEnum
from typing import Any, Final, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from . import __version__
from .core.frames import NO_STATUS_RECEIVED, WSCloseCode

#: websockets' default ``User-Agent``, with aiows's name and version.
USER_AGENT: Final = (
    f"Python/{sys.version_info.major}.{sys.version_info.minor} aiows/{__version__}"
)

#: Close codes after which ``async for``/``for`` over a connection ends
#: quietly, and ``ConnectionClosedOK`` is raised (websockets' rule).
OK_CODES: Final = frozenset(
    {WSCloseCode.OK, WSCloseCode.GOING_AWAY, NO_STATUS_RECEIVED}
)


class State(IntEnum):
    """A connection's state, with websockets' names and values."""

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


class _HasState(Protocol):
    @property
    def state(self) -> State: ...


class _HasExtensions(Protocol):
    @property
    def extensions(self) -> list[Any]: ...


class ProtocolView:
    """What websockets' users read of ``ws.protocol``: ``state`` and the
    ``extensions`` negotiated (a read-only view: aiows's protocol state
    machine is its own)."""

    __slots__ = ("_protocol", "_ws")

    def __init__(self, ws: _HasState, protocol: _HasExtensions) -> None:
        self._ws = ws
        self._protocol = protocol

    @property
    def state(self) -> State:
        """The connection's :class:`State`, as ``ws.state``."""
        return self._ws.state

    @property
    def extensions(self) -> list[Any]:
        """The extensions negotiated, in the order the server accepted
        them (``name`` on each, e.g. ``"permessage-deflate"``)."""
        return self._protocol.extensions


class Headers(CIMultiDictProxy[str]):
    """Handshake headers (``ws.request.headers``, ``ws.response.headers``),
    with websockets' ``Headers`` methods too."""

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key``, in order; ``[]`` when there is none."""
        return self.getall(key, [])

    def raw_items(self) -> Iterator[tuple[str, str]]:
        """``(name, value)`` pairs as sent or received, in order."""
        return iter(self.items())


def make_headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    """:class:`Headers` holding ``pairs`` (or a copy of a multidict's)."""
    return Headers(CIMultiDict(pairs))
