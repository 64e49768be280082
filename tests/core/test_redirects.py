"""Following a redirect of the upgrade: where it leads, what crosses it."""

from __future__ import annotations

import pytest

from aiows.core.redirects import (
    CROSS_ORIGIN_DROPPED,
    MAX_REQUESTS,
    ORIGIN_BOUND,
    REDIRECT_STATUSES,
    SECRET_HEADERS,
    Hop,
    RedirectRefused,
    follow,
    origin,
    without_origin_bound,
)


def test_constants() -> None:
    assert frozenset({301, 302, 303, 307, 308}) == REDIRECT_STATUSES
    assert MAX_REQUESTS == 10
    assert ORIGIN_BOUND == ("Authorization", "Cookie")
    assert CROSS_ORIGIN_DROPPED == ("Authorization", "Cookie", "Proxy-Authorization")
    assert set(SECRET_HEADERS) == {"Authorization", "Proxy-Authorization", "Cookie"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://h.example/", ("ws", "h.example", 80)),
        ("WSS://H.Example/x", ("wss", "h.example", 443)),
        ("ws://h.example:8080/x?y", ("ws", "h.example", 8080)),
        ("ws://[::1]:9/", ("ws", "::1", 9)),
    ],
)
def test_origin(url: str, expected: tuple[str, str, int]) -> None:
    assert origin(url) == expected


@pytest.mark.parametrize(
    ("url", "location", "hop"),
    [
        ("ws://a.example/x", "/y?z=1", Hop("ws://a.example/y?z=1", False)),
        ("ws://a.example/x/", "y", Hop("ws://a.example/x/y", False)),
        ("ws://a.example/x", "http://a.example/y", Hop("ws://a.example/y", False)),
        ("ws://a.example/x", "ws://a.example:80/y", Hop("ws://a.example:80/y", False)),
        ("ws://a.example/x", "ws://b.example/y", Hop("ws://b.example/y", True)),
        ("ws://a.example/x", "ws://a.example:81/y", Hop("ws://a.example:81/y", True)),
        ("ws://a.example/x", "wss://a.example/y", Hop("wss://a.example/y", True)),
        ("wss://a.example/x", "https://a.example/y", Hop("wss://a.example/y", False)),
        ("wss://a.example/x", "//b.example/y", Hop("wss://b.example/y", True)),
    ],
)
def test_follow(url: str, location: str, hop: Hop) -> None:
    assert follow(url, location) == hop


@pytest.mark.parametrize(
    "location", ["ftp://a.example/", "http:///nohost", "ws://a.example:99999/"]
)
def test_not_a_websocket_uri(location: str) -> None:
    with pytest.raises(RedirectRefused, match="not a WebSocket URI") as info:
        follow("ws://a.example/", location)
    assert not info.value.downgrade


@pytest.mark.parametrize("location", ["ws://a.example/y?token=1", "http://b.example/"])
def test_no_downgrade_from_wss(location: str) -> None:
    with pytest.raises(RedirectRefused, match="wss:// to ws://") as info:
        follow("wss://a.example/x", location)
    assert info.value.downgrade
    assert "token" not in str(info.value)


def test_without_origin_bound() -> None:
    headers = [
        ("Authorization", "Bearer x"),
        ("cookie", "a=b"),
        ("Proxy-Authorization", "Basic y"),
        ("X-Id", "1"),
    ]
    assert without_origin_bound(headers) == [
        ("Proxy-Authorization", "Basic y"),
        ("X-Id", "1"),
    ]
    assert without_origin_bound(headers, CROSS_ORIGIN_DROPPED) == [("X-Id", "1")]
