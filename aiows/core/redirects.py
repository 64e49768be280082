"""Following a redirect of the upgrade, and what may cross it.

Credentials travel in headers: ``Authorization`` and ``Cookie`` belong to
one origin, ``Proxy-Authorization`` to one proxy.  A redirect to another
origin must not take the first two along (RFC 9110 §15.4), and a redirect
from ``wss://`` to ``ws://`` would send the request, credentials and all,
in clear text: it is refused.  The asyncio session layer and the threading
face both follow these rules.
"""

from __future__ import annotations

import urllib.parse
from typing import Final, NamedTuple

#: Statuses of a redirect a WebSocket client follows (RFC 9110 §15.4).
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

#: Requests websockets makes for one connection, redirects included.
MAX_REQUESTS: Final = 10

#: Headers that carry credentials for one origin only.
ORIGIN_BOUND: Final = ("Authorization", "Cookie")

#: Headers an application's upgrade request keeps only for its origin, where
#: ``Proxy-Authorization`` is an application header that goes to the server
#: (websockets' ``connect()``, and aiows's faces that stand in for it).
CROSS_ORIGIN_DROPPED: Final = (*ORIGIN_BOUND, "Proxy-Authorization")

#: Headers whose values are credentials; never shown in errors or logs.
SECRET_HEADERS: Final = ("Authorization", "Proxy-Authorization", "Cookie")

_SECURE: Final = frozenset({"wss", "https"})
# A WebSocket server may redirect to its http(s) equivalent.
_AS_WEBSOCKET: Final = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_DEFAULT_PORTS: Final = {"ws": 80, "wss": 443}


class RedirectRefused(Exception):
    """A redirect the client will not follow.

    ``downgrade`` is True when it leads from ``wss://`` to ``ws://`` (a
    security matter, not a malformed answer).
    """

    def __init__(self, message: str, *, downgrade: bool = False) -> None:
        super().__init__(message)
        self.downgrade = downgrade


class Hop(NamedTuple):
    """Where a redirect leads."""

    #: The ``ws://`` or ``wss://`` URI to request next.
    url: str
    #: Whether it is another origin (scheme, host or port differ).
    cross_origin: bool


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a ``ws://`` or ``wss://`` URI.

    >>> origin("wss://Example.com/feed")
    ('wss', 'example.com', 443)
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or _DEFAULT_PORTS[scheme]


def follow(url: str, location: str) -> Hop:
    """Where ``Location: location`` leads from ``url``, or RedirectRefused.

    >>> follow("wss://a.example/x", "https://b.example/y")
    Hop(url='wss://b.example/y', cross_origin=True)
    """
    try:
        target = urllib.parse.urljoin(url, location)
        parts = urllib.parse.urlsplit(target)
        scheme = _AS_WEBSOCKET.get(parts.scheme.lower())
        valid = scheme is not None and bool(parts.hostname)
        if valid:
            parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        valid = False
    if not valid:
        raise RedirectRefused(
            f"redirect to {location!r}, which is not a WebSocket URI"
        ) from None
    assert scheme is not None
    target = urllib.parse.urlunsplit(parts._replace(scheme=scheme))
    if urllib.parse.urlsplit(url).scheme.lower() in _SECURE and scheme == "ws":
        shown = urllib.parse.urlunsplit(parts._replace(scheme=scheme, query=""))
        raise RedirectRefused(
            f"refusing to follow a redirect from wss:// to ws:// ({shown}): the "
            "upgrade and its credentials would travel in clear text",
            downgrade=True,
        )
    return Hop(target, origin(target) != origin(url))


def without_origin_bound(
    headers: list[tuple[str, str]], names: tuple[str, ...] = ORIGIN_BOUND
) -> list[tuple[str, str]]:
    """``headers`` without the ones that may not follow a request to another
    origin (``names``: :data:`ORIGIN_BOUND`, or :data:`CROSS_ORIGIN_DROPPED`).

    >>> without_origin_bound([("authorization", "x"), ("X-Id", "1")])
    [('X-Id', '1')]
    """
    bound = {name.lower() for name in names}
    return [(name, value) for name, value in headers if name.lower() not in bound]
