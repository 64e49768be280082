"""``ws_connect``'s arguments: aiohttp's deprecated spellings warn as aiohttp's do.

Each warning is compared with what aiohttp 3.14's own ``ws_connect`` emits
for the same call, and must point at the caller's line.
"""

from __future__ import annotations

import ssl
import warnings
from typing import Any

import aiohttp
import pytest

import aiows
from aiows.session.aiohttp_args import ws_connect_options

AIOHTTP_314 = tuple(int(p) for p in aiohttp.__version__.split(".")[:2]) >= (3, 14)


def warnings_of(call: Any) -> list[tuple[str, str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(str(w.message), w.filename) for w in caught]


CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("float timeout", {"timeout": 3.0}, lambda o: o.face.timeout.ws_close == 3.0),
    (
        "receive_timeout",
        {"receive_timeout": 2.0},
        lambda o: o.face.timeout.ws_receive == 2.0,
    ),
    ("verify_ssl", {"verify_ssl": False}, lambda o: o.upgrade.ssl is False),
    (
        "ssl_context",
        {"ssl_context": ssl.create_default_context()},
        lambda o: isinstance(o.upgrade.ssl, ssl.SSLContext),
    ),
    (
        "fingerprint",
        {"fingerprint": b"\0" * 32},
        lambda o: isinstance(o.upgrade.ssl, aiohttp.Fingerprint),
    ),
    ("ssl=None", {"ssl": None}, lambda o: o.upgrade.ssl is True),
]


@pytest.mark.parametrize(("name", "kwargs", "check"), CASES, ids=[c[0] for c in CASES])
def test_deprecated_spellings_warn_as_aiohttp_and_still_work(
    name: str, kwargs: dict[str, Any], check: Any
) -> None:
    options: list[Any] = []
    ours = warnings_of(lambda: options.append(ws_connect_options(kwargs, stacklevel=1)))
    assert check(options[0])
    assert [message for message, _ in ours]
    assert all(filename == __file__ for _, filename in ours)
    if AIOHTTP_314:
        theirs = warnings_of(lambda: _aiohttp_warnings(kwargs))
        assert sorted(m for m, _ in ours) == sorted(m for m, _ in theirs)


def _aiohttp_warnings(kwargs: dict[str, Any]) -> None:
    """Run aiohttp's own ws_connect far enough to warn, then stop it."""
    import asyncio

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            # Port 9 (discard) is closed: the call fails after its warnings.
            with pytest.raises(aiohttp.ClientError):
                await session.ws_connect("http://127.0.0.1:9/", **kwargs)

    asyncio.run(run())


def test_loop_is_ignored_with_a_warning() -> None:
    ours = warnings_of(lambda: ws_connect_options({"loop": object()}, stacklevel=1))
    assert len(ours) == 1 and "ignores loop=" in ours[0][0]


def test_ws_response_class_must_be_an_aiows_class() -> None:
    class Mine(aiows.ClientWebSocketResponse):
        pass

    options = ws_connect_options({"ws_response_class": Mine})
    assert options.face.response_class is Mine
    for wrong in (aiohttp.ClientWebSocketResponse, object, "Mine", 42):
        with pytest.raises(TypeError, match=r"aiows\.ClientWebSocketResponse"):
            ws_connect_options({"ws_response_class": wrong})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ssl": False, "verify_ssl": False}, "mutually exclusive"),
        ({"ssl": False, "ssl_context": ssl.create_default_context()}, "mutually"),
        ({"ssl": False, "fingerprint": b"\0" * 32}, "mutually exclusive"),
        ({"ssl": "yes"}, "ssl should be SSLContext, bool, Fingerprint or None"),
        ({"method": 1}, "method must be a str"),
        ({"backoff": 3}, "backoff must be an aiows.Backoff"),
        ({"autoping": 1}, "autoping must be True or False"),
        ({"protocols": "chat"}, "single string"),
        ({"protocols": ["a b"]}, "not a subprotocol name"),
        ({"compress": 8}, "compress must be 0"),
        ({"max_queue": 0}, "max_queue must be a whole number of at least 1"),
        ({"heartbeat": 0}, "heartbeat must be a number of seconds"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict[str, Any], match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises((TypeError, ValueError), match=match):
            ws_connect_options(kwargs)


async def test_leaving_async_with_on_an_exception_closes_with_1011(
    raw_server: Any,
) -> None:
    from tests.conftest import server_frame

    codes: list[int | None] = []

    async def handler(peer: Any) -> None:
        code, _ = await peer.read_close()
        codes.append(code)
        peer.send(server_frame(0x8, (code or 1000).to_bytes(2, "big")))

    server = await raw_server(handler)
    with pytest.raises(KeyError):
        async with aiows.connect(server.url, compression=None, ping_interval=None):
            raise KeyError("application bug")
    async with aiows.connect(server.url, compression=None, ping_interval=None):
        pass
    with pytest.raises(KeyError):
        async with ws_of(await aiows.connect(server.url, ping_interval=None)):
            raise KeyError("again")
    assert codes == [1011, 1000, 1011]


def ws_of(ws: aiows.ClientConnection) -> aiows.ClientConnection:
    return ws
