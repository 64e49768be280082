"""The four clients, each written the way its own documentation suggests.

Each library gets a small adapter class with the same four operations so the
measuring code in :mod:`benchmarks.client` is shared and identical for all:

``open(url, ssl, compress)`` / ``close(conn)``
    open and close one connection with the library's usual call
    (``aiows.ClientSession.ws_connect``, ``aiohttp.ClientSession.ws_connect``,
    ``websockets.asyncio.client.connect``, ``picows.ws_connect``), with
    permessage-deflate off unless ``compress`` is true, and a maximum
    message size large enough for the 1 MiB scenario;
``pingpong(conn, payload, n)``
    ``n`` times: send ``payload`` as a binary message, wait for its echo;
``pipelined(conn, payload, n, window)``
    send ``window`` messages, then one more for each echo received until
    ``n`` were sent, and wait for all ``n`` echoes (a single task, as a
    client streaming requests would).

aiows and aiohttp share their code path (``send_bytes`` + ``receive``): aiows
keeps aiohttp's API, so the same loop measures both.  websockets uses
``send`` + ``recv``.  picows has no awaitable receive: its listener's
``on_ws_frame`` callback resolves a future per echo (ping-pong) or counts
echoes and sends the next message from the callback (pipelined).

All received messages are materialised as ``bytes`` and their type is
checked, so that no client skips the work the others do.  Defaults are left
as they are otherwise (aiohttp's and aiows' queues, websockets' keepalive
pings, picows' aiofastnet transport when that package is installed).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Any, ClassVar, Protocol

from benchmarks.common import MAX_MESSAGE


class ClientAdapter(Protocol):
    """What the measuring code needs from a client library."""

    name: ClassVar[str]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any: ...

    def negotiated_compression(self, conn: Any) -> bool | None: ...

    async def close(self, conn: Any) -> None: ...

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None: ...

    async def pipelined(
        self, conn: Any, payload: bytes, n: int, window: int
    ) -> None: ...


class EchoError(RuntimeError):
    """The server sent something other than the expected echo."""


class _AiohttpAPI:
    """Shared by aiows and aiohttp: ``send_bytes`` + ``receive``."""

    name: ClassVar[str]
    session: Any
    binary: Any

    async def stop(self) -> None:
        await self.session.close()

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any:
        return await self.session.ws_connect(
            url,
            compress=15 if compress else 0,
            max_msg_size=MAX_MESSAGE,
            ssl=ssl if ssl is not None else True,
        )

    def negotiated_compression(self, conn: Any) -> bool | None:
        return bool(conn.compress)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        binary = self.binary
        for _ in range(n):
            await conn.send_bytes(payload)
            msg = await conn.receive()
            if msg.type is not binary:
                raise EchoError(f"expected an echo, got {msg!r}"[:200])

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        binary = self.binary
        sent = min(window, n)
        for _ in range(sent):
            await conn.send_bytes(payload)
        for _ in range(n):
            msg = await conn.receive()
            if msg.type is not binary:
                raise EchoError(f"expected an echo, got {msg!r}"[:200])
            if sent < n:
                await conn.send_bytes(payload)
                sent += 1


class AiowsClient(_AiohttpAPI):
    """aiows: ``aiows.ClientSession().ws_connect(...)``, aiohttp's API."""

    name = "aiows"

    async def start(self) -> None:
        import aiows

        self.binary = aiows.WSMsgType.BINARY
        # limit=0: 1,000 idle connections must not queue behind the pool's
        # default limit of 100.
        self.session = aiows.ClientSession(connector=aiows.TCPConnector(limit=0))


class AiohttpClient(_AiohttpAPI):
    """aiohttp: ``aiohttp.ClientSession().ws_connect(...)``."""

    name = "aiohttp"

    async def start(self) -> None:
        import aiohttp

        self.binary = aiohttp.WSMsgType.BINARY
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


