"""``python -m benchmarks.scaling``: hostile input must cost CPU linear in size.

For each family of hostile server input, a scripted raw server on 127.0.0.1
sends the stream built at size N and at size 4N to a real
:func:`aiows.ws_connect` client, and the client's CPU time is measured.  A
cost linear in the size grows about 4x (less, while the fixed cost of a
connection dominates); a quadratic one grows towards 16x.

The server runs its own event loop in a second thread, and the cost is the
client thread's CPU time (``time.thread_time()``) from opening the
connection to the end of the close handshake, so none of the server's work
is counted.  Each size is measured ``--repeats`` times and the best is kept:
noise from other work on the machine only ever adds time.

Families (the server's bytes after the request; ``n`` is the size):

* ``frames``: n one-byte binary messages, then a close frame.
* ``fragments``: one binary message in n one-byte fragments.
* ``deflate streams``: one compressed message made of n deflate streams,
  each ending in a final block (RFC 7692 §7.2.3.4) and inflating to 1 KiB.
* ``control frames``: n empty pings, each of which the client answers.
* ``header line``: a 101 whose ``Connection`` line is n bytes of tokens,
  which the client's handshake check parses one by one.
* ``header fields``: a 101 with n extra ``Connection`` fields.
* ``header line (over limit)`` and ``header fields (over limit)``: the same
  far past aiohttp's limits on response headers (8190-byte lines, 128
  fields by default), which make ``ws_connect`` fail: the cost must stay
  flat or linear until the error, whatever the size.

The printed table gives the best CPU time at N and 4N and their ratio;
``tests/stress/test_scaling.py`` runs a short variant in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiows

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 6455 §5.2 opcodes, spelled out here so the server is independent of
# the aiows code it tests.
CONTINUATION, BINARY, CLOSE, PING = 0x0, 0x2, 0x8, 0x9
FIN = 0x80
RSV1 = 0x40  # RFC 7692 §6: "Per-Message Compressed" bit
# RFC 6455 §7.4.1: normal closure, as a close frame's payload.
CLOSE_1000 = (1000).to_bytes(2, "big")

# The 101 every family starts from (RFC 6455 §4.2.2), without its final CRLF.
HANDSHAKE = (
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: {accept}\r\n"
)


def server_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """An unmasked server frame (RFC 6455 §5.2), built without aiows."""
    b0 = (FIN if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = bytes([b0, n])
    elif n < 65536:
        header = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([b0, 127]) + n.to_bytes(8, "big")
    return header + payload


@dataclass(frozen=True)
class Hostile:
    """What the server sends at one size, and what the client should see."""

    #: Extra header lines of the 101, each ending in CRLF.
    headers: str
    #: Bytes sent in the same write as the 101.
    after_101: bytes
    #: Data messages the client should receive: (count, total bytes).
    expect: tuple[int, int] | None
    #: Keywords for ``ws_connect``.
    options: dict[str, Any]


def many_frames(n: int) -> Hostile:
    frames = server_frame(BINARY, b"x") * n
    return Hostile("", frames + server_frame(CLOSE, CLOSE_1000), (n, n), {})


def many_fragments(n: int) -> Hostile:
    assert n >= 2
    frames = server_frame(BINARY, b"x", fin=False)
    frames += server_frame(CONTINUATION, b"x", fin=False) * (n - 2)
    frames += server_frame(CONTINUATION, b"x")
    return Hostile("", frames + server_frame(CLOSE, CLOSE_1000), (1, n), {})


def _finished_stream(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()  # ends with BFINAL=1


# What each deflate stream inflates to: 11 bytes that become 1 KiB, so the
# output grows as fast as the input is cheap to send.
STREAM_OUTPUT = 1024


def many_deflate_streams(n: int) -> Hostile:
    payload = _finished_stream(b"x" * STREAM_OUTPUT) * n
    frame = server_frame(BINARY, payload)
    frame = bytes([frame[0] | RSV1]) + frame[1:]
    size = n * STREAM_OUTPUT
    return Hostile(
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        frame + server_frame(CLOSE, CLOSE_1000),
        (1, size),
        # Room for the message: the cost, not the limit, is measured here.
        {"compress": 15, "max_msg_size": 2 * size},
    )


def many_control_frames(n: int) -> Hostile:
    frames = server_frame(PING) * n
    return Hostile("", frames + server_frame(CLOSE, CLOSE_1000), (0, 0), {})


def long_header_line(n: int) -> Hostile:
    # "keep-alive, " is 12 bytes: a line of n bytes holds n / 12 tokens.
    tokens = ", keep-alive" * max(0, (n - len("Connection: Upgrade")) // 12)
    line = f"Connection: Upgrade{tokens}\r\n"
    return Hostile(line, server_frame(CLOSE, CLOSE_1000), (0, 0), {})


def many_header_fields(n: int) -> Hostile:
    fields = "Connection: keep-alive\r\n" * n
    return Hostile(fields, server_frame(CLOSE, CLOSE_1000), (0, 0), {})


@dataclass(frozen=True)
class Family:
    """One kind of hostile input and the sizes it is measured at."""

    name: str
    build: Callable[[int], Hostile]
    #: N for the full run; 4N is measured too.
    size: int
    #: N for the CI variant (tests/stress/test_scaling.py).
    ci_size: int
    #: What ``size`` counts, for the table.
    unit: str


FAMILIES: tuple[Family, ...] = (
    Family("frames", many_frames, 25_000, 5_000, "messages"),
    Family("fragments", many_fragments, 50_000, 10_000, "fragments"),
    Family("deflate streams", many_deflate_streams, 8_000, 1_000, "streams"),
    Family("control frames", many_control_frames, 25_000, 5_000, "pings"),
    # aiohttp allows header lines up to 8190 bytes and 128 fields by
    # default (ClientSession max_line_size, max_headers): 4N stays within.
    Family("header line", long_header_line, 2_000, 2_000, "bytes"),
    Family("header fields", many_header_fields, 30, 30, "fields"),
    Family("header line (over limit)", long_header_line, 256_000, 64_000, "bytes"),
    Family("header fields (over limit)", many_header_fields, 4_000, 1_000, "fields"),
)

FAMILIES_BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}


class ScriptedServer:
    """A raw asyncio server in its own thread, answering with a script.

    ``script`` is set before each connection; the server answers the
    upgrade with its headers, sends its bytes in the same write, then reads
    and drops what the client sends (pongs, the close reply) until the
    client's close frame, and closes the TCP connection as RFC 6455 §7.1.1
    asks the server to.
    """

    def __init__(self) -> None:
        self.script: Hostile | None = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        # Connections being served, finished off when the server stops.
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._loop.close()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        script = self.script
        assert script is not None
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            key = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
            head = HANDSHAKE.format(accept=accept.decode()) + script.headers + "\r\n"
            writer.write(head.encode("latin-1") + script.after_101)
            await writer.drain()
            await _read_until_close(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up, as it should on the over-limit families
        finally:
            writer.close()
            self._handlers.discard(task)


async def _read_until_close(reader: asyncio.StreamReader) -> None:
    """Drop the client's frames up to and including its close frame."""
    buffer = bytearray()
    pos = 0
    while True:
        # Frames are scanned in place; the buffer is only trimmed once per
        # read, so that draining n pongs costs the server O(n) too.
        while len(buffer) - pos >= 2:
            opcode = buffer[pos] & 0x0F
            length = buffer[pos + 1] & 0x7F
            header = 2
            if length == 126:
                header, length = 4, int.from_bytes(buffer[pos + 2 : pos + 4], "big")
            elif length == 127:
                header, length = 10, int.from_bytes(buffer[pos + 2 : pos + 10], "big")
            end = pos + header + 4 + length  # client frames carry a mask key
            if end > len(buffer):
                break
            if opcode == CLOSE:
                return
            pos = end
        del buffer[:pos]
        pos = 0
        data = await reader.read(65536)
        if not data:
            return
        buffer += data


