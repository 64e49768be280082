"""Run the aiows benchmarks: ``python -m benchmarks`` or ``python benchmarks/run.py``.

What it does:

1. generates a throw-away CA and server certificate (``trustme``) and starts
   the echo servers (:mod:`benchmarks.server`: picows on uvloop, plus a
   websockets server accepting permessage-deflate for the memory test) in a
   process pinned to CPU 0;
2. for each round, for each throughput case (scenario x event loop), runs
   each client (aiows, aiohttp, websockets, picows) in a fresh process
   pinned to CPU 1 (:mod:`benchmarks.client`), the clients taking turns in
   an order rotated every round; then the idle-connection memory jobs
   (compression off and on) and the handshake jobs, likewise;
3. takes the median over rounds of each client's messages/s and CPU µs per
   message (and KiB per connection, handshakes/s), prints the tables with the
   aiows/peer ratios, and writes them as Markdown and JSON, with a PNG chart,
   under ``benchmarks/results/`` (``--docs``: also ``docs/_static/``).

``--smoke`` is the CI check: one round, a few messages and connections, all
of a client's jobs in one process; it checks that every client works and
exits non-zero if any failed, and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    CLIENTS,
    COMPRESSING_CLIENTS,
    LOOPS,
    SCENARIOS,
    can_pin,
    case_id,
)
from benchmarks.report import markdown_report, summarize, write_chart

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS_STATIC = ROOT / "docs" / "_static"

Job = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=3, help="default: 3")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every scenario's message count (default 1: ~1 s each)",
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help="comma-separated subset of: " + ", ".join(CLIENTS),
    )
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma-separated substrings; run only scenarios whose name has one",
    )
    parser.add_argument(
        "--loops", default=",".join(LOOPS), help="comma-separated: asyncio,uvloop"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=1000,
        help="idle connections for the memory test (default 1000; 0: skip)",
    )
    parser.add_argument(
        "--handshakes",
        type=int,
        default=300,
        help="open + close cycles for the handshake test (default 300; 0: skip)",
    )
    parser.add_argument("--smoke", action="store_true", help="quick CI check")
    parser.add_argument("--no-pin", action="store_true", help="don't pin CPUs")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write docs/_static/benchmarks.png and benchmarks.md",
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--timeout", type=float, default=600, help="per client process, seconds"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = 1
        args.scale = 0.002
        args.connections = min(args.connections, 10)
        args.handshakes = min(args.handshakes, 10)
        args.timeout = min(args.timeout, 60)
    unknown = set(args.clients.split(",")) - set(CLIENTS)
    if unknown:
        parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    bad_loops = set(args.loops.split(",")) - set(LOOPS)
    if bad_loops:
        parser.error(f"unknown loops: {', '.join(sorted(bad_loops))}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


# ----------------------------------------------------------------------
# Planning


def throughput_jobs(args: argparse.Namespace) -> list[Job]:
    """One job per (scenario, loop), with counts scaled."""
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    jobs = []
    for scenario in SCENARIOS:
        if wanted and not any(w.lower() in scenario.name.lower() for w in wanted):
            continue
        count = max(10, round(scenario.count * args.scale))
        for loop in args.loops.split(","):
            jobs.append(
                {
                    "task": "throughput",
                    "scenario": scenario.name,
                    "loop": loop,
                    "count": count,
                    "warmup": max(5, count // 10),
                }
            )
    return jobs


def extra_jobs(args: argparse.Namespace, client: str) -> list[Job]:
    """The memory and handshake jobs of one client."""
    jobs: list[Job] = []
    if args.connections > 0:
        for compress in (False, True):
            if compress and client not in COMPRESSING_CLIENTS:
                continue
            jobs.append(
                {
                    "task": "memory",
                    "loop": "asyncio",
                    "connections": args.connections,
                    "compress": compress,
                }
            )
    if args.handshakes > 0:
        jobs.append(
            {
                "task": "handshake",
                "loop": "asyncio",
                "count": args.handshakes,
                "warmup": max(3, args.handshakes // 10),
            }
        )
    return jobs


def plan(args: argparse.Namespace) -> list[tuple[str, list[Job]]]:
    """The client processes to start, in order: (client, jobs) each.

    Full mode: one process per job, round after round; within a round each
    job runs for every client, the clients' order rotated by one each round.
    Smoke mode: one process per client with all its jobs.
    """
    clients = args.clients.split(",")
    if args.smoke:
        return [
            (client, throughput_jobs(args) + extra_jobs(args, client))
            for client in clients
        ]
    processes: list[tuple[str, list[Job]]] = []
    for rnd in range(args.rounds):
        order = clients[rnd % len(clients) :] + clients[: rnd % len(clients)]
        for job in throughput_jobs(args):
            processes += [(client, [job]) for client in order]
        for client in order:
            processes += [(client, [job]) for job in extra_jobs(args, client)]
    return processes


# ----------------------------------------------------------------------
# Processes


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    # Each process should start the same way: no bytecode writes, no hash
    # randomisation effects on dict layouts between rounds.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def start_server(
    ca_dir: Path, cpu: int
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """Start the echo servers; return the process and the ports it printed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.server",
            "--ca-dir",
            str(ca_dir),
            "--cpu",
            str(cpu),
        ],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        raise RuntimeError("the echo server did not start")
    return proc, json.loads(line)


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_client(
    client: str,
    jobs: list[Job],
    urls: dict[str, str],
    ca: Path,
    cpu: int,
    timeout: float,
) -> tuple[list[dict[str, Any]], str | None]:
    """Run one client process; return its records and an error, if any."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.client",
        "--client",
        client,
        "--jobs",
        json.dumps(jobs),
        "--urls",
        json.dumps(urls),
        "--ca",
        str(ca),
        "--cpu",
        str(cpu),
    ]
    try:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return [], f"{client}: timed out after {timeout:.0f} s running {jobs}"
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    error = None
    if done.returncode != 0 or len(records) != len(jobs):
        failed = [r.get("error", "") for r in records if not r.get("ok")]
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        error = (
            f"{client}: exit {done.returncode}; "
            + "; ".join(f for f in failed if f)
            + (f"\n{tail}" if tail else "")
        )
    return records, error


def describe(record: dict[str, Any]) -> str:
    if not record.get("ok"):
        return f"FAILED {record.get('error')}"
    if record["task"] == "throughput":
        return (
            f"{record['msgs_per_s']:>10,.0f} msg/s "
            f"{record['cpu_us_per_msg']:>9.2f} CPU µs/msg"
        )
    if record["task"] == "memory":
        return f"{record['kib_per_conn']:>8.1f} KiB/connection"
    return (
        f"{record['handshakes_per_s']:>8,.0f} cycles/s "
        f"{record['cpu_us_per_handshake']:>9.0f} CPU µs/cycle"
    )


def label(record: dict[str, Any]) -> str:
    if record["task"] == "throughput":
        return case_id(record["scenario"], record["loop"])
    if record["task"] == "memory":
        return f"memory, compression {'on' if record['compress'] else 'off'}"
    return f"handshakes / {record['loop']}"


# ----------------------------------------------------------------------
# Metadata and output


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in (*CLIENTS, "uvloop", "aiofastnet"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} x {os.cpu_count()}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} x {os.cpu_count()}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pinned = not args.no_pin and can_pin((0, 1))
    server_cpu, client_cpu = (0, 1) if pinned else (-1, -1)
    processes = plan(args)
    case_order = list(
        dict.fromkeys(case_id(j["scenario"], j["loop"]) for j in throughput_jobs(args))
    )
    meta: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "versions": versions(),
        "pinned": pinned,
        "rounds": args.rounds,
        "scale": args.scale,
        "connections": args.connections,
        "handshakes": args.handshakes,
        "mode": "smoke" if args.smoke else "full",
        "load_start": load_average(),
    }
    print(
        f"{len(processes)} client processes, {args.rounds} round(s), "
        f"pinned={pinned}, load {meta['load_start']}",
        flush=True,
    )

    records: list[dict[str, Any]] = []
    failures: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aiows-bench-") as tmp:
        ca_dir = Path(tmp)
        server, ports = start_server(ca_dir, server_cpu)
        urls = {
            "plain": f"ws://127.0.0.1:{ports['plain']}/",
            "tls": f"wss://127.0.0.1:{ports['tls']}/",
            "deflate": f"ws://127.0.0.1:{ports['deflate']}/",
        }
        try:
            for i, (client, jobs) in enumerate(processes, 1):
                got, error = run_client(
                    client, jobs, urls, ca_dir / "ca.pem", client_cpu, args.timeout
                )
                records += got
                for r in got:
                    print(
                        f"[{i}/{len(processes)}] {client:<10} {label(r):<34} "
                        f"{describe(r)}",
                        flush=True,
                    )
                if error:
                    failures.append(error.splitlines()[0])
                    print(f"[{i}/{len(processes)}] {error}", file=sys.stderr)
                if server.poll() is not None:
                    failures.append("the echo server died")
                    break
        finally:
            stop_server(server)
    elapsed = time.monotonic() - started
    meta["load_end"] = load_average()
    meta["elapsed_s"] = round(elapsed, 1)

    summaries = summarize(records)
    report = markdown_report(summaries, meta, case_order, failures)
    print()
    print(report)

    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = f"{meta['mode']}-{stamp}"
    (out / f"{prefix}.md").write_text(report)
    (out / f"{prefix}.json").write_text(
        json.dumps({"meta": meta, "summary": summaries, "records": records}, indent=1)
    )
    written = [out / f"{prefix}.md", out / f"{prefix}.json"]
    chart = out / f"{prefix}.png"
    if not args.no_chart and "cpu_us_per_msg" in summaries:
        title = (
            f"aiows benchmarks ({meta['mode']}, median of {args.rounds} round(s)): "
            "client CPU per message"
        )
        if write_chart(summaries["cpu_us_per_msg"], case_order, chart, title):
            written.append(chart)
        else:
            print("matplotlib is not installed: no chart", file=sys.stderr)
    for path in written:
        shutil.copyfile(path, out / f"{meta['mode']}-latest{path.suffix}")
    if args.docs:
        DOCS_STATIC.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / f"{prefix}.md", DOCS_STATIC / "benchmarks.md")
        written.append(DOCS_STATIC / "benchmarks.md")
        if chart in written:
            shutil.copyfile(chart, DOCS_STATIC / "benchmarks.png")
            written.append(DOCS_STATIC / "benchmarks.png")
    print(f"wrote {', '.join(os.path.relpath(p) for p in written)}")
    print(f"{len(failures)} failure(s), {elapsed:.1f} s")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
