"""Fuzz target for the sans-I/O core: the frame parser and the handshake check.

Runs without extra dependencies: a seeded random loop that feeds

* random bytes, and valid server streams (plain and compressed, fragmented,
  with control frames) mutated by bit flips, byte insertions and deletions,
  length-field rewrites, truncation and splicing, cut into random chunks,
  to :class:`aiows.core.parser.FrameParser` with and without
  permessage-deflate and with small ``max_msg_size`` values;
* random status codes and header lists to
  :func:`aiows.core.handshake.check_response`.

What must hold, on every input:

* ``feed()`` never raises; a protocol violation only sets ``parser.exc``,
  an :mod:`aiows.core.errors` exception with a close code it may send;
  ``check_response`` raises nothing but ``HandshakeError`` subclasses;
* the parser's buffered bytes stay within a frame header plus a control
  frame, what it accumulates for a message within ``max_msg_size``, and the
  ``tracemalloc`` peak of a sampled case within ``max_msg_size`` plus the
  input size plus a constant;
* no single case takes more than ``CASE_DEADLINE`` seconds (a hang).

Usage::

    python -m tests.fuzz.fuzz_parser                # 60 s
    AIOWS_FUZZ_SECONDS=600 python -m tests.fuzz.fuzz_parser
    AIOWS_FUZZ_SEED=1234 python -m tests.fuzz.fuzz_parser   # replay a run

Inside the normal test run ``tests/fuzz/test_fuzz.py`` runs it for
``AIOWS_FUZZ_SECONDS`` (default 5) seconds.  A failure prints the seed and
the case number and writes the offending input to ``fuzz-failure-*.bin``
(or ``.txt`` for the handshake), so it can be replayed.
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiows.core import errors
from aiows.core.deflate import DeflateParams, PerMessageDeflate
from aiows.core.frames import is_valid_close_code
from aiows.core.handshake import accept_value, check_response
from aiows.core.messages import Fragment, WSMessage, WSMsgType
from aiows.core.parser import FrameParser

#: Longest a single case may take before it counts as a hang (seconds).
CASE_DEADLINE = 10.0
#: What the parser may hold beyond a message: a 14-byte header and a
#: 125-byte control frame, with room to spare.
BUFFER_SLACK = 256
#: Fixed memory a case may use besides its input and messages: zlib's
#: window and state (at most ~300 KiB with a 15-bit window and level 9),
#: event objects, the parser.
MEMORY_SLACK = 512 * 1024
#: One case in this many is run under tracemalloc (it is slow).
TRACE_EVERY = 25

LIMITS = [1, 2, 16, 125, 126, 1000, 4096, 65536]
CLOSE_CODES = [1000, 1001, 1002, 1005, 1006, 1015, 2999, 3000, 4999, 5000, 0]


def server_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0
) -> bytes:
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        return bytes([b0, n]) + payload
    if n < 65536:
        return bytes([b0, 126]) + n.to_bytes(2, "big") + payload
    return bytes([b0, 127]) + n.to_bytes(8, "big") + payload


def random_text(rng: random.Random, size: int) -> bytes:
    alphabet = "aZ0 \u00e9\u20ac\U0001f600\u0000\uffff"
    return "".join(rng.choice(alphabet) for _ in range(size)).encode()


def valid_stream(rng: random.Random, deflate: bool) -> bytes:
    """A stream a correct server might send."""
    compressor = zlib.compressobj(wbits=-15) if deflate else None
    out: list[bytes] = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        if kind < 0.2:
            out.append(
                server_frame(rng.choice([0x9, 0xA]), rng.randbytes(rng.randint(0, 125)))
            )
            continue
        opcode = rng.choice([0x1, 0x2])
        size = rng.choice([0, 1, 10, 125, 126, 300, 2000])
        data = random_text(rng, size) if opcode == 0x1 else rng.randbytes(size)
        cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 3)))
        bounds = [0, *cuts, len(data)]
        compressed = compressor is not None and rng.random() < 0.7
        pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if compressed:
                assert compressor is not None
                piece = compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH)
                if last:
                    piece = piece[:-4]
            rsv = 0x40 if compressed and i == 0 else 0
            out.append(server_frame(opcode if i == 0 else 0, piece, fin=last, rsv=rsv))
            if not last and rng.random() < 0.3:
                out.append(server_frame(0x9, b"mid"))
    if rng.random() < 0.3:
        code = rng.choice(CLOSE_CODES)
        out.append(server_frame(0x8, code.to_bytes(2, "big") + random_text(rng, 3)))
        out.append(rng.randbytes(rng.randint(0, 20)))
    return b"".join(out)


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip bits
            i = min(pos, len(buf) - 1)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 2 and buf:  # delete a range
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 3:  # a hostile length field
            length = rng.choice(
                [126, 127, 125, 0, 65535, 65536, 1 << 40, (1 << 63) - 1]
            )
            buf[pos:pos] = server_frame(rng.randrange(16), b"")[:1] + (
                bytes([length])
                if length < 126
                else bytes([126]) + (length & 0xFFFF).to_bytes(2, "big")
                if length < 65536
                else bytes([127]) + length.to_bytes(8, "big")
            )
        elif op == 4:  # truncate
            del buf[pos:]
        elif op == 5 and buf:  # splice a copy of a range elsewhere
            a = rng.randrange(len(buf))
            buf[pos:pos] = buf[a : a + rng.randint(1, 32)]
        elif op == 6 and buf:  # set a random first byte of a frame-like spot
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
    return bytes(buf)


def chunks(rng: random.Random, data: bytes) -> list[bytes]:
    mode = rng.random()
    if mode < 0.3:
        return [data]
    if mode < 0.4:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(1, 10)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class ParserCase:
    data: bytes
    pieces: list[bytes]
    max_msg_size: int
    deflate: DeflateParams | None
    fragments: bool
    decode_text: bool


def parser_case(rng: random.Random) -> ParserCase:
    deflate = None
    if rng.random() < 0.5:
        deflate = DeflateParams(
            server_no_context_takeover=rng.random() < 0.5,
            client_no_context_takeover=rng.random() < 0.5,
            server_max_window_bits=rng.randint(8, 15),
            client_max_window_bits=rng.randint(8, 15),
        )
    roll = rng.random()
    if roll < 0.15:
        data = rng.randbytes(rng.randint(0, 300))
    elif roll < 0.3:
        # Random frame headers followed by random bytes.
        data = b"".join(
            bytes([rng.randrange(256), rng.randrange(256)])
            + rng.randbytes(rng.randint(0, 12))
            for _ in range(rng.randint(1, 20))
        )
    else:
        data = valid_stream(rng, deflate is not None)
        if roll < 0.9:
            data = mutate(rng, data)
    limit = rng.choice(LIMITS) if rng.random() < 0.9 else 0
    return ParserCase(
        data,
        chunks(rng, data),
        limit,
        deflate,
        rng.random() < 0.5,
        rng.random() < 0.8,
    )


def check_event(event: object, case: ParserCase) -> None:
    if isinstance(event, Fragment):
        assert event.type in (WSMsgType.TEXT, WSMsgType.BINARY), event
        return
    assert isinstance(event, WSMessage), event
    if event.type is WSMsgType.CLOSE:
        assert event.data == 1005 or is_valid_close_code(event.data), event
        assert isinstance(event.extra, str)
        return
    if event.type in (WSMsgType.PING, WSMsgType.PONG):
        assert isinstance(event.data, bytes) and len(event.data) <= 125
        return
    assert event.type in (WSMsgType.TEXT, WSMsgType.BINARY), event
    if event.type is WSMsgType.TEXT and case.decode_text:
        assert isinstance(event.data, str)
        size = len(event.data.encode("utf-8", "surrogatepass"))
    else:
        assert isinstance(event.data, bytes)
        size = len(event.data)
        if event.type is WSMsgType.TEXT:
            event.data.decode("utf-8")  # delivered text is always valid
    if case.max_msg_size:
        assert size <= case.max_msg_size, (size, case.max_msg_size)


def held_bytes(parser: FrameParser) -> int:
    """What the parser holds for an unfinished frame or message."""
    held = len(parser._buffer)
    held += sum(len(p) for p in parser._msg_bytes)
    held += sum(len(t.encode("utf-8", "surrogatepass")) for t in parser._msg_text)
    return held


def run_parser_case(case: ParserCase, trace: bool) -> bool:
    """Run one case; whether it ended in a protocol error."""
    deflate = PerMessageDeflate(case.deflate) if case.deflate is not None else None
    if trace:
        tracemalloc.start()
    try:
        parser = FrameParser(
            max_msg_size=case.max_msg_size,
            decode_text=case.decode_text,
            deflate=deflate,
            fragments=case.fragments,
        )
        for piece in case.pieces:
            try:
                events = parser.feed(piece)
            except errors.ProtocolError as exc:  # allowed, though feed() keeps it
                assert exc.code in (1002, 1007, 1009), exc
                return True
            for event in events:
                check_event(event, case)
            if case.max_msg_size:
                assert held_bytes(parser) <= case.max_msg_size + BUFFER_SLACK, (
                    held_bytes(parser),
                    case.max_msg_size,
                )
            else:
                assert held_bytes(parser) <= len(case.data) * 1100 + BUFFER_SLACK
            if parser.exc is not None:
                assert isinstance(parser.exc, errors.ProtocolError)
                assert parser.exc.code in (1002, 1007, 1009), parser.exc
                assert parser.feed(b"\x81\x00") == []  # stays stopped
                break
            if parser.closed:
                assert parser.feed(b"\x81\x00") == []
                break
        if trace:
            _, peak = tracemalloc.get_traced_memory()
            bound = case.max_msg_size * 4 + len(case.data) * 4 + MEMORY_SLACK
            if case.max_msg_size == 0:
                bound = len(case.data) * 1100 * 4 + MEMORY_SLACK
            assert peak <= bound, (peak, bound)
        return parser.exc is not None
    finally:
        if trace:
            tracemalloc.stop()


HEADER_NAMES = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "X-Junk",
]
EXTENSION_PIECES = [
    "permessage-deflate",
    "PerMessage-Deflate",
    "x-webkit-deflate-frame",
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "=",
    "=8",
    "=15",
    "=16",
    '="10"',
    '="',
    ";",
    ",",
    " ",
    "\t",
    '"',
    "\\",
    "=\u00e9",
]


def header_value(rng: random.Random, name: str, key: str) -> str:
    roll = rng.random()
    if roll < 0.2:
        return "".join(chr(rng.randrange(32, 256)) for _ in range(rng.randint(0, 20)))
    if name == "Sec-WebSocket-Accept":
        return accept_value(key) if roll < 0.8 else accept_value(key)[:-1] + "x"
    if name == "Sec-WebSocket-Extensions":
        return "".join(rng.choice(EXTENSION_PIECES) for _ in range(rng.randint(0, 10)))
    if name == "Upgrade":
        return rng.choice(
            ["websocket", "WebSocket", "h2c, websocket", "", ",,", "web socket"]
        )
    if name == "Connection":
        return rng.choice(["Upgrade", "keep-alive, upgrade", "", "close", ", ,upgrade"])
    if name == "Sec-WebSocket-Protocol":
        return rng.choice(["chat", "chat, superchat", "", "other", ",", "chat,"])
    return str(rng.randrange(1000))


@dataclass
class HandshakeCase:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    key: str = "dGhlIHNhbXBsZSBub25jZQ=="
    protocols: tuple[str, ...] = ()
    offered: int | None = None


def handshake_case(rng: random.Random) -> HandshakeCase:
    case = HandshakeCase(status=101 if rng.random() < 0.9 else rng.randrange(600))
    for name in HEADER_NAMES:
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            spelled = name.lower() if rng.random() < 0.3 else name
            case.headers.append((spelled, header_value(rng, name, case.key)))
    rng.shuffle(case.headers)
    case.protocols = tuple(
        rng.sample(["chat", "superchat", "other"], rng.randint(0, 3))
    )
    case.offered = rng.choice([None, 9, 10, 12, 15])
    return case


def run_handshake_case(case: HandshakeCase) -> None:
    try:
        result = check_response(
            case.status,
            case.headers,
            key=case.key,
            protocols=case.protocols,
            offered_server_max_window_bits=case.offered,
        )
    except errors.HandshakeError:
        return
    assert case.status == 101
    assert result.subprotocol is None or result.subprotocol in case.protocols
    if result.deflate is not None:
        assert case.offered is not None
        assert 8 <= result.deflate.server_max_window_bits <= 15
        answered = " ".join(
            v for k, v in case.headers if k.lower() == "sec-websocket-extensions"
        ).lower()
        # The server's window never exceeds what the client offered, whether
        # the answer names it or leaves it out (RFC 7692 §7.1.2.1).
        assert result.deflate.server_max_window_bits <= case.offered
        if case.offered < 15:
            assert "server_max_window_bits" in answered
        assert 8 <= result.deflate.client_max_window_bits <= 15


@dataclass
class Report:
    seed: int
    parser_cases: int = 0
    handshake_cases: int = 0
    parser_errors: int = 0
    slowest: float = 0.0


def fuzz(seconds: float, seed: int, out_dir: Path | None = None) -> Report:
    """Run cases for ``seconds``; raise AssertionError on the first failure."""
    report = Report(seed)
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        case_rng = random.Random(rng.getrandbits(64))
        kind = "handshake" if n % 5 == 0 else "parser"
        started = time.monotonic()
        payload: object
        try:
            if kind == "parser":
                payload = pcase = parser_case(case_rng)
                if run_parser_case(pcase, trace=n % TRACE_EVERY == 0):
                    report.parser_errors += 1
                report.parser_cases += 1
            else:
                payload = hcase = handshake_case(case_rng)
                run_handshake_case(hcase)
                report.handshake_cases += 1
        except BaseException as exc:
            _save(out_dir, seed, n, kind, payload)
            raise AssertionError(
                f"fuzz failure ({kind}) with AIOWS_FUZZ_SEED={seed}, case {n}: {exc!r}"
            ) from exc
        elapsed = time.monotonic() - started
        report.slowest = max(report.slowest, elapsed)
        if elapsed > CASE_DEADLINE:
            _save(out_dir, seed, n, kind, payload)
            raise AssertionError(
                f"fuzz case {n} ({kind}) took {elapsed:.1f} s with "
                f"AIOWS_FUZZ_SEED={seed}: a hang"
            )
    return report


def _save(out_dir: Path | None, seed: int, n: int, kind: str, payload: object) -> None:
    if out_dir is None:
        return
    if isinstance(payload, ParserCase):
        (out_dir / f"fuzz-failure-{seed}-{n}.bin").write_bytes(payload.data)
    (out_dir / f"fuzz-failure-{seed}-{n}.txt").write_text(repr(payload))


def settings_from_env(default_seconds: float) -> tuple[float, int]:
    seconds = float(os.environ.get("AIOWS_FUZZ_SECONDS", default_seconds))
    seed_text = os.environ.get("AIOWS_FUZZ_SEED")
    seed = int(seed_text) if seed_text else random.SystemRandom().randrange(2**32)
    return seconds, seed


def main(argv: list[str] | None = None, echo: Callable[[str], None] = print) -> int:
    del argv
    seconds, seed = settings_from_env(60.0)
    echo(f"fuzzing aiows.core for {seconds:g} s, AIOWS_FUZZ_SEED={seed}")
    report = fuzz(seconds, seed, Path.cwd())
    echo(
        f"ok: {report.parser_cases} parser cases ({report.parser_errors} ended in a "
        f"protocol error), {report.handshake_cases} handshake cases, slowest case "
        f"{report.slowest * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