class WebsocketsClient:
    """websockets (asyncio implementation): ``connect`` + ``send``/``recv``."""

    name = "websockets"

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any:
        from websockets.asyncio.client import connect

        kwargs: dict[str, Any] = {}
        if ssl is not None:
            kwargs["ssl"] = ssl
        return await connect(
            url,
            compression="deflate" if compress else None,
            max_size=MAX_MESSAGE,
            **kwargs,
        )

    def negotiated_compression(self, conn: Any) -> bool | None:
        return bool(conn.protocol.extensions)

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        for _ in range(n):
            await conn.send(payload)
            data = await conn.recv()
            if type(data) is not bytes:
                raise EchoError(f"expected bytes, got {type(data).__name__}")

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        sent = min(window, n)
        for _ in range(sent):
            await conn.send(payload)
        for _ in range(n):
            data = await conn.recv()
            if type(data) is not bytes:
                raise EchoError(f"expected bytes, got {type(data).__name__}")
            if sent < n:
                await conn.send(payload)
                sent += 1


def _picows_listener_class() -> type:
    """Build the picows listener (picows is imported only by its client)."""
    from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

    binary = WSMsgType.BINARY
    close = WSMsgType.CLOSE

    class EchoListener(WSListener):
        """Resolves ``waiter`` per echo, or after a pipelined run's last echo."""

        def __init__(self) -> None:
            self.transport: WSTransport | None = None
            self.waiter: asyncio.Future[Any] | None = None
            self.closed: asyncio.Future[None] = (
                asyncio.get_running_loop().create_future()
            )
            self.payload = b""
            self.to_send = 0  # pipelined: messages still to send
            self.to_receive = 0  # pipelined: echoes still expected
            self.pipelining = False

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            msg_type = frame.msg_type
            if msg_type is binary:
                data = frame.get_payload_as_bytes()
                if not self.pipelining:
                    waiter = self.waiter
                    if waiter is not None and not waiter.done():
                        waiter.set_result(data)
                    return
                if self.to_send:
                    transport.send(binary, self.payload)
                    self.to_send -= 1
                self.to_receive -= 1
                if not self.to_receive and self.waiter is not None:
                    self.waiter.set_result(None)
            elif msg_type is close:
                if not self.closed.done():
                    self.closed.set_result(None)
                transport.disconnect()
            else:
                self._fail(EchoError(f"unexpected {msg_type} frame"))

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            self._fail(EchoError("disconnected"))
            if not self.closed.done():
                self.closed.set_result(None)

        def _fail(self, exc: BaseException) -> None:
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)

        async def close(self) -> None:
            assert self.transport is not None
            self.transport.send_close(WSCloseCode.OK)
            # Wait for the server's close frame, as the other clients do.
            await self.closed
            await self.transport.wait_disconnected()

    return EchoListener


class PicowsClient:
    """picows: ``ws_connect`` with a ``WSListener``; no compression support."""

    name = "picows"

    async def start(self) -> None:
        from picows import WSMsgType, ws_connect

        self.ws_connect = ws_connect
        self.binary = WSMsgType.BINARY
        self.listener_class = _picows_listener_class()

    async def stop(self) -> None:
        pass

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any:
        if compress:
            raise ValueError("picows does not support compression")
        _transport, listener = await self.ws_connect(
            self.listener_class,
            url,
            ssl_context=ssl,
            max_frame_size=MAX_MESSAGE,
        )
        return listener

    def negotiated_compression(self, conn: Any) -> bool | None:
        return None

    async def close(self, conn: Any) -> None:
        await conn.close()

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        loop = asyncio.get_running_loop()
        transport = conn.transport
        binary = self.binary
        conn.pipelining = False
        for _ in range(n):
            conn.waiter = waiter = loop.create_future()
            transport.send(binary, payload)
            await waiter
        conn.waiter = None

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        loop = asyncio.get_running_loop()
        transport = conn.transport
        binary = self.binary
        first = min(window, n)
        conn.pipelining = True
        conn.payload = payload
        conn.to_send = n - first
        conn.to_receive = n
        conn.waiter = waiter = loop.create_future()
        for _ in range(first):
            transport.send(binary, payload)
        await waiter
        conn.waiter = None
        conn.pipelining = False


ADAPTERS: dict[str, type] = {
    "aiows": AiowsClient,
    "aiohttp": AiohttpClient,
    "websockets": WebsocketsClient,
    "picows": PicowsClient,
}


def make_adapter(name: str) -> ClientAdapter:
    """An adapter for the client library called ``name``."""
    adapter: ClientAdapter = ADAPTERS[name]()
    return adapter
