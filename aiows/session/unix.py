"""Unix sockets that keep TLS: a ``wss://`` URI over a Unix socket is TLS.

aiohttp's ``UnixConnector`` opens a plain socket whatever the request says,
so ``unix_connect(path, "wss://host/")`` would speak clear text where TLS was
asked for.  :class:`UnixConnector`, public as ``aiows.UnixConnector``, starts
TLS on the Unix socket for every ``wss://`` (or ``https://``) request, with
the request's ``ssl`` setting and the URI's host for SNI and verification.

aiohttp internal used (the sixth; see ``takeover.py`` for the others):
``BaseConnector._create_connection(req, traces, timeout)``, the hook every
connector overrides to make its socket; aiohttp's own ``UnixConnector`` does
exactly that.  ``req.is_ssl()``, ``req.ssl``, ``req.host`` and
``req.server_hostname`` are the request's public attributes.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.client_exceptions import UnixClientConnectorError

from .deadline import timeout as deadline


@contextlib.asynccontextmanager
async def bounded(seconds: float | None) -> AsyncIterator[None]:
    """A deadline over the block, in this task; none for None."""
    if seconds is None:
        yield
        return
    async with deadline(seconds):
        yield


@functools.cache
def _context(verified: bool) -> ssl.SSLContext:
    """The default client context, made once: building one costs milliseconds."""
    context = ssl.create_default_context()
    if not verified:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(setting: Any) -> ssl.SSLContext:
    """The ``SSLContext`` for a request's ``ssl=`` setting."""
    if isinstance(setting, ssl.SSLContext):
        return setting
    if isinstance(setting, aiohttp.Fingerprint):
        raise ValueError(
            "ssl=aiohttp.Fingerprint is not supported over a Unix socket; pass an "
            "ssl.SSLContext"
        )
    return _context(setting is not False)


class UnixConnector(aiohttp.UnixConnector):
    """aiohttp's ``UnixConnector``, plus TLS for secure requests.

    A ``wss://`` (or ``https://``) request through it speaks TLS on the
    socket, with the request's ``ssl`` setting and the URI's host for SNI
    and verification; aiohttp's own would send it in clear text.  The other
    arguments are aiohttp's.  ``origin_host``, for :func:`aiows.unix_connect`,
    is the host of the URI: a redirect to another host would reach the same
    socket, so it is refused, as websockets does.
    """

    def __init__(
        self, path: str, *args: Any, origin_host: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(path, *args, **kwargs)
        self._origin_host = origin_host

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        if self._origin_host is not None and req.host != self._origin_host:
            raise ValueError(
                f"cannot follow a cross-origin redirect to {req.host} with a Unix "
                "socket"
            )
        if not req.is_ssl():
            return await super()._create_connection(req, traces, timeout)
        context = client_context(req.ssl)
        hostname = req.server_hostname or req.host
        try:
            # In this task, not in one of wait_for()'s, which (up to Python
            # 3.11) loses a cancellation that lands as the connection
            # completes, open_timeout's included.
            async with bounded(timeout.sock_connect):
                _, protocol = await self._loop.create_unix_connection(
                    self._factory, self.path, ssl=context, server_hostname=hostname
                )
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except OSError as exc:
            raise UnixClientConnectorError(self.path, req.connection_key, exc) from exc
        return protocol
