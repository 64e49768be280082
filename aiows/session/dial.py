"""How ``aiows.connect()`` reaches the server: websockets' ways, one connector.

websockets connects as ``loop.create_connection`` does, and through a proxy
it always opens a tunnel: HTTP ``CONNECT`` (over TLS to the proxy for an
``https://`` proxy), or SOCKS.  aiohttp's connectors do neither for
``ws://``.  :class:`Dialer` is the connector of ``connect()``'s private
session: for each request it makes the socket websockets would make, then
starts TLS for ``wss://``, and hands aiohttp the result.

* ``sock``: an already connected socket, used once (TCP or Unix);
* ``host``/``port``: the TCP destination, while the URI's host still names
  the server (Host header, SNI, certificate);
* the keywords of ``loop.create_connection`` (``local_addr``, ``family``,
  ``happy_eyeballs_delay``, ``interleave``, ``ssl_handshake_timeout``, ...);
* a proxy: ``http://`` or ``https://`` (CONNECT, with ``proxy_ssl`` and
  ``proxy_server_hostname`` for TLS to the proxy), or ``socks5://``,
  ``socks5h://``, ``socks4://``, ``socks4a://`` through the optional
  ``aiows[socks]`` extra (python-socks).

The CONNECT exchange
--------------------

Neither aiohttp's proxy path nor python-socks' HTTP proxy fits: aiohttp
tunnels only ``https://`` requests (it forwards ``ws://`` ones in clear to
the proxy), takes no TLS settings of the proxy's own and accepts only 200;
python-socks reads the answer in a single read, takes whatever follows
``HTTP/x`` as the status (``int()`` accepts ``+200`` and ``2_00``) and is
an optional extra.  So the exchange is here, written with the core's strict
HTTP/1.1 reader (:mod:`aiows.core.http11`): the status line and the header
lines follow RFC 9112 to the byte, within aiohttp's limits, and the whole
answer within :data:`MAX_PROXY_ANSWER`.

A proxy's 2xx answer to CONNECT has no body (RFC 9110 §9.3.6): the next
byte belongs to the tunnel.  Any byte that arrives before aiows hands the
tunnel over (before TLS starts for ``wss://``; before the upgrade request
is written for ``ws://``) can only be the proxy's own, so it is refused with
:class:`~aiows.InvalidProxyMessage`: read and replayed after TLS, it would
pose as the server's answer (a forged 302 to a host of the proxy's choice),
and dropped, it would hide a proxy that does not follow the protocol.  The
hand-over itself runs in the task that asked for the connection, with no
loop turn between the check and the moment aiohttp writes its request.

aiohttp internals used: ``BaseConnector._create_connection`` (see
``takeover.py``), and ``ResponseHandler``, the protocol its own connectors
pass to the event loop (see :class:`_Handler`).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl as ssl_module
from typing import Any, Final, cast

import aiohttp
from aiohttp.client_proto import ResponseHandler
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .. import exceptions
from ..core import errors as core_errors
from ..core.errors import HTTPLimitError, HTTPSyntaxError
from ..core.handshake import Response
from ..core.http11 import (
    MAX_LINE,
    MAX_PROXY_ANSWER,
    ResponseHead,
    ResponseReader,
    parse_status_line,
    serialize_request,
)
from ..core.proxies import PROXY_SCHEMES, proxy_url_problem
from .unix import bounded, client_context

# PROXY_SCHEMES (the schemes, and whether each is SOCKS) and the checks of a
# proxy URL are the core's: the threading face shares them.

#: websockets' message for an answer to CONNECT that is not valid HTTP; what
#: is wrong with it is the exception's ``__cause__``.
INVALID_ANSWER: Final = core_errors.NO_VALID_PROXY_RESPONSE

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

#: Keywords for TLS with an ``https://`` proxy (websockets' ``proxy_``
#: prefix on ``loop.create_connection``'s).
PROXY_TLS_KEYWORDS: Final = frozenset(
    {
        "proxy_ssl",
        "proxy_server_hostname",
        "proxy_ssl_handshake_timeout",
        "proxy_ssl_shutdown_timeout",
    }
)

# Through an HTTP proxy, these go to the TLS with the server (start_tls);
# the other keywords go to the connection to the proxy, as in websockets.
_SERVER_TLS_KEYWORDS: Final = frozenset(
    {"ssl_handshake_timeout", "ssl_shutdown_timeout"}
)


def check_proxy(proxy: str) -> URL:
    """``proxy`` parsed, or :class:`~aiows.InvalidProxy` saying what is wrong
    (websockets' words)."""
    try:
        url = URL(proxy)
    except (TypeError, ValueError) as exc:
        raise exceptions.InvalidProxy(proxy, f"not a URL: {exc}") from None
    problem = proxy_url_problem(*url_parts(url))
    if problem is not None:
        raise exceptions.InvalidProxy(proxy, problem)
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


def url_parts(
    url: URL,
) -> tuple[str, str | None, str, str, str, str | None, str | None]:
    """The parts of a proxy URL :func:`~aiows.core.proxies.proxy_url_problem`
    checks."""
    return (
        url.scheme,
        url.host,
        url.raw_path,
        url.raw_query_string,
        url.raw_fragment,
        url.user,
        url.password,
    )


def _request_info(proxy: URL) -> aiohttp.RequestInfo:
    """What errors about the CONNECT exchange show of it: the proxy's URL,
    without credentials."""
    shown = proxy.with_user(None)
    return aiohttp.RequestInfo(shown, "CONNECT", CIMultiDictProxy(CIMultiDict()), shown)


def invalid_answer(proxy: URL, cause: BaseException) -> exceptions.InvalidProxyMessage:
    """:class:`~aiows.InvalidProxyMessage` for an answer that is not valid
    HTTP, ``cause`` saying what is wrong (as websockets chains it)."""
    error = exceptions.InvalidProxyMessage(
        _request_info(proxy), (), message=INVALID_ANSWER
    )
    error.__cause__ = cause
    return error


def refused(proxy: URL, head: ResponseHead) -> exceptions.InvalidProxyStatus:
    """:class:`~aiows.InvalidProxyStatus` for a status other than 2xx."""
    headers = CIMultiDictProxy(CIMultiDict(head.headers))
    error = exceptions.InvalidProxyStatus(
        _request_info(proxy),
        (),
        status=head.status,
        message=core_errors.rejected_words(head.status, proxy=True),
        headers=headers,
    )
    error.response = Response(head.status, head.reason, headers)
    return error


class _Tunnel(asyncio.Protocol):
    """The connection to an HTTP proxy until it is a tunnel.

    Writes the CONNECT request, reads the answer with the strict reader,
    and once the answer is a 2xx, refuses every byte that comes after it:
    :attr:`answered` ends with the head or with the proxy's error, and
    :meth:`handed_over` says whether the tunnel may still be used.
    """

    def __init__(self, proxy: URL, request: bytes) -> None:
        self._proxy = proxy
        self._request = request
        self._reader = ResponseReader()
        # Bytes of the answer so far, for MAX_PROXY_ANSWER.
        self._received = 0
        # The status line until it is complete (then None), for its code.
        self._first_line: bytearray | None = bytearray()
        self.transport: asyncio.Transport | None = None
        self.answered: asyncio.Future[ResponseHead] = (
            asyncio.get_running_loop().create_future()
        )
        #: Bytes the proxy sent after its 2xx answer (refused).
        self.extra = 0
        #: Why the connection ended after the answer, if it did.
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self.answered.done():
            self._refuse(len(data))
            return
        self._received += len(data)
        try:
            self._check_status(data)
            head = self._reader.feed(data)
            # The head's bytes so far (what came after it is not the head's).
            size = self._received - (len(self._reader.rest) if head else 0)
            if size > MAX_PROXY_ANSWER:
                raise HTTPLimitError(
                    f"answer longer than {MAX_PROXY_ANSWER} bytes", what="answer"
                )
        except HTTPSyntaxError as exc:
            self._fail(invalid_answer(self._proxy, exc))
            return
        if head is None:
            return
        if not 200 <= head.status < 300:
            # The body of a refusal is not read: the status says it all,
            # and a proxy need not end it (websockets and aiohttp do the
            # same).
            self._fail(refused(self._proxy, head))
            return
        self.answered.set_result(head)
        if self._reader.rest:
            self._refuse(len(self._reader.rest))

    def _check_status(self, data: bytes) -> None:
        """Refuse a status outside 100-599 as soon as the status line is
        complete (the reader takes any three digits; RFC 9110 §15 defines
        100 to 599), so a proxy that stops there is not waited for."""
        first = self._first_line
        if first is None:
            return
        end = data.find(b"\n")
        if end < 0:
            if len(first) <= MAX_LINE:
                first += data[: MAX_LINE + 1 - len(first)]
            return
        line = bytes(first + data[:end])
        self._first_line = None
        if not line.endswith(b"\r"):
            return  # the reader says what is wrong with it
        try:
            _, status, _ = parse_status_line(line[:-1])
        except HTTPSyntaxError:
            return  # the reader says it
        if not 100 <= status <= 599:
            raise HTTPSyntaxError(f"invalid status code {status}: expected 100 to 599")

    def _refuse(self, size: int) -> None:
        """Bytes after a 2xx answer: counted, and nothing more is read."""
        self.extra += size
        assert self.transport is not None
        self.transport.pause_reading()

    def _fail(self, error: BaseException) -> None:
        if not self.answered.done():
            self.answered.set_exception(error)
        assert self.transport is not None
        # Aborted, not closed: nothing is owed to a proxy that broke the
        # exchange (a TLS proxy's close would wait for its close_notify).
        self.transport.abort()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: BaseException | None) -> None:
        self._ended(exc)

    def _ended(self, exc: BaseException | None) -> None:
        if self.answered.done():
            if self.lost is None:
                self.lost = exc or EOFError("the proxy closed the tunnel")
            return
        if self._received:
            cause: BaseException = EOFError(
                "the proxy closed the connection in the middle of its answer"
            )
        else:
            cause = EOFError("the proxy closed the connection without answering")
        if exc is not None:
            cause.__cause__ = exc
        self.answered.set_exception(invalid_answer(self._proxy, cause))

    def check_tunnel(self, head: ResponseHead) -> None:
        """Raise unless the tunnel is fit to carry the connection: nothing
        came after the answer, and the connection is still open."""
        if self.extra:
            raise exceptions.InvalidProxyMessage(
                _request_info(self._proxy),
                (),
                message=(
                    f"the proxy sent {self.extra} bytes after its "
                    f"{head.status} answer to CONNECT, before the tunnel was "
                    "used: refused, since they would pose as the server's"
                ),
            )
        if self.lost is not None:
            error = exceptions.ProxyError(
                _request_info(self._proxy),
                (),
                message=(
                    f"the proxy closed the connection right after its "
                    f"{head.status} answer to CONNECT"
                ),
            )
            raise error from self.lost


