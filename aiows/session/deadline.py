"""A deadline over a block of code, run in the task that runs the block.

On Python 3.11 and later this is ``asyncio.timeout()``.  Python 3.10 has
none, and ``asyncio.wait_for()`` is no stand-in for the opening handshake:
it runs the block in a task of its own and resumes the caller a loop turn
after that task finished, time enough for a server that closes TCP right
behind its 101 to end the connection before the caller holds it (a
connection handed over already closed, its session's hooks set too late).
:class:`Deadline` is the stand-in: the few lines of ``asyncio.timeout()``
that aiows needs.
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType

__all__ = ["Deadline", "timeout"]


class Deadline:
    """``async with Deadline(delay):`` cancels the block once ``delay``
    seconds have passed and raises ``asyncio.TimeoutError`` in place of the
    cancellation; :meth:`expired` tells whether it fired.

    Without Python 3.11's ``Task.uncancel()`` a cancellation from outside
    that lands as the deadline fires is reported as the timeout, as with
    the ``async-timeout`` package that aiohttp uses on 3.10.
    """

    __slots__ = ("_delay", "_fired", "_handle")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._fired = False
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Deadline:
        task = asyncio.current_task()
        assert task is not None  # async with runs in a task
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self._delay, self._fire, task)
        return self

    def _fire(self, task: asyncio.Task[object]) -> None:
        self._fired = True
        task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._fired and exc_type is asyncio.CancelledError:
            raise asyncio.TimeoutError from exc

    def expired(self) -> bool:
        """Whether the deadline fired (``asyncio.Timeout.expired()``)."""
        return self._fired


if sys.version_info >= (3, 11):
    from asyncio import timeout
else:

    def timeout(delay: float) -> Deadline:
        """A deadline ``delay`` seconds from now, as ``asyncio.timeout()``."""
        return Deadline(delay)
