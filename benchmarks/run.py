"""Run the aiows benchmarks: ``python -m benchmarks`` or ``python benchmarks/run.py``.

What it does:

1. generates a throw-away CA and server certificate (``trustme``) and starts
   the echo servers (:mod:`benchmarks.server`: picows on uvloop, plus a
   websockets server accepting permessage-deflate for the memory test) in a
   process pinned to CPU 0;
2. probes the clients built on aiows (``python -m benchmarks.client
   --probe``, in the process set-up their jobs get): which aiows each
   imports, and whether aiows-listener can run (skipped, with a note, when
   aiows has no ``Listener``);
3. for each round, for each throughput case (scenario x event loop), runs
   each client (aiows, aiows-ws, aiows-listener, aiows-before, aiohttp,
   websockets, picows-ws, picows-cb, picows-fut; see
   :mod:`benchmarks.clients`) in a fresh process
   pinned to CPU 1 (:mod:`benchmarks.client`), the clients taking turns in
   an order rotated every round; then the idle-connection memory jobs
   (compression off and on) and the handshake jobs, likewise;
4. takes the median over rounds of each client's messages/s and CPU µs per
   message (and KiB per connection, handshakes/s), prints the tables with the
   ratios (aiows against each other client, aiows-ws against websockets and
   picows-ws, aiows-listener against picows-cb), and writes them as Markdown
   and JSON, with a PNG chart,
   under ``benchmarks/results/`` (``--docs``: also ``docs/_static/``).

aiows-before is the same coroutine client run on another aiows build, given
by ``--aiows-before PATH`` (a source tree, put first on the client's
``PYTHONPATH``) and/or ``--python-before PYTHON`` (an interpreter that has
that build installed).  Its processes start outside this checkout, so that
the aiows next to ``benchmarks/`` is not the one they import; each job
record says which aiows it imported, and a record that imported another
than the probe found is a failure.

``--smoke`` is the CI check: one round, a few messages and connections, all
of a client's jobs in one process; it checks that every client works and
exits non-zero if any failed, and asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    AIOWS_CLIENTS,
    CLIENT_ALIASES,
    CLIENTS,
    COMPRESSING_CLIENTS,
    DEFAULT_CLIENTS,
    FIELD_SCENARIOS,
    LIBRARIES,
    LOOPS,
    OTHER_LOOPS,
    SCENARIOS,
    THREAD_CLIENTS,
    THREAD_LOOP,
    THREAD_SCENARIOS,
    can_pin,
    case_id,
    loops_of,
)
from benchmarks.field import BuildError, start_field_server
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
        default=None,
        help="comma-separated subset of: "
        + ", ".join(CLIENTS)
        + " ('picows': the three picows clients; default: all but aiows-before, "
        "which --aiows-before or --python-before adds)",
    )
    parser.add_argument(
        "--aiows-before",
        type=Path,
        metavar="PATH",
        help="source tree of another aiows build, run as client aiows-before "
        "(PATH goes first on its PYTHONPATH)",
    )
    parser.add_argument(
        "--python-before",
        metavar="PYTHON",
        help="interpreter for aiows-before, with that aiows (and uvloop) "
        "installed (default: this one)",
    )
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma-separated substrings; run only scenarios whose name has one",
    )
    parser.add_argument(
        "--loops",
        default=",".join(LOOPS),
        help="comma-separated: asyncio,uvloop (the asyncio clients; also "
        "asyncio+aiofastnet, uvloop+aiofastnet: the loop on aiofastnet's "
        "transports), threads (the threading clients)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=1000,
        help="idle connections for the memory test (default 1000; 0: skip)",
    )
    parser.add_argument(
        "--thread-connections",
        type=int,
        default=500,
        help="idle connections for the threading clients' memory and thread "
        "count (default 500; 0: skip)",
    )
    parser.add_argument(
        "--handshakes",
        type=int,
        default=300,
        help="open + close cycles for the handshake test (default 300; 0: skip)",
    )
    parser.add_argument(
        "--field",
        action="store_true",
        help="the field's method instead: round trips per second, one message "
        "in flight, 256 B to 2 MB, TCP and TLS, uvloop, against a Boost.Beast "
        "echo server (see benchmarks/field.py)",
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
    if args.field:
        if "--loops" not in (argv if argv is not None else sys.argv):
            args.loops = "uvloop"
        args.connections = args.thread_connections = args.handshakes = 0
    if args.smoke:
        args.rounds = 1
        args.scale = 0.002
        args.connections = min(args.connections, 10)
        args.thread_connections = min(args.thread_connections, 10)
        args.handshakes = min(args.handshakes, 10)
        args.timeout = min(args.timeout, 60)
    before = args.aiows_before is not None or args.python_before is not None
    if args.clients is None:
        args.clients = ",".join(
            (*DEFAULT_CLIENTS, "aiows-before") if before else DEFAULT_CLIENTS
        )
    wanted: list[str] = []
    for name in args.clients.split(","):
        wanted += CLIENT_ALIASES.get(name.strip(), (name.strip(),))
    unknown = set(wanted) - set(CLIENTS)
    if unknown:
        parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    # In the tables' order, each once.
    args.clients = ",".join(c for c in CLIENTS if c in wanted)
    if "aiows-before" in wanted and not before:
        parser.error("client aiows-before needs --aiows-before or --python-before")
    if args.python_before is not None and os.sep in args.python_before:
        # Absolute, as aiows-before runs elsewhere; not resolved: a venv's
        # python is a link, and resolving it would leave the venv.
        args.python_before = os.path.abspath(args.python_before)
    if args.aiows_before is not None:
        args.aiows_before = args.aiows_before.resolve()
        if not (args.aiows_before / "aiows" / "__init__.py").is_file():
            parser.error(f"--aiows-before {args.aiows_before}: no aiows/ in it")
    bad_loops = set(args.loops.split(",")) - set(LOOPS) - set(OTHER_LOOPS)
    if bad_loops:
        parser.error(f"unknown loops: {', '.join(sorted(bad_loops))}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


# ----------------------------------------------------------------------
# Planning


def throughput_jobs(args: argparse.Namespace, client: str | None = None) -> list[Job]:
    """One job per (scenario, loop), with counts scaled; with ``client``,
    those it runs (the threading clients: on ``threads``, but TLS)."""
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    loops = args.loops.split(",")
    if client is not None:
        loops = loops_of(client, loops)
    jobs = []
    for scenario in FIELD_SCENARIOS if args.field else SCENARIOS:
        if wanted and not any(w.lower() in scenario.name.lower() for w in wanted):
            continue
        count = max(10, round(scenario.count * args.scale))
        for loop in loops:
            if loop == THREAD_LOOP and scenario.name not in THREAD_SCENARIOS:
                continue
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
    threads = client in THREAD_CLIENTS
    loop = THREAD_LOOP if threads else "asyncio"
    connections = args.thread_connections if threads else args.connections
    if connections > 0:
        for compress in (False, True):
            if compress and client not in COMPRESSING_CLIENTS:
                continue
            jobs.append(
                {
                    "task": "memory",
                    "loop": loop,
                    "connections": connections,
                    "compress": compress,
                }
            )
    if args.handshakes > 0:
        jobs.append(
            {
                "task": "handshake",
                "loop": loop,
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
            (client, throughput_jobs(args, client) + extra_jobs(args, client))
            for client in clients
        ]
    processes: list[tuple[str, list[Job]]] = []
    for rnd in range(args.rounds):
        order = clients[rnd % len(clients) :] + clients[: rnd % len(clients)]
        for job in throughput_jobs(args):
            processes += [
                (client, [job])
                for client in order
                if job in throughput_jobs(args, client)
            ]
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


@dataclasses.dataclass(frozen=True)
class Runtime:
    """How a client's processes are started: interpreter, environment, cwd."""

    python: str
    env: dict[str, str]
    cwd: Path


