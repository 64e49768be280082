"""aiohttp as the oracle: every scenario through aiohttp's client and through aiows.

Each scenario is a piece of user code written for aiohttp's
``ClientSession.ws_connect``.  It runs twice against the same server, once
on ``aiohttp.ClientSession`` and once on ``aiows.ClientSession``, and records
what user code observes: message types (by identity), data, ``extra``,
``closed``, ``close_code``, exception classes, return values, and the order
of all of it, plus what the server saw.  The two records must be equal.

Where aiows differs on purpose, :data:`DIFFERENCES` says where and why, and
the test asserts the difference itself, so it cannot drift either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

import aiows
from tests.conftest import RawPeer, RawServer, server_frame

CLIENTS = ("aiohttp", "aiows")

# The face has aiohttp 3.14's semantics; older aiohttp clients differ from
# 3.14 themselves (no send_json_bytes or decode_text; a protocol error
# overtakes the messages before it), so they are no oracle for it.
pytestmark = pytest.mark.skipif(
    tuple(int(part) for part in aiohttp.__version__.split(".")[:2]) < (3, 14),
    reason="the oracle is aiohttp 3.14 or newer",
)


def kind(value: object) -> str:
    """The most specific aiohttp or built-in class of ``value``.

    aiows raises subclasses of aiohttp's exceptions (with more detail); what
    aiohttp user code can catch is the nearest aiohttp or built-in base.
    """
    for cls in type(value).__mro__:
        # asyncio's Future is implemented in _asyncio.
        package = cls.__module__.split(".")[0].lstrip("_")
        if package in ("aiohttp", "builtins", "asyncio"):
            return f"{package}.{cls.__qualname__}"
    raise AssertionError(f"{value!r} has no aiohttp or built-in class")


def observe_message(msg: Any) -> tuple[Any, ...]:
    """What user code sees of a message, with the type's identity."""
    data = msg.data
    if isinstance(data, BaseException):
        data = (kind(data), getattr(data, "code", None))
    return (
        type(msg.type) is WSMsgType,
        msg.type.name,
        data,
        msg.extra,
        isinstance(msg, aiohttp.WSMessage),
    )


@dataclass
class Record:
    """The observations of one run, in order."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, label: str, value: Any) -> None:
        self.events.append((label, value))

    def message(self, label: str, msg: Any) -> None:
        self.add(label, observe_message(msg))

    def state(self, ws: Any, label: str) -> None:
        self.add(f"{label}.closed", ws.closed)
        self.add(f"{label}.close_code", ws.close_code)

    async def raises(self, label: str, awaitable: Awaitable[Any]) -> None:
        try:
            result = await awaitable
        except Exception as exc:
            self.add(label, ("raised", kind(exc)))
        else:
            self.add(
                label, ("returned", kind(result), result if result is None else "")
            )


# -- the server ---------------------------------------------------------------


@dataclass
class ServerLog:
    """What the server saw, per run (the ``run`` query parameter)."""

    runs: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    #: Set when the run's handler has returned (logged its end, if it does).
    finished: dict[str, asyncio.Event] = field(default_factory=dict)

    def add(self, request: web.Request, label: str, value: Any) -> None:
        self.runs.setdefault(request.query["run"], []).append((label, value))

    def handler_done(self, run: str) -> asyncio.Event:
        return self.finished.setdefault(run, asyncio.Event())


Handler = Callable[[web.Request], Awaitable[web.WebSocketResponse]]


def logged(handler: Handler) -> Handler:
    """``handler``, telling the log when it has returned."""

    async def wrapper(request: web.Request) -> web.WebSocketResponse:
        try:
            return await handler(request)
        finally:
            request.app[LOG].handler_done(request.query["run"]).set()

    return wrapper


LOG = web.AppKey("log", ServerLog)


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Echo; ``close:CODE`` closes; ``ping:X``/``pong:X`` send a control frame."""
    log: ServerLog = request.app[LOG]
    ws = web.WebSocketResponse(
        autoping=request.query.get("autoping") != "0",
        compress=request.query.get("compress") == "1",
    )
    await ws.prepare(request)
    async for msg in ws:
        log.add(request, "got", (msg.type.name, msg.data))
        if msg.type is WSMsgType.TEXT and msg.data.startswith("close:"):
            await ws.close(code=int(msg.data[6:]), message=b"server says bye")
        elif msg.type is WSMsgType.TEXT and msg.data.startswith("ping:"):
            await ws.ping(msg.data[5:].encode())
            await ws.send_str("pinged")
        elif msg.type is WSMsgType.TEXT and msg.data.startswith("pong:"):
            await ws.pong(msg.data[5:].encode())
            await ws.send_str("ponged")
        elif msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    log.add(request, "end", ws.close_code)
    return ws


