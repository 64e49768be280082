"""The aiohttp face *is* aiohttp's API: same class, types, messages, signatures.

aiows's ``ClientWebSocketResponse`` subclasses aiohttp's without calling its
``__init__``, so an aiohttp method that ran on it would find none of the
state it expects: every public name must be aiows's own.
"""

from __future__ import annotations

import asyncio
import inspect

import aiohttp
import pytest

import aiows
from tests.helpers import bounded

AIOHTTP_CLASS = aiohttp.ClientWebSocketResponse
AIOWS_CLASS = aiows.ClientWebSocketResponse

PUBLIC = sorted(name for name in dir(AIOHTTP_CLASS) if not name.startswith("_"))
# The protocols aiohttp's class implements: async for and async with.
PROTOCOLS = ["__aenter__", "__aexit__", "__aiter__", "__anext__"]


def owner(cls: type, name: str) -> type:
    """The class in ``cls``'s MRO that defines ``name``."""
    return next(klass for klass in cls.__mro__ if name in klass.__dict__)


@pytest.mark.skipif(
    tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) < (3, 14),
    reason="the list is aiohttp 3.14's (send_json_bytes is new there)",
)
def test_the_public_names_are_the_ones_aiohttp_3_14_has() -> None:
    # A guard on the list itself: an empty or shrunken list would make the
    # checks below pass without checking anything.
    assert {
        "close",
        "closed",
        "close_code",
        "exception",
        "get_extra_info",
        "ping",
        "pong",
        "protocol",
        "receive",
        "receive_bytes",
        "receive_json",
        "receive_str",
        "send_bytes",
        "send_frame",
        "send_json",
        "send_json_bytes",
        "send_str",
    } <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC + PROTOCOLS)
def test_every_aiohttp_name_is_defined_by_aiows(name: str) -> None:
    defined_by = owner(AIOWS_CLASS, name)
    mro = AIOWS_CLASS.__mro__
    assert mro.index(defined_by) < mro.index(AIOHTTP_CLASS), (
        f"{name} would run aiohttp's code on aiows's object"
    )


@pytest.mark.parametrize(
    "name",
    [name for name in PUBLIC if inspect.isfunction(getattr(AIOHTTP_CLASS, name))]
    + PROTOCOLS,
)
def test_every_method_takes_aiohttps_arguments(name: str) -> None:
    theirs = inspect.signature(getattr(AIOHTTP_CLASS, name)).parameters
    ours = inspect.signature(getattr(AIOWS_CLASS, name)).parameters
    for parameter in theirs.values():
        assert parameter.name in ours, f"{name}() lacks {parameter.name}"
        assert ours[parameter.name].kind == parameter.kind, (
            f"{name}({parameter.name}) is {ours[parameter.name].kind}, "
            f"aiohttp's is {parameter.kind}"
        )
        assert ours[parameter.name].default == parameter.default


@pytest.mark.parametrize(
    "name",
    [
        "recv",
        "send",
        "recv_streaming",
        "close_reason",
        "subprotocol",
        "local_address",
        "remote_address",
        "iterate_data",
    ],
)
def test_websockets_names_are_not_on_this_face(name: str) -> None:
    assert not hasattr(AIOWS_CLASS, name)


def test_types_and_codes_are_aiohttps() -> None:
    assert aiows.WSMsgType is aiohttp.WSMsgType
    assert aiows.WSCloseCode is aiohttp.WSCloseCode
    assert aiows.MsgType.text is aiohttp.WSMsgType.TEXT
    assert aiows.MsgType.binary is aiohttp.WSMsgType.BINARY
    assert aiows.MsgType.closed is aiohttp.WSMsgType.CLOSED
    assert aiows.ClientConnectionResetError is aiohttp.ClientConnectionResetError
    # aiohttp's own class where aiohttp has one (3.11 and newer).
    assert aiows.WSMessageTypeError is getattr(
        aiohttp, "WSMessageTypeError", aiows.WSMessageTypeError
    )
    assert issubclass(aiows.WSMessageTypeError, TypeError)
    assert issubclass(aiows.ProtocolError, aiohttp.WebSocketError)
    assert issubclass(aiows.PongTimeout, aiohttp.ServerTimeoutError)
    # On Python 3.10 asyncio.TimeoutError and TimeoutError are two classes;
    # aiows's timeouts are both there too.
    for timeout in (aiows.PongTimeout, aiows.OpenTimeout):
        assert issubclass(timeout, TimeoutError)
        assert issubclass(timeout, asyncio.TimeoutError)
    assert issubclass(aiows.ConcurrencyError, RuntimeError)
    assert issubclass(aiows.WSMessage, aiohttp.WSMessage)


async def test_ws_connect_returns_aiohttps_class(echo_url: str) -> None:
    async with aiows.ClientSession() as session, session.ws_connect(echo_url) as ws:
        assert isinstance(ws, aiohttp.ClientWebSocketResponse)
        assert type(ws) is AIOWS_CLASS
    async with aiows.ws_connect(echo_url) as ws:
        assert isinstance(ws, aiohttp.ClientWebSocketResponse)


async def test_messages_are_aiohttp_messages_with_tp(echo_url: str) -> None:
    async with aiows.ws_connect(echo_url) as ws:
        await ws.send_str("t")
        msg = await bounded(ws.receive())
        assert isinstance(msg, aiohttp.WSMessage)
        assert msg.tp is msg.type is aiohttp.WSMsgType.TEXT
        assert msg.tp is aiows.MsgType.text
        # A named tuple like aiohttp's: equal to one, and unpacks the same.
        assert msg == aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, "t", "")
        kind, data, extra = msg
        assert (kind, data, extra) == (aiohttp.WSMsgType.TEXT, "t", "")
    closed = await ws.receive()
    assert isinstance(closed, aiohttp.WSMessage)
    assert closed.tp is aiohttp.WSMsgType.CLOSED
