"""Fuzz target for the proxy tunnel: ``aiows.connect()`` against hostile proxies.

The connection fuzzer (:mod:`tests.fuzz.fuzz_connection`), extended to
proxies.  Each case opens a real connection with ``aiows.connect(...,
proxy=...)``, for ``ws://`` or ``wss://``, through an ``http://`` or
``https://`` proxy scripted on 127.0.0.1, whose answer to CONNECT is
generated:

* a valid 2xx answer (HTTP/1.0 or 1.1, any reason, any valid headers), and
  then the tunnel to a real echo server, or bytes the proxy slips in after
  it (a forged answer of "the server");
* a valid refusal (any status from 100 to 599 outside 2xx) with or
  without a body, framed or not;
* a *structured* violation: a status line that is not RFC 9112's (``2_00``,
  ``+200``, ``HTTP/2``, no space, a status outside 100-599, not HTTP at
  all), a bare LF, a CR inside a line, obsolete line folding, a header
  without a name or a colon, a line over 8190 bytes, more than 128 headers,
  a head over 64 KiB;
* or a *random* mutation (bit flip, insertion, deletion, truncation) of a
  valid answer, whose fate an independent reading of RFC 9112 below
  (:func:`classify`) predicts;

sent in random pieces (one byte at a time, now and then) with random
pauses, after which the proxy relays, hangs up, or keeps the connection
open without a word.

What must hold, on every case:

* **The predicted outcome, and only a proxy exception.**  A valid 2xx
  answer followed by the tunnel gives a working connection (a message
  goes through it and back); anything else fails with
  :class:`~aiows.InvalidProxyMessage` (a cause that is the core's
  ``HTTPSyntaxError`` or an ``EOFError``), :class:`~aiows.InvalidProxyStatus`
  (the answer's status) or :class:`~aiows.ProxyError`; only a proxy that
  stays silent in the middle of its answer ends in ``open_timeout``
  (:class:`~aiows.OpenTimeout`).
* **No hang.**  A case ends within ``CASE_DEADLINE``.
* **No leak.**  The client hangs up on every proxy connection it gave up
  (the proxy sees the end of the stream), and the process holds as many
  file descriptors after the run as before it.

Usage::

    python -m tests.fuzz.fuzz_proxy                     # 60 s
    AIOWS_FUZZ_SECONDS=300 AIOWS_FUZZ_SEED=1 python -m tests.fuzz.fuzz_proxy

``tests/fuzz/test_fuzz_proxy.py`` runs it for a few seconds in the normal
test run.  A failure names the seed and the case.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import random
import re
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trustme
from websockets.asyncio.server import ServerConnection, serve

import aiows
from aiows.core.errors import HTTPSyntaxError
from tests.helpers import Handlers

from .fuzz_connection import cut
from .fuzz_parser import settings_from_env

#: ``open_timeout`` of each case: a silent proxy costs this much.
OPEN_TIMEOUT = 1.0
#: Longest a case may take before it counts as a hang (seconds).
CASE_DEADLINE = OPEN_TIMEOUT + 9.0
#: How long the proxy waits for the client to hang up, at most.
HANG_UP_WAIT = 5.0

MAX_LINE = 8190
MAX_HEADERS = 128
MAX_ANSWER = 64 * 1024

# -- an independent reading of RFC 9112 (status line, header lines) --------------------

# HTTP-version SP status-code [SP reason-phrase] (RFC 9112 §4), the versions
# a proxy may answer in (1.x), the codes RFC 9110 §15 defines (100-599).
_STATUS_LINE = re.compile(rb"HTTP/1\.\d [1-5]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?")
# field-name ":" OWS field-value OWS (RFC 9110 §5), names are tokens; in a
# value aiows also takes the control characters other than CR, LF and NUL
# (the grammar's VCHAR, SP, HTAB and obs-text, and those).
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_FIELD = re.compile(_TOKEN + rb":[^\r\n\x00]*")


@dataclass(frozen=True)
class Prediction:
    """What a client must make of an answer.

    ``kind``: ``"tunnel"`` (a complete 2xx head and nothing after it),
    ``"extra"`` (a 2xx head, then more bytes), ``"status"`` (a head with
    another status), ``"invalid"`` (a line breaks the grammar, or the head
    a limit) or ``"incomplete"`` (the bytes end inside the head).
    """

    kind: str
    status: int = 0
    #: Where the head ends in the answer (for "extra").
    head_end: int = 0


def classify(answer: bytes) -> Prediction:
    """Predict, line by line, what ``answer`` is."""
    position = 0
    status = 0
    headers = 0
    while True:
        end = answer.find(b"\n", position)
        if end < 0:
            too_long = len(answer) - position > MAX_LINE + 1
            if too_long or len(answer) > MAX_ANSWER:
                return Prediction("invalid")
            return Prediction("incomplete")
        if end == position or answer[end - 1 : end] != b"\r":
            return Prediction("invalid")
        line = answer[position : end - 1]
        position = end + 1
        if len(line) > MAX_LINE or b"\r" in line:
            return Prediction("invalid")
        if status == 0:
            if not _STATUS_LINE.fullmatch(line):
                return Prediction("invalid")
            status = int(line[9:12])
        elif not line:
            break
        else:
            headers += 1
            if headers > MAX_HEADERS or not _FIELD.fullmatch(line):
                return Prediction("invalid")
        if position > MAX_ANSWER:
            return Prediction("invalid")
    if not 200 <= status < 300:
        return Prediction("status", status)
    if position < len(answer):
        return Prediction("extra", status, position)
    return Prediction("tunnel", status)


# -- generated answers ---------------------------------------------------------------

REASON_CHARS = b"\t !#%&'()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~\x80\xa0\xff"
NAME_CHARS = b"!#$%&'*+-.^_`|~0123456789ABCXYZabcxyz"
VALUE_CHARS = b"\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~\x80\xff"


def reason(rng: random.Random) -> bytes:
    return bytes(rng.choice(REASON_CHARS) for _ in range(rng.choice([0, 2, 12, 40])))


def header_lines(rng: random.Random, count: int) -> bytes:
    lines = bytearray()
    for _ in range(count):
        name = bytes(rng.choice(NAME_CHARS) for _ in range(rng.randint(1, 12)))
        value = bytes(rng.choice(VALUE_CHARS) for _ in range(rng.choice([0, 3, 30])))
        space = rng.choice([b"", b" ", b"  ", b"\t"])
        lines += name + b":" + space + value.strip(b" \t") + b"\r\n"
    return bytes(lines)


def head(rng: random.Random, status: int, headers: bytes = b"") -> bytes:
    version = rng.choice([b"1.1", b"1.1", b"1.0"])
    words = reason(rng)
    line = b"HTTP/" + version + b" %d" % status
    if words or rng.random() < 0.7:
        line += b" " + words
    return line + b"\r\n" + headers + b"\r\n"


def refusal_body(rng: random.Random, body: bytes) -> tuple[bytes, bytes]:
    """Headers and bytes of a refusal's body, framed at random."""
    framing = rng.choice(["length", "chunked", "none", "eof"])
    if framing == "length":
        return b"Content-Length: %d\r\n" % len(body), body
    if framing == "chunked":
        return b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (
            len(body),
            body,
        )
    if framing == "none":
        return b"", b""
    return b"", body


