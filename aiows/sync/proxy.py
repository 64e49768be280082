"""Through a proxy: an HTTP ``CONNECT`` tunnel, or SOCKS.

websockets' threading client tunnels ``ws://`` and ``wss://`` alike, and so
does this face: ``http://`` and ``https://`` proxies get ``CONNECT
host:port`` (over TLS to the proxy for ``https://``), read with the core's
strict HTTP/1.1 reader; the SOCKS schemes go through ``python_socks.sync``
(the ``aiows-client[socks]`` extra).

The proxy's answer is checked as strictly as a server's.  Anything it sends
after its 2xx, before the client spoke through the tunnel, is refused: such
bytes would otherwise reach the TLS layer or pass for the server's answer
to the upgrade.  Every failure of the proxy itself is one of aiows's proxy
exceptions, with the underlying error as its ``__cause__``; not reaching
the proxy at all is an ``OSError``, as in websockets.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from typing import Any

from yarl import URL

from .. import exceptions
from ..core.errors import HTTPLimitError, HTTPSyntaxError
from ..core.http11 import MAX_PROXY_ANSWER, ResponseReader, serialize_request
from ..core.proxies import PROXY_SCHEMES, proxy_url_problem
from . import errors
from .transport import Transport, remaining


def check_proxy(proxy: str) -> URL:
    """``proxy`` parsed, or :class:`~aiows.InvalidProxy` saying what is wrong
    (websockets' words, the core's checks: the asyncio faces' too)."""
    try:
        url = URL(proxy)
        port = url.port
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidProxy(proxy, f"not a URL: {exc}") from None
    problem = proxy_url_problem(
        url.scheme,
        url.host,
        url.raw_path,
        url.raw_query_string,
        url.raw_fragment,
        url.user,
        url.password,
    )
    if problem is None and port is None:
        problem = "port isn't provided"
    if problem is not None:
        raise exceptions.InvalidProxy(proxy, problem)
    if PROXY_SCHEMES[url.scheme]:
        try:
            import python_socks.sync  # noqa: F401
        except ImportError:
            raise exceptions.InvalidProxy(
                proxy,
                f"{url.scheme}:// proxies need python-socks: "
                "pip install 'aiows-client[socks]'",
            ) from None
    return url


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connect_socks(
    proxy: URL,
    host: str,
    port: int,
    deadline: float | None,
    local_addr: Any = None,
) -> socket.socket:
    """A socket to ``host:port`` through the SOCKS proxy ``proxy``."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError
    from python_socks.sync import Proxy

    # socks5h:// and socks4a:// leave name resolution to the proxy.
    remote = proxy.scheme.endswith(("h", "a"))
    dialer = Proxy.from_url(
        str(proxy.with_scheme(proxy.scheme.rstrip("ha"))), rdns=remote
    )
    timeout = remaining(deadline)
    try:
        return dialer.connect(
            dest_host=host, dest_port=port, timeout=timeout, local_addr=local_addr
        )
    except ProxyTimeoutError as exc:
        raise TimeoutError(f"timed out connecting through {_shown(proxy)}") from exc
    except ProxyConnectionError:
        raise  # an OSError: the proxy could not be reached
    except ProxyError as exc:
        raise exceptions.ProxyError(
            errors.request_info(str(_shown(proxy)), method="CONNECT"),
            (),
            message=f"the SOCKS proxy refused to connect to {_authority(host, port)}: "
            f"{exc}",
        ) from exc


def connect_http(
    proxy: URL,
    host: str,
    port: int,
    deadline: float | None,
    *,
    proxy_ssl: ssl.SSLContext | None,
    proxy_server_hostname: str | None,
    user_agent: str | None,
    connect_kwargs: dict[str, Any],
) -> Transport:
    """A transport whose bytes reach ``host:port`` through a ``CONNECT``
    tunnel of the HTTP proxy ``proxy``."""
    assert proxy.host is not None and proxy.port is not None  # check_proxy
    sock = socket.create_connection(
        (proxy.host, proxy.port), timeout=remaining(deadline), **connect_kwargs
    )
    transport = Transport(sock, threading.Lock())
    try:
        if proxy.scheme == "https":
            transport.start_tls(
                proxy_ssl or ssl.create_default_context(),
                proxy_server_hostname or proxy.host,
                deadline,
            )
        authority = _authority(host, port)
        headers = [("Host", authority)]
        if user_agent is not None:
            headers.append(("User-Agent", user_agent))
        if proxy.user is not None:
            credentials = f"{proxy.user}:{proxy.password or ''}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
            headers.append(("Proxy-Authorization", authorization))
        info = errors.request_info(str(_shown(proxy)), headers, "CONNECT")
        transport.send_all(serialize_request("CONNECT", authority, headers), deadline)
        _read_answer(transport, info, deadline)
    except BaseException:
        transport.abort()
        transport.close()
        raise
    return transport


def _read_answer(transport: Transport, info: Any, deadline: float | None) -> None:
    """Read the proxy's answer; raise unless it opened the tunnel cleanly."""
    reader = ResponseReader()
    head = None
    received = 0
    try:
        while head is None:
            data = transport.receive(deadline)
            if not data:
                detail = (
                    "the proxy closed the connection in the middle of its answer"
                    if received
                    else "the proxy closed the connection without answering CONNECT"
                )
                raise errors.proxy_message(info, detail) from EOFError(detail)
            received += len(data)
            head = reader.feed(data)
            # The head's bytes so far (what came after it is not the head's).
            if received - (len(reader.rest) if head else 0) > MAX_PROXY_ANSWER:
                raise HTTPLimitError(
                    f"answer longer than {MAX_PROXY_ANSWER} bytes", what="answer"
                )
        if not 100 <= head.status <= 599:
            # RFC 9110 §15 defines 100 to 599 (the reader takes any three
            # digits).
            raise HTTPSyntaxError(f"status {head.status} outside 100-599")
    except HTTPSyntaxError as exc:
        raise errors.proxy_message(
            info, f"the proxy's answer to CONNECT is not valid HTTP: {exc}"
        ) from errors.syntax_cause(exc)
    if not 200 <= head.status < 300:
        raise errors.proxy_status(info, head)
    # RFC 9110 §9.3.6: after a 2xx the connection is the tunnel; the proxy
    # has nothing more to say, and the server nothing yet.
    early = reader.rest or _already_there(transport)
    if early:
        raise errors.proxy_message(
            info,
            f"the proxy sent {len(early)} bytes after its answer to CONNECT, "
            "before the client spoke through the tunnel",
            invalid=False,
        )


def _already_there(transport: Transport) -> bytes:
    buffer = bytearray(4096)
    n = transport.read_into(buffer)
    return bytes(buffer[:n]) if n else b""


def _shown(proxy: URL) -> URL:
    """The proxy's URL as errors show it: without credentials."""
    return proxy.with_user(None)
