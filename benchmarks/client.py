"""One benchmark client process: runs jobs for one library, prints JSON lines.

Started by :mod:`benchmarks.run` as ``python -m benchmarks.client``, in a
fresh process pinned to CPU 1 (where the OS allows), so that each library
starts from the same clean interpreter and the echo server (CPU 0) never
competes with it for a core.  It runs the jobs given with ``--jobs`` in
order, each on an event loop of its own, and prints one JSON object per job
on stdout.  Three kinds of job:

``throughput``
    open one connection, run ``warmup`` messages of the scenario untimed,
    then ``count`` messages timed: wall time with ``time.perf_counter()``
    and this process's CPU time (user + system, all threads) with
    ``time.process_time()``.  Reports messages/s (wall) and CPU µs per
    message, and from ``getrusage`` the system CPU µs and minor page faults
    per message (JSON only: where CPU goes beyond the library's own code).
    The echo's own cost is on the server's core, not counted.
``memory``
    open and close a few connections (so that imports and lazily built
    caches are paid for), read the resident set size from
    ``/proc/self/statm``, open ``connections`` idle connections (50 at a
    time), collect garbage, read it again: the difference divided by the
    number of connections is the memory an idle connection costs.  With
    ``compress`` the client offers permessage-deflate to a server that
    accepts it; whether it was negotiated is reported.
``handshake``
    ``count`` sequential cycles of opening a connection (TCP connect, HTTP
    upgrade) and closing it (closing handshake, waiting for the server's
    close frame).  aiows and aiohttp go through one shared session and its
    pooled connector, websockets and picows connect as they do.  Reports
    cycles per second and CPU µs per cycle.

The threading clients (:mod:`benchmarks.threaded`) run the same three
jobs on the loop named ``threads``: no event loop, blocking calls; their
memory job also counts the threads each idle connection costs.

``--profile FILE`` runs the timed part of throughput jobs under cProfile and
writes the stats to ``FILE`` (``FILE.N`` for the N-th job); timings from a
profiled run are flagged and are not comparable.

``--probe`` runs no job: it prints one JSON object saying whether the client
can run in this process and, for the clients built on aiows, which aiows it
imports (``aiows.__file__``, version, compiled extensions loaded).  The
orchestrator probes the aiows clients before a run, skips those that cannot
run, and checks every job record's ``aiows_file`` against the probe's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import platform
import resource
import ssl
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import threaded
from benchmarks.clients import ClientAdapter, make_adapter, unavailable
from benchmarks.common import (
    AIOWS_CLIENTS,
    SCENARIOS_BY_NAME,
    THREAD_CLIENTS,
    THREAD_LOOP,
    pin_to_cpu,
    raise_fd_limit,
    rss_bytes,
)

#: Connections opened concurrently by the memory job.
MEMORY_BATCH = 50


class Context:
    """Where the servers are and how to trust the TLS one."""

    def __init__(self, urls: dict[str, str], ca: str | None) -> None:
        self.urls = urls
        self.ssl = ssl.create_default_context(cafile=ca) if ca else None


async def _timed(
    func: Callable[[], Awaitable[None]], profile: cProfile.Profile | None
) -> tuple[float, float, resource.struct_rusage, resource.struct_rusage]:
    """Run ``func`` once: wall seconds, CPU seconds, rusage before and after."""
    gc.collect()
    if profile is not None:
        profile.enable()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await func()
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    if profile is not None:
        profile.disable()
    return t1 - t0, cpu1 - cpu0, usage0, usage1


async def throughput(
    adapter: ClientAdapter,
    ctx: Context,
    job: dict[str, Any],
    profile: cProfile.Profile | None,
) -> dict[str, Any]:
    """Warm up, then time ``count`` messages of the job's scenario."""
    scenario = SCENARIOS_BY_NAME[job["scenario"]]
    count: int = job["count"]
    warmup: int = job["warmup"]
    payload = os.urandom(scenario.size)
    url = ctx.urls["tls" if scenario.tls else "plain"]
    conn = await adapter.open(url, ctx.ssl if scenario.tls else None, False)
    try:
        if scenario.kind == "pingpong":

            async def run(n: int) -> None:
                await adapter.pingpong(conn, payload, n)

        else:

            async def run(n: int) -> None:
                await adapter.pipelined(conn, payload, n, scenario.window)

        await run(warmup)
        wall, cpu, usage0, usage1 = await _timed(lambda: run(count), profile)
    finally:
        await adapter.close(conn)
    return {
        "messages": count,
        "wall_s": wall,
        "cpu_s": cpu,
        "msgs_per_s": count / wall,
        "cpu_us_per_msg": cpu / count * 1e6,
        "sys_us_per_msg": (usage1.ru_stime - usage0.ru_stime) / count * 1e6,
        "minflt_per_msg": (usage1.ru_minflt - usage0.ru_minflt) / count,
        "profiled": profile is not None,
    }


