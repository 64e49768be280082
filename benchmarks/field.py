"""The field's method: round trips per second against a native echo server.

``python -m benchmarks --field`` follows the public websocket-benchmark's
method rather than this harness's own: one connection, one message in
flight, echo round trips per second, at 256 B, 8 KiB, 100 KB and 2 MB, on
uvloop, over TCP and over TLS, against a C++ echo server built on
Boost.Beast (``benchmarks/beast/echo_server.cpp``, written for aiows; the
field's own server is not copied).  Every client of the harness runs, each
in a fresh process, in interleaved rounds; the report is the median.

The server is compiled on first use with the system's C++ compiler and
Debian's Boost (``apt install g++ libboost-dev libssl-dev``) into
``benchmarks/results/beast-echo-server``, and again whenever its source is
newer than the binary.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "beast" / "echo_server.cpp"
BINARY = HERE / "results" / "beast-echo-server"
#: The command that builds the server (the source and output are appended).
BUILD: tuple[str, ...] = ("-O2", "-std=c++20")
LIBS: tuple[str, ...] = ("-lssl", "-lcrypto")


class BuildError(RuntimeError):
    """The echo server could not be built: no compiler, or no Boost."""


def echo_server_binary(binary: Path = BINARY, source: Path = SOURCE) -> Path:
    """The Beast echo server, built first if it is missing or out of date."""
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise BuildError("no C++ compiler: install g++ (apt install g++)")
    if not Path("/usr/include/boost/beast.hpp").exists() and not os.environ.get(
        "CPLUS_INCLUDE_PATH"
    ):
        raise BuildError(
            "Boost.Beast's headers are missing: apt install libboost-dev libssl-dev"
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    print(f"building {binary.name} (about two minutes, once)", flush=True)
    done = subprocess.run(
        [compiler, *BUILD, str(source), "-o", str(binary), *LIBS],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise BuildError(f"building the echo server failed:\n{tail}")
    return binary


def write_certificates(directory: Path) -> tuple[Path, Path]:
    """A throw-away CA (``ca.pem``, which the clients trust) and a server
    certificate for 127.0.0.1; the server's chain and key files."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    chain = directory / "server-chain.pem"
    chain.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    key = directory / "server-key.pem"
    issued.private_key_pem.write_to_path(str(key))
    return chain, key


def start_field_server(
    directory: Path, cpu: int
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    """Start the Beast echo server; the process and the ports it printed."""
    binary = echo_server_binary()
    chain, key = write_certificates(directory)
    command = [str(binary), str(chain), str(key)]
    if cpu >= 0:
        command.append(str(cpu))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        raise RuntimeError("the Beast echo server did not start")
    ports: dict[str, int] = json.loads(line)
    return proc, ports


#: The columns of the published table, and its ratios: each aiows API
#: against its counterpart (the targets of the field's method).
FIELD_CLIENTS: tuple[tuple[str, str], ...] = (
    ("aiows", "aiows"),
    ("aiows-ws", "aiows-ws"),
    ("aiows-listener", "listener"),
    ("aiohttp", "aiohttp"),
    ("websockets", "websockets"),
    ("picows-ws", "picows-ws"),
    ("picows-cb", "picows-cb"),
    ("picows-fut", "picows-fut"),
    ("aiows-sync", "aiows.sync"),
    ("websockets-sync", "ws.sync"),
    ("websocket-client", "ws-client"),
)
FIELD_RATIOS: tuple[tuple[str, str, str], ...] = (
    ("aiows", "aiohttp", "aiows/aiohttp"),
    ("aiows-ws", "picows-ws", "ws/picows-ws"),
    ("aiows-listener", "picows-cb", "listener/picows-cb"),
    ("aiows-sync", "websockets-sync", "sync/ws.sync"),
)


def field_table(summary: dict[str, Any]) -> str:
    """Round trips per second, as reStructuredText, from a run's summary
    (``msgs_per_s``: ``{case: {client: {"median": ...}}}``)."""
    from benchmarks.rst import grid

    rates: dict[str, dict[str, dict[str, float]]] = summary["msgs_per_s"]
    scenarios = list(dict.fromkeys(case.rsplit(" / ", 1)[0] for case in rates))

    def rate(scenario: str, client: str) -> float | None:
        for case, row in rates.items():
            if case.rsplit(" / ", 1)[0] == scenario and client in row:
                return row[client]["median"]
        return None

    clients = [(c, h) for c, h in FIELD_CLIENTS if any(rate(s, c) for s in scenarios)]
    ratios = [
        r
        for r in FIELD_RATIOS
        if any(rate(s, r[0]) and rate(s, r[1]) for s in scenarios)
    ]
    rows = [["round trips/s", *(h for _, h in clients), *(r[2] for r in ratios)]]
    for scenario in scenarios:
        row = [scenario.removeprefix("field ")]
        for client, _ in clients:
            value = rate(scenario, client)
            row.append("—" if value is None else f"{value:,.0f}")
        for mine, theirs, _ in ratios:
            a, b = rate(scenario, mine), rate(scenario, theirs)
            row.append("—" if not a or not b else f"{a / b:.2f}")
        rows.append(row)
    return grid(rows)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.field RESULTS.json``: the published table."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.field RESULTS.json", file=sys.stderr)
        return 2
    data = json.loads(Path(args[0]).read_text())
    print(field_table(data["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
