"""Reconnecting: ``async for ws in session.ws_connect(url)``.

Each pass of the loop gets a fresh connection.  Attempts that fail with a
transient error are retried after a delay that grows exponentially with
jitter; anything else is raised.  Every attempt runs the opener again, so it
sends fresh headers (``headers=`` may be a callable) and the session's
current cookies.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import aiohttp

from ..core.retry import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    Backoff,
    parse_retry_after,
)
from ..exceptions import InvalidHandshake, InvalidStatus, PayloadTooBig, ProtocolError

__all__ = [
    "RETRY_STATUSES",
    "Backoff",
    "Closable",
    "ProcessException",
    "Reconnector",
    "process_exception",
    "retry_after",
]

logger: Final = logging.getLogger("aiows.client")

ProcessException = Callable[[Exception], "Exception | None"]


def retry_after(exc: BaseException, maximum: float = math.inf) -> float | None:
    """Seconds a 429 or 503 response asked to wait (``Retry-After``), if any.

    The value is read as :func:`aiows.core.retry.parse_retry_after` says;
    anything else is None, so the usual backoff applies.  The wait is at
    most ``maximum`` seconds (the reconnect loop passes
    :attr:`Backoff.maximum`).
    """
    if not isinstance(exc, InvalidStatus) or exc.status not in RETRY_AFTER_STATUSES:
        return None
    value = None if exc.headers is None else exc.headers.get("Retry-After")
    if value is None:
        return None
    return parse_retry_after(value, now=time.time(), maximum=maximum)


def process_exception(exc: Exception) -> Exception | None:
    """The default retry rule: None to retry ``exc``, or the error to raise.

    Retried: network errors (``OSError``), timeouts, the server closing the
    connection during the handshake, and HTTP 429, 500, 502, 503 and 504.
    Raised: certificate errors, every other status, any other invalid
    handshake, protocol errors, and anything else.
    """
    if isinstance(exc, InvalidStatus):
        return None if exc.status in RETRY_STATUSES else exc
    if isinstance(exc, (InvalidHandshake, ProtocolError, PayloadTooBig)):
        return exc
    if isinstance(
        exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)
    ):
        return exc
    if isinstance(
        exc,
        (OSError, asyncio.TimeoutError, EOFError, aiohttp.ClientConnectionError),
    ):
        return None
    return exc


@dataclass
class _Attempts:
    count: int = 0


class Closable(Protocol):
    """What the reconnect loop needs of a connection, whichever the face."""

    @property
    def close_code(self) -> int | None: ...

    async def close(self) -> Any: ...


C = TypeVar("C", bound=Closable)


class Reconnector(AsyncIterator[C], Generic[C]):
    """The iterator behind ``async for ws in ws_connect(...)``.

    It runs an async generator, so leaving the loop with ``break`` lets
    asyncio finalise it, which closes the connection handed out last, as in
    websockets.  Call :meth:`aclose` to close it at once.
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[C]],
        *,
        url: str,
        backoff: Backoff,
        process_exception: ProcessException,
    ) -> None:
        self._attempts = _Attempts()
        # The generator must not refer back to this object: then dropping
        # the iterator after ``break`` frees the generator at once (no
        # reference cycle), and asyncio's finaliser closes the connection.
        self._connections = _reconnect(
            opener, url, backoff, process_exception, self._attempts
        )

    @property
    def attempts(self) -> int:
        """How many attempts were made, successful or not."""
        return self._attempts.count

    def __anext__(self) -> Awaitable[C]:
        return self._connections.__anext__()

    async def aclose(self) -> None:
        """Close the connection handed out last, if it is still open."""
        await self._connections.aclose()


async def _reconnect(
    opener: Callable[[], Awaitable[C]],
    url: str,
    backoff: Backoff,
    process_exception: ProcessException,
    attempts: _Attempts,
) -> AsyncGenerator[C, None]:
    sleep = backoff.sleep or asyncio.sleep
    clock = backoff.clock or time.monotonic

    async def wait(delay: float, cause: str) -> None:
        logger.info("reconnecting to %s in %.2f s: %s", url, delay, cause)
        await sleep(delay)

    delays = backoff.delays()
    while True:
        attempts.count += 1
        try:
            ws = await opener()
        except Exception as exc:
            error = process_exception(exc)
            if error is exc:
                raise
            if error is not None:
                raise error from exc
            delay = retry_after(exc, backoff.maximum)
            await wait(
                next(delays) if delay is None else delay, f"{type(exc).__name__}: {exc}"
            )
            continue
        opened_at = clock()
        try:
            yield ws
        finally:
            await ws.close()
        lived = clock() - opened_at
        if lived >= backoff.reset_after:
            delays = backoff.delays()
        await wait(
            next(delays),
            f"connection closed after {lived:.1f} s (code {ws.close_code})",
        )
