"""Instructions per message under callgrind: ``python -m benchmarks.instructions``.

Wall-clock and CPU-time figures move with whatever else the machine does;
instruction counts do not.  This runs each client's ping-pong (the same
client code as the timed harness, :mod:`benchmarks.client`) under
``valgrind --tool=callgrind`` twice, with ``--short`` and ``--long`` timed
messages, against the usual picows echo server (run natively), and reports
the difference divided by the difference in messages: the instructions one
more round trip costs the client process (interpreter, library, event loop
and system-call entry; the kernel's work is not counted).  Start-up, imports,
the handshake and the warm-up cancel out.

Needs valgrind (``apt install valgrind``).  Each client takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CLIENTS, SCENARIOS_BY_NAME, THREAD_CLIENTS, THREAD_LOOP
from benchmarks.run import ROOT, child_env, start_server, stop_server

#: Peers compared, ``client: peer``: each aiows API with its counterpart.
PAIRS: dict[str, str] = {
    "aiows": "aiohttp",
    "aiows-ws": "picows-ws",
    "aiows-listener": "picows-cb",
    "aiows-sync": "websockets-sync",
}

_TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def instructions(
    client: str, job: dict[str, object], urls: dict[str, str], ca: Path, out: Path
) -> int:
    """Instructions the client process executed for ``job``, under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.client",
        "--client",
        client,
        "--jobs",
        json.dumps([job]),
        "--urls",
        json.dumps(urls),
        "--ca",
        str(ca),
        "--cpu",
        "-1",
    ]
    done = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True)
    records = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    if done.returncode != 0 or not records or not records[0].get("ok"):
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{client} failed: {records} {' / '.join(tail)}")
    match = _TOTALS.search(out.read_bytes())
    if match is None:
        raise RuntimeError(f"no totals in {out}")
    return int(match[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients",
        default="aiows,aiohttp,aiows-listener,picows-cb",
        help="comma-separated, of: " + ", ".join(CLIENTS),
    )
    parser.add_argument("--scenario", default="pingpong 256 B")
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--short", type=int, default=500)
    parser.add_argument("--long", type=int, default=2500)
    args = parser.parse_args(argv)
    if args.scenario not in SCENARIOS_BY_NAME:
        parser.error(f"unknown scenario {args.scenario!r}")
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    per_message: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="aiows-callgrind-") as tmp:
        ca_dir = Path(tmp)
        server, ports = start_server(ca_dir, -1)
        urls = {
            "plain": f"ws://127.0.0.1:{ports['plain']}/",
            "tls": f"wss://127.0.0.1:{ports['tls']}/",
            "deflate": f"ws://127.0.0.1:{ports['deflate']}/",
        }
        try:
            for client in clients:
                counts = []
                for n in (args.short, args.long):
                    job = {
                        "task": "throughput",
                        "scenario": args.scenario,
                        # The threading clients have no event loop.
                        "loop": THREAD_LOOP if client in THREAD_CLIENTS else args.loop,
                        "count": n,
                        "warmup": 50,
                    }
                    out = ca_dir / f"{client}-{n}.callgrind"
                    ca = ca_dir / "ca.pem"
                    counts.append(instructions(client, job, urls, ca, out))
                per_message[client] = (counts[1] - counts[0]) / (args.long - args.short)
                print(
                    f"{client:<16} {per_message[client]:>10,.0f} instructions/message",
                    flush=True,
                )
        finally:
            stop_server(server)
    print(f"\n{args.scenario} / {args.loop}, client instructions per round trip")
    for client, peer in PAIRS.items():
        if client in per_message and peer in per_message:
            ratio = per_message[client] / per_message[peer]
            print(f"  {client} / {peer}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
