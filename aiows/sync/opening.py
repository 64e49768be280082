"""Opening a connection: the socket, TLS, the upgrade, redirects.

:func:`open_connection` dials as websockets' threading client does (a
given ``sock``, a Unix socket, ``socket.create_connection`` with its
keywords, or a proxy), starts TLS for ``wss://``, sends the upgrade
written by the core (:mod:`aiows.core.handshake`,
:func:`aiows.core.http11.serialize_request`), reads the answer with the
core's strict reader, and checks it with the core's rules.  A redirect is
followed with the rules both drivers share (:mod:`aiows.core.redirects`):
never from ``wss://`` down to ``ws://``, and ``Authorization``,
``Cookie`` and ``Proxy-Authorization`` are left behind when it leaves the
origin.  ``open_timeout``
bounds all of it.
"""

from __future__ import annotations

import base64
import socket
import ssl as ssl_module
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any, Final

from yarl import URL

from .. import exceptions
from ..core import deflate as core_deflate
from ..core import extensions as core_extensions
from ..core import handshake
from ..core.errors import HandshakeError, HTTPSyntaxError
from ..core.headers import parse_token_list
from ..core.http11 import MAX_BODY, ResponseHead, ResponseReader, serialize_request
from ..core.protocol import ClientProtocol
from ..core.proxies import PROXY_SCHEMES, proxy_from_environment
from ..core.redirects import (
    CROSS_ORIGIN_DROPPED,
    MAX_REQUESTS,
    REDIRECT_STATUSES,
    RedirectRefused,
    follow,
    without_origin_bound,
)
from ..extension_factories import negotiated_frame_path, refusals
from ..websockets_state import make_headers
from . import errors, messages, proxy
from .connection import ClientConnection
from .driver import Driver
from .options import Settings, check_uri
from .transport import Transport, remaining

Pairs = list[tuple[str, str]]

_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


def header_pairs(headers: Any) -> Pairs:
    """``additional_headers`` (a mapping, websockets' ``Headers``, or pairs)
    as a list of pairs."""
    if headers is None:
        return []
    if hasattr(headers, "raw_items"):
        items: Iterable[Any] = headers.raw_items()
    elif hasattr(headers, "items"):
        items = headers.items()
    else:
        items = headers
    return [(str(name), str(value)) for name, value in items]


def open_connection(settings: Settings, deadline: float | None) -> ClientConnection:
    """One connection to ``settings.uri``, following redirects."""
    headers = settings.additional_headers
    if callable(headers):
        headers = headers()  # called on every attempt: fresh credentials
    # Every header goes to the server, Proxy-Authorization too, as in
    # websockets (the proxy's credentials are in the proxy's URL).
    pairs = header_pairs(headers)
    uri = settings.uri
    for _ in range(MAX_REQUESTS):
        result = _attempt(settings, uri, pairs, deadline)
        if isinstance(result, ClientConnection):
            return result
        uri, cross_origin = result
        if cross_origin:
            pairs = without_origin_bound(pairs, CROSS_ORIGIN_DROPPED)
    error = exceptions.SecurityError(
        errors.request_info(uri, pairs),
        (),
        message=f"more than {MAX_REQUESTS} redirects",
    )
    error.in_websockets_words()
    raise error


def _dial(settings: Settings, url: URL, deadline: float | None) -> Transport:
    """The transport to the server (through a proxy, maybe), before TLS."""
    host = url.host
    port = url.port or _DEFAULT_PORTS[url.scheme]
    assert host is not None
    if settings.sock is not None:
        return Transport(settings.sock, threading.Lock())
    if settings.unix_path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(remaining(deadline))
            sock.connect(settings.unix_path)
        except BaseException:
            sock.close()
            raise
        return Transport(sock, threading.Lock())
    kwargs = dict(settings.socket_kwargs)
    through = settings.proxy
    if through is True:
        through = proxy_from_environment(url.scheme == "wss", host, port)
    if isinstance(through, str):
        proxy_url = proxy.check_proxy(through)
        if PROXY_SCHEMES[proxy_url.scheme]:
            sock = proxy.connect_socks(
                proxy_url, host, port, deadline, kwargs.get("source_address")
            )
            return Transport(sock, threading.Lock())
        kwargs.pop("address", None)
        kwargs.pop("timeout", None)
        return proxy.connect_http(
            proxy_url,
            host,
            port,
            deadline,
            proxy_ssl=settings.proxy_ssl,
            proxy_server_hostname=settings.proxy_server_hostname,
            user_agent=settings.user_agent,
            connect_kwargs=kwargs,
        )
    kwargs.setdefault("address", (host, port))
    kwargs.setdefault("timeout", remaining(deadline))
    return Transport(socket.create_connection(**kwargs), threading.Lock())