def violation(rng: random.Random) -> tuple[str, bytes]:
    """A structured violation: (description, answer)."""
    ok = head(rng, 200)
    choices: list[tuple[str, Callable[[], bytes]]] = [
        ("status 2_00", lambda: b"HTTP/1.1 2_00 OK\r\n\r\n"),
        ("status +200", lambda: b"HTTP/1.1 +200 OK\r\n\r\n"),
        ("status 20", lambda: b"HTTP/1.1 20 OK\r\n\r\n"),
        ("status 2000", lambda: b"HTTP/1.1 2000 OK\r\n\r\n"),
        ("status 099", lambda: b"HTTP/1.1 099 Odd\r\n\r\n"),
        ("status 600", lambda: b"HTTP/1.1 600 Odd\r\n\r\n"),
        ("HTTP/2", lambda: b"HTTP/2 200 OK\r\n\r\n"),
        ("HTTP/1.1 without a space", lambda: b"HTTP/1.1200 OK\r\n\r\n"),
        ("two spaces", lambda: b"HTTP/1.1  200 OK\r\n\r\n"),
        ("lower-case http", lambda: b"http/1.1 200 OK\r\n\r\n"),
        ("not HTTP", lambda: b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        ("bare LF ending the head", lambda: ok[:-2] + b"\n"),
        ("bare LF in the status line", lambda: b"HTTP/1.1 200 OK\n\r\n"),
        ("CR inside a line", lambda: b"HTTP/1.1 200 O\rK\r\n\r\n"),
        (
            "obsolete line folding",
            lambda: b"HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n",
        ),
        ("header without a colon", lambda: b"HTTP/1.1 200 OK\r\nX-A 1\r\n\r\n"),
        ("header without a name", lambda: b"HTTP/1.1 200 OK\r\n: 1\r\n\r\n"),
        ("space before the colon", lambda: b"HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n"),
        ("NUL in a value", lambda: b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n"),
        (
            "status line too long",
            lambda: b"HTTP/1.1 200 " + b"k" * MAX_LINE + b"\r\n\r\n",
        ),
        (
            "header line too long",
            lambda: b"HTTP/1.1 200 OK\r\nX-A: " + b"v" * MAX_LINE + b"\r\n\r\n",
        ),
        (
            "too many headers",
            lambda: (
                b"HTTP/1.1 200 OK\r\n" + header_lines(rng, MAX_HEADERS + 1) + b"\r\n"
            ),
        ),
        (
            "head over 64 KiB",
            lambda: (
                b"HTTP/1.1 200 OK\r\n"
                + b"".join(b"X-%03d: %s\r\n" % (i, b"p" * 700) for i in range(100))
                + b"\r\n"
            ),
        ),
    ]
    name, build = rng.choice(choices)
    return name, build()


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3])):
        pos = rng.randint(0, len(buf))
        op = rng.randrange(5)
        if op == 0 and pos < len(buf):
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = rng.choice(
                [rng.randbytes(rng.randint(1, 4)), b"\r\n", b"\n", b" ", b"\x00"]
            )
        elif op == 2 and pos < len(buf):
            del buf[pos : pos + rng.randint(1, 4)]
        elif op == 3:
            del buf[pos:]
        elif pos < len(buf):
            buf[pos] = rng.randrange(256)
    return bytes(buf)


