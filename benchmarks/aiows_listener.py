"""aiows-listener: aiows' callback API, measured the way picows-cb is.

The listener API is still being built (issue 12, Must 2).  This adapter is
written against the API as planned, and is the one place to change when it
moves::

    class Echo(aiows.Listener):
        def on_message(self, ws, kind, data):
            # kind: aiows.WSMsgType.TEXT or BINARY; data: bytes-like
            # (a memoryview), valid during the call
            ws.send_bytes_nowait(b"...")   # sends from inside the callback

    ws = await session.ws_listen(url, Echo())   # an aiows.ClientSession
    await ws.close()

``ws_listen`` is given the options ``ws_connect`` gets here (``compress``,
``max_msg_size``, ``ssl``), and the connection it returns is expected to
have ``ws_connect``'s ``compress`` attribute.

A run of ``n`` messages with ``window`` in flight (1: ping-pong) sends the
first ``window`` from the loop; then ``on_message`` sends one more per echo
until ``n`` were sent, and the last echo resolves the one future the loop
awaits.  No task wakes up per message.

The harness runs this client only if the aiows it imports has a
``Listener``; otherwise :func:`listener_unavailable` says why, and the run
skips the client with a note.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from types import ModuleType
from typing import Any, ClassVar

from benchmarks.common import MAX_MESSAGE, EchoError


def listener_unavailable() -> str | None:
    """Why aiows-listener cannot run with this aiows, or None if it can."""
    import aiows

    if not hasattr(aiows, "Listener"):
        return f"aiows ({aiows.__file__}) has no Listener"
    return None


def _listener_class(aiows: ModuleType) -> type:
    """Build the echo listener (aiows.Listener exists only in newer builds)."""
    binary = aiows.WSMsgType.BINARY

    class EchoListener(aiows.Listener):  # type: ignore[misc,name-defined]
        """Sends the next message of a run from ``on_message``."""

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.get_running_loop()
            self.ws: Any = None  # the connection, once ws_listen returned it
            self.payload = b""  # what the callback sends
            self.to_send = 0  # messages the callback has still to send
            self.to_receive = 0  # echoes still expected in this run
            self.done: asyncio.Future[None] | None = None  # the run's end

        def on_message(self, ws: Any, kind: Any, data: Any) -> None:
            if kind is not binary:
                self.fail(EchoError(f"expected a binary echo, got {kind!r}"))
                return
            bytes(data)  # materialised, as every client does
            if self.to_send:
                ws.send_bytes_nowait(self.payload)
                self.to_send -= 1
            self.to_receive -= 1
            if not self.to_receive:
                assert self.done is not None
                self.done.set_result(None)

        def fail(self, exc: BaseException) -> None:
            """Make the awaited run raise ``exc``."""
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

        def start_run(
            self, payload: bytes, n: int, window: int
        ) -> asyncio.Future[None]:
            """Send the first messages of a run; return the run's end."""
            first = min(window, n)
            self.payload = payload
            self.to_send = n - first
            self.to_receive = n
            self.done = done = self.loop.create_future()
            for _ in range(first):
                self.ws.send_bytes_nowait(payload)
            return done

    return EchoListener


class AiowsListenerClient:
    """aiows-listener: ``aiows.ClientSession().ws_listen(url, listener)``."""

    name: ClassVar[str] = "aiows-listener"

    async def start(self) -> None:
        import aiows

        self.listener_class = _listener_class(aiows)
        # limit=0, as for aiows: 1,000 idle connections must not queue.
        # (Any: ws_listen is not in every aiows this may be type-checked with.)
        self.session: Any = aiows.ClientSession(connector=aiows.TCPConnector(limit=0))

    async def stop(self) -> None:
        await self.session.close()

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any:
        listener = self.listener_class()
        listener.ws = await self.session.ws_listen(
            url,
            listener,
            compress=15 if compress else 0,
            max_msg_size=MAX_MESSAGE,
            ssl=ssl if ssl is not None else True,
        )
        return listener

    def negotiated_compression(self, conn: Any) -> bool | None:
        return bool(conn.ws.compress)

    async def close(self, conn: Any) -> None:
        await conn.ws.close()

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        await conn.start_run(payload, n, 1)

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        await conn.start_run(payload, n, window)
