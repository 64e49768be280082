"""Which proxy a connection goes through, and what a proxy URL may be.

``proxy=True`` reads the environment as websockets does; a proxy URL is
``http://`` or ``https://`` (an HTTP ``CONNECT`` tunnel) or one of the SOCKS
schemes.  The asyncio session layer and the threading face share the rule.
"""

from __future__ import annotations

import urllib.request
from typing import Final

#: Proxy schemes, and whether each is SOCKS.
PROXY_SCHEMES: Final = {
    "http": False,
    "https": False,
    "socks4": True,
    "socks4a": True,
    "socks5": True,
    "socks5h": True,
}


def proxy_from_environment(secure: bool, host: str, port: int) -> str | None:
    """The proxy ``connect(proxy=True)`` uses for a server, as websockets
    picks it from the environment (``*_proxy`` variables, or the system's
    settings).

    ``no_proxy`` wins; then a proxy declared for ``ws``/``wss`` itself, then
    a SOCKS proxy, then the HTTPS proxy, then (for ``ws://`` only) the HTTP
    proxy.
    """
    if urllib.request.proxy_bypass(f"{host}:{port}"):
        return None
    proxies = urllib.request.getproxies()
    schemes = ["wss", "socks", "https"] if secure else ["ws", "socks", "https", "http"]
    for scheme in schemes:
        proxy = proxies.get(scheme)
        if proxy is not None:
            if scheme == "socks" and proxy.startswith("http://"):
                # The operating system declares SOCKS as socks=http://host.
                proxy = "socks5h://" + proxy.removeprefix("http://")
            return proxy
    return None


def proxy_url_problem(
    scheme: str,
    host: str | None,
    path: str,
    query: str,
    fragment: str,
    user: str | None,
    password: str | None,
) -> str | None:
    """What is wrong with a proxy URL made of these parts, in websockets'
    words, or None when nothing is.

    >>> proxy_url_problem("ftp", "p.example", "", "", "", None, None)
    "scheme ftp isn't supported"
    """
    if scheme not in PROXY_SCHEMES:
        return f"scheme {scheme} isn't supported"
    if not host:
        return "hostname isn't provided"
    if path not in ("", "/"):
        return "path is meaningless"
    if query:
        return "query is meaningless"
    if fragment:
        return "fragment is meaningless"
    if user is not None and password is None:
        return "username provided without password"
    return None
