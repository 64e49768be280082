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
from typing import TYPE_CHECKING, Any, Final, Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from . import __version__
from .core.frames import NO_STATUS_RECEIVED, WSCloseCode
from .core.protocol import ClientProtocol

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


class HowItEnded:
    """``close_code``, ``close_reason``, ``local_address`` and
    ``remote_address`` as websockets' connections show them, for both
    faces: the class provides ``state``, ``_core`` (the protocol) and
    ``_addresses`` (read once, so they stay known after the close)."""

    __slots__ = ()

    if TYPE_CHECKING:
        _addresses: tuple[Any, Any]

        @property
        def state(self) -> State: ...

        @property
        def _core(self) -> ClientProtocol: ...

    @property
    def close_code(self) -> int | None:
        """The code of the server's close frame; None until the end, 1006
        once the connection ended without one."""
        if self.state is not State.CLOSED:
            return None
        rcvd = self._core.close_rcvd
        return WSCloseCode.ABNORMAL_CLOSURE if rcvd is None else rcvd.code

    @property
    def close_reason(self) -> str | None:
        """The reason of the server's close frame; None until the end."""
        if self.state is not State.CLOSED:
            return None
        rcvd = self._core.close_rcvd
        return "" if rcvd is None else rcvd.reason

    @property
    def local_address(self) -> Any:
        """The local socket address."""
        return self._addresses[0]

    @property
    def remote_address(self) -> Any:
        """The server's socket address."""
        return self._addresses[1]


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
