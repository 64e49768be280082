"""A cancellation (``open_timeout``'s deadline, or the caller's) that lands
as the connection completes is never lost.

``connect()``'s connector made its socket inside ``asyncio.wait_for()``,
which up to Python 3.11 returns the result of a task that finished as its
caller was cancelled, and drops the cancellation: the open went on past
the deadline and, against a server that never answers the upgrade, hung
for good.  The cancellation is sent here from the server's side a given
number of loop turns after the moment that matters (the proxy's 200, the
accepted connection), each number in turn, so the moment it lands sweeps
the connector's last steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import aiows
from tests.session.conftest import TLS

#: Loop turns swept between the server's moment and the cancellation.
HOPS = range(8)
#: How long a cancelled open may take to end: much more than it needs.
ENDS_WITHIN = 2.0

Opener = Callable[[], Awaitable[Any]]


async def sweep(
    start: Callable[[Callable[[], None]], Awaitable[tuple[Any, Opener]]],
) -> list[tuple[int, str]]:
    """For each hop count: open, have the server cancel the open that many
    loop turns after its moment, and record how the open ended."""
    state: dict[str, Any] = {}
    loop = asyncio.get_running_loop()

    def moment() -> None:
        def hop(left: int) -> None:
            if left:
                loop.call_soon(hop, left - 1)
            else:
                state["task"].cancel()

        hop(state["hops"])

    server, opener = await start(moment)
    endings = []
    try:
        for hops in HOPS:
            state["hops"] = hops
            task = state["task"] = asyncio.ensure_future(opener())
            done, _ = await asyncio.wait([task], timeout=ENDS_WITHIN)
            if not done:
                task.cancel()
                endings.append((hops, "still opening"))
            elif task.cancelled():
                endings.append((hops, "cancelled"))
            else:
                endings.append((hops, repr(task.exception())))
            await asyncio.gather(task, return_exceptions=True)
    finally:
        server.close()
        await server.wait_closed()
    return endings


async def silent(
    moment: Callable[[], None] | None,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if moment is not None:
            moment()
        try:
            await reader.read()  # never answers the upgrade
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handler


@pytest.mark.both_loops
async def test_through_a_proxy() -> None:
    async def start(moment: Callable[[], None]) -> tuple[Any, Opener]:
        async def proxy(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await (await silent(moment))(reader, writer)

        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return server, lambda: aiows.connect(
            "ws://127.0.0.1:9/", proxy=url, open_timeout=None
        )

    assert await sweep(start) == [(hops, "cancelled") for hops in HOPS]


@pytest.mark.both_loops
async def test_straight_to_the_server() -> None:
    async def start(moment: Callable[[], None]) -> tuple[Any, Opener]:
        server = await asyncio.start_server(await silent(moment), "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        return server, lambda: aiows.connect(url, proxy=None, open_timeout=None)

    assert await sweep(start) == [(hops, "cancelled") for hops in HOPS]


async def test_over_tls_on_a_unix_socket(tmp_path: Path, tls: TLS) -> None:
    path = str(tmp_path / "tls.sock")

    async def start(moment: Callable[[], None]) -> tuple[Any, Opener]:
        server = await asyncio.start_unix_server(
            await silent(moment), path, ssl=tls.server
        )
        return server, lambda: aiows.unix_connect(
            path, "wss://localhost/", ssl=tls.client, open_timeout=None
        )

    assert await sweep(start) == [(hops, "cancelled") for hops in HOPS]


async def test_open_timeout_still_bounds_a_silent_server() -> None:
    server = await asyncio.start_server(await silent(None), "127.0.0.1", 0)
    try:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        with pytest.raises(aiows.OpenTimeout):
            await asyncio.wait_for(
                aiows.connect(url, proxy=None, open_timeout=0.2), ENDS_WITHIN
            )
    finally:
        server.close()
        await server.wait_closed()