def runtimes(args: argparse.Namespace, tmp: Path) -> dict[str, Runtime]:
    """The runtime of every client of the run.

    All run this checkout's ``benchmarks`` package with this interpreter,
    from the checkout (so its aiows is the one imported), except
    aiows-before: that runs ``--python-before`` (default: this interpreter)
    from a directory holding nothing but a link to ``benchmarks``, with
    ``PYTHONPATH`` set to ``--aiows-before`` alone, so that the aiows it
    imports is that tree's, or else the interpreter's installed one.
    """
    here = Runtime(sys.executable, child_env(), ROOT)
    out = {client: here for client in args.clients.split(",")}
    if "aiows-before" in out:
        shim = tmp / "before"
        shim.mkdir()
        (shim / "benchmarks").symlink_to(ROOT / "benchmarks", target_is_directory=True)
        env = child_env()
        if args.aiows_before is not None:
            env["PYTHONPATH"] = str(args.aiows_before)
        else:
            env.pop("PYTHONPATH")
        out["aiows-before"] = Runtime(args.python_before or sys.executable, env, shim)
    return out


def probe_client(client: str, runtime: Runtime) -> dict[str, Any]:
    """Run ``python -m benchmarks.client --probe`` for ``client``."""
    done = subprocess.run(
        [runtime.python, "-m", "benchmarks.client", "--client", client, "--probe"],
        cwd=runtime.cwd,
        env=runtime.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0 or not done.stdout.strip():
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"probing {client} failed (exit {done.returncode}):\n{tail}")
    info: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return info


