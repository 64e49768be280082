"""The application's pings: futures for their pongs, a bounded book."""

from __future__ import annotations

import asyncio

import pytest

from aiows.core.errors import TooManyPings
from aiows.core.parser import FrameParser
from aiows.core.protocol import MAX_PINGS_IN_FLIGHT, ClientProtocol
from aiows.core.writer import FrameWriter
from aiows.engine import pings


def a_protocol() -> ClientProtocol:
    return ClientProtocol(FrameParser(), FrameWriter())


async def test_a_full_book_gives_up_the_oldest_ping() -> None:
    protocol = a_protocol()
    loop = asyncio.get_running_loop()
    waiters = [
        pings.start_ping(protocol, loop, i.to_bytes(4, "big"))[1]
        for i in range(MAX_PINGS_IN_FLIGHT)
    ]
    frame, newest = pings.start_ping(protocol, loop, b"last")
    assert frame[0] == 0x89  # a ping went all the same
    assert isinstance(waiters[0].exception(), TooManyPings)
    assert not any(w.done() for w in waiters[1:]) and not newest.done()
    assert len(protocol.pings_in_flight()) == MAX_PINGS_IN_FLIGHT


async def test_the_end_fails_every_ping_quietly() -> None:
    protocol = a_protocol()
    loop = asyncio.get_running_loop()
    _, first = pings.start_ping(protocol, loop, b"1")
    _, second = pings.start_ping(protocol, loop, b"2")
    second.cancel()  # a caller gave up: left as it is
    pings.fail_all(protocol, lambda: ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError, match="gone"):
        first.result()
    assert second.cancelled()


def test_a_unique_payload_is_not_in_flight() -> None:
    protocol = a_protocol()
    payload = pings.unique_payload(protocol)
    assert len(payload) == 4
    assert not protocol.ping_in_flight(payload)
