"""How ``aiows.connect()`` reaches the server: websockets' ways, one connector.

websockets connects as ``loop.create_connection`` does, and through a proxy
it always opens a tunnel: HTTP ``CONNECT`` (over TLS to the proxy for an
``https://`` proxy), or SOCKS.  aiohttp's connectors do neither for
``ws://``.  :class:`Dialer` is the connector of ``connect()``'s private
session: for each request it makes the socket websockets would make, then
starts TLS for ``wss://``, and hands aiohttp the result.

* ``sock``: an already connected socket, used once;
* ``host``/``port``: the TCP destination, while the URI's host still names
  the server (Host header, SNI, certificate);
* the keywords of ``loop.create_connection`` (``local_addr``, ``family``,
  ``happy_eyeballs_delay``, ``interleave``, ``ssl_handshake_timeout``, ...);
* a proxy: ``http://`` or ``https://`` (CONNECT, with ``proxy_ssl`` and
  ``proxy_server_hostname`` for TLS to the proxy), or ``socks5://``,
  ``socks5h://``, ``socks4://``, ``socks4a://`` through the optional
  ``aiows[socks]`` extra (python-socks).

aiohttp internal used: ``BaseConnector._create_connection`` (see
``takeover.py``), and ``BaseConnector._factory``, the protocol factory its
own connectors pass to the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl as ssl_module
from typing import Any, Final

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import exceptions
from .unix import client_context

#: Proxy schemes, and whether each is SOCKS.
PROXY_SCHEMES: Final = {
    "http": False,
    "https": False,
    "socks4": True,
    "socks4a": True,
    "socks5": True,
    "socks5h": True,
}

#: Most a proxy's answer to CONNECT may hold before it is refused.
MAX_PROXY_ANSWER: Final = 64 * 1024

#: ``loop.create_connection`` keywords ``connect()`` passes on as they are.
CREATE_CONNECTION_KEYWORDS: Final = frozenset(
    {
        "family",
        "proto",
        "flags",
        "local_addr",
        "happy_eyeballs_delay",
        "interleave",
        "ssl_handshake_timeout",
        "ssl_shutdown_timeout",
    }
)


def check_proxy(proxy: str) -> URL:
    """``proxy`` parsed, or :class:`~aiows.InvalidProxy` saying what is wrong."""
    try:
        url = URL(proxy)
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidProxy(proxy, f"not a URL: {exc}") from None
    if url.scheme not in PROXY_SCHEMES or not url.host:
        raise exceptions.InvalidProxy(
            proxy,
            "a proxy URL starts with http://, https://, socks5://, socks5h://, "
            "socks4:// or socks4a:// and names a host",
        )
    if PROXY_SCHEMES[url.scheme]:
        try:
            import python_socks  # noqa: F401
        except ImportError:
            raise exceptions.InvalidProxy(
                proxy,
                f"{url.scheme}:// proxies need python-socks: "
                "pip install 'aiows-client[socks]'",
            ) from None
    return url


class _Tunnel(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT, then steps aside."""

    def __init__(self) -> None:
        self.buffer = b""
        self.answered: asyncio.Future[bytes] = (
            asyncio.get_running_loop().create_future()
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and not self.answered.done():
            self.answered.set_result(self.buffer[: end + 4])
        elif len(self.buffer) > MAX_PROXY_ANSWER and not self.answered.done():
            self.answered.set_exception(
                exceptions.InvalidProxyMessage(
                    _request_info(), (), message="the proxy's answer is too long"
                )
            )

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(
                exceptions.InvalidProxyMessage(
                    _request_info(),
                    (),
                    message="the proxy closed the connection without answering",
                )
            )


def _request_info(url: URL | None = None) -> aiohttp.RequestInfo:
    target = url or URL("http://proxy/")
    return aiohttp.RequestInfo(
        target, "CONNECT", CIMultiDictProxy(CIMultiDict()), target
    )


class Dialer(aiohttp.BaseConnector):
    """A connector that dials as websockets does; see the module's docstring."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        sock: socket.socket | None = None,
        proxy: URL | None = None,
        proxy_ssl: Any = None,
        proxy_server_hostname: str | None = None,
        origin_host: str | None = None,
        connection_kwargs: dict[str, Any] | None = None,
    ) -> None:
        # A socket, a proxy or a fixed destination is one connection's
        # business: nothing is kept for another.
        super().__init__(force_close=True)
        self._host = host
        self._port = port
        self._sock = sock
        # Set once the socket was used: it serves one connection only.
        self._sock_used = False
        self._proxy = proxy
        self._proxy_ssl = proxy_ssl
        self._proxy_server_hostname = proxy_server_hostname
        # The URI's host, so a fixed destination never serves another one.
        self._origin_host = origin_host
        self._kwargs = dict(connection_kwargs or {})

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        host, port = req.host, req.port
        if self._sock_used:
            raise ValueError(
                f"cannot follow a redirect to {host} with a preexisting socket"
            )
        if (self._host is not None or self._port is not None) and (
            self._origin_host is not None and host != self._origin_host
        ):
            raise ValueError(
                f"cannot follow a cross-origin redirect to {host} with an explicit "
                f"host or port (they fix the destination for {self._origin_host})"
            )
        context = client_context(req.ssl) if req.is_ssl() else None
        server_hostname = (req.server_hostname or host) if context else None
        protocol = self._factory()
        connecting = self._connect(req, host, port, context, server_hostname, protocol)
        try:
            await asyncio.wait_for(connecting, timeout.sock_connect)
        except ssl_module.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            if isinstance(exc, (aiohttp.ClientError, TimeoutError)):
                raise
            raise aiohttp.ClientConnectorError(req.connection_key, exc) from exc
        return protocol

    async def _connect(
        self,
        req: Any,
        host: str,
        port: int,
        context: ssl_module.SSLContext | None,
        server_hostname: str | None,
        protocol: asyncio.Protocol,
    ) -> None:
        loop = self._loop
        proxy = self._proxy
        if self._sock is not None:
            sock, self._sock = self._sock, None
            self._sock_used = True
        elif proxy is not None and PROXY_SCHEMES[proxy.scheme]:
            from python_socks.async_.asyncio import Proxy

            # socks5h:// and socks4a:// leave name resolution to the proxy.
            remote = proxy.scheme.endswith(("h", "a"))
            scheme = proxy.scheme.rstrip("ha")
            dialer = Proxy.from_url(str(proxy.with_scheme(scheme)), rdns=remote)
            sock = await dialer.connect(dest_host=host, dest_port=port)
        elif proxy is not None:
            await self._through_http_proxy(
                proxy, host, port, context, server_hostname, protocol
            )
            return
        else:
            await loop.create_connection(
                lambda: protocol,
                self._host or host,
                self._port or port,
                ssl=context,
                server_hostname=server_hostname,
                **self._kwargs,
            )
            return
        # A socket given with sock= or opened through a SOCKS proxy.
        await loop.create_connection(
            lambda: protocol, sock=sock, ssl=context, server_hostname=server_hostname
        )

    async def _through_http_proxy(
        self,
        proxy: URL,
        host: str,
        port: int,
        context: ssl_module.SSLContext | None,
        server_hostname: str | None,
        protocol: asyncio.Protocol,
    ) -> None:
        loop = self._loop
        proxy_context = None
        if proxy.scheme == "https":
            proxy_context = client_context(
                True if self._proxy_ssl is None else self._proxy_ssl
            )
        tunnel = _Tunnel()
        assert proxy.host is not None and proxy.port is not None  # check_proxy
        raw, _ = await loop.create_connection(
            lambda: tunnel,
            proxy.host,
            proxy.port,
            ssl=proxy_context,
            server_hostname=(self._proxy_server_hostname or proxy.host)
            if proxy_context
            else None,
            **self._kwargs,
        )
        transport: asyncio.BaseTransport = raw
        try:
            authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
            if proxy.user is not None:
                credentials = f"{proxy.user}:{proxy.password or ''}"
                token = base64.b64encode(credentials.encode()).decode()
                lines.append(f"Proxy-Authorization: Basic {token}")
            raw.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            answer = await tunnel.answered
            status = _proxy_status(answer, proxy)
            if not 200 <= status < 300:
                raise exceptions.InvalidProxyStatus(
                    _request_info(proxy.with_user(None)),
                    (),
                    status=status,
                    message=f"the proxy answered CONNECT with {status}",
                )
            rest = tunnel.buffer[len(answer) :]
            if context is not None:
                try:
                    upgraded = await loop.start_tls(
                        raw, protocol, context, server_hostname=server_hostname
                    )
                except TypeError as exc:
                    if proxy_context is None:
                        raise  # pragma: no cover - plain TCP takes TLS anywhere
                    raise _no_tls_in_tls(proxy) from exc
                assert upgraded is not None
                transport = upgraded
            else:
                raw.set_protocol(protocol)
            protocol.connection_made(transport)
            if rest:
                protocol.data_received(rest)
        except BaseException:
            raw.close()
            raise


def _no_tls_in_tls(proxy: URL) -> TypeError:
    """The error for ``wss://`` through an ``https://`` proxy on a loop whose
    TLS transport cannot carry TLS (asyncio's before Python 3.11).

    A ``TypeError``, as asyncio's own and websockets' (which lets asyncio's
    through), but one that says what is missing and what works instead.
    """
    return TypeError(
        f"wss:// through the https:// proxy {proxy.with_user(None)} needs TLS "
        "inside TLS, which this event loop's TLS transport cannot do "
        "(asyncio can from Python 3.11 on); use an http:// proxy, Python "
        "3.11 or later, or an event loop that supports it, such as uvloop"
    )


def _proxy_status(answer: bytes, proxy: URL) -> int:
    line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isascii():
        raise exceptions.InvalidProxyMessage(
            _request_info(proxy.with_user(None)),
            (),
            message=f"the proxy's answer is not HTTP: {line[:80]!r}",
        )
    try:
        return int(parts[1])
    except ValueError:
        raise exceptions.InvalidProxyMessage(
            _request_info(proxy.with_user(None)),
            (),
            message=f"the proxy's status is not a number: {line[:80]!r}",
        ) from None
