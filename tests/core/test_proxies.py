"""Which proxy ``proxy=True`` picks from the environment (websockets' rule)."""

from __future__ import annotations

from typing import Any

import pytest

from aiows.core.proxies import PROXY_SCHEMES, proxy_from_environment, proxy_url_problem

NAMES = ("http", "https", "ws", "wss", "socks", "all", "no")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in NAMES:
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)
    return monkeypatch


def test_schemes() -> None:
    assert {name for name, socks in PROXY_SCHEMES.items() if not socks} == {
        "http",
        "https",
    }


def test_none_set(env: pytest.MonkeyPatch) -> None:
    assert proxy_from_environment(True, "h.example", 443) is None
    assert proxy_from_environment(False, "h.example", 80) is None


@pytest.mark.parametrize(
    ("variables", "secure", "expected"),
    [
        ({"wss_proxy": "http://w:1", "https_proxy": "http://s:2"}, True, "http://w:1"),
        ({"ws_proxy": "http://w:1", "http_proxy": "http://p:2"}, False, "http://w:1"),
        (
            {"https_proxy": "http://s:2", "http_proxy": "http://p:3"},
            False,
            "http://s:2",
        ),
        ({"http_proxy": "http://p:3"}, False, "http://p:3"),
        ({"http_proxy": "http://p:3"}, True, None),
        (
            {"socks_proxy": "socks5://k:4", "https_proxy": "http://s:2"},
            True,
            "socks5://k:4",
        ),
    ],
)
def test_order(
    env: pytest.MonkeyPatch,
    variables: dict[str, str],
    secure: bool,
    expected: str | None,
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    assert proxy_from_environment(secure, "h.example", 443) == expected


def test_no_proxy_wins(env: pytest.MonkeyPatch) -> None:
    env.setenv("https_proxy", "http://s:2")
    env.setenv("no_proxy", "h.example")
    assert proxy_from_environment(True, "h.example", 443) is None
    assert proxy_from_environment(True, "other.example", 443) == "http://s:2"


def test_a_system_socks_proxy_is_socks5h(env: pytest.MonkeyPatch) -> None:
    env.setenv("socks_proxy", "http://127.0.0.1:1080")
    assert proxy_from_environment(True, "h.example", 443) == "socks5h://127.0.0.1:1080"


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        (("http", "p", "", "", "", None, None), None),
        (("socks5h", "p", "/", "", "", "u", "pw"), None),
        (("ftp", "p", "", "", "", None, None), "scheme ftp isn't supported"),
        (("http", "", "", "", "", None, None), "hostname isn't provided"),
        (("http", "p", "/x", "", "", None, None), "path is meaningless"),
        (("http", "p", "", "q=1", "", None, None), "query is meaningless"),
        (("http", "p", "", "", "f", None, None), "fragment is meaningless"),
        (("http", "p", "", "", "", "u", None), "username provided without password"),
    ],
)
def test_proxy_url_problem(parts: tuple[Any, ...], problem: str | None) -> None:
    assert proxy_url_problem(*parts) == problem
