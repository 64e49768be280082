"""Fixtures of the reliability tests: the fault-injecting proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .faultproxy import FaultProxy

StartProxy = Callable[[int], Awaitable[FaultProxy]]


@pytest.fixture
async def fault_proxy() -> AsyncIterator[StartProxy]:
    """Factory: ``await fault_proxy(upstream_port)`` gives a started proxy."""
    proxies: list[FaultProxy] = []

    async def start(port: int) -> FaultProxy:
        proxy = await FaultProxy("127.0.0.1", port).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.close()
