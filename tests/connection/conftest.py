"""Fixtures of the connection tests.

``wire_server`` is the shared ``raw_server`` with one addition: an assertion
failing inside a server handler fails the test (asyncio would otherwise only
log it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import RawPeer, RawServer

from ._helpers import StartServer

# What a handler may legitimately die of: the client went away.
_EXPECTED = (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError)


@pytest.fixture
async def wire_server(raw_server: StartServer) -> AsyncIterator[StartServer]:
    errors: list[BaseException] = []

    async def start(handler: Any, **kwargs: Any) -> RawServer:
        async def checked(peer: RawPeer) -> None:
            try:
                await handler(peer)
            except _EXPECTED:
                raise
            except BaseException as exc:
                errors.append(exc)
                raise

        return await raw_server(checked, **kwargs)

    yield start
    if errors:
        raise AssertionError(f"server handler failed: {errors[0]!r}") from errors[0]