async def three_then_close(request: web.Request) -> web.WebSocketResponse:
    """Three messages and a close frame, all at once."""
    log: ServerLog = request.app[LOG]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for text in ("one", "two", "three"):
        await ws.send_str(text)
    await ws.close(code=4000, message=b"bye")
    log.add(request, "end", ws.close_code)
    return ws


async def silent(request: web.Request) -> web.WebSocketResponse:
    """Reads everything and answers nothing, pings included."""
    log: ServerLog = request.app[LOG]
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    async for msg in ws:
        log.add(request, "got", msg.type.name)
    return ws


@pytest.fixture
async def server(aiohttp_server: Any) -> tuple[str, ServerLog]:
    log = ServerLog()
    app = web.Application()
    app[LOG] = log
    app.router.add_get("/echo", logged(echo))
    app.router.add_get("/three", logged(three_then_close))
    app.router.add_get("/silent", logged(silent))
    test_server = await aiohttp_server(app)
    return f"http://127.0.0.1:{test_server.port}", log


# -- running one scenario both ways ------------------------------------------------

Scenario = Callable[[Any, Record], Awaitable[None]]


async def run(client: str, url: str, scenario: Scenario, **kwargs: Any) -> Record:
    record = Record()
    session: Any = (
        aiohttp.ClientSession() if client == "aiohttp" else aiows.ClientSession()
    )
    async with session:
        ws = await session.ws_connect(url, **kwargs)
        record.add("type is aiohttp's", isinstance(ws, aiohttp.ClientWebSocketResponse))
        await asyncio.wait_for(scenario(ws, record), 10)
        await ws.close()
    return record


async def both(
    base: str,
    path: str,
    scenario: Scenario,
    log: ServerLog | None = None,
    **kwargs: Any,
) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for client in CLIENTS:
        sep = "&" if "?" in path else "?"
        record = await run(client, f"{base}{path}{sep}run={client}", scenario, **kwargs)
        events = list(record.events)
        if log is not None:
            # The handler logs its end after the client is done; wait for it.
            await asyncio.wait_for(log.handler_done(client).wait(), 5)
            events += [
                ("server " + label, value) for label, value in log.runs.get(client, [])
            ]
        out[client] = events
    return out


def assert_same(result: dict[str, list[tuple[str, Any]]], name: str) -> None:
    oracle, ours = result["aiohttp"], result["aiows"]
    allowed = {label: d for label, d in DIFFERENCES.get(name, {}).items()}
    assert [label for label, _ in ours] == [label for label, _ in oracle]
    for (label, expected), (_, got) in zip(oracle, ours, strict=True):
        if label in allowed:
            theirs, mine, _reason = allowed.pop(label)
            assert (expected, got) == (theirs, mine), f"{name}: {label}"
        else:
            assert got == expected, f"{name}: {label}"
    assert not allowed, f"{name}: documented differences not seen: {list(allowed)}"


