"""Reconnecting: ``async for ws in session.ws_connect(url)``.

Each pass of the loop gets a fresh connection.  Attempts that fail with a
transient error are retried after a delay that grows exponentially with
jitter; anything else is raised.  Every attempt runs the opener again, so it
sends fresh headers (``headers=`` may be a callable) and the session's
current cookies.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import aiohttp

from ..exceptions import InvalidHandshake, InvalidStatus, PayloadTooBig, ProtocolError

logger: Final = logging.getLogger("aiows.client")

# Statuses that say "try again later" (RFC 9110 §15.6, RFC 6585 §4).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

ProcessException = Callable[[Exception], "Exception | None"]


@dataclass(frozen=True)
class Backoff:
    """How long to wait between reconnection attempts.

    The first delay is random between 0 and ``initial`` seconds, so a fleet
    of clients that lost the same server does not return all at once.  Then
    the delay starts at ``minimum`` and is multiplied by ``factor`` after each
    failure, up to ``maximum``; each one is scaled by a random factor between
    ``1 - jitter`` and ``1 + jitter`` (and never exceeds ``maximum``).  A
    connection that stayed open ``reset_after`` seconds starts the sequence
    over.  ``sleep`` and ``clock`` default to ``asyncio.sleep`` and
    ``time.monotonic``; tests replace them to check delays without waiting.
    """

    initial: float = 1.0
    minimum: float = 2.0
    factor: float = 1.8
    maximum: float = 60.0
    jitter: float = 0.25
    reset_after: float = 30.0
    sleep: Callable[[float], Awaitable[object]] | None = None
    clock: Callable[[], float] | None = None
    random: Callable[[], float] = random.random

    def delays(self) -> Iterator[float]:
        """The sequence of delays, from the first failure on."""
        yield self.initial * self.random()
        base = self.minimum
        while True:
            scale = 1.0 - self.jitter + 2.0 * self.jitter * self.random()
            yield min(self.maximum, base * scale)
            base = min(self.maximum, base * self.factor)


def retry_after(exc: BaseException, maximum: float = math.inf) -> float | None:
    """Seconds a 429 or 503 response asked to wait (``Retry-After``), if any.

    RFC 9110 §10.2.3: the value is delay-seconds (ASCII digits) or an
    HTTP-date.  Anything else is ignored (None), so the usual backoff
    applies.  A server decides neither how long a client sleeps nor whether
    it raises: the wait is at most ``maximum`` seconds (the reconnect loop
    passes :attr:`Backoff.maximum`).
    """
    if not isinstance(exc, InvalidStatus) or exc.status not in (429, 503):
        return None
    value = None if exc.headers is None else exc.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    # delay-seconds is 1*DIGIT, and DIGIT is ASCII 0-9 (RFC 5234 §B.1);
    # str.isdigit() alone also takes "²" and other Unicode digits, which
    # float() then refuses.
    if value.isascii() and value.isdigit():
        return min(maximum, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
        # RFC 9110 §5.6.7: an HTTP-date is always GMT, also in the obsolete
        # asctime form, which has no zone and would otherwise be local time.
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):  # OverflowError: a huge year
        return None
    return min(maximum, max(0.0, seconds))


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