@dataclass(frozen=True)
class Outcome:
    """What one connection cost the client and what it saw."""

    cpu: float
    #: Data messages received: (count, total bytes).
    received: tuple[int, int]
    close_code: int | None
    #: The exception ``ws_connect`` raised, if any.
    error: BaseException | None


async def _connect_and_receive(url: str, options: dict[str, Any]) -> Outcome:
    count = size = 0
    start = time.thread_time()
    try:
        async with aiows.ws_connect(url, **options) as ws:
            while True:
                msg = await ws.receive()
                if msg.type in (aiows.WSMsgType.CLOSE, aiows.WSMsgType.CLOSED):
                    break
                if msg.type is aiows.WSMsgType.ERROR:
                    raise msg.data
                count += 1
                size += len(msg.data)
        code = ws.close_code
    except Exception as exc:
        return Outcome(time.thread_time() - start, (count, size), None, exc)
    return Outcome(time.thread_time() - start, (count, size), code, None)


def measure_once(server: ScriptedServer, family: Family, n: int) -> Outcome:
    """One connection of ``family`` at size ``n``; checks what arrived."""
    script = family.build(n)
    server.script = script
    outcome = asyncio.run(_connect_and_receive(server.url, script.options))
    if outcome.error is None:
        if outcome.received != script.expect or outcome.close_code != 1000:
            raise AssertionError(
                f"{family.name} at {n}: received {outcome.received} and close "
                f"code {outcome.close_code}, expected {script.expect} and 1000"
            )
    elif "over limit" not in family.name:
        raise AssertionError(f"{family.name} at {n} failed: {outcome.error!r}")
    return outcome