#: Where aiows differs from aiohttp on purpose: scenario -> observation ->
#: (aiohttp's value, aiows's value, why).  docs/from_aiohttp.rst lists them.
DIFFERENCES: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "receive timeout": {
        "after timeout.close_code": (
            1006,
            None,
            "the connection is still open after a receive() timeout; aiohttp "
            "reports 1006 anyway",
        ),
    },
    "ping from the client": {
        "ping() result": (
            ("returned", "builtins.NoneType", None),
            ("returned", "asyncio.Future", ""),
            "aiows's ping() returns a future of the round-trip time",
        ),
    },
    "masked server frame": {
        "masked": (
            (True, "TEXT", "A", "", True),
            (True, "ERROR", ("aiohttp.WebSocketError", 1002), None, True),
            "RFC 6455 §5.1: a client must fail on a masked server frame; aiohttp "
            "unmasks it and goes on",
        ),
    },
    "close from another task as a message arrives": {
        "first": (
            ("CLOSING", None),
            ("TEXT", "late"),
            "the message that arrived before the woken receive() ran is "
            "returned; aiohttp returns CLOSING first, and the close drops it",
        ),
        "close() returned": (
            False,
            True,
            "the receive() that reads on closes with the waiting close()'s code, "
            "for it; aiohttp's closes with 1000 itself, and close() finds it done",
        ),
        "server end": (
            1000,
            4000,
            "the code close() was called with reaches the server; aiohttp's "
            "receive() loop sends 1000 first",
        ),
    },
    "server closes after three messages": {
        "server end": (
            1000,
            4000,
            "aiows echoes the server's close code (RFC 6455 §5.5.1); aiohttp "
            "answers 1000",
        ),
    },
}


# -- the scenarios --------------------------------------------------------------