async def memory(
    adapter: ClientAdapter, ctx: Context, job: dict[str, Any]
) -> dict[str, Any]:
    """RSS growth per idle open connection."""
    n: int = job["connections"]
    compress: bool = job["compress"]
    url = ctx.urls["deflate"]
    for _ in range(3):
        await adapter.close(await adapter.open(url, None, compress))
    gc.collect()
    await asyncio.sleep(0.1)
    before = rss_bytes()
    conns: list[Any] = []
    try:
        while len(conns) < n:
            batch = min(MEMORY_BATCH, n - len(conns))
            conns += await asyncio.gather(
                *(adapter.open(url, None, compress) for _ in range(batch))
            )
        gc.collect()
        await asyncio.sleep(0.2)
        after = rss_bytes()
        negotiated = adapter.negotiated_compression(conns[0])
    finally:
        for i in range(0, len(conns), MEMORY_BATCH):
            await asyncio.gather(
                *(adapter.close(c) for c in conns[i : i + MEMORY_BATCH]),
                return_exceptions=True,
            )
    if compress and not negotiated:
        raise RuntimeError("permessage-deflate was offered but not negotiated")
    return {
        "connections": n,
        "rss_before": before,
        "rss_after": after,
        "kib_per_conn": (after - before) / n / 1024,
        "compression_negotiated": negotiated,
    }


async def handshake(
    adapter: ClientAdapter, ctx: Context, job: dict[str, Any]
) -> dict[str, Any]:
    """Sequential open + close cycles per second."""
    n: int = job["count"]
    url = ctx.urls["plain"]

    async def cycles(k: int) -> None:
        for _ in range(k):
            await adapter.close(await adapter.open(url, None, False))

    await cycles(job["warmup"])
    wall, cpu, _, _ = await _timed(lambda: cycles(n), None)
    return {
        "handshakes": n,
        "wall_s": wall,
        "cpu_s": cpu,
        "handshakes_per_s": n / wall,
        "cpu_us_per_handshake": cpu / n * 1e6,
    }


async def run_job(
    client: str, ctx: Context, job: dict[str, Any], profile: cProfile.Profile | None
) -> dict[str, Any]:
    """Run one job with a fresh adapter (and session) on the current loop."""
    adapter = make_adapter(client)
    await adapter.start()
    try:
        if job["task"] == "throughput":
            return await throughput(adapter, ctx, job, profile)
        if job["task"] == "memory":
            return await memory(adapter, ctx, job)
        if job["task"] == "handshake":
            return await handshake(adapter, ctx, job)
        raise ValueError(f"unknown task {job['task']!r}")
    finally:
        await adapter.stop()


def run_on_loop(loop_name: str, coro: Any) -> Any:
    """Run ``coro`` to completion on a new asyncio or uvloop event loop.

    ``asyncio+aiofastnet`` and ``uvloop+aiofastnet`` are the same loops with
    their networking methods replaced by aiofastnet's transports
    (``aiofastnet.patch_loop``): whatever the client opens (aiohttp's
    connector included) then runs on them.
    """
    base, plus, extra = loop_name.partition("+")
    if plus:
        if extra != "aiofastnet" or base not in ("asyncio", "uvloop"):
            raise ValueError(f"unknown loop {loop_name!r}")
        import aiofastnet

        if base == "uvloop":
            import uvloop

            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        aiofastnet.patch_loop(loop)
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(coro)
    if loop_name == "asyncio":
        return asyncio.run(coro)
    raise ValueError(f"unknown loop {loop_name!r}")


def imported_aiows() -> str | None:
    """The file of the aiows this process imported, if it imported one."""
    module = sys.modules.get("aiows")
    return getattr(module, "__file__", None) if module is not None else None


def probe(client: str) -> dict[str, Any]:
    """Whether ``client`` can run here, and with which aiows (see above)."""
    info: dict[str, Any] = {
        "client": client,
        "python": sys.executable,
        "python_version": platform.python_version(),
        "skip": (
            threaded.unavailable(client)
            if client in THREAD_CLIENTS
            else unavailable(client)
        ),
    }
    if client in AIOWS_CLIENTS:
        import aiows

        info["aiows_file"] = aiows.__file__
        info["aiows_version"] = getattr(aiows, "__version__", None)
        # Compiled modules loaded by importing aiows: none means the pure
        # Python paths (a source tree never built, or AIOWS_NO_EXTENSIONS).
        info["aiows_compiled"] = sorted(
            name
            for name, module in sys.modules.items()
            if name.partition(".")[0] == "aiows"
            and str(getattr(module, "__file__", "")).endswith((".so", ".pyd"))
        )
    return info


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m benchmarks.client``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True)
    parser.add_argument("--probe", action="store_true", help="only say what'd run")
    parser.add_argument("--jobs", help="JSON list of jobs")
    parser.add_argument("--urls", help="JSON: plain, tls, deflate")
    parser.add_argument("--ca", help="CA certificate (PEM) for the TLS server")
    parser.add_argument("--cpu", type=int, default=1, help="CPU to pin to (-1: none)")
    parser.add_argument("--profile", help="write cProfile stats of timed loops here")
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.client)), flush=True)
        return 0
    if args.jobs is None or args.urls is None:
        parser.error("--jobs and --urls are required unless --probe is given")

    pinned = pin_to_cpu(args.cpu)
    raise_fd_limit()
    ctx = Context(json.loads(args.urls), args.ca)
    failed = False
    for i, job in enumerate(json.loads(args.jobs)):
        profile = cProfile.Profile() if args.profile else None
        record: dict[str, Any] = {"client": args.client, **job, "pinned": pinned}
        try:
            if job["loop"] == THREAD_LOOP:
                record.update(threaded.run_job(args.client, ctx, job, profile))
            else:
                record.update(
                    run_on_loop(job["loop"], run_job(args.client, ctx, job, profile))
                )
            record["ok"] = True
        except Exception as exc:  # reported to the orchestrator, which fails
            failed = True
            record["ok"] = False
            record["error"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
        if profile is not None and args.profile:
            profile.dump_stats(args.profile if i == 0 else f"{args.profile}.{i}")
        record["aiows_file"] = imported_aiows()
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