def git_revision(path: Path) -> str | None:
    """``path``'s git commit (short), with ``+dirty`` if it has changes."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def describe_probe(info: dict[str, Any]) -> str:
    """One line: which aiows a client imports, and from which interpreter."""
    compiled = ", ".join(info.get("aiows_compiled") or []) or "none (pure Python)"
    return (
        f"{info['client']}: aiows {info.get('aiows_version')} from "
        f"{info.get('aiows_file')} (compiled: {compiled}), "
        f"python {info['python_version']} {info['python']}"
    )


def check_probes(probes: dict[str, dict[str, Any]]) -> list[str]:
    """Problems that make the aiows-before comparison meaningless."""
    ours, before = probes.get("aiows"), probes.get("aiows-before")
    if ours is None or before is None:
        return []
    if os.path.realpath(ours["aiows_file"]) != os.path.realpath(before["aiows_file"]):
        return []
    return [
        f"aiows-before imports the same aiows as aiows ({ours['aiows_file']}): "
        "give --aiows-before a source tree or --python-before an interpreter "
        "with the other build"
    ]


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
    runtime: Runtime,
    jobs: list[Job],
    urls: dict[str, str],
    ca: Path,
    cpu: int,
    timeout: float,
) -> tuple[list[dict[str, Any]], str | None]:
    """Run one client process; return its records and an error, if any."""
    cmd = [
        runtime.python,
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
            cwd=runtime.cwd,
            env=runtime.env,
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
        threads = record.get("threads_per_conn")
        extra = "" if threads is None else f" {threads:>6.3f} threads/connection"
        return f"{record['kib_per_conn']:>8.1f} KiB/connection{extra}"
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
    for name in LIBRARIES:
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


def prepare_clients(
    args: argparse.Namespace, runtime: dict[str, Runtime]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Probe the aiows clients; drop those that cannot run from ``args``.

    Returns the probes and one note per client skipped.  Raises
    RuntimeError if a probe fails or aiows-before would measure aiows.
    """
    probes: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for client in args.clients.split(","):
        if client not in AIOWS_CLIENTS:
            continue
        probes[client] = info = probe_client(client, runtime[client])
        if info["skip"]:
            notes.append(f"{client}: skipped: {info['skip']}")
        else:
            print(describe_probe(info), flush=True)
    problems = check_probes(probes)
    if problems:
        raise RuntimeError("; ".join(problems))
    for client, info in probes.items():
        ours = probes.get("aiows", {}).get("aiows_compiled")
        if client != "aiows" and ours and not info.get("aiows_compiled"):
            notes.append(
                f"{client}: its aiows loads no compiled extension (pure Python), "
                "aiows does: build it (pip install it into --python-before's venv)"
            )
    for note in notes:
        print(note, flush=True)
    args.clients = ",".join(
        c for c in args.clients.split(",") if not probes.get(c, {}).get("skip")
    )
    return probes, notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pinned = not args.no_pin and can_pin((0, 1))
    server_cpu, client_cpu = (0, 1) if pinned else (-1, -1)
    case_order = list(
        dict.fromkeys(
            case_id(j["scenario"], j["loop"])
            for client in args.clients.split(",")
            for j in throughput_jobs(args, client)
        )
    )
    meta: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "versions": versions(),
        "aiows_revision": git_revision(ROOT),
        "pinned": pinned,
        "rounds": args.rounds,
        "scale": args.scale,
        "connections": args.connections,
        "thread_connections": args.thread_connections,
        "handshakes": args.handshakes,
        "mode": ("field-" if args.field else "") + ("smoke" if args.smoke else "full"),
        "server": "Boost.Beast (benchmarks/beast)" if args.field else "picows",
        "load_start": load_average(),
    }
    if args.aiows_before is not None:
        meta["aiows_before_path"] = str(args.aiows_before)
        meta["aiows_before_revision"] = git_revision(args.aiows_before)
    if args.python_before is not None:
        meta["python_before"] = args.python_before

    records: list[dict[str, Any]] = []
    failures: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aiows-bench-") as tmp:
        ca_dir = Path(tmp)
        runtime = runtimes(args, ca_dir)
        try:
            probes, notes = prepare_clients(args, runtime)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"cannot run: {exc}", file=sys.stderr)
            return 2
        meta["clients"] = args.clients.split(",")
        meta["probes"] = probes
        meta["notes"] = notes
        processes = plan(args)
        print(
            f"{len(processes)} client processes ({args.clients}), "
            f"{args.rounds} round(s), pinned={pinned}, load {meta['load_start']}",
            flush=True,
        )
        if args.field:
            try:
                server, ports = start_field_server(ca_dir, server_cpu)
            except BuildError as exc:
                print(f"cannot run: {exc}", file=sys.stderr)
                return 2
            ports["deflate"] = ports["plain"]  # no memory jobs in this mode
        else:
            server, ports = start_server(ca_dir, server_cpu)
        urls = {
            "plain": f"ws://127.0.0.1:{ports['plain']}/",
            "tls": f"wss://127.0.0.1:{ports['tls']}/",
            "deflate": f"ws://127.0.0.1:{ports['deflate']}/",
        }
        try:
            for i, (client, jobs) in enumerate(processes, 1):
                got, error = run_client(
                    client,
                    runtime[client],
                    jobs,
                    urls,
                    ca_dir / "ca.pem",
                    client_cpu,
                    args.timeout,
                )
                expected = probes.get(client, {}).get("aiows_file")
                for r in got:
                    if r.get("aiows_file") != expected:
                        r["ok"] = False
                        r["error"] = (
                            f"imported aiows from {r.get('aiows_file')}, not {expected}"
                        )
                        error = error or f"{client}: {r['error']}"
                    print(
                        f"[{i}/{len(processes)}] {client:<14} {label(r):<34} "
                        f"{describe(r)}",
                        flush=True,
                    )
                records += got
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
        if write_chart(
            summaries["cpu_us_per_msg"], case_order, chart, title, meta["clients"]
        ):
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
