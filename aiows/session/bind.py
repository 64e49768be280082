"""From a 101 response to a face: the engine each API gets, built one way.

A *binder* (see :data:`aiows.session.open.Binder`) takes the handshake's
response and what it agreed on, builds the core protocol with the face's
policies, the engine on the upgraded transport, and the face over it, and
takes the socket over from aiohttp.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import ClientConnectionResetError, ClientResponse

from ..core.handshake import HandshakeResult
from ..core.messages import MessageKinds
from ..core.protocol import ClientProtocol, Policy
from ..engine.assembler import AfterClose
from ..engine.connection import Connection, logger
from ..engine.keepalive import KeepaliveSettings, random_payload
from ..exceptions import PongTimeout
from ..extension_factories import negotiated_frame_path
from ..faces import aiohttp_face, aiohttp_messages, listener, websockets_face
from .options import AiohttpOptions, ConnectionOptions
from .takeover import take_over, upgraded_transport


def _engine(
    response: ClientResponse,
    result: HandshakeResult,
    options: ConnectionOptions,
    *,
    kinds: MessageKinds,
    fragments: bool,
    protocol_policy: dict[str, Any],
    after_close: AfterClose,
    close_timeout: float | None,
    keepalive: KeepaliveSettings | None,
    closed_error: Callable[[], BaseException],
    timeout_error: Callable[[], BaseException],
) -> Connection:
    parser, writer = negotiated_frame_path(
        result.extensions,
        max_msg_size=options.max_msg_size,
        decode_text=options.decode_text,
        fragments=fragments,
        kinds=kinds,
    )
    protocol = ClientProtocol(parser, writer, **protocol_policy)
    transport = upgraded_transport(response)
    if options.write_limit is not None:
        transport.set_write_buffer_limits(high=options.write_limit)
    return Connection(
        protocol,
        transport,
        loop=asyncio.get_running_loop(),
        kinds=kinds,
        max_queue=options.max_queue,
        after_close=after_close,
        close_timeout=close_timeout,
        reply_timeout=close_timeout,
        keepalive=keepalive,
        closed_error=closed_error,
        timeout_error=timeout_error,
        log=options.logger or logger,
    )


def _install(engine: Connection, response: ClientResponse) -> None:
    engine.on_lost = take_over(response, engine)


def _closed_before_pong() -> BaseException:
    # Module-level, not a closure per ws_connect(): 150 bytes per connection.
    return ClientConnectionResetError("the connection closed before the pong")


def bind_aiohttp(
    options: ConnectionOptions, face: AiohttpOptions
) -> Callable[[ClientResponse, HandshakeResult], aiohttp_face.ClientWebSocketResponse]:
    """The binder of ``ws_connect``: aiohttp's semantics."""
    timeout = face.timeout
    keepalive = None
    if face.heartbeat is not None:
        pong_wait = face.ping_timeout or face.heartbeat / 2
        keepalive = KeepaliveSettings(
            face.heartbeat,
            pong_wait,
            any_input_is_alive=True,
            close_code=None,
            payload=lambda: b"",
        )

        def timeout_error() -> BaseException:
            return PongTimeout(f"No PONG received after {pong_wait} seconds")

    else:
        timeout_error = asyncio.TimeoutError  # TimeoutError from Python 3.11 on

    def bind(
        response: ClientResponse, result: HandshakeResult
    ) -> aiohttp_face.ClientWebSocketResponse:
        engine = _engine(
            response,
            result,
            options,
            kinds=aiohttp_messages.message_kinds(options.decode_text),
            fragments=False,
            protocol_policy={
                "auto_pong": face.autoping,
                "report_control": not face.autoping,
                "close_reply": Policy.WHEN_READ
                if face.autoclose
                else Policy.BY_APPLICATION,
                "failure": Policy.WHEN_READ,
            },
            after_close=AfterClose.DROP,
            close_timeout=timeout.ws_close,
            keepalive=keepalive,
            closed_error=_closed_before_pong,
            timeout_error=timeout_error,
        )
        params = result.deflate
        make = face.response_class or aiohttp_face.ClientWebSocketResponse
        ws = make(
            engine,
            response,
            subprotocol=result.subprotocol,
            timeout=timeout,
            autoclose=face.autoclose,
            autoping=face.autoping,
            compress=params.client_max_window_bits if params is not None else 0,
            client_notakeover=params.client_no_context_takeover if params else False,
        )
        _install(engine, response)
        return ws

    return bind