def _request(settings: Settings, url: URL, key: str, pairs: Pairs) -> Pairs:
    """The upgrade request's headers, in the order they go."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port and url.port != _DEFAULT_PORTS[url.scheme]:
        host = f"{host}:{url.port}"
    request: Pairs = [("Host", host)]
    factories = settings.extensions
    if factories is not None:
        # An empty offer sends no header (the asyncio face's rule).
        extensions = core_extensions.build_offer(factories) if factories else None
    else:
        extensions = core_deflate.build_offer() if settings.deflate else None
    request += handshake.request_headers(
        key,
        protocols=settings.subprotocols,
        origin=settings.origin,
        extensions=extensions,
    ).items()
    given = {name.lower() for name, _ in pairs}
    if url.user is not None and "authorization" not in given:
        # websockets' rule: credentials in the URI are Basic auth.
        credentials = f"{url.user}:{url.password or ''}".encode()
        token = base64.b64encode(credentials).decode()
        request.append(("Authorization", f"Basic {token}"))
    if "host" in given:
        request = request[1:]
    request += pairs
    if settings.user_agent is not None and "user-agent" not in given:
        request.append(("User-Agent", settings.user_agent))
    return request


def _attempt(
    settings: Settings,
    uri: str,
    pairs: Pairs,
    deadline: float | None,
) -> ClientConnection | tuple[str, bool]:
    """One request: the connection, or where a redirect leads."""
    url = check_uri(uri)
    transport = _dial(settings, url, deadline)
    try:
        if transport.sock.family in (socket.AF_INET, socket.AF_INET6):
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        if url.scheme == "wss":
            transport.start_tls(
                settings.ssl or ssl_module.create_default_context(),
                settings.server_hostname or url.host,
                deadline,
            )
        key = handshake.generate_key()
        request = _request(settings, url, key, pairs)
        target = url.raw_path_qs or "/"
        info = errors.request_info(uri, request)
        transport.send_all(serialize_request("GET", target, request), deadline)
        reader = _read_head(transport, info, deadline)
        head, rest = reader.head, reader.rest
        assert head is not None
        location = next((v for n, v in head.headers if n.lower() == "location"), None)
        if head.status in REDIRECT_STATUSES and location is not None:
            hop = _redirect(settings, uri, location, info, head)
            transport.abort()
            transport.close()
            return hop
        offered = tuple(
            parse_token_list(
                [v for n, v in request if n.lower() == "sec-websocket-protocol"],
                "Sec-WebSocket-Protocol",
            )
        )
        try:
            result = handshake.check_response(
                head.status,
                head.headers,
                key=key,
                protocols=offered,
                offered_server_max_window_bits=(
                    core_deflate.MAX_WINDOW_BITS if settings.deflate else None
                ),
                extensions=settings.extensions,
                refused=refusals(settings.extensions),
            )
        except HandshakeError as exc:
            body = b""
            if head.status != handshake.SWITCHING_PROTOCOLS:
                body = _refusal_body(transport, reader, deadline)
            raise errors.handshake_error(exc, info, head, body, offered) from None
        return _connected(settings, transport, url, request, head, rest, result)
    except BaseException:
        transport.abort()
        transport.close()
        raise


def _read_head(
    transport: Transport, info: Any, deadline: float | None
) -> ResponseReader:
    """The reader, once it has the answer's head (``rest``: what followed)."""
    reader = ResponseReader()
    received = False
    try:
        while True:
            data = transport.receive(deadline)
            if not data:
                raise errors.no_answer(info, received) from errors.eof_cause(received)
            received = True
            head = reader.feed(data)
            if head is not None:
                if not 100 <= head.status <= 599:
                    # RFC 9110 §15 defines 100 to 599 (the reader takes any
                    # three digits).
                    raise HTTPSyntaxError(f"status {head.status} outside 100-599")
                return reader
    except HTTPSyntaxError as exc:
        error = errors.handshake_error(exc, info, None)
        if isinstance(error, exceptions.InvalidMessage):
            raise error from errors.syntax_cause(exc)
        raise error from exc


