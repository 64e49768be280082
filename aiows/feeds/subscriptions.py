"""The subscription registry: what must be true of every new connection.

An application registers it once; the feed replays it on every connection,
before any queued send goes out:

1. the ``on_open`` hooks, in the order they were added, each awaited (an
   auth exchange, GraphQL's ``connection_init`` / ``connection_ack``);
2. the subscriptions' messages, in the order they were made.

A subscription made while connected is sent at once as well;
:meth:`Subscriptions.unsubscribe` removes it and sends its ``unsubscribe``
message on every connection that had it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from .errors import Disconnected
from .links import Link

#: An ``on_open`` hook: given the new connection, before the subscriptions.
OnOpen = Callable[[Link], Awaitable[object]]


class Subscription:
    """A registered subscription: what ``feed.subscribe()`` returns.

    ``message`` may be a function returning the message, called for each
    connection (to resume from the last sequence number seen, say).
    """

    __slots__ = ("active", "message", "unsubscribe_message")

    def __init__(self, message: Any, unsubscribe: Any = None) -> None:
        #: Sent on every connection (or called for the message to send).
        self.message = message
        #: Sent when the subscription is cancelled, if not None.
        self.unsubscribe_message = unsubscribe
        #: False once cancelled.
        self.active = True

    def __repr__(self) -> str:
        state = "" if self.active else " (cancelled)"
        return f"<Subscription {self.message!r}{state}>"

    def current(self) -> Any:
        """The message to send now."""
        return self.message() if callable(self.message) else self.message


class Subscriptions:
    """The hooks and subscriptions of one feed, and the links they went to."""

    def __init__(self) -> None:
        self._hooks: list[OnOpen] = []
        # Active subscriptions, in the order they were made.
        self._entries: list[Subscription] = []
        # Links that may hold subscriptions: those being prepared and
        # those prepared, until the feed forgets them.
        self._links: list[Link] = []

    @property
    def entries(self) -> list[Subscription]:
        """The active subscriptions, in order."""
        return list(self._entries)

    def add_hook(self, hook: OnOpen) -> None:
        self._hooks.append(hook)

    async def subscribe(self, message: Any, unsubscribe: Any = None) -> Subscription:
        """Register a subscription and send it on every ready link."""
        sub = Subscription(message, unsubscribe)
        self._entries.append(sub)
        # A link still being prepared picks it up in prepare()'s loop.
        for link in [link for link in self._links if link.prepared]:
            link.sent.add(sub)
            # If that connection is gone, the next one replays it.
            with suppress(Disconnected):
                await link.send(sub.current())
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        """Cancel ``sub``: no more replays, and its ``unsubscribe`` message
        on every link that had it."""
        if not sub.active:
            return
        sub.active = False
        self._entries.remove(sub)
        for link in [link for link in self._links if sub in link.sent]:
            link.sent.discard(sub)
            if sub.unsubscribe_message is not None:
                # If that connection is gone, its subscription went with it.
                with suppress(Disconnected):
                    await link.send(sub.unsubscribe_message)

    async def prepare(self, link: Link) -> None:
        """Run the hooks, then send every subscription on ``link``."""
        self._links.append(link)
        for hook in list(self._hooks):
            await hook(link)
        # Subscriptions made while this runs are appended: loop until the
        # link has them all, then mark it prepared with no await between.
        while pending := [sub for sub in self._entries if sub not in link.sent]:
            for sub in pending:
                if sub.active:
                    link.sent.add(sub)
                    await link.send(sub.current())
        link.prepared = True

    def forget(self, link: Link) -> None:
        """``link`` is gone: nothing more is sent on it."""
        if link in self._links:
            self._links.remove(link)
