"""Load and soak: many concurrent connections from one process.

Run::

    python -m tests.stress.soak --connections 1000 --messages 1000 --rounds 3 \\
        --server aiohttp      # or picows

An echo server (aiohttp.web or picows) runs in a subprocess.  Each round opens
``--connections`` WebSockets at once; each sends ``--messages`` numbered text
messages and checks that every echo comes back, in order; then all are closed.
After each round the script checks that every connector slot was released
and no task is left, and records the RSS.  Rounds 2 and later must stay
within 5 % of round 1's RSS.  Exit status 0 means every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiows

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024
# Concurrent handshakes at most (the server's listen backlog is ~100-128).
CONNECT_CONCURRENCY = 100
RSS_TOLERANCE = 0.05


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def raise_nofile(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


# -- servers (run in a subprocess) ---------------------------------------------


def serve_aiohttp() -> None:
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def serve_picows() -> None:
    from picows import (
        WSFrame,
        WSListener,
        WSMsgType,
        WSTransport,
        WSUpgradeRequest,
        ws_create_server,
    )

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
            elif frame.msg_type == WSMsgType.PING:
                transport.send_pong(frame.get_payload_as_bytes())
            elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
                transport.send(frame.msg_type, frame.get_payload_as_bytes())

    def listener(_request: WSUpgradeRequest) -> Echo:
        return Echo()

    async def main() -> None:
        server = await ws_create_server(
            listener, "127.0.0.1", 0, backlog=1024, max_frame_size=1 << 20
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def echo_server(kind: str, connections: int) -> AsyncIterator[str]:
    """Start the echo server ``kind`` in a subprocess; yield its URL."""
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, "
        f"(min({connections * 2 + 100}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]),"
        " resource.getrlimit(resource.RLIMIT_NOFILE)[1])); "
        f"from tests.stress.soak import serve_{kind}; serve_{kind}()"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=subprocess.PIPE, cwd=root
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        if not line:
            raise RuntimeError(f"{kind} server did not start")
        yield f"ws://127.0.0.1:{int(line)}/ws"
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


# -- the client ----------------------------------------------------------------


@dataclass
class Round:
    number: int
    seconds: float = 0.0
    messages: int = 0
    rss: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


async def one_connection(
    ws: aiows.ClientWebSocketResponse, conn: int, messages: int, result: Round
) -> None:
    async def sender() -> None:
        for i in range(messages):
            await ws.send_str(f"{conn}:{i}:soak-payload")

    task = asyncio.ensure_future(sender())
    try:
        for i in range(messages):
            got = await asyncio.wait_for(ws.receive_str(), 60)
            expected = f"{conn}:{i}:soak-payload"
            if got != expected:
                result.errors.append(f"conn {conn}: got {got!r}, expected {expected!r}")
                return
            result.messages += 1
        await task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_round(
    session: aiows.ClientSession, url: str, number: int, connections: int, messages: int
) -> Round:
    result = Round(number)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(conn: int) -> aiows.ClientWebSocketResponse:
        async with gate:
            return await session.ws_connect(url, open_timeout=60)

    start = time.monotonic()
    websockets = await asyncio.gather(*(connect(c) for c in range(connections)))
    await asyncio.gather(
        *(one_connection(ws, c, messages, result) for c, ws in enumerate(websockets))
    )
    await asyncio.gather(*(asyncio.wait_for(ws.close(), 30) for ws in websockets))
    result.seconds = time.monotonic() - start
    bad = [ws.close_code for ws in websockets if ws.close_code != 1000]
    if bad:
        result.errors.append(f"{len(bad)} connections closed with {set(bad)}")
    if session.connector is not None and session.connector._acquired:
        result.errors.append(f"{len(session.connector._acquired)} connector slots held")
    if result.messages != connections * messages:
        result.errors.append(
            f"{connections * messages - result.messages} messages lost or reordered"
        )
    del websockets
    gc.collect()
    result.rss = rss()
    return result


async def soak(
    connections: int, messages: int, rounds: int, server: str, quiet: bool = False
) -> list[Round]:
    """Run the soak against a fresh ``server`` subprocess; return each round."""
    raise_nofile(connections * 2 + 200)
    results: list[Round] = []
    tasks_before = asyncio.all_tasks()
    async with echo_server(server, connections) as url:
        connector = aiows.TCPConnector(limit=0)
        async with aiows.ClientSession(connector=connector) as session:
            for number in range(1, rounds + 1):
                result = await run_round(session, url, number, connections, messages)
                results.append(result)
                if not quiet:
                    print(
                        f"{server} round {number}: {result.seconds:.2f} s, "
                        f"{result.messages} messages, {result.rate:,.0f} msgs/s, "
                        f"RSS {result.rss / MiB:.1f} MiB"
                        + (f", ERRORS: {result.errors}" if result.errors else ""),
                        flush=True,
                    )
    await asyncio.sleep(0)
    leftover = asyncio.all_tasks() - tasks_before - {asyncio.current_task()}
    if leftover:
        results[-1].errors.append(f"{len(leftover)} tasks left: {leftover}")
    return results


def check(results: list[Round]) -> list[str]:
    """Every problem found: errors of any round, and RSS growth after round 1."""
    problems = [f"round {r.number}: {e}" for r in results for e in r.errors]
    base = results[0].rss
    for r in results[1:]:
        if abs(r.rss - base) > RSS_TOLERANCE * base:
            problems.append(
                f"round {r.number}: RSS {r.rss / MiB:.1f} MiB is not within 5% of "
                f"round 1's {base / MiB:.1f} MiB"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", choices=["aiohttp", "picows"], default="aiohttp")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = asyncio.run(
        soak(args.connections, args.messages, args.rounds, args.server)
    )
    problems = check(results)
    print(f"total {time.monotonic() - started:.1f} s")
    for problem in problems:
        print("FAIL:", problem)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
