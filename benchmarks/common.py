"""Definitions shared by the orchestrator, the echo server and the clients.

Nothing here measures anything: it names the clients and scenarios, and
holds the small OS helpers (CPU pinning, file-descriptor limit, resident
set size) that the processes use.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

#: Every client the harness knows, in the order of the tables' columns.
#: ``aiows-ws`` is aiows' websockets API (``aiows.connect``), ``picows-ws``
#: picows' (``picows.websockets``), both run as websockets is.  ``picows-cb``
#: sends the next message from its frame callback (no task wake-up per
#: message), ``picows-fut`` resolves a future per echo that the
#: loop awaits (the await model of aiows' coroutine API).  ``aiows-listener``
#: is aiows' callback API, run only when the aiows under test has one;
#: ``aiows-before`` is the coroutine API of another aiows build, run only
#: when ``--aiows-before`` or ``--python-before`` says where it is.
CLIENTS: tuple[str, ...] = (
    "aiows",
    "aiows-ws",
    "aiows-listener",
    "aiows-before",
    "aiohttp",
    "websockets",
    "picows-ws",
    "picows-cb",
    "picows-fut",
    "aiows-sync",
    "websockets-sync",
    "websocket-client",
)
#: The threading clients (:mod:`benchmarks.threaded`): no event loop, so
#: they run on the loop named ``threads``, and the asyncio clients never do.
THREAD_CLIENTS: tuple[str, ...] = ("aiows-sync", "websockets-sync", "websocket-client")
#: The clients a run has unless ``--clients`` says otherwise (aiows-listener
#: is then skipped with a note if aiows has no listener API).
DEFAULT_CLIENTS: tuple[str, ...] = tuple(c for c in CLIENTS if c != "aiows-before")
#: Names ``--clients`` also accepts, standing for several clients.
CLIENT_ALIASES: dict[str, tuple[str, ...]] = {
    "picows": ("picows-ws", "picows-cb", "picows-fut")
}
#: The clients that import aiows, whose ``aiows.__file__`` is checked.
AIOWS_CLIENTS: tuple[str, ...] = (
    "aiows",
    "aiows-ws",
    "aiows-listener",
    "aiows-before",
    "aiows-sync",
)
#: Ratio columns of the tables, ``numerator/denominator``: aiows against
#: each peer and its own other build, and each of its other APIs against the
#: peers with the same API (aiows-ws against websockets and picows-ws, the
#: listener against picows-cb).  A column appears only if both clients have results.
RATIOS: tuple[tuple[str, str], ...] = (
    ("aiows", "aiows-before"),
    ("aiows", "aiohttp"),
    ("aiows", "websockets"),
    ("aiows", "picows-ws"),
    ("aiows", "picows-cb"),
    ("aiows", "picows-fut"),
    ("aiows-ws", "websockets"),
    ("aiows-ws", "picows-ws"),
    ("aiows-listener", "picows-cb"),
    ("aiows-sync", "websockets-sync"),
    ("aiows-sync", "websocket-client"),
)
#: Distributions whose versions the results record.
LIBRARIES: tuple[str, ...] = (
    "aiows",
    "aiohttp",
    "websockets",
    "picows",
    "uvloop",
    "aiofastnet",
    "websocket-client",
)
#: Event loops every throughput scenario runs on: the asyncio clients on
#: the first two, the threading clients on ``threads`` (no loop at all).
LOOPS: tuple[str, ...] = ("asyncio", "uvloop", "threads")
THREAD_LOOP = "threads"
#: Loops ``--loops`` also accepts: the same with aiofastnet's transports.
OTHER_LOOPS: tuple[str, ...] = ("asyncio+aiofastnet", "uvloop+aiofastnet")
#: Clients that can negotiate permessage-deflate.
COMPRESSING_CLIENTS: tuple[str, ...] = (
    "aiows",
    "aiows-ws",
    "aiows-listener",
    "aiows-before",
    "aiohttp",
    "websockets",
    "picows-ws",
    "aiows-sync",
    "websockets-sync",
)


def loops_of(client: str, loops: list[str]) -> list[str]:
    """The loops of ``loops`` that ``client`` runs on."""
    if client in THREAD_CLIENTS:
        return [loop for loop in loops if loop == THREAD_LOOP]
    return [loop for loop in loops if loop != THREAD_LOOP]


#: Largest message a client accepts (the 1 MiB scenario must fit).
MAX_MESSAGE = 16 * 1024 * 1024


class EchoError(RuntimeError):
    """The server sent something other than the expected echo."""


@dataclass(frozen=True)
class Scenario:
    """One throughput workload: what is sent, how, and how many times.

    ``kind`` is ``"pingpong"`` (send one message, wait for its echo, repeat)
    or ``"pipelined"`` (keep ``window`` messages in flight: send ``window``,
    then send one more for every echo received until ``count`` were sent).
    ``count`` is the number of timed messages at ``--scale 1``; about 1 s of
    work for the slowest client on an idle machine.
    """

    name: str
    kind: str
    size: int
    count: int
    window: int = 1
    tls: bool = False


#: The field's method (``--field``, :mod:`benchmarks.field`): one message in
#: flight, 256 B to 2 MB, over TCP and TLS, against the Beast echo server.
FIELD_SCENARIOS: tuple[Scenario, ...] = tuple(
    Scenario(f"field{' TLS' if tls else ''} {label}", "pingpong", size, count, tls=tls)
    for tls in (False, True)
    for label, size, count in (
        ("256 B", 256, 20_000),
        ("8 KiB", 8 * 1024, 15_000),
        ("100 KB", 100_000, 3_000),
        ("2 MB", 2_000_000, 150),
    )
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("pingpong 256 B", "pingpong", 256, 20_000),
    Scenario("pingpong 8 KiB", "pingpong", 8 * 1024, 15_000),
    Scenario("pingpong 100 KB", "pingpong", 100_000, 3_000),
    Scenario("pipelined 64 B", "pipelined", 64, 100_000, window=100),
    Scenario("pipelined 4 KiB", "pipelined", 4 * 1024, 50_000, window=100),
    Scenario("echo 1 MiB", "pingpong", 1024 * 1024, 300),
    Scenario("TLS pingpong 8 KiB", "pingpong", 8 * 1024, 10_000, tls=True),
)
#: The scenarios the threading clients run (issue 19's: no TLS).
THREAD_SCENARIOS: frozenset[str] = frozenset(
    s.name for s in (*SCENARIOS, *FIELD_SCENARIOS) if not s.tls
)

SCENARIOS_BY_NAME: dict[str, Scenario] = {
    s.name: s for s in (*SCENARIOS, *FIELD_SCENARIOS)
}


def case_id(scenario: str, loop: str) -> str:
    """The label of a scenario run on a loop, e.g. ``pingpong 256 B / uvloop``."""
    return f"{scenario} / {loop}"


def pin_to_cpu(cpu: int) -> bool:
    """Pin this process to ``cpu``; False where the OS or machine can't."""
    if cpu < 0 or not hasattr(os, "sched_setaffinity"):
        return False
    try:
        if cpu not in os.sched_getaffinity(0):
            return False
        os.sched_setaffinity(0, {cpu})
    except OSError:
        return False
    return True


def can_pin(cpus: tuple[int, ...]) -> bool:
    """Whether all of ``cpus`` are available to this process for pinning."""
    if not hasattr(os, "sched_getaffinity"):
        return False
    available = os.sched_getaffinity(0)
    return all(cpu in available for cpu in cpus)


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The current resident set size of this process, in bytes.

    Read from ``/proc/self/statm`` (the current value, Linux); elsewhere
    falls back to ``ru_maxrss``, the peak, which for a growing heap is
    close enough.
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # ru_maxrss is in KiB on Linux and BSD, in bytes on macOS.
        return peak if os.uname().sysname == "Darwin" else peak * 1024
