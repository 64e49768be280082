"""Turn the raw per-process records into medians, tables and a chart.

Each client process reports one record per job (see
:mod:`benchmarks.client`).  Here the records of the same client, case and
metric are reduced to their median over the rounds, and laid out as
Markdown tables with one column per client that ran and one column per
ratio of :data:`benchmarks.common.RATIOS` whose two clients ran:
``aiows/peer`` is aiows' value divided by the peer's (``aiows-ws/peer``
aiows' websockets API's), so below 1 means aiows uses less CPU (or memory)
and above 1 means it moves more messages per second.  The chart
(matplotlib, Agg backend, log scale) shows CPU µs per message per scenario
and client.
"""

from __future__ import annotations

import statistics
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import CLIENTS, RATIOS, THREAD_CLIENTS, THREAD_LOOP, case_id

Summary = dict[str, dict[str, dict[str, float]]]


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Summary]:
    """Medians over rounds: ``{table: {case: {client: value}}}``.

    Tables: ``cpu_us_per_msg``, ``msgs_per_s``, ``kib_per_conn``,
    ``threads_per_conn`` (the threading clients), ``handshakes_per_s``,
    ``cpu_us_per_handshake``.
    """
    samples: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in records:
        if not r.get("ok"):
            continue
        client = r["client"]
        if r["task"] == "throughput":
            case = case_id(r["scenario"], r["loop"])
            for metric in ("cpu_us_per_msg", "msgs_per_s"):
                samples[metric, case, client].append(r[metric])
        elif r["task"] == "memory":
            case = "compression on" if r["compress"] else "compression off"
            samples["kib_per_conn", case, client].append(r["kib_per_conn"])
            if "threads_per_conn" in r:
                samples["threads_per_conn", case, client].append(r["threads_per_conn"])
        elif r["task"] == "handshake":
            case = f"open + close / {r['loop']}"
            for metric in ("handshakes_per_s", "cpu_us_per_handshake"):
                samples[metric, case, client].append(r[metric])
    out: dict[str, Summary] = defaultdict(lambda: defaultdict(dict))
    for (metric, case, client), values in samples.items():
        out[metric][case][client] = {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "n": len(values),
        }
    return {m: {c: dict(v) for c, v in cases.items()} for m, cases in out.items()}


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown_table(
    summary: Summary,
    first_column: str,
    cases: Sequence[str] | None = None,
    clients: Sequence[str] = CLIENTS,
    fmt: Callable[[float | None], str] | None = None,
) -> str:
    """One row per case: medians per client, then the ratios.

    ``clients`` are the columns (those of the run, in the order of
    :data:`~benchmarks.common.CLIENTS`); a ratio gets a column when both of
    its clients are among them.
    """
    ratios = [(a, b) for a, b in RATIOS if a in clients and b in clients]
    header = [first_column, *clients, *(f"{a}/{b}" for a, b in ratios)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for case in cases if cases is not None else list(summary):
        row = summary.get(case, {})
        medians = {c: row[c]["median"] for c in clients if c in row}
        cells = [case, *((fmt or _fmt)(medians.get(c)) for c in clients)]
        for a, b in ratios:
            ours, theirs = medians.get(a), medians.get(b)
            cells.append(f"{ours / theirs:.2f}" if ours is not None and theirs else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _probe_line(info: dict[str, Any]) -> str:
    compiled = ", ".join(info.get("aiows_compiled") or []) or "none (pure Python)"
    return (
        f"  - {info['client']}: `{info.get('aiows_file')}` (compiled: {compiled}; "
        f"python {info.get('python_version')}, `{info.get('python')}`)"
    )


def markdown_report(
    summaries: dict[str, Summary],
    meta: dict[str, Any],
    case_order: Sequence[str],
    failures: Sequence[str],
) -> str:
    """The whole results document."""
    rounds = meta["rounds"]
    clients: Sequence[str] = meta.get("clients", CLIENTS)
    probes: dict[str, dict[str, Any]] = meta.get("probes", {})
    before = [
        f"- aiows-before: {k.removeprefix('aiows_before_').replace('_', ' ')} {meta[k]}"
        for k in ("aiows_before_path", "aiows_before_revision", "python_before")
        if meta.get(k)
    ]
    async_clients = [c for c in clients if c not in THREAD_CLIENTS]
    thread_clients = [c for c in clients if c in THREAD_CLIENTS]
    parts = [
        "# aiows benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- python: {meta['python']} on {meta['platform']}",
        f"- cpu: {meta['cpu']}",
        "- versions: "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v),
        f"- aiows revision: {meta.get('aiows_revision')}",
        *before,
        "- clients: " + ", ".join(clients),
        *(f"- {note}" for note in meta.get("notes", [])),
        "- aiows imported by each aiows client:",
        *(_probe_line(info) for info in probes.values() if not info.get("skip")),
        f"- pinned: server on CPU 0, clients on CPU 1: {meta['pinned']}",
        f"- load average at start / end: {meta['load_start']} / {meta['load_end']}",
        f"- rounds: {rounds}; each value is the median over rounds, each round a "
        "fresh client process per client and case, clients taking turns",
        f"- mode: {meta['mode']}",
        "",
        "Ratios are aiows' value divided by the peer's.",
        "",
        *_family_tables(summaries, meta, case_order, async_clients, "asyncio"),
        *_family_tables(summaries, meta, case_order, thread_clients, "threading"),
    ]
    if failures:
        parts += ["", "## Failures", "", *(f"- {f}" for f in failures)]
    return "\n".join(parts) + "\n"


def _family_tables(
    summaries: dict[str, Summary],
    meta: dict[str, Any],
    case_order: Sequence[str],
    clients: Sequence[str],
    family: str,
) -> list[str]:
    """The tables of one family of clients: the asyncio ones or the
    threading ones (their cases never mix: different loops)."""
    if not clients:
        return []
    threads = family == "threading"
    cases = [c for c in case_order if c.endswith(f" / {THREAD_LOOP}") is threads]
    title = "Threading clients" if threads else "asyncio clients"
    parts = [
        "",
        f"## {title}: client CPU time per message (µs, lower is better)",
        "",
        markdown_table(summaries.get("cpu_us_per_msg", {}), "scenario", cases, clients),
        "",
        f"## {title}: messages per second, wall clock (higher is better)",
        "",
        markdown_table(summaries.get("msgs_per_s", {}), "scenario", cases, clients),
    ]
    memory = summaries.get("kib_per_conn", {})
    if any(c in row for row in memory.values() for c in clients):
        count = meta["thread_connections" if threads else "connections"]
        parts += [
            "",
            f"## {title}: memory per idle open connection (KiB of RSS, "
            f"{count} connections, lower is better)",
            "",
            (
                "websocket-client does not support compression."
                if threads
                else "picows' own API (picows-cb, picows-fut) does not support "
                "compression; picows.websockets (picows-ws) does."
            ),
            "",
            markdown_table(
                memory, "connections", ["compression off", "compression on"], clients
            ),
        ]
        if threads:
            parts += [
                "",
                f"Threads per idle open connection ({count} connections; the "
                "process's threads, as the kernel counts them):",
                "",
                markdown_table(
                    summaries.get("threads_per_conn", {}),
                    "connections",
                    ["compression off", "compression on"],
                    clients,
                    fmt=lambda v: "—" if v is None else f"{v:.3f}",
                ),
            ]
    handshakes = summaries.get("handshakes_per_s", {})
    loop = THREAD_LOOP if threads else "asyncio"
    rows = [c for c in handshakes if c.endswith(f" / {loop}")]
    if rows:
        parts += [
            "",
            f"## {title}: {meta['handshakes']} sequential open + close cycles",
            "",
            *(
                []
                if threads
                else [
                    "aiows, aiows-listener, aiows-before and aiohttp open them "
                    "all through one session (pooled connector); aiows-ws, "
                    "websockets and picows connect as they do (aiows-ws: a "
                    "session per connection, as aiows.connect() without "
                    "session=).",
                    "",
                ]
            ),
            "Cycles per second (higher is better):",
            "",
            markdown_table(handshakes, "cycle", rows, clients),
            "",
            "Client CPU µs per cycle (lower is better):",
            "",
            markdown_table(
                summaries.get("cpu_us_per_handshake", {}), "cycle", rows, clients
            ),
        ]
    return parts


def write_chart(
    summary: Summary,
    case_order: Sequence[str],
    path: Path,
    title: str,
    clients: Sequence[str] = CLIENTS,
) -> bool:
    """Grouped bars of CPU µs/message; False if matplotlib isn't installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False

    cases = [c for c in case_order if c in summary]
    width = 0.8 / len(clients)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.0 * len(cases) + 2), 5.5))
    for i, client in enumerate(clients):
        xs = [k + (i - (len(clients) - 1) / 2) * width for k in range(len(cases))]
        ys = [summary[c].get(client, {}).get("median", 0.0) for c in cases]
        ax.bar(xs, ys, width, label=client)
    ax.set_yscale("log")
    ax.set_ylabel("client CPU µs per message (log scale, lower is better)")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(
        [textwrap.fill(c.replace(" / ", " on "), 14) for c in cases], fontsize=8
    )
    ax.set_title(title)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
