"""Where an idle connection's memory goes: Python objects, by the line that
allocated them.

The harness (:mod:`benchmarks.run`) measures the resident set size per idle
connection; this says what it is made of.  It opens ``--connections``
connections through one ``aiows.ClientSession`` to a websockets server
it starts in a process of its own (so the server's objects are not
counted), takes a ``tracemalloc`` snapshot before and after, and prints
the growth per connection, grouped by the source line that allocated it
(``--depth N`` groups by the last N frames instead, to see who called)::

    python -m benchmarks.objects [--connections 300] [--depth 1] [--top 30]

The total is of Python objects only: the allocator's own overhead, which
RSS also counts, comes on top.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc

import aiows

#: Connections opened at once, as in the harness's memory job.
BATCH = 50

#: The server: websockets, holding every connection open, printing its port.
SERVER = """
import asyncio, websockets
async def idle(ws):
    await ws.wait_closed()
async def main():
    async with websockets.serve(idle, "127.0.0.1", 0, compression=None,
                                ping_interval=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


async def measure(connections: int, depth: int, top: int) -> None:
    """Open ``connections`` idle connections and print where memory went."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        port = int(await server.stdout.readline())
        await _measure(f"ws://127.0.0.1:{port}/", connections, depth, top)
    finally:
        server.kill()
        await server.wait()


async def _measure(url: str, connections: int, depth: int, top: int) -> None:
    # limit=0: the connector's default limit of 100 would queue the rest.
    async with aiows.ClientSession(connector=aiows.TCPConnector(limit=0)) as session:
        for _ in range(3):  # imports and lazily built caches are paid for
            await (await session.ws_connect(url, compress=0)).close()
        gc.collect()
        tracemalloc.start(depth)
        before = tracemalloc.take_snapshot()
        conns = []
        while len(conns) < connections:
            batch = min(BATCH, connections - len(conns))
            conns += await asyncio.gather(
                *(session.ws_connect(url, compress=0) for _ in range(batch))
            )
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "traceback" if depth > 1 else "lineno")
        total = sum(stat.size_diff for stat in stats)
        print(f"{total / connections:,.0f} bytes of Python objects per connection")
        print(f"{'bytes':>7} {'objects':>7}  allocated at")
        for stat in stats[:top]:
            where = stat.traceback.format()
            print(
                f"{stat.size_diff / connections:7.0f} "
                f"{stat.count_diff / connections:7.1f}  "
                + "\n                  ".join(where)
            )
        await asyncio.gather(*(ws.close() for ws in conns))


def main() -> None:
    """Command-line entry point (``python -m benchmarks.objects``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--depth", type=int, default=1, help="frames per group")
    parser.add_argument("--top", type=int, default=30, help="lines to print")
    args = parser.parse_args()
    asyncio.run(measure(args.connections, args.depth, args.top))


if __name__ == "__main__":
    main()
