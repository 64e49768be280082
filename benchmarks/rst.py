"""``python -m benchmarks.rst RESULTS.json``: the tables of ``docs/performance.rst``.

Prints, as reStructuredText, from one run's JSON (``benchmarks/results/*.json``):
the client CPU per message of every client with the ratios the targets are
stated in (aiows against aiohttp, websockets and picows-fut, aiows-ws
against websockets and picows-ws, the listener against picows-cb; the
threading face against websockets' threading client and websocket-client),
and the memory, thread and handshake figures.  The docs' tables
are pasted from its output, so they come from one run and nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import _fmt

CLIENTS = (
    "aiows",
    "aiows-ws",
    "aiows-listener",
    "aiohttp",
    "websockets",
    "picows-ws",
    "picows-cb",
    "picows-fut",
)
HEADS = (
    "aiows",
    "aiows-ws",
    "listener",
    "aiohttp",
    "websockets",
    "picows-ws",
    "picows-cb",
    "picows-fut",
)
RATIOS = (
    ("aiows", "aiohttp", "/aiohttp"),
    ("aiows", "websockets", "/websockets"),
    ("aiows", "picows-fut", "/picows-fut"),
    ("aiows-ws", "websockets", "ws/websockets"),
    ("aiows-ws", "picows-ws", "ws/picows-ws"),
    ("aiows-listener", "picows-cb", "listener/picows-cb"),
)


def grid(rows: list[list[str]]) -> str:
    """A simple RST table, the first row its header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * w for w in widths)

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([rule, line(rows[0]), rule, *map(line, rows[1:]), rule])


def median(summary: dict[str, Any], case: str, client: str) -> float | None:
    value = summary.get(case, {}).get(client)
    return None if value is None else float(value["median"])


def cpu_table(summary: dict[str, Any], cases: list[str]) -> str:
    rows = [["scenario", *HEADS, *(r[2] for r in RATIOS)]]
    for case in cases:
        scenario, _, loop = case.partition(" / ")
        values = [median(summary, case, c) for c in CLIENTS]
        cells = [f"{scenario.replace('pingpong', 'ping-pong')}, {loop}"]
        cells += [_fmt(v) for v in values]
        for a, b, _ in RATIOS:
            x, y = median(summary, case, a), median(summary, case, b)
            cells.append(f"{x / y:.2f}" if x is not None and y else "—")
        rows.append(cells)
    return grid(rows)


def other_table(summaries: dict[str, Any]) -> str:
    # A simple table row with an empty first cell continues the row above:
    # the header needs a word there.
    rows = [["measure", *HEADS]]
    memory = summaries.get("kib_per_conn", {})
    for case, label in (
        ("compression off", "KiB per idle connection, compression off"),
        ("compression on", "KiB per idle connection, compression negotiated"),
    ):
        rows.append([label, *(_fmt(median(memory, case, c)) for c in CLIENTS)])
    for table, label in (
        ("handshakes_per_s", "open + close cycles per second"),
        ("cpu_us_per_handshake", "client CPU µs per open + close cycle"),
    ):
        summary = summaries.get(table, {})
        for case in summary:
            rows.append([label, *(_fmt(median(summary, case, c)) for c in CLIENTS)])
    return grid(rows)


THREAD_CLIENTS = ("aiows-sync", "websockets-sync", "websocket-client")
THREAD_HEADS = ("aiows.sync", "websockets.sync", "websocket-client")
THREAD_RATIOS = (
    ("aiows-sync", "websockets-sync", "/websockets.sync"),
    ("aiows-sync", "websocket-client", "/websocket-client"),
)


def thread_cpu_table(summary: dict[str, Any], cases: list[str]) -> str:
    """The threading clients' CPU per message, with their ratios."""
    rows = [["scenario", *THREAD_HEADS, *(r[2] for r in THREAD_RATIOS)]]
    for case in cases:
        scenario, _, _ = case.partition(" / ")
        cells = [scenario.replace("pingpong", "ping-pong")]
        cells += [_fmt(median(summary, case, c)) for c in THREAD_CLIENTS]
        for a, b, _ in THREAD_RATIOS:
            x, y = median(summary, case, a), median(summary, case, b)
            cells.append(f"{x / y:.2f}" if x is not None and y else "—")
        rows.append(cells)
    return grid(rows)


def thread_other_table(summaries: dict[str, Any]) -> str:
    """Threads, memory and handshakes of the threading clients."""
    rows = [["measure", *THREAD_HEADS]]
    threads = summaries.get("threads_per_conn", {})
    memory = summaries.get("kib_per_conn", {})
    for case, label in (
        ("compression off", "compression off"),
        ("compression on", "compression negotiated"),
    ):
        rows.append(
            [
                f"threads per idle connection, {label}",
                *(
                    "—" if (v := median(threads, case, c)) is None else f"{v:.3f}"
                    for c in THREAD_CLIENTS
                ),
            ]
        )
        rows.append(
            [
                f"KiB per idle connection, {label}",
                *(_fmt(median(memory, case, c)) for c in THREAD_CLIENTS),
            ]
        )
    for table, label in (
        ("handshakes_per_s", "open + close cycles per second"),
        ("cpu_us_per_handshake", "client CPU µs per open + close cycle"),
    ):
        summary = summaries.get(table, {})
        for case in summary:
            if case.endswith("/ threads"):
                rows.append(
                    [label, *(_fmt(median(summary, case, c)) for c in THREAD_CLIENTS)]
                )
    return grid(rows)


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text())
    summaries = data["summary"]
    meta = data["meta"]
    cpu = summaries["cpu_us_per_msg"]
    cases = [case for case in cpu if not case.endswith("/ threads")]
    thread_cases = [case for case in cpu if case.endswith("/ threads")]
    print(f".. from {argv[0]}: {meta['date']}, {meta['cpu']},")
    print(
        f"   Python {meta['python']}, load {meta['load_start']} / {meta['load_end']},"
    )
    print(f"   aiows {meta['aiows_revision']}")
    if cases:
        print()
        print(cpu_table(cpu, cases))
        print()
        print(other_table(summaries))
    if thread_cases:
        print()
        print(thread_cpu_table(cpu, thread_cases))
        print()
        print(thread_other_table(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
