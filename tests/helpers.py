"""Helpers shared by the test directories (not fixtures: plain functions).

The fixtures (``raw_server``, ``wire_server``, ``echo_server``) live in
``tests/conftest.py``; these are the plain functions and constants the tests
import.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import aiows
from tests.conftest import RawServer

#: The type of the ``raw_server`` and ``wire_server`` fixtures:
#: ``await wire_server(handler, ...)``.
StartServer = Callable[..., Awaitable[RawServer]]

T = TypeVar("T")

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """The payload of a close frame, built by hand."""
    return code.to_bytes(2, "big") + reason


async def bounded(awaitable: Awaitable[T], timeout: float = 5.0) -> T:
    """Await ``awaitable`` but fail the test instead of hanging forever."""
    return await asyncio.wait_for(awaitable, timeout)


async def receive_in_task(
    ws: aiows.ClientWebSocketResponse,
) -> asyncio.Task[aiows.WSMessage]:
    """Start ``ws.receive()`` in a task; return once it is waiting inside."""
    entered = asyncio.Event()

    async def receive() -> aiows.WSMessage:
        entered.set()
        # receive() runs up to its first suspension in this same step, so by
        # the time the caller wakes up the task is waiting inside it.
        return await ws.receive()

    task = asyncio.ensure_future(receive())
    await bounded(entered.wait())
    return task


async def hold(event: asyncio.Event, limit: float = 3.0) -> None:
    """Wait for ``event`` in a server handler, but never longer than ``limit``.

    A handler that stays silent on purpose uses this, so a client bug makes
    the test fail when the server finally closes instead of hanging it.
    """
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), limit)


def answer_once(
    answer: bytes,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A handler for ``asyncio.start_server``: read a request's head, write
    ``answer`` and hang up (a proxy's refusal, a redirect, a cut 101)."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    return handler


async def relay(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways between a client and its upstream until both
    directions end (what a proxy does once the tunnel is set up)."""
    await asyncio.gather(
        _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Handlers:
    """The handler tasks of the connections a test server accepted.

    Each handler runs inside :meth:`track`; :meth:`close` closes the server
    and ends the handlers still running, so no socket outlives the test.
    """

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            yield
        finally:
            self.tasks.discard(task)

    async def close(
        self, server: asyncio.AbstractServer | None, *, wait: float = 0
    ) -> None:
        """Close ``server``, after giving the handlers ``wait`` seconds to
        end by themselves and cancelling those that did not."""
        if self.tasks and wait:
            await asyncio.wait(set(self.tasks), timeout=wait)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if server is not None:
            server.close()
            await server.wait_closed()