@dataclass(frozen=True)
class Growth:
    """The best CPU time of a family at N and at 4N."""

    family: Family
    n: int
    small: float
    large: float
    #: How the large size ended: "ok" or the error ``ws_connect`` raised.
    ending: str

    @property
    def ratio(self) -> float:
        return self.large / self.small


def measure(server: ScriptedServer, family: Family, n: int, repeats: int = 3) -> Growth:
    """Best-of-``repeats`` CPU time at ``n`` and ``4 * n``.

    The two sizes take turns, so a burst of other load on the machine
    spreads over both instead of landing on one.
    """
    small = large = float("inf")
    ending = ""
    for _ in range(repeats):
        small = min(small, measure_once(server, family, n).cpu)
        outcome = measure_once(server, family, 4 * n)
        large = min(large, outcome.cpu)
        error = outcome.error
        ending = "ok" if error is None else f"{type(error).__name__}: {error}"
    return Growth(family, n, small, large, ending)


def table(rows: list[Growth]) -> str:
    """The results as a reStructuredText table, as in docs/reliability.rst."""
    header = ("family", "N", "CPU at N", "CPU at 4N", "4N / N")
    body = [
        (
            g.family.name,
            f"{g.n:,} {g.family.unit}",
            f"{g.small * 1000:.1f} ms",
            f"{g.large * 1000:.1f} ms",
            f"{g.ratio:.1f}x",
        )
        for g in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(5)]
    rule = "  ".join("=" * w for w in widths)
    lines = [
        rule,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        rule,
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body
    ]
    lines.append(rule)
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--family",
        action="append",
        choices=list(FAMILIES_BY_NAME),
        help="measure only this family (repeatable); default: all",
    )
    parser.add_argument(
        "--ci", action="store_true", help="the CI sizes (tests/stress/test_scaling.py)"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every N by this"
    )
    parser.add_argument("--repeats", type=int, default=3, help="best of (default 3)")
    args = parser.parse_args(argv)
    families = [FAMILIES_BY_NAME[name] for name in args.family or FAMILIES_BY_NAME]
    print(
        f"Python {sys.version.split()[0]}, aiows {aiows.__version__}, "
        f"compiled masking: {aiows.core.mask.COMPILED}",
        flush=True,
    )
    rows: list[Growth] = []
    with ScriptedServer() as server:
        for family in families:
            base = family.ci_size if args.ci else family.size
            n = max(2, round(base * args.scale))
            growth = measure(server, family, n, args.repeats)
            rows.append(growth)
            print(
                f"{family.name}: {growth.small * 1000:.1f} ms -> "
                f"{growth.large * 1000:.1f} ms ({growth.ratio:.1f}x); "
                f"4N ended: {growth.ending}",
                flush=True,
            )
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