def _keepalive_timeout() -> BaseException:
    # As websockets' asyncio timeouts: asyncio's (the built-in one from
    # Python 3.11 on).  Module-level, not a closure per connect(): the engine keeps it.
    return asyncio.TimeoutError("keepalive ping timeout")


def bind_websockets(
    options: ConnectionOptions,
    *,
    ping_interval: float | None,
    ping_timeout: float | None,
    create_connection: Any = None,
) -> Callable[[ClientResponse, HandshakeResult], websockets_face.ClientConnection]:
    """The binder of ``connect()``: websockets' semantics."""
    keepalive = None
    if ping_interval is not None:
        keepalive = KeepaliveSettings(
            ping_interval,
            ping_timeout,
            any_input_is_alive=False,
            close_code=1011,
            payload=random_payload,
            after_drain=True,
        )

    def bind(
        response: ClientResponse, result: HandshakeResult
    ) -> websockets_face.ClientConnection:
        log = options.logger or logger
        face: websockets_face.ClientConnection | None = None

        def closed_error() -> BaseException:
            assert face is not None
            return face._closed_error()

        engine = _engine(
            response,
            result,
            options,
            kinds=websockets_face.KINDS,
            fragments=True,
            protocol_policy={
                "auto_pong": True,
                "report_control": False,
                "close_reply": Policy.AT_ONCE,
                "failure": Policy.AT_ONCE,
                "echo_reason": True,
            },
            after_close=AfterClose.DELIVER,
            close_timeout=options.close_timeout,
            keepalive=keepalive,
            closed_error=closed_error,
            timeout_error=_keepalive_timeout,
        )
        # websockets' create_connection: a subclass, or a factory, of the face.
        make_face = create_connection or websockets_face.ClientConnection
        face = make_face(engine, response, subprotocol=result.subprotocol, logger=log)
        if not isinstance(face, websockets_face.ClientConnection):
            raise TypeError(
                "create_connection must make an aiows.ClientConnection, not "
                f"{type(face).__name__}"
            )
        _install(engine, response)
        return face

    return bind


# Module-level, not closures per ws_listen(): the engine keeps them for the
# life of the connection (about 280 bytes for the two).
def _listener_closed() -> BaseException:
    return ClientConnectionResetError("the connection closed")


def _listener_pong_timeout() -> BaseException:
    return PongTimeout("no pong from the server")


def bind_listener(
    options: ConnectionOptions, face: AiohttpOptions, callbacks: listener.Listener
) -> Callable[[ClientResponse, HandshakeResult], listener.ListenerConnection]:
    """The binder of ``ws_listen``: callbacks, no queue."""
    keepalive = None
    if face.heartbeat is not None:
        keepalive = KeepaliveSettings(
            face.heartbeat,
            face.ping_timeout or face.heartbeat / 2,
            any_input_is_alive=True,
            close_code=None,
            payload=lambda: b"",
        )

    def bind(
        response: ClientResponse, result: HandshakeResult
    ) -> listener.ListenerConnection:
        engine = _engine(
            response,
            result,
            options,
            kinds=listener.KINDS,
            fragments=False,
            protocol_policy={
                "auto_pong": True,
                "report_control": False,
                # The sink answers as soon as the callbacks before it ran.
                "close_reply": Policy.WHEN_READ,
                "failure": Policy.WHEN_READ,
            },
            # The listener's sink queues nothing: it has no use for it.
            after_close=AfterClose.DELIVER,
            close_timeout=face.timeout.ws_close,
            keepalive=keepalive,
            closed_error=_listener_closed,
            timeout_error=_listener_pong_timeout,
        )
        bits = 0 if result.deflate is None else result.deflate.client_max_window_bits
        ws = listener.ListenerConnection(
            engine, callbacks, response, result.subprotocol, bits
        )
        engine.sink = listener.ListenerSink(ws)
        # Before the hand-over, which delivers the frames that came with the
        # 101: on_open comes first.
        callbacks.on_open(ws)
        _install(engine, response)
        return ws

    return bind