async def test_text_binary_json(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_str("héllo")
        r.message("text", await ws.receive())
        await ws.send_bytes(b"\x00\xff")
        r.message("binary", await ws.receive())
        await ws.send_json({"a": [1, 2]})
        r.add("json", await ws.receive_json())
        await ws.send_json_bytes({"b": 3}, dumps=lambda v: json.dumps(v).encode())
        r.add("json bytes", await ws.receive_bytes())
        await ws.send_str("x" * 70000)
        r.add("large", len(await ws.receive_str()))
        r.state(ws, "open")
        r.add("protocol", ws.protocol)
        r.add("compress", (ws.compress, ws.client_notakeover))
        r.add("socket", ws.get_extra_info("socket") is not None)

    assert_same(await both(base, "/echo", scenario, log), "text binary json")


async def test_ping_from_the_client(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await r.raises("ping() result", ws.ping(b"x"))
        await ws.send_str("after ping")
        r.message("echo", await ws.receive())

    assert_same(await both(base, "/echo", scenario, log), "ping from the client")


@pytest.mark.parametrize("autoping", [True, False])
async def test_server_pings_and_pongs(
    server: tuple[str, ServerLog], autoping: bool
) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_str("ping:hi")
        r.message("first", await ws.receive())
        if not autoping:
            r.message("second", await ws.receive())
            await ws.pong(b"hi")
        await ws.send_str("pong:beat")
        r.message("after pong", await ws.receive())
        if not autoping:
            r.message("after pong 2", await ws.receive())

    result = await both(base, "/echo", scenario, log, autoping=autoping)
    assert_same(result, f"server pings, autoping={autoping}")


async def test_server_closes_after_three_messages(
    server: tuple[str, ServerLog],
) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        got = []
        while not ws.closed:
            got.append(observe_message(await ws.receive()))
        r.add("loop", got)
        r.state(ws, "after")
        r.message("then", await ws.receive())
        await r.raises("close()", ws.close())
        await r.raises("send", ws.send_str("late"))

    result = await both(base, "/three", scenario, log)
    assert_same(result, "server closes after three messages")


async def test_async_for_ends_on_close(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        r.add("messages", [observe_message(m) async for m in ws])
        r.state(ws, "after")

    result = await both(base, "/three", scenario, log)
    assert_same(result, "server closes after three messages")


async def test_client_closes(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_str("hello")
        await r.raises("first close", ws.close(code=4001, message=b"done"))
        r.state(ws, "after")
        await r.raises("second close", ws.close())
        r.message("receive", await ws.receive())
        await r.raises("send", ws.send_str("late"))
        r.add("socket", ws.get_extra_info("socket"))

    assert_same(await both(base, "/echo", scenario, log), "client closes")


async def test_server_closes_autoclose_off(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_str("close:4002")
        r.message("close", await ws.receive())
        r.state(ws, "after close read")
        await ws.send_str("still writable")
        r.message("next", await ws.receive())
        r.state(ws, "after next")

    result = await both(base, "/echo", scenario, log, autoclose=False)
    assert_same(result, "autoclose off")


async def test_close_from_another_task(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        reader = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)
        await r.raises("concurrent receive", ws.receive())
        await r.raises("close", ws.close())
        r.message("reader got", await reader)
        r.state(ws, "after")

    assert_same(await both(base, "/echo", scenario, log), "close from another task")


def deliver(ws: Any, text: str) -> None:
    """A TEXT message from the server, as if its read had just been parsed
    (aiohttp: into its reader's queue; aiows: through its engine)."""
    if isinstance(ws, aiows.ClientWebSocketResponse):
        ws._engine.data_received(server_frame(0x1, text.encode()))
    else:
        ws._reader.feed_data(aiohttp.WSMessage(WSMsgType.TEXT, text, ""), len(text))


async def test_close_from_another_task_as_a_message_arrives(
    server: tuple[str, ServerLog],
) -> None:
    """close(code=4000) wakes a receive() waiting in another task, and a
    message arrives before that task runs; the task reads it, then at once
    receives again, as a receive loop does."""
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        async def read_two() -> list[Any]:
            return [await ws.receive(), await ws.receive()]

        reader = asyncio.ensure_future(read_two())
        await asyncio.sleep(0)  # it waits
        closing = asyncio.ensure_future(ws.close(code=4000, message=b"bye"))
        await asyncio.sleep(0)  # close() woke the reader, which has not run
        deliver(ws, "late")
        first, second = await reader
        r.add("first", (first.type.name, first.data))
        r.add("second", second.type.name)
        r.add("close() returned", await closing)
        r.state(ws, "after")

    result = await both(base, "/echo", scenario, log)
    assert_same(result, "close from another task as a message arrives")


async def test_heartbeat_gives_up_on_a_silent_server(
    server: tuple[str, ServerLog],
) -> None:
    base, _ = server

    async def scenario(ws: Any, r: Record) -> None:
        msg = await ws.receive()
        r.message("receive", msg)
        r.state(ws, "after")
        r.add("exception", kind(ws.exception()))
        r.message("next", await ws.receive())

    result = await both(base, "/silent", scenario, heartbeat=0.2)
    assert_same(result, "heartbeat")


async def test_heartbeat_with_an_answering_server(
    server: tuple[str, ServerLog],
) -> None:
    base, _ = server

    async def scenario(ws: Any, r: Record) -> None:
        await asyncio.sleep(0.5)  # the behaviour under test is time itself
        await ws.send_str("still here")
        r.message("echo", await ws.receive())
        r.state(ws, "after")
        r.add("exception", ws.exception())

    result = await both(base, "/echo", scenario, heartbeat=0.1)
    assert_same(result, "heartbeat answered")


async def test_receive_timeout(server: tuple[str, ServerLog]) -> None:
    base, _ = server

    async def scenario(ws: Any, r: Record) -> None:
        await r.raises("receive", ws.receive(timeout=0.05))
        r.state(ws, "after timeout")
        await ws.send_str("works")
        r.message("echo", await ws.receive())

    assert_same(await both(base, "/echo", scenario), "receive timeout")


@pytest.mark.parametrize("bits", [9, 12, 15])
async def test_compression_with_window_bits(
    server: tuple[str, ServerLog], bits: int
) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        r.add("negotiated", (ws.compress, ws.client_notakeover))
        await ws.send_str("compress me " * 100)
        r.message("echo", await ws.receive())

    result = await both(base, "/echo?compress=1", scenario, log, compress=bits)
    assert_same(result, f"compress={bits}")


async def test_decode_text_off(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_str("raw")
        msg = await ws.receive()
        r.message("text as bytes", msg)
        r.add("class", type(msg).__name__)
        await ws.send_str("again")
        r.add("receive_str", await ws.receive_str())

    result = await both(base, "/echo", scenario, log, decode_text=False)
    oracle, ours = result["aiohttp"], result["aiows"]
    # aiows's class of undecoded text is aiohttp's own; for decoded messages
    # it is aiows.WSMessage, an aiohttp.WSMessage subclass (for .tp).
    assert dict(ours)["class"] == dict(oracle)["class"]
    assert_same(result, "decode_text off")


async def test_wrong_message_type(server: tuple[str, ServerLog]) -> None:
    base, log = server

    async def scenario(ws: Any, r: Record) -> None:
        await ws.send_bytes(b"bin")
        await r.raises("receive_str on BINARY", ws.receive_str())
        await ws.send_str("txt")
        await r.raises("receive_bytes on TEXT", ws.receive_bytes())
        await ws.send_str("not json")
        await r.raises("receive_json on bad JSON", ws.receive_json())
        await r.raises("send_str(bytes)", ws.send_str(b"x"))
        await r.raises("send_bytes(str)", ws.send_bytes("x"))
        r.state(ws, "after")

    assert_same(await both(base, "/echo", scenario, log), "wrong type")


# -- protocol errors, from a scripted server ---------------------------------------


def recording(
    seen: dict[str, Any], first: bytes
) -> Callable[[RawPeer], Awaitable[None]]:
    """A raw server handler: send ``first``, then record the client's frames
    (opcode and first two payload bytes) until its close frame.

    ``seen[run]`` holds the frames; ``seen[run + " done"]`` is an event set
    once the handler read the close, since the client's ``receive()`` may
    return before the server has read it.
    """

    async def handler(peer: RawPeer) -> None:
        run = peer.request_line.split("run=")[1].split()[0]
        got: list[tuple[int, bytes]] = []
        seen[run] = got
        done = seen.setdefault(run + " done", asyncio.Event())
        peer.send(first)
        try:
            while True:
                frame = await peer.read_frame()
                got.append((frame.opcode, frame.payload[:2]))
                if frame.opcode == 0x8:
                    peer.send(server_frame(0x8, frame.payload[:2]))
                    await peer.writer.drain()
                    return
        finally:
            done.set()

    return handler


async def frames_seen(seen: dict[str, Any], run: str) -> Any:
    """What the recording handler saw of ``run``, once it has finished."""
    done = seen.setdefault(run + " done", asyncio.Event())
    await asyncio.wait_for(done.wait(), 5)
    return seen.get(run)


@pytest.mark.parametrize(
    ("name", "bad", "code"),
    [
        ("invalid UTF-8", server_frame(0x1, b"\xff\xfe"), 1007),
        ("reserved opcode", server_frame(0x3, b""), 1002),
        ("fragmented ping", server_frame(0x9, b"", fin=False), 1002),
    ],
)
async def test_protocol_error(
    raw_server: Callable[..., Awaitable[RawServer]], name: str, bad: bytes, code: int
) -> None:
    seen: dict[str, Any] = {}
    srv = await raw_server(recording(seen, server_frame(0x1, b"valid") + bad))

    async def scenario(ws: Any, r: Record) -> None:
        msg = await ws.receive()
        r.message("valid", msg)
        await ws.send_str("echo: " + msg.data)
        error = await ws.receive()
        r.message("error", error)
        r.state(ws, "after")
        r.add("exception", ws.exception())
        r.message("next", await ws.receive())

    result: dict[str, list[tuple[str, Any]]] = {}
    for client in CLIENTS:
        record = await run(client, f"{srv.url}?run={client}", scenario)
        saw = await frames_seen(seen, client)
        result[client] = [*record.events, ("server saw", saw)]
    assert dict(result["aiows"])["server saw"] == [
        (0x1, b"ec"),
        (0x8, code.to_bytes(2, "big")),
    ]
    assert_same(result, f"protocol error: {name}")


async def test_masked_server_frame(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    seen: dict[str, Any] = {}
    masked = bytes([0x81, 0x81, 1, 2, 3, 4, ord("A") ^ 1])
    srv = await raw_server(recording(seen, server_frame(0x1, b"valid") + masked))

    async def scenario(ws: Any, r: Record) -> None:
        r.message("valid", await ws.receive())
        r.message("masked", await ws.receive())

    result: dict[str, list[tuple[str, Any]]] = {}
    for client in CLIENTS:
        result[client] = (await run(client, f"{srv.url}?run={client}", scenario)).events
    assert_same(result, "masked server frame")


async def test_server_drops_the_connection(
    raw_server: Callable[..., Awaitable[RawServer]],
) -> None:
    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x1, b"last"))
        await peer.writer.drain()
        peer.close()

    srv = await raw_server(handler)

    async def scenario(ws: Any, r: Record) -> None:
        r.message("last", await ws.receive())
        r.message("end", await ws.receive())
        r.state(ws, "after")
        r.add("exception", None if ws.exception() is None else kind(ws.exception()))
        await r.raises("send", ws.send_str("late"))

    result: dict[str, list[tuple[str, Any]]] = {}
    for client in CLIENTS:
        result[client] = (await run(client, srv.url, scenario)).events
    assert_same(result, "server drops")


async def test_every_documented_difference_has_a_reason() -> None:
    for scenario, differences in DIFFERENCES.items():
        for label, (theirs, mine, reason) in differences.items():
            assert theirs != mine, (scenario, label)
            assert len(reason) > 20, (scenario, label)


# -- what test suites written for aiohttp do (issue 20) ------------------------------


async def test_a_protocol_error_is_exactly_aiohttps_class(raw_server: Any) -> None:
    """A reserved opcode: the ERROR message's data is exactly
    ``aiohttp.WebSocketError`` (aiohttp's own tests check ``type(...) is``)."""

    async def handler(peer: RawPeer) -> None:
        peer.send(server_frame(0x3, b""))
        await peer.read_close()

    srv: RawServer = await raw_server(handler)

    async def scenario(ws: Any, r: Record) -> None:
        msg = await ws.receive()
        r.message("error", msg)
        r.add("exact class", type(msg.data) is aiohttp.WebSocketError)
        r.state(ws, "after")

    base = srv.url.replace("ws://", "http://").rstrip("/")
    assert_same(await both(base, "/", scenario), "protocol error class")


async def test_setting_closed_acts_as_a_dropped_connection(
    server: tuple[str, ServerLog],
) -> None:
    """Test suites of libraries built on aiohttp set ``ws._closed = True`` to
    act as if the connection had dropped."""
    base, _ = server

    async def scenario(ws: Any, r: Record) -> None:
        r.add("_closed before", ws._closed)
        await ws.send_str("hi")
        r.message("echo", await ws.receive())
        ws._closed = True
        r.add("closed", ws.closed)
        r.message("receive()", await ws.receive())
        r.add("close() again", await ws.close())

    assert_same(await both(base, "/echo", scenario), "_closed set by a test")


async def test_ssl_of_the_wrong_type(server: tuple[str, ServerLog]) -> None:
    """``ssl=42``: aiohttp's TypeError, with its words, before connecting."""
    base, _ = server
    for client in CLIENTS:
        session: Any = (
            aiohttp.ClientSession() if client == "aiohttp" else aiows.ClientSession()
        )
        async with session:
            with pytest.raises(TypeError) as info:
                await session.ws_connect(f"{base}/echo", ssl=42)
        assert str(info.value) == (
            "ssl should be SSLContext, bool, Fingerprint or None, got 42 instead."
        ), client


class Counting(aiows.ClientWebSocketResponse):
    """A subclass with an override, as an application would write one."""

    received = 0

    async def receive(self, timeout: float | None = None) -> Any:
        msg = await super().receive(timeout)
        type(self).received += 1
        return msg


@pytest.mark.parametrize("where", ["ws_connect", "session"])
async def test_ws_response_class(server: tuple[str, ServerLog], where: str) -> None:
    """``ws_response_class`` on ``ws_connect`` (aiohttp 0.15) or on the
    session (aiohttp 3): the connection is an instance of it, with its
    overrides."""
    base, _ = server
    Counting.received = 0
    session_kwargs = {"ws_response_class": Counting} if where == "session" else {}
    connect_kwargs = {"ws_response_class": Counting} if where == "ws_connect" else {}
    async with (
        aiows.ClientSession(**session_kwargs) as session,
        session.ws_connect(f"{base}/echo?run=x", **connect_kwargs) as ws,
    ):
        assert type(ws) is Counting
        assert isinstance(ws, aiohttp.ClientWebSocketResponse)
        await ws.send_str("hi")
        assert (await ws.receive()).data == "hi"
        assert Counting.received == 1
    with pytest.raises(TypeError, match=r"subclass of aiows\.ClientWebSocketResponse"):
        aiows.ClientSession(ws_response_class=aiohttp.ClientWebSocketResponse)
