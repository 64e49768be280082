"""Which credentials may go where, decided in one place.

Credentials travel in headers: ``Authorization`` and ``Cookie`` belong to one
origin, ``Proxy-Authorization`` to one proxy.  This module says which of
them a request may carry, and keeps them out of what errors show.  The
upgrade, its redirects and the session's REST calls all ask it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy

# Which headers are credentials, and which stay with their origin, is the
# core's rule (the threading face follows it too).
from ..core.redirects import CROSS_ORIGIN_DROPPED, ORIGIN_BOUND, SECRET_HEADERS

__all__ = [
    "CROSS_ORIGIN_DROPPED",
    "ORIGIN_BOUND",
    "SECRET_HEADERS",
    "ProxyCredentials",
    "drop_origin_bound",
    "redacted",
    "with_credentials",
    "without_credentials",
]

# CROSS_ORIGIN_DROPPED: the headers an application's upgrade request keeps
# only for its origin (Proxy-Authorization is among them for connect(),
# where it is an application header as in websockets; the other entry
# points never send it to the server).


def with_credentials(
    credentials: CIMultiDict[str] | None, given: Any, *, auth_given: bool
) -> CIMultiDict[str]:
    """Request headers: a session's credentials, overridden by the call's.

    A header the call gives replaces the session's of that name, and an
    ``auth=`` given to the call replaces the session's ``Authorization``.
    """
    headers: CIMultiDict[str] = CIMultiDict(credentials or {})
    if auth_given:
        headers.popall(hdrs.AUTHORIZATION, None)
    given = CIMultiDict(given or {})
    for name in given:
        headers.popall(name, None)
    headers.extend(given)
    return headers


class ProxyCredentials:
    """The proxy's credentials and headers, kept apart from the request's.

    ``Proxy-Authorization`` is for the proxy and nowhere else, on every hop:
    on the CONNECT that opens a tunnel (``wss://``), in the request itself
    when the proxy forwards it in clear (``ws://``; the proxy strips it,
    RFC 9110 §11.7.1), and nowhere at all without a proxy.  A redirect may
    change which, so :meth:`for_hop` decides it for each request.
    """

    __slots__ = ("credential", "headers")

    def __init__(self, credential: str | None, headers: CIMultiDict[str]) -> None:
        #: The ``Proxy-Authorization`` value, from ``proxy_auth=`` or a header.
        self.credential = credential
        #: The other headers meant for the proxy (``proxy_headers=``).
        self.headers = headers

    @classmethod
    def gather(
        cls,
        request_headers: CIMultiDict[str],
        proxy_headers: Any,
        proxy_auth: str | None,
        *,
        from_request: bool = True,
    ) -> ProxyCredentials:
        """Take the proxy's credentials out of ``request_headers`` (in place),
        ``proxy_headers`` and ``proxy_auth``, whichever carries them.

        With ``from_request`` False, a ``Proxy-Authorization`` among the
        request's headers stays there, for the server (``connect()``: the
        application's headers are all the server's, as in websockets).
        """
        own: CIMultiDict[str] = CIMultiDict(proxy_headers or {})
        given = [
            *(
                request_headers.popall(hdrs.PROXY_AUTHORIZATION, [])
                if from_request
                else ()
            ),
            *own.popall(hdrs.PROXY_AUTHORIZATION, []),
        ]
        if proxy_auth is not None:
            if given:
                raise ValueError(
                    "pass proxy_auth= or a Proxy-Authorization header, not both"
                )
            given = [proxy_auth]
        return cls(given[0] if given else None, own)

    def for_hop(
        self, request_headers: CIMultiDict[str], proxied: bool, tunnel: bool
    ) -> tuple[CIMultiDict[str], CIMultiDict[str] | None]:
        """The request's headers and the proxy's headers for one request."""
        if not proxied:
            return request_headers, None
        proxy_headers = CIMultiDict(self.headers)
        if self.credential is None:
            return request_headers, proxy_headers or None
        if tunnel:
            proxy_headers[hdrs.PROXY_AUTHORIZATION] = self.credential
            return request_headers, proxy_headers
        hop: CIMultiDict[str] = CIMultiDict(request_headers)
        hop[hdrs.PROXY_AUTHORIZATION] = self.credential
        return hop, proxy_headers or None


def drop_origin_bound(headers: CIMultiDict[str]) -> None:
    """Remove what may not follow a request to another origin."""
    for name in CROSS_ORIGIN_DROPPED:
        headers.popall(name, None)


def redacted(info: aiohttp.RequestInfo) -> aiohttp.RequestInfo:
    """``info`` without credentials: secret headers masked, no URL userinfo.

    Exceptions carry the request's ``RequestInfo`` and show it in their
    ``repr()``, which ends up in logs and tracebacks.
    """
    headers: CIMultiDict[str] = CIMultiDict(info.headers)
    for name in SECRET_HEADERS:
        if name in headers:
            headers[name] = "<redacted>"
    return aiohttp.RequestInfo(
        url=info.url.with_user(None),
        method=info.method,
        headers=CIMultiDictProxy(headers),
        real_url=info.real_url.with_user(None),
    )


def without_credentials(
    exc: aiohttp.ClientResponseError,
) -> aiohttp.ClientResponseError:
    """A copy of aiohttp's ``exc`` (e.g. a proxy's 407) safe to show."""
    return type(exc)(
        redacted(exc.request_info),
        exc.history,
        status=exc.status,
        message=exc.message,
        headers=exc.headers,
    )
