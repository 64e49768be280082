"""The feed examples, each run as its own process against
``examples/feeds_server.py`` (started here, in the test's process, so its
records can be checked): a market-data client through a restart and a
1001 failover, a GraphQL subscription through a 1012, a chat client that
refreshes its token on each reconnect."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..test_examples import (
    EXAMPLES,
    RUN_TIMEOUT,
    clean_env,
    example_command,
    run_example,
)


def _load_server_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "feeds_server", EXAMPLES / "feeds_server.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


feeds_server = _load_server_module()


@pytest.fixture
async def server() -> AsyncIterator[Any]:
    started = feeds_server.FeedsServer()
    await started.start()
    try:
        yield started
    finally:
        await started.cleanup()


async def test_market_data(server: Any) -> None:
    url = f"ws://127.0.0.1:{server.port}/market"
    out, _ = await run_example("market_data.py", url)
    assert out.splitlines() == [
        "reconnected after close 1006 (connection 2)",
        "failover after close 1001 (connection 3)",
        "BTC last price 129.0",
        "ETH last price 39.0",
        "tickers queued: never more than one per symbol",
    ]
    subscriptions = [
        {"op": "subscribe", "symbol": "BTC"},
        {"op": "subscribe", "symbol": "ETH"},
    ]
    # Both symbols, in order, on each of the three connections.
    assert server.seen["market"] == [subscriptions] * 3


async def test_graphql_subscription(server: Any) -> None:
    url = f"ws://127.0.0.1:{server.port}/graphql"
    out, _ = await run_example("graphql_subscription.py", url)
    assert out.splitlines() == [
        "counter 1",
        "counter 2",
        "counter 3",
        "reconnected after close 1012; resuming from 4",
        "counter 4",
        "counter 5",
        "counter 6",
        "complete",
    ]
    first, second = server.seen["graphql"]
    # connection_init first, answered before the subscription went out.
    assert [m["type"] for m in first] == ["connection_init", "subscribe"]
    assert [m["type"] for m in second] == ["connection_init", "subscribe", "pong"]
    assert first[1]["payload"]["variables"] == {"from": 1}
    assert second[1]["payload"]["variables"] == {"from": 4}


async def test_chat(server: Any) -> None:
    out, _ = await run_example("chat.py", f"http://127.0.0.1:{server.port}")
    assert out.splitlines() == [
        "token tok-1",
        "[general] bob: hi alice",
        "[general] alice: hello",
        "token tok-2",
        "reconnected after close 4001",
        "[general] bob: welcome back",
        "[general] alice: bye",
    ]
    assert server.chat_auth == ["Bearer tok-1", "Bearer tok-2"]
    join = {"op": "join", "room": "general"}
    assert server.seen["chat"] == [
        [join, {"op": "say", "text": "hello"}],
        [join, {"op": "say", "text": "bye"}],
    ]


async def test_feeds_server_runs_as_a_script() -> None:
    # Not measured by coverage: under its tracer, aiohttp's compiled
    # WebSocket reader in the server process was seen to lose the client's
    # close reply (the client had sent it; the server's close() waited out
    # its timeout).  The server is not aiows's code; the example is.
    env = clean_env()
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    env.pop("COVERAGE_PROCESS_START", None)
    process = await asyncio.create_subprocess_exec(
        *example_command("feeds_server.py", "--port", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)
        match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line.decode())
        assert match is not None, line
        url = f"ws://127.0.0.1:{match[1]}/graphql"
        out, _ = await run_example("graphql_subscription.py", url)
        assert out.splitlines()[-1] == "complete"
    finally:
        process.terminate()
        _, err = await process.communicate()
    assert err.decode() == ""
