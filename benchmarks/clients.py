"""The clients, each written the way its own documentation suggests.

Each client gets a small adapter class with the same operations so the
measuring code in :mod:`benchmarks.client` is shared and identical for all:

``open(url, ssl, compress)`` / ``close(conn)``
    open and close one connection with the library's usual call
    (``aiows.ClientSession.ws_connect``, ``aiows.connect``,
    ``aiohttp.ClientSession.ws_connect``, ``websockets.asyncio.client.connect``,
    ``picows.websockets.connect``, ``picows.ws_connect``), with
    permessage-deflate off unless ``compress`` is true, and a maximum
    message size large enough for the 1 MiB scenario;
``pingpong(conn, payload, n)``
    ``n`` times: send ``payload`` as a binary message, wait for its echo;
``pipelined(conn, payload, n, window)``
    send ``window`` messages, then one more for each echo received until
    ``n`` were sent, and wait for all ``n`` echoes (a single task, as a
    client streaming requests would).

aiows, aiows-before and aiohttp share their code path (``send_bytes`` +
``receive``): aiows keeps aiohttp's API, so the same loop measures all
three.  websockets, aiows-ws (aiows' websockets API, ``aiows.connect``) and
picows-ws (``picows.websockets``, picows' re-implementation of websockets'
API) share theirs: ``send`` + ``recv``, written as a websockets user writes
it.  picows' own API has no awaitable receive, and runs two ways:
**picows-cb** sends the next message from its ``on_ws_frame`` callback,
and the loop awaits only the end of a run (how picows' users write
latency-critical code); **picows-fut** sends from the
loop and awaits a future per echo that the callback resolves (the await
model of aiows' coroutine API).  **aiows-listener**, aiows' callback API, is
in :mod:`benchmarks.aiows_listener` and is written like picows-cb.

All received messages are materialised as ``bytes`` and their type is
checked, so that no client skips the work the others do.  Defaults are left
as they are otherwise (aiohttp's and aiows' queues, websockets' keepalive
pings, picows' aiofastnet transport when that package is installed).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from typing import Any, ClassVar, Protocol

from benchmarks.aiows_listener import AiowsListenerClient, listener_unavailable
from benchmarks.common import MAX_MESSAGE, EchoError


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


class AiowsBeforeClient(AiowsClient):
    """aiows-before: the same client, run on another aiows build.

    Which build is up to the process: :mod:`benchmarks.run` starts it with
    the interpreter and ``PYTHONPATH`` of ``--python-before`` and
    ``--aiows-before``.
    """

    name = "aiows-before"


class AiohttpClient(_AiohttpAPI):
    """aiohttp: ``aiohttp.ClientSession().ws_connect(...)``."""

    name = "aiohttp"

    async def start(self) -> None:
        import aiohttp

        self.binary = aiohttp.WSMsgType.BINARY
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


class _WebsocketsAPI:
    """Shared by websockets, aiows-ws and picows-ws: ``connect`` + ``send`` /
    ``recv``, websockets' API, so the same loop measures all three."""

    name: ClassVar[str]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def connect(self, url: str, **kwargs: Any) -> Any:
        """The library's ``connect()``."""
        raise NotImplementedError

    async def open(
        self, url: str, ssl: ssl_module.SSLContext | None, compress: bool
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if ssl is not None:
            kwargs["ssl"] = ssl
        return await self.connect(
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


class WebsocketsClient(_WebsocketsAPI):
    """websockets (asyncio implementation): ``connect`` + ``send``/``recv``."""

    name = "websockets"

    def connect(self, url: str, **kwargs: Any) -> Any:
        from websockets.asyncio.client import connect

        return connect(url, **kwargs)


class AiowsWebsocketsClient(_WebsocketsAPI):
    """aiows-ws: ``aiows.connect(...)``, aiows' websockets API.

    Each connection opens its own aiohttp session, as ``connect()`` does
    without ``session=``: the way a program written for websockets runs.
    """

    name = "aiows-ws"

    def connect(self, url: str, **kwargs: Any) -> Any:
        import aiows

        return aiows.connect(url, **kwargs)


class PicowsWebsocketsClient(_WebsocketsAPI):
    """picows-ws: ``picows.websockets.connect(...)``, picows' re-implementation
    of websockets' API (and its permessage-deflate)."""

    name = "picows-ws"

    def connect(self, url: str, **kwargs: Any) -> Any:
        from picows.websockets import connect

        return connect(url, **kwargs)

    def negotiated_compression(self, conn: Any) -> bool | None:
        # Its connection has no ``protocol``: read the handshake's answer.
        header = conn.response.headers.get("Sec-WebSocket-Extensions", "")
        return "permessage-deflate" in header


def _picows_listener_classes() -> dict[str, type]:
    """Build the two picows listeners (picows is imported only by its clients).

    ``"cb"`` is picows-cb's, ``"fut"`` picows-fut's.  Both share the
    connection bookkeeping (closing handshake, failures); each has its own
    ``on_ws_frame``, written out in full as a picows user would write it.
    """
    from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

    binary = WSMsgType.BINARY
    close = WSMsgType.CLOSE

    class Listener(WSListener):
        """The closing handshake, and failing whatever the run awaits."""

        def __init__(self) -> None:
            self.loop = asyncio.get_running_loop()
            self.transport: WSTransport | None = None  # set once connected
            # Resolved by the server's close frame or the disconnection.
            self.closed: asyncio.Future[None] = self.loop.create_future()

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport

        def on_other_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            """Any frame but a binary one: a close frame, or an error."""
            if frame.msg_type is close:
                if not self.closed.done():
                    self.closed.set_result(None)
                transport.disconnect()
            else:
                self.fail(EchoError(f"unexpected {frame.msg_type} frame"))

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            self.fail(EchoError("disconnected"))
            if not self.closed.done():
                self.closed.set_result(None)

        def fail(self, exc: BaseException) -> None:
            """Make the run awaiting an echo raise ``exc``."""
            raise NotImplementedError

        async def close(self) -> None:
            assert self.transport is not None
            self.transport.send_close(WSCloseCode.OK)
            # Wait for the server's close frame, as the other clients do.
            await self.closed
            await self.transport.wait_disconnected()

    class CallbackListener(Listener):
        """picows-cb: each echo's callback sends the next message.

        A run of ``n`` messages with ``window`` in flight (1: ping-pong)
        sends the first ``window``, then the callback sends one more per
        echo until ``n`` were sent; the loop awaits one future for the whole
        run, resolved by the last echo.  No task wakes up per message.
        """

        def __init__(self) -> None:
            super().__init__()
            self.payload = b""  # what the callback sends
            self.to_send = 0  # messages the callback has still to send
            self.to_receive = 0  # echoes still expected in this run
            self.done: asyncio.Future[None] | None = None  # the run's end

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is binary:
                frame.get_payload_as_bytes()
                if self.to_send:
                    transport.send(binary, self.payload)
                    self.to_send -= 1
                self.to_receive -= 1
                if not self.to_receive:
                    assert self.done is not None
                    self.done.set_result(None)
            else:
                self.on_other_frame(transport, frame)

        def fail(self, exc: BaseException) -> None:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

        def start_run(
            self, payload: bytes, n: int, window: int
        ) -> asyncio.Future[None]:
            """Send the first messages of a run; return the run's end."""
            assert self.transport is not None
            first = min(window, n)
            self.payload = payload
            self.to_send = n - first
            self.to_receive = n
            self.done = done = self.loop.create_future()
            for _ in range(first):
                self.transport.send(binary, payload)
            return done

    class FutureListener(Listener):
        """picows-fut: ``receive()`` awaits a future the callback resolves.

        The callback hands each echo to the waiting ``receive()`` through
        its future, or queues it when nobody waits (pipelined: several
        echoes in one read), so ``receive()`` only suspends when nothing is
        queued: the await model of aiows' and aiohttp's ``receive()``.
        """

        def __init__(self) -> None:
            super().__init__()
            self.queue: deque[bytes] = deque()  # echoes nobody waited for
            self.waiter: asyncio.Future[bytes] | None = None  # receive()'s

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is binary:
                data = frame.get_payload_as_bytes()
                waiter = self.waiter
                if waiter is not None:
                    self.waiter = None
                    waiter.set_result(data)
                else:
                    self.queue.append(data)
            else:
                self.on_other_frame(transport, frame)

        def fail(self, exc: BaseException) -> None:
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)

        async def receive(self) -> bytes:
            """The next echo."""
            if self.queue:
                return self.queue.popleft()
            self.waiter = waiter = self.loop.create_future()
            data: bytes = await waiter
            return data

    return {"cb": CallbackListener, "fut": FutureListener}


class _PicowsClient:
    """picows: ``ws_connect`` with a ``WSListener``; no compression support."""

    name: ClassVar[str]
    #: Which listener of :func:`_picows_listener_classes` this client uses.
    listener_kind: ClassVar[str]

    async def start(self) -> None:
        from picows import WSMsgType, ws_connect

        self.ws_connect = ws_connect
        self.binary = WSMsgType.BINARY
        self.listener_class = _picows_listener_classes()[self.listener_kind]

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


class PicowsCallbackClient(_PicowsClient):
    """picows-cb: the next message is sent from ``on_ws_frame``.

    The way picows' users write latency-critical code: the loop only awaits
    the end of a run.
    """

    name = "picows-cb"
    listener_kind = "cb"

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        await conn.start_run(payload, n, 1)

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        await conn.start_run(payload, n, window)


class PicowsFutureClient(_PicowsClient):
    """picows-fut: send from the loop, await a future per echo.

    The same loops as aiows' and aiohttp's ``send_bytes`` + ``receive``.
    """

    name = "picows-fut"
    listener_kind = "fut"

    async def pingpong(self, conn: Any, payload: bytes, n: int) -> None:
        send = conn.transport.send
        receive = conn.receive
        binary = self.binary
        for _ in range(n):
            send(binary, payload)
            await receive()

    async def pipelined(self, conn: Any, payload: bytes, n: int, window: int) -> None:
        send = conn.transport.send
        receive = conn.receive
        binary = self.binary
        sent = min(window, n)
        for _ in range(sent):
            send(binary, payload)
        for _ in range(n):
            await receive()
            if sent < n:
                send(binary, payload)
                sent += 1


ADAPTERS: dict[str, type] = {
    "aiows": AiowsClient,
    "aiows-ws": AiowsWebsocketsClient,
    "aiows-listener": AiowsListenerClient,
    "aiows-before": AiowsBeforeClient,
    "aiohttp": AiohttpClient,
    "websockets": WebsocketsClient,
    "picows-ws": PicowsWebsocketsClient,
    "picows-cb": PicowsCallbackClient,
    "picows-fut": PicowsFutureClient,
}


def make_adapter(name: str) -> ClientAdapter:
    """An adapter for the client called ``name``."""
    adapter: ClientAdapter = ADAPTERS[name]()
    return adapter


def unavailable(name: str) -> str | None:
    """Why the client called ``name`` cannot run here, or None if it can."""
    if name == "aiows-listener":
        return listener_unavailable()
    return None
