"""The application's pings: the futures that wait for their pongs.

The core keeps the book of pings in flight (bounded, see
:data:`~aiows.core.protocol.MAX_PINGS_IN_FLIGHT`) with a token for each;
here a token is ``(future, time sent)``, or ``(None, time sent)`` for a
keepalive ping, and the futures are resolved or failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..core.errors import TooManyPings
from ..core.protocol import ClientProtocol
from .keepalive import random_payload


def start_ping(
    protocol: ClientProtocol, loop: asyncio.AbstractEventLoop, payload: bytes
) -> tuple[bytes, asyncio.Future[float]]:
    """The frame of a ping, and the future of its round-trip time.

    When the book is full, the oldest ping is given up (its future fails)
    to make room: a peer that never answers cannot make the book, or
    ``ping()``, fail forever.
    """
    waiter: asyncio.Future[float] = loop.create_future()
    token = (waiter, loop.time())
    try:
        frame = protocol.send_ping(payload, token)
    except TooManyPings as exc:
        oldest, _ = protocol.forget_oldest_ping()
        _fail(oldest, exc)
        frame = protocol.send_ping(payload, token)
    return frame, waiter


def fail_all(protocol: ClientProtocol, error: Callable[[], BaseException]) -> None:
    """The connection is gone: every ping in flight fails with ``error()``."""
    for waiter, _ in protocol.pings_in_flight():
        _fail(waiter, error())


def unique_payload(protocol: ClientProtocol) -> bytes:
    """Four random bytes no ping in flight uses."""
    payload = random_payload()
    while protocol.ping_in_flight(payload):  # pragma: no cover - 2**-32
        payload = random_payload()
    return payload


def _fail(waiter: Any, exc: BaseException) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_exception(exc)
        # Marked retrieved: callers may ignore ping()'s result and must not
        # see "exception was never retrieved".
        waiter.exception()