@dataclass
class Case:
    """One generated proxy: its answer, what it does next, what must follow."""

    n: int
    secure_server: bool
    secure_proxy: bool
    #: The bytes of the answer to CONNECT, cut into (piece, pause) chunks:
    #: the pause is 0 (none), 1 (a loop turn) or 2 (a millisecond).
    answer: bytes = b""
    chunks: list[tuple[bytes, int]] = field(default_factory=list)
    #: "relay", "close" or "hold" (silent until the client hangs up).
    then: str = "relay"
    #: For bytes after a 2xx head: whether the first of them goes in the
    #: same write as the end of the head (else it may come after aiows
    #: handed the tunnel over, where no one can tell it from the server's).
    extra_together: bool = True
    what: str = ""
    prediction: Prediction = field(default_factory=lambda: Prediction("tunnel"))

    def describe(self) -> str:
        server = "wss" if self.secure_server else "ws"
        proxy = "https" if self.secure_proxy else "http"
        return (
            f"case {self.n}: {server}:// through an {proxy}:// proxy, {self.what}, "
            f"then {self.then}, {len(self.answer)} bytes in {len(self.chunks)} "
            f"pieces, predicted {self.prediction}: {self.answer[:120]!r}"
        )


#: Whether asyncio's loop carries TLS inside TLS (wss:// through an
#: https:// proxy): from Python 3.11 on.
TLS_IN_TLS = sys.version_info >= (3, 11)