class _Handler(ResponseHandler):
    """aiohttp's response handler, which also closes its transport when the
    peer ends the connection before the hand-over (a server or a proxy that
    hangs up before its 101).

    Python 3.10's TLS transport does not count as closed then (3.11 marks
    it so), and warns "unclosed transport" when it is collected; after the
    hand-over the engine closes it (``Connection.connection_lost``).
    """

    def connection_lost(self, exc: BaseException | None) -> None:
        transport = self.transport
        super().connection_lost(exc)
        if transport is not None and not transport.is_closing():
            transport.close()


def connect_request(proxy: URL, host: str, port: int, user_agent: str | None) -> bytes:
    """The CONNECT request for ``host:port`` (RFC 9110 §9.3.6)."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = [("Host", authority)]
    if user_agent is not None:
        headers.append(("User-Agent", user_agent))
    if proxy.user is not None:
        credentials = f"{proxy.user}:{proxy.password or ''}"
        token = base64.b64encode(credentials.encode()).decode()
        headers.append(("Proxy-Authorization", f"Basic {token}"))
    return serialize_request("CONNECT", authority, headers)


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
        proxy_tls_kwargs: dict[str, Any] | None = None,
        user_agent: str | None = None,
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
        # proxy_ssl_handshake_timeout= ... without their prefix.
        self._proxy_tls_kwargs = dict(proxy_tls_kwargs or {})
        # The User-Agent of the CONNECT request, as websockets sends it.
        self._user_agent = user_agent

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
        protocol = _Handler(loop=self._loop)
        try:
            # In this task, not in one of wait_for()'s: up to Python 3.11,
            # wait_for() returns the result of a connection that completes
            # as its caller is cancelled, and the cancellation (the
            # deadline of open_timeout) is lost.  And no loop turn may come
            # between a proxy's tunnel being checked and aiohttp writing its
            # request (see the module's docstring).
            async with bounded(timeout.sock_connect):
                await self._connect(req, host, port, context, server_hostname, protocol)
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
            if sock.family == getattr(socket, "AF_UNIX", None):
                await loop.create_unix_connection(
                    lambda: protocol,
                    sock=sock,
                    ssl=context,
                    server_hostname=server_hostname,
                )
                return
        elif proxy is not None and PROXY_SCHEMES[proxy.scheme]:
            sock = await self._through_socks_proxy(proxy, host, port)
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
        try:
            await loop.create_connection(
                lambda: protocol,
                sock=sock,
                ssl=context,
                server_hostname=server_hostname,
                **{
                    name: value
                    for name, value in self._kwargs.items()
                    if name in _SERVER_TLS_KEYWORDS
                },
            )
        except BaseException:
            sock.close()
            raise

    async def _through_socks_proxy(
        self, proxy: URL, host: str, port: int
    ) -> socket.socket:
        """A socket to ``host:port`` through the SOCKS ``proxy``.

        python-socks' own errors become :class:`~aiows.ProxyError` (with
        them as ``__cause__``), as in websockets; an ``OSError`` (the proxy
        cannot be reached, python-socks' timeout) stays one.
        """
        from python_socks.async_.asyncio import Proxy

        # socks5h:// and socks4a:// leave name resolution to the proxy.
        remote = proxy.scheme.endswith(("h", "a"))
        scheme = proxy.scheme.rstrip("ha")
        dialer = Proxy.from_url(str(proxy.with_scheme(scheme)), rdns=remote)
        try:
            sock: socket.socket = await dialer.connect(
                dest_host=host,
                dest_port=port,
                local_addr=self._kwargs.get("local_addr"),
            )
        except OSError:
            raise
        except Exception as exc:
            raise exceptions.ProxyError(
                _request_info(proxy), (), message="failed to connect to SOCKS proxy"
            ) from exc
        return sock

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
        proxy_tls: dict[str, Any] = {}
        if proxy.scheme == "https":
            proxy_context = client_context(
                True if self._proxy_ssl is None else self._proxy_ssl
            )
            proxy_tls = dict(self._proxy_tls_kwargs)
            proxy_tls["server_hostname"] = self._proxy_server_hostname or proxy.host
        to_proxy = {
            name: value
            for name, value in self._kwargs.items()
            if name not in _SERVER_TLS_KEYWORDS
        }
        to_server = {
            name: value
            for name, value in self._kwargs.items()
            if name in _SERVER_TLS_KEYWORDS
        }
        tunnel = _Tunnel(proxy, connect_request(proxy, host, port, self._user_agent))
        assert proxy.host is not None and proxy.port is not None  # check_proxy
        await loop.create_connection(
            lambda: tunnel,
            proxy.host,
            proxy.port,
            ssl=proxy_context,
            **proxy_tls,
            **to_proxy,
        )
        raw = tunnel.transport
        assert raw is not None
        try:
            head = await tunnel.answered
            # From here to the hand-over nothing yields to the loop: no
            # byte can come in between the check and the switch.
            tunnel.check_tunnel(head)
            if context is None:
                raw.set_protocol(protocol)
                protocol.connection_made(raw)
                return
            try:
                # start_tls() stops reading before anything else: what the
                # proxy sends from now on goes through TLS, which refuses it.
                upgraded = await loop.start_tls(
                    raw, protocol, context, server_hostname=server_hostname, **to_server
                )
            except TypeError as exc:
                if proxy_context is not None and "start_tls()" in str(exc):
                    raise _no_tls_in_tls(proxy) from exc
                failed = exc.__context__
                if isinstance(failed, ssl_module.SSLError):
                    # TLS inside TLS that fails its handshake: asyncio 3.11
                    # trips on its own error handling (a TypeError from
                    # SSLProtocol._abort()); the TLS error is the one.
                    raise failed from None
                if isinstance(failed, ConnectionError):
                    # The same, when the proxy hangs up in the handshake.
                    raise _cut_in_handshake(proxy, host, port) from failed
                raise  # pragma: no cover - no other TypeError is known
            except ConnectionError as exc:
                raise _cut_in_handshake(proxy, host, port) from exc
            assert upgraded is not None
            protocol.connection_made(upgraded)
        except BaseException:
            raw.abort()
            raise


def _cut_in_handshake(proxy: URL, host: str, port: int) -> ConnectionResetError:
    """The proxy hung up in the middle of the TLS handshake with the server
    (asyncio's own error says nothing: an empty ``ConnectionResetError``)."""
    return ConnectionResetError(
        f"the proxy {proxy.with_user(None)} closed the tunnel during the TLS "
        f"handshake with {host}:{port}"
    )


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
