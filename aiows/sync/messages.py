"""The inbox: what the protocol parsed, until the application reads it.

:class:`Inbox` keeps the parser's output in order: whole messages, the
pieces of fragmented ones (:class:`~aiows.core.messages.Fragment`), and at
the end the server's close or the error that failed the connection.  It
does no waiting and no locking: the connection calls it holding its lock,
and waits on its own.

Flow control: reading stops while ``max_queue`` items, or
:data:`DEFAULT_MAX_BYTES` of data, are unread, and starts again once a
quarter of that is left (websockets' high and low water marks).  Counting
bytes as well means a few huge messages cannot grow memory without bound
either.  Once the client's close frame went, reading never stops (the
server's close must get in), and data beyond the high water mark is dropped
instead.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from ..core.messages import Fragment, WSMsgType

#: Items unread before reading stops (websockets' ``max_queue`` default).
DEFAULT_MAX_QUEUE: Final = 16
#: Bytes of data unread before reading stops.
DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY

#: A message as the inbox hands it out: its type (TEXT or BINARY) and data.
Message = tuple[WSMsgType, Any]


class Inbox:
    """The queue between the protocol and the application; see the module."""

    __slots__ = (
        "_high",
        "_high_bytes",
        "_low",
        "_low_bytes",
        "closing",
        "ended",
        "items",
        "partial",
        "paused",
        "resumed",
        "size",
    )

    def __init__(
        self,
        high: int | None = DEFAULT_MAX_QUEUE,
        low: int | None = DEFAULT_MAX_QUEUE // 4,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        # The water marks, as connect() checked them (websockets' rule: low
        # is a quarter of high unless given); None: no flow control at all
        # (websockets' max_queue=None).
        self._high = high
        self._low = low
        self._high_bytes = max_bytes
        self._low_bytes = max_bytes // 4
        #: Unread messages, pieces, and at the end the close or the error.
        self.items: deque[Any] = deque()
        #: Bytes of data in :attr:`items`.
        self.size = 0
        #: Pieces of a fragmented message taken out of :attr:`items` by a
        #: whole-message read that has not seen its end yet (kept across
        #: timeouts).
        self.partial: list[Fragment] = []
        #: Whether reading is stopped because too much is unread.
        self.paused = False
        #: Set when a read took :attr:`paused` back to False; the reader
        #: clears it and has reading start again.
        self.resumed = False
        #: Set once nothing more will come (a close, an error, the end of
        #: the stream).
        self.ended = False
        #: Set once the client's close frame went (see the module).
        self.closing = False

    # -- the producer side ----------------------------------------------------

    def put(self, events: list[Any]) -> None:
        """Queue what one read parsed."""
        items = self.items
        size = self.size
        for event in events:
            kind = event[0]
            if kind is _TEXT or kind is _BINARY or type(event) is Fragment:
                if self.ended:
                    continue
                if self.closing and self._full():
                    continue  # after our close: dropped, never paused
                items.append(event)
                size += len(event[1])
            else:  # the server's close, or the error that failed the connection
                items.append(event)
                self.ended = True
        self.size = size
        high = self._high
        if (
            high is not None
            and (len(items) > high or size > self._high_bytes)
            and not self.paused
            and not self.closing
        ):
            self.paused = True

    def end(self) -> None:
        """The stream ended: nothing more will come."""
        self.ended = True
        self.paused = False

    def start_closing(self) -> None:
        """The client's close frame went: never pause from now on."""
        self.closing = True
        self.paused = False

    def _full(self) -> bool:
        high = self._high
        if high is None:
            return False
        return len(self.items) > high or self.size > self._high_bytes

    def _taken(self, data: Any) -> None:
        self.size -= len(data)
        if (
            self.paused
            and self._low is not None
            and len(self.items) <= self._low
            and self.size <= self._low_bytes
        ):
            self.paused = False
            self.resumed = True

    # -- the consumer side ----------------------------------------------------

    def take(self) -> Message | None:
        """The next whole message, if one is complete.

        The pieces of a fragmented message move to :attr:`partial` as they
        are taken, so a large message made of many frames frees the queue
        (and reading goes on) while it is being assembled.
        """
        items = self.items
        partial = self.partial
        while items:
            first = items[0]
            if type(first) is Fragment:
                items.popleft()
                self._taken(first.data)
                partial.append(first)
                if first.fin:
                    self.partial = []
                    return _joined(partial)
                continue
            kind = first[0]
            if (kind is _TEXT or kind is _BINARY) and not partial:
                items.popleft()
                self._taken(first[1])
                return kind, first[1]
            return None  # the end: the close, or an error
        return None

    def take_piece(self) -> tuple[WSMsgType, Any, bool] | None:
        """The next piece of a message being streamed: ``(type, data, fin)``,
        pieces a whole-message read had set aside first."""
        if self.partial:
            piece = self.partial.pop(0)
            return piece.type, piece.data, piece.fin
        items = self.items
        if not items:
            return None
        first = items[0]
        if type(first) is Fragment:
            items.popleft()
            self._taken(first.data)
            return first.type, first.data, first.fin
        kind = first[0]
        if kind is _TEXT or kind is _BINARY:
            items.popleft()
            self._taken(first[1])
            return kind, first[1], True
        return None


def _joined(pieces: list[Fragment]) -> Message:
    kind = pieces[0].type
    if kind is _TEXT and isinstance(pieces[0].data, str):
        return kind, "".join(piece.data for piece in pieces)
    return kind, b"".join(piece.data for piece in pieces)