def generate(rng: random.Random, n: int) -> Case:
    case = Case(
        n=n,
        secure_server=rng.random() < 0.4,
        secure_proxy=rng.random() < 0.2,
    )
    if case.secure_server and not TLS_IN_TLS:
        case.secure_proxy = False
    roll = rng.random()
    if roll < 0.25:
        status = rng.choice([200, 200, 200, 201, 204, 299])
        case.answer = head(rng, status, header_lines(rng, rng.choice([0, 1, 5])))
        case.what = f"a {status}"
        if rng.random() < 0.3:
            forged = head(rng, 302, b"Location: ws://elsewhere.invalid/\r\n")
            case.answer += forged[: rng.randint(1, len(forged))]
            case.what += " and bytes after it"
    elif roll < 0.45:
        status = rng.choice([100, 101, 301, 400, 403, 404, 407, 500, 502, 503, 599])
        framing, body = refusal_body(rng, rng.randbytes(rng.choice([0, 5, 300])))
        case.answer = head(rng, status, header_lines(rng, 2) + framing) + body
        case.what = f"a refusal ({status})"
    elif roll < 0.65:
        case.what, case.answer = violation(rng)
    else:
        valid = head(
            rng,
            rng.choice([200, 200, 407, 502]),
            header_lines(rng, rng.choice([0, 2, 4])),
        )
        case.answer = mutate(rng, valid)
        case.what = "a mutated answer"
    case.prediction = classify(case.answer)
    case.chunks = cut(
        rng,
        case.answer,
        whole=0.3,
        bytewise_below=400,
        most_cuts=6,
        pauses=(0, 0, 1, 2),
    )
    if case.prediction.kind == "extra":
        offset = 0
        for piece, _ in case.chunks:
            offset += len(piece)
            if offset >= case.prediction.head_end:
                case.extra_together = offset > case.prediction.head_end
                break
    kind = case.prediction.kind
    if kind == "tunnel":
        case.then = "relay"
    elif kind == "incomplete":
        # Silence in the middle of the head can only end in open_timeout:
        # now and then, as it costs a second.
        case.then = "hold" if rng.random() < 0.05 else "close"
    else:
        case.then = rng.choice(["close", "hold", "relay"])
    return case


# -- the servers ---------------------------------------------------------------------


@dataclass
class ProxySide:
    """What the proxy saw of one case."""

    #: The client hung up (end of stream or reset) on this connection.
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    #: The proxy's handler of this connection is done.
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: The proxy closed the connection itself first.
    closed_first: bool = False
    #: The client connected to the proxy.
    accepted: bool = False


class ScriptedProxy:
    """The proxy: it plays the case named in the CONNECT target's port."""

    def __init__(self, ssl_context: ssl.SSLContext | None) -> None:
        self.ssl = ssl_context
        self.cases: dict[int, tuple[Case, ProxySide, int]] = {}
        self.server: asyncio.AbstractServer | None = None
        self.handlers = Handlers()
        self.current: int | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._client, "127.0.0.1", 0, ssl=self.ssl
        )

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        await self.handlers.close(self.server)

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with self.handlers.track():
            assert self.current is not None
            case, side, origin_port = self.cases[self.current]
            side.accepted = True
            try:
                await reader.readuntil(b"\r\n\r\n")
                for piece, pause in case.chunks:
                    writer.write(piece)
                    await writer.drain()
                    if pause == 1:
                        await asyncio.sleep(0)
                    elif pause == 2:
                        await asyncio.sleep(0.001)
                if case.then == "relay":
                    await self._relay(reader, writer, origin_port)
                    side.hung_up.set()
                elif case.then == "close":
                    side.closed_first = True
                else:
                    await asyncio.wait_for(reader.read(), HANG_UP_WAIT)
                    side.hung_up.set()
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                side.hung_up.set()
            except asyncio.TimeoutError:
                pass
            finally:
                writer.close()
            side.done.set()

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter
        ) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


class Untyped(AssertionError):
    """The client raised something no proxy failure may raise."""