def _refusal_body(
    transport: Transport, reader: ResponseReader, deadline: float | None
) -> bytes:
    """What the server said with its refusal, up to :data:`MAX_BODY` bytes."""
    try:
        done = reader.read_body()
        while not done and len(reader.body) < MAX_BODY:
            data = transport.receive(deadline)
            if not data:
                reader.feed_eof()
                break
            done = reader.feed_body(data)
    except (HTTPSyntaxError, OSError, TimeoutError):
        pass
    return reader.body


def _redirect(
    settings: Settings, uri: str, location: str, info: Any, head: ResponseHead
) -> tuple[str, bool]:
    try:
        hop = follow(uri, location)
    except RedirectRefused as exc:
        if exc.downgrade:
            # websockets' words, caused as websockets chains it: by the
            # redirect's status.
            target = urllib.parse.urljoin(uri, location)
            raise errors.refused_redirect(
                str(exc),
                info,
                head,
                exceptions.SecurityError,
                f"cannot follow redirect to non-secure URI {target}",
            ) from errors.rejected(info, head)
        raise errors.refused_redirect(str(exc), info, head) from None
    if settings.sock is not None:
        raise ValueError(
            f"cannot follow redirect to {hop.url} with a preexisting socket"
        )
    if hop.cross_origin and settings.unix_path is not None:
        raise ValueError(
            f"cannot follow cross-origin redirect to {hop.url} with a Unix socket"
        )
    if hop.cross_origin and "address" in settings.socket_kwargs:
        raise ValueError(
            f"cannot follow cross-origin redirect to {hop.url} with an explicit "
            "host and port"
        )
    settings.logger.debug("following a redirect to %s", URL(hop.url).with_query(None))
    return hop.url, hop.cross_origin


def _connected(
    settings: Settings,
    transport: Transport,
    url: URL,
    request: Pairs,
    head: ResponseHead,
    rest: bytes,
    result: handshake.HandshakeResult,
) -> ClientConnection:
    parser, writer = negotiated_frame_path(
        result.extensions, max_msg_size=settings.max_size or 0, fragments=True
    )
    protocol = ClientProtocol(parser, writer, echo_reason=True)
    high, low = settings.max_queue
    driver = Driver(
        transport,
        protocol,
        messages.Inbox(high, low, max_bytes=messages.DEFAULT_MAX_BYTES),
        close_timeout=settings.close_timeout,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        logger=settings.logger,
    )
    sock = transport.sock
    try:
        addresses = (sock.getsockname(), sock.getpeername())
    except OSError:
        addresses = (None, None)
    make = settings.create_connection or ClientConnection
    connection: ClientConnection = make(
        driver,
        handshake.Request(url.raw_path_qs or "/", make_headers(request)),
        errors.response_of(head),
        subprotocol=result.subprotocol,
        addresses=addresses,
    )
    if not isinstance(connection, ClientConnection):
        raise TypeError(
            "create_connection must return an aiows.sync.ClientConnection, not "
            f"{type(connection).__name__}"
        )
    driver.start(rest)
    settings.logger.debug(
        "connected to %s (subprotocol=%s, extensions=%s)",
        url.with_user(None).with_query(None),
        result.subprotocol,
        [getattr(extension, "name", extension) for extension in result.extensions],
    )
    return connection


def deadline_of(settings: Settings) -> float | None:
    """When the whole opening must be done."""
    timeout = settings.open_timeout
    return None if timeout is None else time.monotonic() + timeout