def check(case: Case, outcome: BaseException | None, side: ProxySide) -> str:
    """Assert the outcome fits the prediction; a short name for the report."""
    prediction = case.prediction
    if outcome is None:
        if (
            prediction.kind == "extra"
            and not case.extra_together
            and not case.secure_server
            and not case.answer[prediction.head_end :].strip(b"\r\n")
        ):
            # Only blank lines after the head, in a write of their own:
            # they may come after the hand-over, where they are the
            # tunnel's, and the server's HTTP parser skips blank lines
            # before its status line (seed 1928774055, case 1964).
            return "blank lines after a 2xx, later: skipped (ws://)"
        assert prediction.kind == "tunnel", "connected where it must not"
        return "connected"
    kind = prediction.kind
    if kind == "tunnel":
        raise AssertionError(f"a valid tunnel failed: {outcome!r}")
    if kind == "status":
        assert isinstance(outcome, aiows.InvalidProxyStatus), outcome
        assert outcome.status == prediction.status, (outcome.status, prediction)
        return f"InvalidProxyStatus {prediction.status // 100}xx"
    if kind == "extra":
        if isinstance(outcome, aiows.InvalidProxyMessage):
            assert outcome.message.startswith("the proxy sent "), outcome.message
            return "refused bytes after a 2xx"
        # Bytes in a write of their own may come after the hand-over: then
        # they are the tunnel's, which TLS refuses for wss://, and which
        # for ws:// no one can tell from the server's (a proxy in clear can
        # rewrite anything it relays anyway).
        assert not case.extra_together, outcome
        if case.secure_server:
            if isinstance(outcome, aiows.OpenTimeout):
                # Fewer bytes than a TLS record header, then silence.
                assert case.then == "hold", outcome
                return "bytes after a 2xx, later: TLS waits, open_timeout"
            if isinstance(outcome, ConnectionError):
                # The proxy hung up in the middle of the TLS handshake.
                assert case.then == "close", outcome
                return "bytes after a 2xx, later: TLS cut off"
            assert isinstance(outcome, ssl.SSLError), outcome
            return "bytes after a 2xx, later: refused by TLS"
        assert isinstance(
            outcome, (aiows.InvalidHandshake, aiows.OpenTimeout, OSError)
        ), outcome
        return "bytes after a 2xx, later: taken for the server's (ws://)"
    if kind == "invalid":
        assert isinstance(outcome, aiows.InvalidProxyMessage), outcome
        assert isinstance(outcome.__cause__, HTTPSyntaxError), outcome.__cause__
        return "InvalidProxyMessage (syntax or limit)"
    assert kind == "incomplete"
    if case.then == "hold":
        assert isinstance(outcome, aiows.OpenTimeout), outcome
        return "silent proxy: open_timeout"
    assert isinstance(outcome, aiows.InvalidProxyMessage), outcome
    assert isinstance(outcome.__cause__, EOFError), outcome.__cause__
    return "InvalidProxyMessage (closed early)"


PROXY_ERRORS = (aiows.ProxyError, aiows.OpenTimeout)


async def run_case(
    case: Case, proxy: ScriptedProxy, origins: dict[bool, int], client_ssl: Any
) -> str:
    side = ProxySide()
    proxy.cases[case.n] = (case, side, origins[case.secure_server])
    proxy.current = case.n
    scheme = "wss" if case.secure_server else "ws"
    host = "localhost" if case.secure_server else "127.0.0.1"
    url = f"{scheme}://{host}:{origins[case.secure_server]}/"
    keywords: dict[str, Any] = {"open_timeout": OPEN_TIMEOUT}
    if case.secure_server:
        keywords["ssl"] = client_ssl
    if case.secure_proxy:
        keywords["proxy_ssl"] = client_ssl
        keywords["proxy_server_hostname"] = "localhost"
    proxy_url = f"{'https' if case.secure_proxy else 'http'}://127.0.0.1:{proxy.port}"
    outcome: BaseException | None = None
    try:
        try:
            async with aiows.connect(url, proxy=proxy_url, **keywords) as ws:
                await ws.send("through")
                assert await ws.recv() == "through"
        except PROXY_ERRORS as exc:
            outcome = exc
        except (aiows.InvalidHandshake, OSError) as exc:
            # Only for bytes a proxy sent after its 2xx that came after
            # the hand-over (see check()).
            if not (case.prediction.kind == "extra" and not case.extra_together):
                raise Untyped(f"{type(exc).__name__}: {exc}") from exc
            outcome = exc
        except Exception as exc:
            raise Untyped(f"{type(exc).__name__}: {exc}") from exc
        name = check(case, outcome, side)
        if side.accepted:
            await asyncio.wait_for(side.done.wait(), HANG_UP_WAIT + 1)
            # No leak: the client hung up on the proxy, unless the proxy
            # hung up first.
            assert side.closed_first or side.hung_up.is_set(), "the client held on"
        return name
    finally:
        del proxy.cases[case.n]
        proxy.current = None


def open_fds() -> int | None:
    """How many file descriptors the process holds (Linux), else None."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return None


@dataclass
class Report:
    seed: int
    cases: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    slowest: float = 0.0
    slowest_case: str = ""

    def summary(self) -> str:
        lines = [
            f"ok: {self.cases} proxy cases, slowest {self.slowest * 1000:.0f} ms "
            f"({self.slowest_case[:100]})"
        ]
        for name, count in self.outcomes.most_common():
            lines.append(f"  {count:6d}  {name}")
        return "\n".join(lines)


async def fuzz_async(seconds: float, seed: int) -> Report:
    report = Report(seed)
    rng = random.Random(seed)
    ca = trustme.CA()
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ssl)
    client_ssl = ssl.create_default_context()
    ca.configure_trust(client_ssl)

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    fds_before = open_fds()
    proxies = {False: ScriptedProxy(None), True: ScriptedProxy(server_ssl)}
    # The echo servers see clients go away mid-handshake all the time.
    quiet = logging.getLogger("tests.fuzz.fuzz_proxy.origin")
    quiet.setLevel(logging.CRITICAL)
    async with (
        serve(echo, "127.0.0.1", 0, logger=quiet) as plain,
        serve(echo, "127.0.0.1", 0, ssl=server_ssl, logger=quiet) as secure,
    ):
        origins = {
            False: plain.sockets[0].getsockname()[1],
            True: secure.sockets[0].getsockname()[1],
        }
        for proxy in proxies.values():
            await proxy.start()
        try:
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                n += 1
                case = generate(random.Random(rng.getrandbits(64)), n)
                started = time.monotonic()
                try:
                    name = await asyncio.wait_for(
                        run_case(case, proxies[case.secure_proxy], origins, client_ssl),
                        CASE_DEADLINE,
                    )
                except BaseException as exc:
                    raise AssertionError(
                        f"proxy fuzz failure with AIOWS_FUZZ_SEED={seed}, "
                        f"{case.describe()}: {exc!r}"
                    ) from exc
                elapsed = time.monotonic() - started
                report.cases += 1
                report.outcomes[name] += 1
                if elapsed > report.slowest:
                    report.slowest, report.slowest_case = elapsed, case.describe()
        finally:
            for proxy in proxies.values():
                await proxy.close()
    gc.collect()
    await asyncio.sleep(0)
    fds_after = open_fds()
    assert fds_before == fds_after, f"file descriptors: {fds_before} -> {fds_after}"
    return report


def case_for(seed: int, n: int) -> Case:
    """Case ``n`` of the run with ``seed``, to replay it alone."""
    rng = random.Random(seed)
    for _ in range(n - 1):
        rng.getrandbits(64)
    return generate(random.Random(rng.getrandbits(64)), n)


def fuzz(seconds: float, seed: int) -> Report:
    """Run cases for ``seconds``; raise AssertionError on the first failure."""
    return asyncio.run(fuzz_async(seconds, seed))


def main(argv: list[str] | None = None, echo: Callable[[str], None] = print) -> int:
    del argv
    seconds, seed = settings_from_env(60.0)
    echo(f"fuzzing aiows's proxy tunnel for {seconds:g} s, AIOWS_FUZZ_SEED={seed}")
    echo(fuzz(seconds, seed).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
