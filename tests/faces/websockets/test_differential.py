"""websockets as the oracle: every scenario through websockets' client and aiows's.

Each scenario is a piece of user code written for
``websockets.asyncio.client.connect``.  It runs once with websockets' names
and once with aiows's (``aiows.connect``, ``aiows.ConnectionClosedOK``, ...),
against the same server, and records what user code observes: values
returned, exception classes (by name, with the websockets hierarchy by
name), close frames, ``state`` by name, the handshake objects, and the order
of all of it, plus what the server saw.  The two records must be equal.

Where aiows differs on purpose, :data:`DIFFERENCES` says where and why, and
the scenario asserts the difference itself, so it cannot drift either way.
Where aiows differs by mistake, a test of its own is a strict ``xfail``
whose reason starts with ``LIB:``.  When the mistake is in a detail (the
wording of a failure close's reason, the text or ``__cause__`` of an
exception), the scenario runs twice (:func:`details`): ``masked``, which
compares everything else and passes, and ``exact``, the strict xfail.

The servers: ``websockets.asyncio.server.serve`` for most scenarios, an
``aiohttp.web`` server where aiohttp's server behaves differently, and the
scripted ``raw_server`` for hostile input.  The legacy
``websockets.legacy.client.connect`` is a third client for the legacy
spellings (``extra_headers=``, ``timeout=``, ``klass=`` ...).

``picows.websockets.connect``, picows' re-implementation of websockets'
asyncio client, runs every scenario it can as a peer beside aiows
(:func:`both`): what it observes is compared with websockets' too, its
differences are listed in :data:`PICOWS_DIFFERENCES` (each saying which one
aiows follows, and why), and the scenarios it cannot run in
:data:`PICOWS_CANNOT`, both asserted as :data:`DIFFERENCES` is.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
import ssl
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import picows.websockets
import pytest
import websockets
import websockets.exceptions
import websockets.version
from aiohttp import web
from picows.websockets import ClientConnection as PicowsConnection
from picows.websockets import connect as picows_connect
from websockets.asyncio.client import ClientConnection as WebsocketsConnection
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

import aiows
from tests.conftest import RawPeer, RawServer, server_frame, upgrade_response
from tests.faces.websockets.test_picows_peer import (
    ABSENT,
    PICOWS_CANNOT,
    PICOWS_DIFFERENCES,
)
from tests.helpers import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, bounded
from tests.session.conftest import TLS

with warnings.catch_warnings():
    # Importing websockets.legacy warns that it is deprecated.
    warnings.simplefilter("ignore", DeprecationWarning)
    from websockets.legacy.client import WebSocketClientProtocol
    from websockets.legacy.client import connect as legacy_connect

StartServer = Callable[..., Awaitable[RawServer]]

#: How long one scenario may take before it counts as hanging.
SCENARIO_TIMEOUT = 10.0


# -- the clients ---------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """The names a program imports: websockets', legacy websockets', aiows's or
    picows.websockets'."""

    name: str
    connect: Callable[..., Any]
    #: Where the exception classes are: ``websockets.exceptions``, ``aiows``
    #: or ``picows.websockets``.
    errors: Any
    #: The class to subclass for ``create_connection=`` / ``klass=``.
    connection_class: type


WEBSOCKETS = Api(
    "websockets", websockets_connect, websockets.exceptions, WebsocketsConnection
)
LEGACY = Api("legacy", legacy_connect, websockets.exceptions, WebSocketClientProtocol)
AIOWS = Api("aiows", aiows.connect, aiows, aiows.ClientConnection)
#: The peer: picows' re-implementation of websockets' asyncio client.
PICOWS = Api("picows", picows_connect, picows.websockets, PicowsConnection)

#: websockets' exception names; the hierarchy is compared on these.
WEBSOCKETS_NAMES = frozenset(websockets.exceptions.__all__) - {
    # Checked on its own: see test_websocket_exception_is_the_root.
    "WebSocketException",
}
#: websockets' exception names that aiows also has.
SHARED_NAMES = sorted(name for name in WEBSOCKETS_NAMES if hasattr(aiows, name))
_ROOTS = (object, BaseException, Exception)
#: aiows's public classes by name: a private class of the same name (the
#: sans-I/O core's ProtocolError) is not in the hierarchy user code catches.
PUBLIC: dict[str, Any] = {name: getattr(aiows, name) for name in aiows.__all__}


def kind(exc: BaseException) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """What ``except`` clauses see of ``exc``: see :func:`class_kind`."""
    return class_kind(type(exc))


def class_kind(cls: type) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A class's name, its websockets bases by name (public classes only),
    and its built-in bases (other than those an aiohttp base brings, which
    are a deliberate addition: see :data:`DIFFERENCES`)."""
    mro = cls.__mro__
    from_aiohttp: set[type] = set()
    for base in mro:
        if base.__module__.split(".")[0] == "aiohttp":
            from_aiohttp.update(base.__mro__)
    hierarchy = tuple(
        base.__name__
        for base in mro
        if base.__name__ in WEBSOCKETS_NAMES
        and base
        in (
            getattr(websockets.exceptions, base.__name__),
            PUBLIC.get(base.__name__),
            getattr(picows.websockets, base.__name__, None),
        )
    )
    builtin = tuple(
        base.__name__
        for base in mro
        if base.__module__ == "builtins"
        and base not in _ROOTS
        and base not in from_aiohttp
    )
    return cls.__name__, hierarchy, builtin


def frame(close: Any) -> tuple[int, str] | None:
    """A close frame as ``(code, reason)``; None when there was none."""
    return None if close is None else (int(close.code), close.reason)


def closed_info(exc: BaseException) -> dict[str, Any]:
    """What a ConnectionClosed says about the ending."""
    return {
        "rcvd": frame(getattr(exc, "rcvd", None)),
        "sent": frame(getattr(exc, "sent", None)),
        "rcvd_then_sent": getattr(exc, "rcvd_then_sent", None),
        "cause": None if exc.__cause__ is None else kind(exc.__cause__),
    }


def masked_headers(headers: Any) -> list[tuple[str, str]]:
    """Headers as sorted ``(lower name, value)`` pairs through the Mapping API,
    with the values that change on every run (key, accept, date) masked."""
    varying = {"sec-websocket-key", "sec-websocket-accept", "date"}
    return sorted(
        (name.lower(), "<varies>" if name.lower() in varying else value)
        for name, value in headers.items()
    )


#: Request headers compared on their own: the User-Agent (a difference) and
#: the two aiohttp adds (test_request_headers_are_websockets_own).
AIOHTTP = ("user-agent", "accept", "accept-encoding")


@dataclass
class Record:
    """The observations of one run, in order."""

    api: Api
    events: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, label: str, value: Any) -> None:
        self.events.append((label, value))

    def error(self, label: str, exc: BaseException) -> None:
        """Record an exception: its kind, and the ending for ConnectionClosed."""
        value: dict[str, Any] = {"kind": kind(exc)}
        if isinstance(exc, self.api.errors.ConnectionClosed):
            value.update(closed_info(exc))
        self.add(label, ("raised", value))

    async def outcome(self, label: str, awaitable: Awaitable[Any]) -> Any:
        """Await ``awaitable``; record what it returned or raised."""
        try:
            result = await awaitable
        except Exception as exc:
            self.error(label, exc)
            return exc
        plain = result is None or isinstance(result, (str, bytes, int, float))
        self.add(label, ("returned", result if plain else type(result).__name__))
        return result

    def read(self, label: str, get: Callable[[], Any]) -> None:
        """Record what ``get()`` returns, or what it raises: an attribute
        that one client lacks is an observation too."""
        try:
            value = get()
        except Exception as exc:
            self.error(label, exc)
        else:
            self.add(label, value)

    def state(self, ws: Any, label: str) -> None:
        """``state`` by name, and the close code and reason."""
        self.add(f"{label} state", ws.state.name)
        self.add(f"{label} close", (ws.close_code, ws.close_reason))

    def legacy_state(self, ws: Any, label: str) -> None:
        """The legacy attributes: ``open``, ``closed``, close code and reason."""
        self.add(f"{label} open/closed", (ws.open, ws.closed))
        self.add(f"{label} close", (ws.close_code, ws.close_reason))


# -- the websockets server ---------------------------------------------------------


@dataclass
class ServerLog:
    """What the server saw, per run (the ``run`` query parameter)."""

    runs: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)

    def add(self, run: str, label: str, value: Any) -> None:
        self.runs.setdefault(run, []).append((label, value))

    def started(self, run: str) -> None:
        self.done.setdefault(run, asyncio.Event())

    def finished(self, run: str) -> None:
        self.done.setdefault(run, asyncio.Event()).set()

    def process_response(self, connection: Any, request: Any, response: Any) -> None:
        """websockets' ``process_response`` hook: a run's record begins before
        its 101 goes out, so a client that fails at once cannot ask for the
        record before the server's handler has even started."""
        if response.status_code == 101:
            self.started(run_of(request.path))

    async def wait(self, run: str) -> list[tuple[str, Any]]:
        """The server's record of ``run``, once its handler returned."""
        if run in self.done:
            await bounded(self.done[run].wait())
        return self.runs.get(run, [])


def query(path: str) -> dict[str, str]:
    _, _, qs = path.partition("?")
    return dict(part.partition("=")[::2] for part in qs.split("&") if part)


def run_of(path: str) -> str:
    return query(path).get("run", "?")


async def commands(ws: ServerConnection, log: ServerLog, run: str) -> None:
    """Echo, except for commands: ``close CODE REASON``, ``three CODE`` (three
    messages, then a close), ``fragments`` / ``bin-fragments`` (a fragmented
    message), ``ping`` (a ping, then ``pinged``), ``drop`` (TCP abort)."""
    async for message in ws:
        log.add(run, "got", (type(message).__name__, message))
        if not isinstance(message, str):
            await ws.send(message)
            continue
        verb, _, rest = message.partition(" ")
        if verb == "close":
            code, _, reason = rest.partition(" ")
            await ws.close(int(code), reason)
        elif verb == "three":
            for text in ("one", "two", "three"):
                await ws.send(text)
            await ws.close(int(rest), "bye")
        elif verb == "fragments":
            await ws.send(["fra", "gm", "ent"])
        elif verb == "bin-fragments":
            await ws.send([b"fra", b"gm", b"ent"])
        elif verb == "ping":
            await ws.ping(b"srv")
            await ws.send("pinged")
        elif verb == "drop":
            assert ws.transport is not None
            ws.transport.abort()
        elif verb == "many":
            for i in range(int(rest)):
                await ws.send(f"m{i} " + "x" * 1000)
        else:
            await ws.send(message)


@dataclass
class WebsocketsServer:
    url: str
    log: ServerLog


@pytest.fixture
async def server() -> AsyncIterator[WebsocketsServer]:
    """A websockets server: ``/echo`` runs :func:`commands`; ``/deny`` refuses
    with 403; ``/redirect`` sends a 302 to ``/echo``."""
    log = ServerLog()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        run = run_of(ws.request.path)
        log.add(run, "path", ws.request.path)
        log.add(run, "X-Token", ws.request.headers.get("X-Token"))
        try:
            await commands(ws, log, run)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            log.add(run, "close rcvd", frame(ws.protocol.close_rcvd))
            log.add(run, "close sent", frame(ws.protocol.close_sent))
            log.finished(run)

    def process_request(connection: ServerConnection, request: Any) -> Any:
        path = request.path.partition("?")[0]
        if path == "/many":
            return None
        if path == "/deny":
            response = connection.respond(HTTPStatus.FORBIDDEN, "no entry\n")
            response.headers["X-Why"] = "test"
            return response
        if path == "/redirect":
            response = connection.respond(HTTPStatus.FOUND, "")
            response.headers["Location"] = "/echo?" + request.path.partition("?")[2]
            return response
        return None

    def select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
        return "chat" if "chat" in offered else None

    async with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        process_response=log.process_response,
        select_subprotocol=select_subprotocol,
    ) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield WebsocketsServer(f"ws://127.0.0.1:{port}", log)


# -- running one scenario with each client ------------------------------------------

Scenario = Callable[[Api, str, Record], Awaitable[None]]


class Result(dict[str, list[tuple[str, Any]]]):
    """Each client's observations, by client name; ``exact`` is False when
    the details were masked (:func:`masked_event`)."""

    exact: bool = True


async def each(
    apis: tuple[Api, ...],
    url: str,
    scenario: Scenario,
    log: ServerLog | None = None,
    *,
    exact: bool = True,
) -> Result:
    """Run ``scenario`` with each API in turn; add what the server saw.

    Unless ``exact``, some details are masked (see :func:`details_masked`)."""
    out = Result()
    out.exact = exact
    for api in apis:
        sep = "&" if "?" in url.rpartition("/")[2] else "?"
        record = Record(api)
        await asyncio.wait_for(
            scenario(api, f"{url}{sep}run={api.name}", record), SCENARIO_TIMEOUT
        )
        events = list(record.events)
        if log is not None:
            seen = await log.wait(api.name)
            events += [("server " + label, value) for label, value in seen]
        events = same_run(events, api.name)
        if not exact:
            events = [(label, masked_event(label, value)) for label, value in events]
        out[api.name] = events
    return out


def same_run(value: Any, name: str) -> Any:
    """``value`` with ``run=<name>`` read as ``run=<run>``: the one thing
    that differs between the runs by design."""
    if isinstance(value, str):
        return value.replace(f"run={name}", "run=<run>")
    if isinstance(value, (list, tuple)):
        return type(value)(same_run(item, name) for item in value)
    if isinstance(value, dict):
        return {key: same_run(item, name) for key, item in value.items()}
    return value


#: Observations that are details too: a handshake error's text and cause.
DETAIL_LABELS = frozenset({"str", "cause"})


def masked_event(label: str, value: Any) -> Any:
    """An observation as a run with its details masked records it."""
    if value == ABSENT:
        return value
    return "<detail>" if label in DETAIL_LABELS else details_masked(value)


#: Close codes that mean a failure: their reasons are each library's own words.
FAILURE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, 1011})


def details_masked(value: Any) -> Any:
    """``value`` with the details that user code rarely reads masked: the
    reason of every failure close (a ``(code, reason)`` pair, or inside a
    ConnectionClosed record) and the ``__cause__`` of ConnectionClosed.

    A scenario where they differ runs twice (:func:`details`): masked, so
    that everything else is compared, and exact, a strict xfail.
    """
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and type(value[0]) is not bool
        and isinstance(value[0], int)
        and value[0] in FAILURE_CODES
        and isinstance(value[1], str)
        and value[1]
    ):
        return (value[0], "<failure reason>")
    if isinstance(value, (list, tuple)):
        return type(value)(details_masked(item) for item in value)
    if isinstance(value, dict):
        masked = {key: details_masked(item) for key, item in value.items()}
        if "cause" in masked:
            masked["cause"] = "<cause>"
        return masked
    return value


def details(lib: str) -> Any:
    """Parametrize a scenario whose details differ: ``masked`` compares all
    but them, ``exact`` all of it (a strict xfail; ``lib`` says what aiows
    does wrong)."""
    return pytest.mark.parametrize(
        "exact",
        [
            pytest.param(False, id="masked"),
            pytest.param(
                True,
                id="exact",
                marks=pytest.mark.xfail(strict=True, reason=f"LIB: {lib}"),
            ),
        ],
    )


#: A scenario once compared with its details masked, once exactly.
both_ways = pytest.mark.parametrize("exact", [False, True], ids=["masked", "exact"])
#: A scenario compared with its details masked only: where the details are
#: aiows's own words (see "Wording" in docs/from_websockets.rst).
masked_only = pytest.mark.parametrize("exact", [False], ids=["masked"])


async def both(
    url: str,
    scenario: Scenario,
    log: ServerLog | None = None,
    *,
    exact: bool = True,
    without_picows: str | None = None,
) -> Result:
    """Run ``scenario`` with websockets (the oracle), aiows and picows.websockets.

    ``without_picows`` leaves picows out: it names the entry of
    :data:`PICOWS_CANNOT` that says what it lacks for this scenario.  picows
    runs only against websockets 17 (:data:`PEERS`)."""
    assert without_picows is None or without_picows in PICOWS_CANNOT, without_picows
    peers = PEERS if without_picows is None else ()
    return await each((WEBSOCKETS, AIOWS, *peers), url, scenario, log, exact=exact)


class Difference(NamedTuple):
    """One deliberate difference: in ``scenario``, observation ``label`` is
    ``oracle`` for websockets (or legacy websockets) and ``aiows`` for aiows.
    ``topic`` is its heading in docs/from_websockets.rst."""

    scenario: str
    label: str
    oracle: Any
    aiows: Any
    reason: str
    topic: str


def keyed(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``events`` with each label made unique: the second ``message`` is
    ``message #2``, and so on."""
    counts: dict[str, int] = {}
    out = []
    for label, value in events:
        counts[label] = n = counts.get(label, 0) + 1
        out.append((label if n == 1 else f"{label} #{n}", value))
    return out


def assert_same_as_oracle(
    result: dict[str, list[tuple[str, Any]]], name: str, client: str
) -> None:
    """``client`` observed what the oracle observed, but for its documented
    differences: :data:`DIFFERENCES` for aiows, :data:`PICOWS_DIFFERENCES`
    for picows.  Each documented difference must be seen, as documented
    (seen through the run's masking, when details were masked)."""
    oracle_name = next(key for key in result if key not in ("aiows", "picows"))
    oracle, ours = keyed(result[oracle_name]), keyed(result[client])
    exact = getattr(result, "exact", True)
    table_of: list[Any] = DIFFERENCES if client == "aiows" else PICOWS_DIFFERENCES
    allowed: dict[str, tuple[Any, Any]] = {}
    for d in table_of:
        if d.scenario == name:
            pair = (d.oracle, getattr(d, client))
            if not exact:
                pair = (masked_event(d.label, pair[0]), masked_event(d.label, pair[1]))
            if pair[0] != pair[1]:  # else masked away in this run
                allowed[d.label] = pair
    expected_of, got_of = dict(oracle), dict(ours)
    labels = list(expected_of) + [label for label in got_of if label not in expected_of]
    pairs = {
        label: (expected_of.get(label, ABSENT), got_of.get(label, ABSENT))
        for label in labels
    }
    table = "\n".join(
        f"{'  ' if expected == got else '!='} {label}\n"
        f"     {oracle_name}: {expected!r}\n     {client}: {got!r}"
        for label, (expected, got) in pairs.items()
    )
    # The order, but for observations documented as made by one client only.
    one_sided = {
        side: {label for label, pair in allowed.items() if pair[1 - side] == ABSENT}
        for side in (0, 1)
    }
    assert [label for label, _ in ours if label not in one_sided[1]] == [
        label for label, _ in oracle if label not in one_sided[0]
    ], f"{name}: the observations differ ({client})\n{table}"
    for label, (expected, got) in pairs.items():
        if label in allowed:
            assert (expected, got) == allowed.pop(label), (
                f"{name}: {label} (a documented difference, {client})\n{table}"
            )
        else:
            assert got == expected, f"{name}: {label} ({client})\n{table}"
    assert not allowed, (
        f"{name}: documented differences not seen ({client}): {list(allowed)}"
    )


def assert_same(result: dict[str, list[tuple[str, Any]]], name: str) -> None:
    """aiows observed what the oracle observed, but for :data:`DIFFERENCES`;
    and so did picows.websockets, when it ran, but for
    :data:`PICOWS_DIFFERENCES`."""
    assert_same_as_oracle(result, name, "aiows")
    if "picows" in result:
        assert_same_as_oracle(result, name, "picows")


_PYTHON = f"Python/{sys.version_info.major}.{sys.version_info.minor}"

#: websockets 17 needs Python 3.11, so on 3.10 the oracle is websockets 16,
#: which behaves as 17 does not in a few places; aiows does what 17 does.
OLD_WEBSOCKETS = int(websockets.version.version.split(".")[0]) < 17
#: The heading of those differences in docs/from_websockets.rst.
OLD_WEBSOCKETS_TOPIC = "websockets 16, on Python 3.10"
#: The peers compared with the oracle besides aiows: picows.websockets,
#: whose differences (PICOWS_DIFFERENCES) are websockets 17's.
PEERS: tuple[Api, ...] = () if OLD_WEBSOCKETS else (PICOWS,)
_CLOSED_ERROR = (
    "ConnectionClosedError",
    ("ConnectionClosedError", "ConnectionClosed"),
    (),
)
_NO_FRAMES = {"rcvd": None, "sent": None, "rcvd_then_sent": None}
_failed_1007 = {
    "kind": _CLOSED_ERROR,
    "rcvd": None,
    "sent": (1007, "unexpected end of data at position 3"),
    "rcvd_then_sent": None,
}

#: What websockets 16 does otherwise than websockets 17 (and aiows).
OLD_WEBSOCKETS_DIFFERENCES: list[Difference] = [
    *(
        Difference(
            "exception leaves async with",
            label,
            (1000, ""),
            (1011, ""),
            "websockets 16 closes with 1000 whatever leaves async with; "
            "websockets 17 and aiows close with 1011 (internal error) on an "
            "exception",
            topic=OLD_WEBSOCKETS_TOPIC,
        )
        for label in ("server close rcvd", "server close sent")
    ),
    *(
        Difference(
            "bad arguments",
            label,
            ("when awaited", error),
            ("at the call", error),
            "websockets 16 checks the URI and ssl= once the connection is "
            "awaited; websockets 17 and aiows where connect() is called",
            topic=OLD_WEBSOCKETS_TOPIC,
        )
        for label, error in (
            ("http:// URI", ("InvalidURI", ("InvalidURI",), ())),
            ("no scheme", ("InvalidURI", ("InvalidURI",), ())),
            ("ssl= with ws://", ("ValueError", (), ("ValueError",))),
        )
    ),
    *(
        Difference(
            f"cause: {name}",
            f"{call} cause is {cause}",
            False,
            True,
            "websockets 16 chains no cause to the ConnectionClosedError of a "
            "connection it failed; websockets 17 and aiows chain the error",
            topic=OLD_WEBSOCKETS_TOPIC,
        )
        for name, cause in (
            ("too big", "PayloadTooBig"),
            ("reserved opcode", "ProtocolError"),
        )
        for call in ("recv()", "send()")
    ),
    Difference(
        "async for, TCP drops, exactly",
        "async for",
        ("raised", {"kind": _CLOSED_ERROR, **_NO_FRAMES, "cause": None}),
        (
            "raised",
            {
                "kind": _CLOSED_ERROR,
                **_NO_FRAMES,
                "cause": ("EOFError", (), ("EOFError",)),
            },
        ),
        "websockets 16 chains no cause to the ConnectionClosedError of a "
        "dropped connection; websockets 17 and aiows chain the EOFError",
        topic=OLD_WEBSOCKETS_TOPIC,
    ),
    *(
        Difference(
            "decode=True, not UTF-8",
            label,
            (
                "raised",
                {**_failed_1007, "cause": None},
            ),
            (
                "raised",
                {
                    **_failed_1007,
                    "cause": (
                        "UnicodeDecodeError",
                        (),
                        ("UnicodeDecodeError", "UnicodeError", "ValueError"),
                    ),
                },
            ),
            "websockets 16 chains no cause when recv(decode=True) fails the "
            "connection with 1007; websockets 17 and aiows chain the "
            "UnicodeDecodeError",
            topic=OLD_WEBSOCKETS_TOPIC,
        )
        for label in ("recv(decode=True)", "recv() again")
    ),
    Difference(
        "connect() is not reentrant",
        "second async with",
        "entered",
        "connect() isn't reentrant",
        "websockets 16 lets a second async with enter the same connect() "
        "while the first is open; websockets 17 and aiows refuse it",
        topic=OLD_WEBSOCKETS_TOPIC,
    ),
]

#: Where aiows differs from websockets on purpose.  docs/from_websockets.rst
#: lists the same ones.
DIFFERENCES: list[Difference] = [
    Difference(
        "exception hierarchy",
        "aiohttp bases",
        {name: () for name in SHARED_NAMES},
        {
            name: (
                ("WSServerHandshakeError", "ClientHttpProxyError")
                if name == "InvalidProxyStatus"
                else (base,)
                if base
                else ()
            )
            for name, base in (
                ("ConcurrencyError", None),
                ("ConnectionClosed", "ClientConnectionResetError"),
                ("ConnectionClosedError", "ClientConnectionResetError"),
                ("ConnectionClosedOK", "ClientConnectionResetError"),
                ("InvalidHandshake", "WSServerHandshakeError"),
                ("InvalidHeader", "WSServerHandshakeError"),
                ("InvalidHeaderFormat", "WSServerHandshakeError"),
                ("InvalidHeaderValue", "WSServerHandshakeError"),
                ("InvalidMessage", "WSServerHandshakeError"),
                ("InvalidOrigin", "WSServerHandshakeError"),
                ("InvalidProxy", "InvalidURL"),
                ("InvalidProxyMessage", "WSServerHandshakeError"),
                ("InvalidProxyStatus", "WSServerHandshakeError"),
                ("InvalidStatus", "WSServerHandshakeError"),
                ("InvalidURI", "InvalidURL"),
                ("InvalidUpgrade", "WSServerHandshakeError"),
                ("NegotiationError", "WSServerHandshakeError"),
                ("PayloadTooBig", "WebSocketError"),
                ("ProtocolError", "WebSocketError"),
                ("ProxyError", "WSServerHandshakeError"),
                ("SecurityError", "WSServerHandshakeError"),
                ("DuplicateParameter", "WSServerHandshakeError"),
                ("InvalidParameterName", "WSServerHandshakeError"),
                ("InvalidParameterValue", "WSServerHandshakeError"),
                ("HeaderLineTooLong", "WSServerHandshakeError"),
                ("StatusLineTooLong", "WSServerHandshakeError"),
                ("TooManyHeaders", "WSServerHandshakeError"),
                ("RequestLineTooLong", "WSServerHandshakeError"),
                ("InvalidMethod", "WSServerHandshakeError"),
                ("InvalidProtocol", "WSServerHandshakeError"),
                ("InvalidState", None),
                ("TooManyFragments", None),
            )
            # websockets 16 (Python 3.10's) lacks some of the names.
            if name in SHARED_NAMES
        },
        "aiows's exceptions also derive from the aiohttp exception that means "
        "the same, so an aiohttp-style except clause catches them too (and, "
        "through aiohttp, ConnectionClosed is a ConnectionResetError and "
        "InvalidURI a ValueError)",
        topic="Exception bases",
    ),
    Difference(
        "reconnect",
        "reconnected at once",
        True,
        False,
        "async for ws in connect(...) waits its backoff delay after every "
        "connection that ended, unless it stayed up reset_after (30 s), so a "
        "server that accepts and drops at once is not hammered; websockets "
        "resets its backoff once a connection opens and reconnects at once",
        topic="Reconnecting",
    ),
    Difference(
        "surface",
        "User-Agent",
        f"{_PYTHON} websockets/{websockets.version.version}",
        f"{_PYTHON} aiows/{aiows.__version__}",
        "the default User-Agent names the library that sends it",
        topic="Names",
    ),
    Difference(
        "surface",
        "logger name",
        "websockets.client",
        "aiows.client",
        "aiows logs under its own package's name, as the logging module "
        "recommends; configure the 'aiows' logger",
        topic="Names",
    ),
    Difference(
        "surface",
        "aiohttp_response",
        False,
        True,
        "aiows also gives the handshake's aiohttp.ClientResponse",
        topic="An aiohttp session underneath",
    ),
    *(
        Difference(
            f"legacy {keyword}",
            "warnings",
            [],
            ["DeprecationWarning"],
            "aiows warns for every legacy spelling, naming the current one "
            "(legacy websockets warns for timeout=, klass= and loop= only)",
            topic="Legacy spellings always warn",
        )
        for keyword in ("extra_headers", "read_limit", "create_protocol")
    ),
    *(
        Difference(
            "aiows's own keywords",
            label,
            ("when awaited", ("TypeError", (), ("TypeError",))),
            ("connected", "OPEN"),
            "aiows.connect() also takes session= (run on an existing aiohttp or "
            "aiows session) and backoff= (the reconnection delays)",
            topic="An aiohttp session underneath",
        )
        for label in ("session=", "backoff=")
    ),
    *(
        Difference(
            "bad arguments",
            label,
            ("when awaited", error),
            ("at the call", error),
            "aiows checks every argument where connect() is called (websockets "
            "checks some there and the others once the connection is awaited)",
            topic="Arguments are checked at the call",
        )
        for label, error in (
            ("ftp:// proxy", ("InvalidProxy", ("InvalidProxy",), ())),
            ("proxy without host", ("InvalidProxy", ("InvalidProxy",), ())),
            ("unknown keyword", ("TypeError", (), ("TypeError",))),
            ("sock with host", ("ValueError", (), ("ValueError",))),
        )
    ),
    *(
        Difference(
            f"handshake error: {name}",
            "has response",
            False,
            True,
            "every aiows handshake error carries the server's answer as "
            "response when there was one (websockets: only InvalidStatus)",
            topic="Handshake errors carry the response",
        )
        for name in (
            "no Upgrade",
            "Upgrade: h2c",
            "no Connection",
            "subprotocol not offered",
            "subprotocol when none offered",
            "extension not offered",
        )
    ),
    *(OLD_WEBSOCKETS_DIFFERENCES if OLD_WEBSOCKETS else []),
]


# -- the connection's surface ----------------------------------------------------------


async def test_surface(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, subprotocols=["chat", "other"])
        r.add("state", ws.state.name)
        r.add("state class", type(ws.state).__name__)
        r.add("subprotocol", ws.subprotocol)
        r.add("request.path", ws.request.path)
        headers = masked_headers(ws.request.headers)
        r.add("request.headers", [item for item in headers if item[0] not in AIOHTTP])
        r.add("User-Agent", ws.request.headers["User-Agent"])
        response = ws.response
        r.add("response", (response.status_code, response.reason_phrase))
        r.add("response.headers", masked_headers(response.headers))
        r.add("response.body", response.body)
        r.add("latency", (type(ws.latency).__name__, ws.latency))
        r.read("id", lambda: type(ws.id).__name__)
        r.read("logger", lambda: isinstance(ws.logger, logging.LoggerAdapter))
        r.read("logger extra", lambda: ws.logger.extra == {"websocket": ws})
        r.read("logger name", lambda: ws.logger.logger.name)
        r.add("remote_address", ws.remote_address)
        r.add("local_address host", ws.local_address[0])
        r.add("close before the end", (ws.close_code, ws.close_reason))
        r.add("aiohttp_response", hasattr(ws, "aiohttp_response"))
        await ws.send("hello")
        r.add("echo", await ws.recv())
        await r.outcome("close()", ws.close())
        r.state(ws, "after close")
        await r.outcome("second close()", ws.close())
        await r.outcome("wait_closed()", ws.wait_closed())

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "surface")


# -- sending and receiving ------------------------------------------------------------


async def test_send_and_recv(server: WebsocketsServer) -> None:
    async def agen(*items: Any) -> AsyncIterator[Any]:
        for item in items:
            yield item

    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send("héllo")
            r.add("text", await ws.recv())
            await ws.send(b"\x00\xff")
            r.add("binary", await ws.recv())
            await ws.send(bytearray(b"ba"))
            r.add("bytearray", await ws.recv())
            await ws.send(memoryview(b"mv"))
            r.add("memoryview", await ws.recv())
            await ws.send(b"bytes as text", text=True)
            r.add("text=True", await ws.recv())
            await ws.send("str as binary", text=False)
            r.add("text=False", await ws.recv())
            await ws.send("text, decode=False")
            r.add("recv(decode=False)", await ws.recv(decode=False))
            await ws.send(b"binary, decode=True")
            r.add("recv(decode=True)", await ws.recv(decode=True))
            await ws.send(["frag", "mented"])
            r.add("list of str", await ws.recv())
            await ws.send((b"frag", b"mented"))
            r.add("tuple of bytes", await ws.recv())
            await ws.send(iter(["it", "er"]))
            r.add("iterator", await ws.recv())
            await ws.send(agen("as", "ync"))
            r.add("async iterable", await ws.recv())
            await ws.send(agen(b"as", b"ync"))
            r.add("async iterable of bytes", await ws.recv())
            await ws.send(["str", "as", "binary"], text=False)
            r.add("fragments text=False", await ws.recv())
            await ws.send([])
            await ws.send(agen())
            await ws.send("after empty iterables")
            r.add("after empty", await ws.recv())
            await r.outcome("send(dict)", ws.send({"a": 1}))
            await r.outcome("send(int)", ws.send(42))
            await ws.send("x" * 70000)
            r.add("large", len(await ws.recv()))
            r.state(ws, "open")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "send and recv")


@both_ways
async def test_mixed_fragments_fail_the_connection(
    server: WebsocketsServer, exact: bool
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await r.outcome("send(['a', b'b'])", ws.send(["a", b"b"]))
            await r.outcome("recv()", ws.recv())
            r.state(ws, "after")

    result = await both(f"{server.url}/echo", scenario, server.log, exact=exact)
    assert_same(result, "mixed fragments")


async def test_recv_streaming(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send("fragments")
            r.add("text", "".join([p async for p in ws.recv_streaming()]))
            await ws.send("fragments")
            pieces = [p async for p in ws.recv_streaming(decode=False)]
            r.add("text, decode=False", (b"".join(pieces), {type(p) for p in pieces}))
            await ws.send("bin-fragments")
            pieces = [p async for p in ws.recv_streaming(decode=True)]
            r.add("binary, decode=True", ("".join(pieces), {type(p) for p in pieces}))
            await ws.send("single")
            r.add("unfragmented", [p async for p in ws.recv_streaming()])
            await ws.send(b"\x01")
            r.add("unfragmented binary", [p async for p in ws.recv_streaming()])
            await ws.send("close 1000 done")
            stream = ws.recv_streaming()
            await r.outcome("after the close", stream.__anext__())

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "recv_streaming")


# -- closing ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "name"), [(1000, "normal"), (1001, "going away")])
async def test_async_for_ends_on_a_normal_close(
    server: WebsocketsServer, code: int, name: str
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send(f"three {code}")
            r.add("messages", [message async for message in ws])
            r.state(ws, "after the loop")
            await r.outcome("recv()", ws.recv())
            await r.outcome("send()", ws.send("late"))

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, f"async for, {name} close")


async def test_async_for_raises_on_an_error_close(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send("three 4000")
            got: list[Any] = []

            async def loop() -> None:
                async for message in ws:
                    got.append(message)

            await r.outcome("async for", loop())
            r.add("messages", got)
            r.state(ws, "after the loop")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "async for, error close")


@both_ways
async def test_async_for_raises_when_tcp_drops(
    server: WebsocketsServer, exact: bool
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send("before")

            async def loop() -> None:
                async for message in ws:
                    r.add("message", message)
                    await ws.send("drop")

            await r.outcome("async for", loop())
            r.state(ws, "after the loop")

    result = await both(f"{server.url}/echo", scenario, server.log, exact=exact)
    assert_same(result, "async for, TCP drops" + (", exactly" if exact else ""))


async def test_aiter_aclose(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            await ws.send("one")
            await ws.send("two")
            iterator = aiter(ws)
            r.add("iterator has aclose", hasattr(iterator, "aclose"))
            r.add("first", await anext(iterator))
            await r.outcome("aclose()", iterator.aclose())
            await r.outcome("anext after aclose", anext(iterator))
            r.add("recv still works", await ws.recv())
            r.state(ws, "open")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "aiter aclose")


@pytest.mark.parametrize(("code", "name"), [(1000, "normal"), (4000, "error")])
async def test_server_closes_first(
    server: WebsocketsServer, code: int, name: str
) -> None:
    """Messages that arrived before the close stay readable after it."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url)
        await ws.send(f"three {code}")
        await r.outcome("wait_closed()", ws.wait_closed())
        r.state(ws, "closed")
        for index in range(3):
            await r.outcome(f"recv() {index}", ws.recv())
        await r.outcome("recv() at the end", ws.recv())
        await r.outcome("recv() again", ws.recv())
        await r.outcome("send()", ws.send("late"))
        await r.outcome("ping()", ws.ping())
        await r.outcome("pong()", ws.pong())
        await r.outcome("close()", ws.close())
        r.state(ws, "after close()")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, f"server closes first, {name}")


async def test_client_closes_first(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url)
        await ws.send("hello")
        await r.outcome("close()", ws.close(4001, "done"))
        r.state(ws, "closed")
        await r.outcome("recv()", ws.recv())
        await r.outcome("send()", ws.send("late"))
        stream = ws.recv_streaming()
        await r.outcome("recv_streaming()", stream.__anext__())

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "client closes first")


async def test_close_with_a_reason(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url)
        await r.outcome("close()", ws.close(1000, "bye"))
        r.state(ws, "closed")
        await r.outcome("recv()", ws.recv())

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "close with a reason")


async def test_an_exception_leaving_async_with_closes_with_1011(
    server: WebsocketsServer,
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async def body() -> None:
            async with api.connect(url) as ws:
                r.add("inside", ws.state.name)
                raise LookupError("user code failed")

        await r.outcome("async with", body())

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "exception leaves async with")


@both_ways
async def test_close_during_a_fragmented_send(
    server: WebsocketsServer, exact: bool
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url)
        first_sent = asyncio.Event()
        closed = asyncio.Event()

        async def fragments() -> AsyncIterator[str]:
            yield "first "
            first_sent.set()
            await closed.wait()
            r.add("asked for the next fragment", ws.state.name)
            yield "after the close"

        sending = asyncio.ensure_future(ws.send(fragments()))
        await bounded(first_sent.wait())
        await r.outcome("close()", ws.close())
        r.state(ws, "closed")
        r.add("send done after close()", sending.done())
        closed.set()
        await r.outcome("the send", sending)

    result = await both(f"{server.url}/echo", scenario, server.log, exact=exact)
    assert_same(result, "close during a fragmented send")


async def test_a_send_racing_a_normal_close_raises_ok(raw_server: StartServer) -> None:
    """The send starts while the closing handshake is under way: it waits for
    the end and raises ConnectionClosedOK."""
    close_read: dict[str, asyncio.Event] = {}
    reply: dict[str, asyncio.Event] = {}
    seen: dict[str, list[Any]] = {}

    async def handler(peer: RawPeer) -> None:
        run = run_of(peer.request_line.split()[1])
        frames = seen.setdefault(run, [])
        while True:
            got = await peer.read_frame()
            frames.append((got.opcode, got.payload))
            if got.opcode == OP_CLOSE:
                break
        close_read[run].set()
        await bounded(reply[run].wait())
        peer.send(server_frame(OP_CLOSE, got.payload))
        await peer.writer.drain()
        peer.close()

    srv = await raw_server(handler)

    async def scenario(api: Api, url: str, r: Record) -> None:
        run = api.name
        close_read[run], reply[run] = asyncio.Event(), asyncio.Event()
        ws = await api.connect(url, compression=None, ping_interval=None)
        closing = asyncio.ensure_future(ws.close())
        await bounded(close_read[run].wait())
        r.state(ws, "closing")
        # The server answers once the send below is waiting.
        asyncio.get_running_loop().call_soon(reply[run].set)
        await r.outcome("send()", ws.send("racing"))
        r.add("close() done when the send raised", closing.done())
        await r.outcome("close()", closing)
        r.state(ws, "closed")
        r.add("server saw", seen[run])

    result = await both(srv.url, scenario)
    assert_same(result, "send racing a normal close")


async def test_two_recv_at_once(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            entered = asyncio.Event()

            async def first_recv() -> Any:
                entered.set()
                # recv() runs to its first suspension in this same step.
                return await ws.recv()

            first = asyncio.ensure_future(first_recv())
            await bounded(entered.wait())
            await r.outcome("second recv()", ws.recv())
            stream = ws.recv_streaming()
            await r.outcome("recv_streaming()", stream.__anext__())
            await ws.send("for the first")
            # The echo arrives before the pong: after this round trip the
            # first recv() has its message, and returns at once, unless the
            # rejected calls broke it (the bound only ends such a hang).
            await bounded(await ws.ping())
            _, pending = await asyncio.wait([first], timeout=1.0)
            r.add("first recv() returns", not pending)
            if pending:
                first.cancel()
                await asyncio.wait([first])
            else:
                await r.outcome("first recv()", first)
            r.state(ws, "open")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "two recv at once")


# -- ping, pong, keepalive -------------------------------------------------------------


async def test_ping_pong_and_latency(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url, ping_interval=None) as ws:
            r.add("latency before", ws.latency)
            waiter = await ws.ping()
            r.add("ping() returns", type(waiter).__name__)
            latency = await waiter
            r.add("the round trip", (type(latency).__name__, latency > 0))
            r.add("latency is the last round trip", ws.latency == latency)
            waiter = await ws.ping(b"abc")
            await r.outcome("same payload again", ws.ping(b"abc"))
            r.add("text payload", type(await (await ws.ping("txt"))).__name__)
            r.add("first still answered", type(await waiter).__name__)
            await r.outcome("pong()", ws.pong(b"unsolicited"))
            await ws.send("ping")
            r.add("after a server ping", await ws.recv())
            r.state(ws, "open")

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "ping pong latency")


def ping_counter(
    seen: dict[str, list[Any]],
    answer: bool,
    wanted: int,
) -> Callable[[RawPeer], Awaitable[None]]:
    """A raw server handler: records the client's frames; answers pings (or
    not); after ``wanted`` pings it sends ``still there?``; echoes a close."""

    async def handler(peer: RawPeer) -> None:
        run = run_of(peer.request_line.split()[1])
        frames = seen.setdefault(run, [])
        pings = 0
        while True:
            got = await peer.read_frame()
            frames.append((got.opcode, len(got.payload)))
            if got.opcode == OP_PING:
                pings += 1
                if answer:
                    peer.send(server_frame(OP_PONG, got.payload))
                if pings == wanted:
                    peer.send(server_frame(OP_TEXT, b"still there?"))
            elif got.opcode == OP_CLOSE:
                code = int.from_bytes(got.payload[:2], "big")
                frames[-1] = ("close", (code, got.payload[2:].decode()))
                peer.send(server_frame(OP_CLOSE, got.payload))
                await peer.writer.drain()
                return

    return handler


@pytest.mark.parametrize("answer", [True, False], ids=["answered", "unanswered"])
async def test_keepalive_without_a_timeout(
    raw_server: StartServer, answer: bool
) -> None:
    """``ping_timeout=None``: pings every ``ping_interval``; nothing fails."""
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(ping_counter(seen, answer, 3))

    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(
            url, compression=None, ping_interval=0.05, ping_timeout=None
        ) as ws:
            r.add("message", await ws.recv())
            r.state(ws, "after three pings")
            r.add("latency measured", ws.latency > 0)
        r.add("server saw", seen[api.name][:3] + seen[api.name][-1:])

    assert_same(await both(srv.url, scenario), f"keepalive, no timeout, {answer}")


@both_ways
async def test_keepalive_timeout(raw_server: StartServer, exact: bool) -> None:
    """No pong within ``ping_timeout``: the connection fails with 1011."""
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(ping_counter(seen, False, 99))

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(
            url, compression=None, ping_interval=0.05, ping_timeout=0.05
        )
        await r.outcome("recv()", ws.recv())
        r.state(ws, "after")
        r.add("server saw", seen[api.name])

    result = await both(srv.url, scenario, exact=exact)
    assert_same(result, "keepalive timeout")


# -- protocol errors, from a scripted server ----------------------------------------


def recording(seen: dict[str, list[Any]], first: bytes) -> Callable[[RawPeer], Any]:
    """A raw server handler: send ``first``, then record the client's frames
    until its close frame, and answer that close with the same payload."""

    async def handler(peer: RawPeer) -> None:
        frames = seen.setdefault(run_of(peer.request_line.split()[1]), [])
        peer.send(first)
        while True:
            got = await peer.read_frame()
            if got.opcode == OP_CLOSE:
                code = int.from_bytes(got.payload[:2], "big") if got.payload else None
                frames.append(("close", (code, got.payload[2:].decode())))
                peer.send(server_frame(OP_CLOSE, got.payload))
                await peer.writer.drain()
                return
            frames.append((got.opcode, got.payload))

    return handler


MASKED_A = bytes([0x81, 0x81, 1, 2, 3, 4, ord("A") ^ 1])

PROTOCOL_ERRORS = {
    "invalid UTF-8": server_frame(OP_TEXT, b"\xff\\xfe"),
    "truncated UTF-8": server_frame(OP_TEXT, "é".encode()[:1]),
    "reserved opcode": server_frame(0x3),
    "fragmented ping": server_frame(OP_PING, b"", fin=False),
    "long ping": server_frame(OP_PING, b"x" * 126),
    "continuation first": server_frame(0x0, b"x"),
    "text inside text": server_frame(OP_TEXT, b"a", fin=False)
    + server_frame(OP_TEXT, b"b"),
    "RSV1 without deflate": server_frame(OP_TEXT, b"x", rsv=0x40),
    "RSV2": server_frame(OP_TEXT, b"x", rsv=0x20),
    "masked frame": MASKED_A,
    "close code 1005": server_frame(OP_CLOSE, (1005).to_bytes(2, "big")),
    "close code 999": server_frame(OP_CLOSE, (999).to_bytes(2, "big")),
    "one-byte close": server_frame(OP_CLOSE, b"\x03"),
    "close reason not UTF-8": server_frame(
        OP_CLOSE, (1000).to_bytes(2, "big") + b"\xff"
    ),
    # With max_size=64:
    "too big": server_frame(OP_TEXT, b"x" * 100),
    "too big in fragments": server_frame(OP_TEXT, b"x" * 60, fin=False)
    + server_frame(0x0, b"x" * 60),
}


# Compared with the wording masked: the reasons of aiows's failure closes,
# and the causes of a 1007, are aiows's words and classes ("Wording" in
# docs/from_websockets.rst); the codes, the classes raised and the order are
# websockets'.
@masked_only
@pytest.mark.parametrize("name", list(PROTOCOL_ERRORS))
async def test_protocol_error(raw_server: StartServer, name: str, exact: bool) -> None:
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(
        recording(seen, server_frame(OP_TEXT, b"valid") + PROTOCOL_ERRORS[name])
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        max_size = 64 if name.startswith("too big") else 2**20
        ws = await api.connect(
            url, compression=None, ping_interval=None, max_size=max_size
        )
        await r.outcome("recv()", ws.recv())
        await r.outcome("recv() again", ws.recv())
        r.state(ws, "after")
        await r.outcome("send()", ws.send("late"))
        r.add("server saw", seen.get(api.name))

    result = await both(srv.url, scenario, exact=exact)
    assert_same(result, f"protocol error: {name}")


# -- the opening handshake ----------------------------------------------------------


def handshake_error(r: Record, exc: Any) -> None:
    """What user code reads of a failed handshake."""
    if not isinstance(exc, BaseException):
        r.add("no error", type(exc).__name__)
        return
    r.add("str", str(exc))
    r.add("cause", None if exc.__cause__ is None else kind(exc.__cause__))
    r.add("has response", getattr(exc, "response", None) is not None)
    if isinstance(exc, r.api.errors.InvalidStatus):
        response = exc.response
        r.add("response", (response.status_code, response.reason_phrase))
        r.add("response.headers", masked_headers(response.headers))
        r.add("response.body", response.body)
    if isinstance(exc, r.api.errors.InvalidHeader):
        r.add("name, value", (exc.name, exc.value))


@both_ways
async def test_refused_handshake(server: WebsocketsServer, exact: bool) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        handshake_error(r, await r.outcome("connect", api.connect(url)))

    result = await both(f"{server.url}/deny", scenario, server.log, exact=exact)
    assert_same(result, "refused handshake")


async def deny_with_aiohttp(request: web.Request) -> web.Response:
    return web.json_response({"error": "go away"}, status=401, reason="Who Are You")


@both_ways
async def test_refused_handshake_by_aiohttp(aiohttp_server: Any, exact: bool) -> None:
    app = web.Application()
    app.router.add_get("/ws", deny_with_aiohttp)
    srv = await aiohttp_server(app)

    async def scenario(api: Api, url: str, r: Record) -> None:
        handshake_error(r, await r.outcome("connect", api.connect(url)))

    result = await both(f"ws://127.0.0.1:{srv.port}/ws", scenario, exact=exact)
    assert_same(result, "refused by aiohttp")


def answer(data: bytes) -> Callable[[str], bytes]:
    return lambda key: data


async def idle(peer: RawPeer) -> None:
    """A raw server handler that waits for the client to go."""
    await peer.expect_eof()


HANDSHAKE_ERRORS: dict[str, dict[str, Any]] = {
    "not HTTP": {"response": answer(b"SSH-2.0-OpenSSH_9.6\r\n")},
    "EOF": {"response": answer(b"")},
    "EOF in the headers": {"response": answer(b"HTTP/1.1 101 Switching")},
    "no Upgrade": {"response": lambda key: upgrade_response(key, upgrade=None)},
    "Upgrade: h2c": {"response": lambda key: upgrade_response(key, upgrade="h2c")},
    "no Connection": {"response": lambda key: upgrade_response(key, connection=None)},
    "subprotocol not offered": {
        "response": lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Protocol: other\r\n"
        ),
        "subprotocols": ["chat"],
    },
    "subprotocol when none offered": {
        "response": lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Protocol: chat\r\n"
        ),
    },
    "extension not offered": {
        "response": lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: x-unknown\r\n"
        ),
    },
}


#: Handshake errors whose words are still aiows's own (none now).
HANDSHAKE_WORDING: dict[str, str] = {}


@pytest.mark.parametrize(
    ("name", "exact"),
    [
        pytest.param(
            name,
            exact,
            id=f"{name}-{'exact' if exact else 'masked'}",
            marks=(
                [
                    pytest.mark.xfail(
                        strict=True, reason=f"LIB: {HANDSHAKE_WORDING[name]}"
                    )
                ]
                if exact and name in HANDSHAKE_WORDING
                else []
            ),
        )
        for name in HANDSHAKE_ERRORS
        for exact in (False, True)
    ],
)
async def test_handshake_error(raw_server: StartServer, name: str, exact: bool) -> None:
    case = dict(HANDSHAKE_ERRORS[name])
    response = case.pop("response")

    async def close_at_once(peer: RawPeer) -> None:
        peer.close()

    srv = await raw_server(close_at_once, response=response)

    async def scenario(api: Api, url: str, r: Record) -> None:
        exc = await r.outcome(
            "connect", api.connect(url, open_timeout=5, ping_interval=None, **case)
        )
        handshake_error(r, exc)
        if not isinstance(exc, BaseException):
            await exc.close()

    result = await both(srv.url, scenario, exact=exact)
    assert_same(result, f"handshake error: {name}")


async def test_wrong_accept(raw_server: StartServer) -> None:
    async def close_at_once(peer: RawPeer) -> None:
        peer.close()

    srv = await raw_server(
        close_at_once, response=lambda key: upgrade_response(key, accept="x")
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        exc = await r.outcome("connect", api.connect(url, ping_interval=None))
        r.add("name, value", (exc.name, exc.value))

    assert_same(await both(srv.url, scenario), "wrong accept")


# -- bad arguments ----------------------------------------------------------------


async def attempt(r: Record, label: str, make: Callable[[], Any]) -> None:
    """Call ``make()`` (a ``connect(...)``) and await it; record where it fails."""
    try:
        pending = make()
    except Exception as exc:
        r.add(label, ("at the call", kind(exc)))
        return
    try:
        ws = await pending
    except Exception as exc:
        r.add(label, ("when awaited", kind(exc)))
        return
    r.add(label, ("connected", ws.state.name))
    await ws.close()


async def test_bad_arguments(server: WebsocketsServer, tls: TLS) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        connect = api.connect
        ws_url = url
        await attempt(
            r, "subprotocols='chat'", lambda: connect(ws_url, subprotocols="chat")
        )
        await attempt(r, "http:// URI", lambda: connect(ws_url.replace("ws:", "http:")))
        await attempt(r, "no scheme", lambda: connect("127.0.0.1:1/"))
        await attempt(r, "ssl= with ws://", lambda: connect(ws_url, ssl=tls.client))
        await attempt(
            r, "ftp:// proxy", lambda: connect(ws_url, proxy="ftp://127.0.0.1:1")
        )
        await attempt(r, "proxy without host", lambda: connect(ws_url, proxy="http://"))
        await attempt(
            r, "compression='gzip'", lambda: connect(ws_url, compression="gzip")
        )
        await attempt(r, "unknown keyword", lambda: connect(ws_url, colour="blue"))
        await attempt(
            r, "sock with host", lambda: connect(ws_url, sock=object(), host="x")
        )

    result = await both(f"{server.url}/echo", scenario)
    assert_same(result, "bad arguments")


async def test_aiows_own_keywords(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with aiows.ClientSession() as session:
            await attempt(r, "session=", lambda: api.connect(url, session=session))
        await attempt(r, "backoff=", lambda: api.connect(url, backoff=aiows.Backoff()))

    result = await both(f"{server.url}/echo", scenario)
    assert_same(result, "aiows's own keywords")


# -- redirects ----------------------------------------------------------------------


@asynccontextmanager
async def redirecting(
    location: Callable[[str], str], tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[str]]]:
    """A websockets server answering every request with a redirect to
    ``location(path)``; yields its base URL and the paths it was asked for."""
    asked: list[str] = []

    def process_request(connection: ServerConnection, request: Any) -> Any:
        asked.append(request.path)
        status = int(query(request.path).get("status", "302"))
        response = connection.respond(HTTPStatus(status), "")
        response.headers["Location"] = location(request.path)
        return response

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the redirecting server never upgrades")

    async with serve(
        never, "127.0.0.1", 0, process_request=process_request, ssl=tls
    ) as srv:
        port = srv.sockets[0].getsockname()[1]
        scheme = "ws" if tls is None else "wss"
        yield f"{scheme}://127.0.0.1:{port}", asked


async def redirected(api: Api, url: str, r: Record, **kwargs: Any) -> None:
    """Connect through redirects; record where the connection ended up."""
    ws = await r.outcome("connect", api.connect(url, **kwargs))
    if isinstance(ws, BaseException):
        handshake_error(r, ws)
        return
    r.add("request.path", ws.request.path)
    r.add("Host", ws.request.headers["Host"])
    r.add("response", ws.response.status_code)
    await ws.send("hello")
    r.add("echo", await ws.recv())
    await ws.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_is_followed(server: WebsocketsServer, status: int) -> None:
    target = server.url.removeprefix("ws://")

    async with redirecting(
        lambda path: f"ws://{target}/echo?{path.partition('?')[2]}"
    ) as (
        base,
        asked,
    ):

        async def scenario(api: Api, url: str, r: Record) -> None:
            await redirected(api, url, r)
            r.add("redirects", len(asked))
            asked.clear()

        result = await both(f"{base}/start?status={status}", scenario, server.log)
    assert_same(result, f"redirect {status}")


async def test_relative_redirect(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        await redirected(api, url, r)

    result = await both(f"{server.url}/redirect", scenario, server.log)
    assert_same(result, "relative redirect")


async def test_too_many_redirects() -> None:
    async with redirecting(lambda path: path) as (base, asked):

        async def scenario(api: Api, url: str, r: Record) -> None:
            await redirected(api, url, r)
            r.add("requests", len(asked))
            asked.clear()

        result = await both(f"{base}/loop", scenario, exact=False)
    assert_same(result, "too many redirects")


@both_ways
async def test_redirect_from_wss_to_ws_is_refused(
    server: WebsocketsServer, tls: TLS, exact: bool
) -> None:
    plain = server.url

    async with redirecting(
        lambda path: f"{plain}/echo?{path.partition('?')[2]}", tls.server
    ) as (base, asked):

        async def scenario(api: Api, url: str, r: Record) -> None:
            await redirected(api, url, r, ssl=tls.client)
            r.add("requests", len(asked))
            asked.clear()

        result = await both(f"{base}/start", scenario, server.log, exact=exact)
    assert_same(result, "wss to ws redirect")


# -- the legacy spellings: legacy websockets as the oracle ------------------------


async def legacy(url: str, scenario: Scenario, log: ServerLog | None = None) -> Result:
    """Run ``scenario`` with the legacy client (the oracle) and aiows; not
    with picows.websockets, which has no legacy API
    (``PICOWS_CANNOT["legacy API"]``)."""
    return await each((LEGACY, AIOWS), url, scenario, log)


def parameters(extension: str | None) -> list[str] | None:
    """An extension header's name and parameters, whose order carries no
    meaning."""
    if extension is None:
        return None
    name, *params = (part.strip() for part in extension.split(";"))
    return [name, *sorted(params)]


def warned(caught: list[warnings.WarningMessage]) -> list[str]:
    return [w.category.__name__ for w in caught]


async def test_legacy_spellings(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ws = await api.connect(
                url,
                extra_headers={"X-Token": "abc"},
                timeout=5,
                read_limit=2**16,
                loop=asyncio.get_running_loop(),
            )
        r.add("warnings", sorted(set(warned(caught))))
        r.legacy_state(ws, "open")
        r.add("request_headers", ws.request_headers["X-Token"])
        r.add("response_headers", masked_headers(ws.response_headers))
        r.add("subprotocol", ws.subprotocol)
        await ws.send("hello")
        r.add("echo", await ws.recv())
        await ws.send("close 1000 bye")
        await r.outcome("recv() at the close", ws.recv())
        r.legacy_state(ws, "after the server's close")
        await r.outcome("send()", ws.send("late"))
        await r.outcome("close()", ws.close())

    result = await legacy(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "legacy spellings")


LEGACY_KEYWORDS: dict[str, Callable[[Api], dict[str, Any]]] = {
    "extra_headers": lambda api: {"extra_headers": {"X-Token": "abc"}},
    "timeout": lambda api: {"timeout": 5},
    "read_limit": lambda api: {"read_limit": 2**16},
    "loop": lambda api: {"loop": asyncio.get_running_loop()},
    "klass": lambda api: {"klass": type("Custom", (api.connection_class,), {})},
    "create_protocol": lambda api: {
        "create_protocol": type("Custom", (api.connection_class,), {})
    },
    "extensions": lambda api: {
        "extensions": [ClientPerMessageDeflateFactory(server_max_window_bits=10)]
    },
}


@pytest.mark.parametrize("keyword", list(LEGACY_KEYWORDS))
async def test_legacy_keyword(server: WebsocketsServer, keyword: str) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        kwargs = LEGACY_KEYWORDS[keyword](api)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ws = await api.connect(url, **kwargs)
        r.add("warnings", sorted(set(warned(caught))))
        r.add("is the class given", type(ws) is kwargs.get(keyword))
        r.add(
            "extensions",
            (
                parameters(ws.request_headers.get("Sec-WebSocket-Extensions")),
                parameters(ws.response_headers.get("Sec-WebSocket-Extensions")),
            ),
        )
        await ws.send("x" * 1000)
        r.add("echo", len(await ws.recv()))
        await ws.close()
        r.legacy_state(ws, "closed")

    result = await legacy(f"{server.url}/echo", scenario, server.log)
    assert_same(result, f"legacy {keyword}")


# -- what the wire carries -----------------------------------------------------------


async def test_fragments_on_the_wire(raw_server: StartServer) -> None:
    """Each item of an iterable is one frame, as the iterable yields it."""
    seen: dict[str, list[Any]] = {}

    async def handler(peer: RawPeer) -> None:
        frames = seen.setdefault(run_of(peer.request_line.split()[1]), [])
        while True:
            got = await peer.read_frame()
            frames.append((got.opcode, got.fin, got.payload))
            if got.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, got.payload))
                await peer.writer.drain()
                return

    srv = await raw_server(handler)

    async def agen(*items: Any) -> AsyncIterator[Any]:
        for item in items:
            yield item

    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url, compression=None, ping_interval=None) as ws:
            await ws.send("one frame")
            await ws.send(["a", "b", "c"])
            await ws.send([b"x", b"y"])
            await ws.send(agen("p", "q"))
            await ws.send(["single"])
            await ws.send(["as", "binary"], text=False)
            await ws.send([b"as", b"text"], text=True)
            await ws.send([])
            await ws.send(b"")
            await ws.send("")
            # A message sent while a fragmented one is under way waits for
            # its end: the two never interleave.
            first_out, go = asyncio.Event(), asyncio.Event()

            async def slow() -> AsyncIterator[str]:
                yield "slow 1"
                first_out.set()
                await go.wait()
                yield "slow 2"

            fragmented = asyncio.ensure_future(ws.send(slow()))
            await bounded(first_out.wait())
            interloper = asyncio.ensure_future(ws.send("interloper"))
            # Released once the interloper's send has started and waits.
            asyncio.get_running_loop().call_soon(go.set)
            await bounded(asyncio.gather(fragmented, interloper))
        r.add("server saw", seen[api.name])

    assert_same(await both(srv.url, scenario), "fragments on the wire")


DEFLATE_12 = (
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
    "client_max_window_bits=12\r\n"
)


async def test_compressed_frames_on_the_wire(raw_server: StartServer) -> None:
    """With the parameters websockets' server picks, the same bytes go out."""
    seen: dict[str, list[Any]] = {}

    async def handler(peer: RawPeer) -> None:
        frames = seen.setdefault(run_of(peer.request_line.split()[1]), [])
        frames.append(peer.request_headers.get("sec-websocket-extensions"))
        while True:
            got = await peer.read_frame()
            frames.append((got.opcode, got.fin, got.rsv, got.payload))
            if got.opcode == OP_CLOSE:
                peer.send(server_frame(OP_CLOSE, got.payload))
                await peer.writer.drain()
                return

    srv = await raw_server(
        handler,
        response=lambda key: upgrade_response(key, extra_headers=DEFLATE_12),
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url, ping_interval=None) as ws:
            await ws.send("compress me " * 50)
            await ws.send("compress me " * 50)  # the window is kept
            await ws.send(b"\x00" * 1000)
            await ws.send(["frag", "mented " * 20])
            await ws.send("x")
        r.add("server saw", seen[api.name])

    result = await both(srv.url, scenario)
    frames = dict(result["websockets"])["server saw"][1:]
    assert [rsv for _, _, rsv, _ in frames[:3]] == [0x40] * 3  # compressed
    assert_same(result, "compressed frames on the wire")


async def test_streaming_piece_by_piece(raw_server: StartServer) -> None:
    """One piece per frame, whether the frames come in separate reads or in
    one, an empty final frame too."""
    got_piece: dict[str, asyncio.Event] = {}

    async def handler(peer: RawPeer) -> None:
        event = got_piece[run_of(peer.request_line.split()[1])]
        for payload, opcode, fin in (
            (b"fra", OP_TEXT, False),
            (b"gm", 0x0, False),
            (b"ent", 0x0, True),
        ):
            event.clear()
            peer.send(server_frame(opcode, payload, fin=fin))
            await peer.writer.drain()
            await bounded(event.wait())
        peer.send(
            server_frame(OP_TEXT, b"all", fin=False)
            + server_frame(0x0, b" at", fin=False)
            + server_frame(0x0, b" once")
        )
        emoji = "😀".encode()
        peer.send(
            server_frame(OP_TEXT, emoji, fin=False)
            + server_frame(0x0, emoji, fin=False)
            + server_frame(0x0, b"")
        )
        # A character split across frames comes out in the frame that ends it.
        peer.send(
            server_frame(OP_TEXT, emoji[:2], fin=False) + server_frame(0x0, emoji[2:])
        )
        await peer.read_close()
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        await peer.writer.drain()

    srv = await raw_server(handler)

    async def scenario(api: Api, url: str, r: Record) -> None:
        got_piece[api.name] = asyncio.Event()
        async with api.connect(url, compression=None, ping_interval=None) as ws:
            pieces = []
            async for piece in ws.recv_streaming():
                pieces.append(piece)
                got_piece[api.name].set()
            r.add("separate reads", pieces)
            r.add("one read", [piece async for piece in ws.recv_streaming()])
            r.add("empty last frame", [piece async for piece in ws.recv_streaming()])
            try:
                r.add("split character", [piece async for piece in ws.recv_streaming()])
            except Exception as exc:
                r.error("split character", exc)

    assert_same(await both(srv.url, scenario), "streaming piece by piece")


@pytest.mark.both_loops
async def test_cancelling_recv_streaming(raw_server: StartServer) -> None:
    """Cancelled before its first frame, recv_streaming() loses nothing; left
    after one, every later read raises ConcurrencyError."""
    send: dict[str, asyncio.Event] = {}

    async def handler(peer: RawPeer) -> None:
        event = send[run_of(peer.request_line.split()[1])]
        await bounded(event.wait())
        event.clear()
        peer.send(server_frame(OP_TEXT, b"a", fin=False) + server_frame(0x0, b"b"))
        await bounded(event.wait())
        event.clear()
        peer.send(server_frame(OP_TEXT, b"c", fin=False))
        # The rest only once the client cancelled its read mid-message.
        await bounded(event.wait())
        peer.send(server_frame(0x0, b"d") + server_frame(OP_TEXT, b"next"))
        code = (await peer.read_close())[0]
        peer.send(server_frame(OP_CLOSE, (code or 1000).to_bytes(2, "big")))
        await peer.writer.drain()

    srv = await raw_server(handler)

    async def scenario(api: Api, url: str, r: Record) -> None:
        send[api.name] = go = asyncio.Event()
        ws = await api.connect(url, compression=None, ping_interval=None)
        waiting = asyncio.ensure_future(ws.recv_streaming().__anext__())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.wait([waiting])
        r.add("cancelled before the first frame", waiting.cancelled())
        go.set()
        r.add("the next stream", [piece async for piece in ws.recv_streaming()])
        go.set()
        stream = ws.recv_streaming()
        r.add("first piece", await stream.__anext__())
        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.wait([waiting])
        r.add("cancelled after a frame", waiting.cancelled())
        go.set()
        exc = await r.outcome("recv()", ws.recv())
        r.add("recv() str", str(exc))
        exc = await r.outcome("recv_streaming()", ws.recv_streaming().__anext__())
        r.add("recv_streaming() str", str(exc))
        await r.outcome("close()", ws.close())
        r.state(ws, "after")

    assert_same(await both(srv.url, scenario), "cancelling recv_streaming")


# -- the exceptions ---------------------------------------------------------------


def aiohttp_bases(cls: type) -> tuple[str, ...]:
    """The most specific aiohttp classes ``cls`` derives from."""
    found = [base for base in cls.__mro__ if base.__module__.startswith("aiohttp")]
    return tuple(
        base.__name__
        for base in found
        if not any(other is not base and issubclass(other, base) for other in found)
    )


def test_exception_hierarchy() -> None:
    """The shared names have the same websockets bases and built-in bases
    (PayloadTooBig: see the next test); aiows's also derive from aiohttp's."""
    names = [name for name in SHARED_NAMES if name != "PayloadTooBig"]
    assert len(names) > 15
    result = Result()
    for api in (WEBSOCKETS, AIOWS, *PEERS):
        # picows.websockets lacks some of the names (PICOWS_DIFFERENCES).
        classes = {
            name: getattr(api.errors, name)
            for name in SHARED_NAMES
            if hasattr(api.errors, name)
        }
        result[api.name] = [
            *((name, class_kind(classes[name])) for name in names if name in classes),
            (
                "aiohttp bases",
                {name: aiohttp_bases(cls) for name, cls in classes.items()},
            ),
        ]
    assert_same(result, "exception hierarchy")


def test_payload_too_big_is_not_a_protocol_error() -> None:
    assert not issubclass(aiows.PayloadTooBig, aiows.ProtocolError)


def test_websocket_exception_is_the_root() -> None:
    root = aiows.WebSocketException
    for name in SHARED_NAMES:
        assert issubclass(getattr(aiows, name), root), name


def test_every_websockets_exception_name_resolves() -> None:
    missing = sorted(set(websockets.exceptions.__all__) - set(dir(aiows)))
    assert missing == []


@pytest.mark.parametrize(
    ("name", "cause"),
    [("too big", "PayloadTooBig"), ("reserved opcode", "ProtocolError")],
)
async def test_the_cause_of_a_failure(
    raw_server: StartServer, name: str, cause: str
) -> None:
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(recording(seen, PROTOCOL_ERRORS[name]))

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None, max_size=64)
        cls = getattr(api.errors, cause)
        for label, call in (("recv()", ws.recv), ("send()", lambda: ws.send("x"))):
            try:
                await call()
            except api.errors.ConnectionClosedError as exc:
                r.add(f"{label} cause is {cause}", isinstance(exc.__cause__, cls))

    assert_same(await both(srv.url, scenario), f"cause: {name}")


# -- the handshake request ------------------------------------------------------------


async def test_request_headers_are_websockets_own(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url) as ws:
            r.add("names", sorted(name.lower() for name in ws.request.headers))

    assert_same(await both(f"{server.url}/echo", scenario), "request header names")


async def test_headers_have_websockets_methods(server: WebsocketsServer) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        async with api.connect(url, subprotocols=["chat"]) as ws:
            headers = ws.response.headers
            r.read("get_all", lambda: headers.get_all("Sec-WebSocket-Protocol"))
            request_headers = ws.request.headers
            r.read("raw_items", lambda: [n for n, _ in request_headers.raw_items()][:1])

    assert_same(await both(f"{server.url}/echo", scenario), "Headers methods")


# -- an aiohttp.web server ----------------------------------------------------------


async def aiohttp_echo(request: web.Request) -> web.WebSocketResponse:
    """Echo; ``close CODE`` sends two messages and closes with CODE."""
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT and msg.data.startswith("close "):
            await ws.send_str("one")
            await ws.send_bytes(b"two")
            await ws.close(code=int(msg.data[6:]), message=b"aiohttp says bye")
        elif msg.type is aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


@pytest.mark.parametrize("code", [1000, 4001])
async def test_an_aiohttp_server(aiohttp_server: Any, code: int) -> None:
    """aiohttp's server waits for the client's close reply before it ends."""
    app = web.Application()
    app.router.add_get("/ws", aiohttp_echo)
    srv = await aiohttp_server(app)

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, subprotocols=["chat"])
        r.add("subprotocol", ws.subprotocol)
        r.add("response.headers", masked_headers(ws.response.headers))
        await ws.send("héllo" * 100)
        r.add("echo", await ws.recv())
        await ws.send(f"close {code}")
        await r.outcome("wait_closed()", ws.wait_closed())
        r.state(ws, "closed")
        await r.outcome("recv() 1", ws.recv())
        await r.outcome("recv() 2", ws.recv())
        await r.outcome("recv() 3", ws.recv())

    result = await both(f"ws://127.0.0.1:{srv.port}/ws", scenario)
    assert_same(result, f"aiohttp server, {code}")


def test_assert_same_can_fail() -> None:
    """The comparison catches a changed value, a missing observation, and a
    documented difference that did not happen."""
    same = {"websockets": [("a", 1)], "aiows": [("a", 1)]}
    assert_same(same, "a scenario")
    with pytest.raises(AssertionError, match="a scenario: a"):
        assert_same({"websockets": [("a", 1)], "aiows": [("a", 2)]}, "a scenario")
    with pytest.raises(AssertionError, match="observations differ"):
        assert_same({"websockets": [("a", 1)], "aiows": []}, "a scenario")
    with pytest.raises(AssertionError, match="a documented difference"):
        assert_same(
            {"websockets": [("User-Agent", "x")], "aiows": [("User-Agent", "x")]},
            "surface",
        )
    with pytest.raises(AssertionError, match="not seen"):
        assert_same({"websockets": [("a", 1)], "aiows": [("a", 1)]}, "surface")


def test_the_picows_comparison_can_fail() -> None:
    """The same for picows, with an observation it does not make at all."""
    agreed = [("second recv()", 1), ("first recv() returns", True)]
    oracle = [*agreed, ("first recv()", ("returned", "for the first")), ("x", 2)]
    documented = [("second recv()", 1), ("first recv() returns", False), ("x", 2)]
    name = "two recv at once"
    assert_same({"websockets": oracle, "aiows": oracle, "picows": documented}, name)
    with pytest.raises(AssertionError, match=r"two recv at once: x \(picows\)"):
        assert_same(
            {
                "websockets": oracle,
                "aiows": oracle,
                "picows": [*documented[:2], ("x", 3)],
            },
            name,
        )
    with pytest.raises(AssertionError, match=r"observations differ \(picows\)"):
        assert_same(
            {"websockets": oracle, "aiows": oracle, "picows": documented[::-1]}, name
        )
    with pytest.raises(AssertionError, match=r"observations differ \(picows\)"):
        assert_same({"websockets": oracle, "aiows": oracle, "picows": oracle}, name)
    undocumented = [("second recv()", 1), ("first recv() returns", True), ("x", 2)]
    with pytest.raises(AssertionError, match="a documented difference, picows"):
        assert_same(
            {"websockets": oracle, "aiows": oracle, "picows": undocumented}, name
        )
    alone = [("second recv()", 1)]
    with pytest.raises(AssertionError, match=r"not seen \(picows\)"):
        assert_same({"websockets": alone, "aiows": alone, "picows": alone}, name)


def test_the_docs_list_the_differences() -> None:
    """docs/from_websockets.rst's "What differs" has one heading per topic of
    :data:`DIFFERENCES`, and no other."""
    page = (Path(__file__).parents[3] / "docs" / "from_websockets.rst").read_text()
    section = page.split("What differs\n------------\n", 1)[1]
    headings = set(re.findall(r"^\* \*\*(.+?)\.\*\*", section, re.MULTILINE))
    topics = {difference.topic for difference in DIFFERENCES}
    # Documented whichever websockets the tests run against.
    assert headings == topics | {OLD_WEBSOCKETS_TOPIC}


def test_every_documented_difference_has_a_reason() -> None:
    labels = [(d.scenario, d.label) for d in DIFFERENCES]
    assert len(labels) == len(set(labels))
    for difference in DIFFERENCES:
        assert difference.oracle != difference.aiows, difference
        assert len(difference.reason) > 20, difference


def compared_scenarios() -> list[re.Pattern[str]]:
    """The names of the scenarios this file compares, as patterns: the second
    argument of every ``assert_same()`` call (a formatted field matches
    anything)."""

    def pattern(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return re.escape(node.value)
        if isinstance(node, ast.JoinedStr):
            return "".join(
                pattern(part) if isinstance(part, ast.Constant) else ".+"
                for part in node.values
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return pattern(node.left) + pattern(node.right)
        if isinstance(node, ast.IfExp):
            return f"(?:{pattern(node.body)}|{pattern(node.orelse)})"
        raise AssertionError(f"a scenario name this test cannot read: {ast.dump(node)}")

    tree = ast.parse(Path(__file__).read_text())
    return [
        re.compile(pattern(node.args[1]))
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "assert_same"
        and len(node.args) == 2
        # The self-tests name theirs in a variable.
        and not isinstance(node.args[1], ast.Name)
    ]


def test_every_documented_difference_names_a_scenario() -> None:
    """A row whose scenario no test compares (renamed, or mistyped) would
    never be checked."""
    patterns = compared_scenarios()
    assert len(patterns) > 50
    for scenario in {d.scenario for d in [*DIFFERENCES, *PICOWS_DIFFERENCES]}:
        assert any(p.fullmatch(scenario) for p in patterns), scenario


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="picows is compared with websockets 17")
def test_what_aiows_does_where_picows_differs() -> None:
    """Where picows.websockets and websockets differ, aiows does what
    websockets does (assert_same checks it), unless DIFFERENCES lists a
    deliberate difference of aiows's own there, which is neither's value."""
    own = {(d.scenario, d.label): d for d in DIFFERENCES}
    for row in PICOWS_DIFFERENCES:
        mine = own.get((row.scenario, row.label))
        if row.follows == "websockets":
            assert mine is None, row
        else:
            assert row.follows == "neither", row
            assert mine is not None, row
            assert mine.oracle == row.oracle, row
            assert mine.aiows not in (row.oracle, row.picows), row


# -- what an ending says about itself ------------------------------------------------


async def test_connection_closed_describes_the_ending(
    server: WebsocketsServer,
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        for command in ("close 1000 bye", "close 4000 custom", "close 1011 oops"):
            async with api.connect(url) as ws:
                await ws.send(command)
                try:
                    await ws.recv()
                except api.errors.ConnectionClosed as exc:
                    r.add(command, str(exc))
        ws = await api.connect(url)
        await ws.close(1001, "client leaves")
        try:
            await ws.recv()
        except api.errors.ConnectionClosed as exc:
            r.add("client close", str(exc))

    assert_same(await both(f"{server.url}/echo", scenario), "str(ConnectionClosed)")


# -- reconnecting ---------------------------------------------------------------------


async def test_reconnect_after_a_connection_that_opened(
    server: WebsocketsServer,
) -> None:
    async def scenario(api: Api, url: str, r: Record) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        connections = 0
        async for ws in api.connect(url):
            connections += 1
            try:
                await ws.send("close 1000 again")
                await ws.recv()
            except api.errors.ConnectionClosed:
                if connections < 3:
                    continue
            await ws.close()
            break
        r.add("connections", connections)
        r.add("reconnected at once", loop.time() - started < 1.0)

    assert_same(await both(f"{server.url}/echo", scenario), "reconnect")


# -- around the client's own close (issue 18) --------------------------------------


@pytest.mark.both_loops
async def test_every_message_before_the_servers_close_is_read(
    server: WebsocketsServer,
) -> None:
    """The server streams 200 messages; the client reads 5, then closes
    while another task drains: the server's close comes after all 200, and
    every one of them reaches the reader (RFC 6455 §5.5.1 lets the server
    finish what it was sending)."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None)
        await ws.send("many 200")
        got = [await ws.recv() for _ in range(5)]
        closing = asyncio.create_task(ws.close())
        try:
            while True:
                got.append(await ws.recv())
        except api.errors.ConnectionClosed as exc:
            r.error("drained", exc)
        await closing
        r.add("messages", (len(got), got[0], got[-1]))
        r.state(ws, "after")

    result = await both(f"{server.url}/many", scenario, server.log)
    assert_same(result, "messages before the server's close")


@pytest.mark.both_loops
async def test_a_message_between_the_two_close_frames(raw_server: StartServer) -> None:
    """The server sends a message after the client's close frame and before
    its own: the reader gets it, then the normal close."""

    async def handler(peer: RawPeer) -> None:
        while (await peer.read_frame()).opcode != OP_CLOSE:
            pass
        peer.send(server_frame(OP_TEXT, b"late"))
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        await peer.writer.drain()

    srv = await raw_server(handler)

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None)
        closing = asyncio.create_task(ws.close())
        await r.outcome("recv()", ws.recv())
        await r.outcome("recv() again", ws.recv())
        await closing
        r.state(ws, "after")

    assert_same(await both(srv.url, scenario), "a message between the close frames")


@pytest.mark.both_loops
async def test_decoding_a_binary_message_that_is_not_utf8(
    raw_server: StartServer,
) -> None:
    """``recv(decode=True)`` on a binary message that is not UTF-8 fails the
    connection with 1007; the cause is the UnicodeDecodeError."""
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(recording(seen, server_frame(0x2, b"caf\xe9")))

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None)
        await r.outcome("recv(decode=True)", ws.recv(decode=True))
        await r.outcome("recv() again", ws.recv())
        r.state(ws, "after")
        r.add("server saw", seen.get(api.name))

    assert_same(await both(srv.url, scenario), "decode=True, not UTF-8")


@pytest.mark.both_loops
async def test_frames_the_client_may_not_send(server: WebsocketsServer) -> None:
    """A close code RFC 6455 reserves, a close reason or a ping too long for
    a control frame: websockets' ProtocolError, with its words, and the
    connection stays open."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None)
        for label, call in (
            ("close(1005)", lambda: ws.close(1005)),
            ("close(999)", lambda: ws.close(999)),
            ("close(5000)", lambda: ws.close(5000)),
            ("close reason 124 bytes", lambda: ws.close(1000, "r" * 124)),
            ("ping 126 bytes", lambda: ws.ping(b"p" * 126)),
            ("pong 126 bytes", lambda: ws.pong(b"p" * 126)),
        ):
            exc = await r.outcome(label, call())
            r.add(f"{label} str", str(exc))
        r.add("state", ws.state.name)
        await r.outcome("send()", ws.send("still open"))
        await r.outcome("echo", ws.recv())
        await r.outcome("close(1000, 123 bytes)", ws.close(1000, "r" * 123))
        r.state(ws, "after")

    assert_same(
        await both(f"{server.url}/echo", scenario, server.log), "frames not to send"
    )


@pytest.mark.both_loops
async def test_close_times_out(raw_server: StartServer) -> None:
    """The server never answers the close: close() returns after
    ``close_timeout``, and recv() raises ConnectionClosedError caused by the
    timeout."""

    async def handler(peer: RawPeer) -> None:
        while (await peer.read_frame()).opcode != OP_CLOSE:
            pass
        await asyncio.sleep(5)  # silent, until the client gives up

    srv = await raw_server(handler)

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(
            url, compression=None, ping_interval=None, close_timeout=0.2
        )
        await r.outcome("close()", ws.close())
        exc = await r.outcome("recv()", ws.recv())
        r.add("recv() str", str(exc))
        r.add("cause str", str(exc.__cause__))
        r.state(ws, "after")

    assert_same(await both(srv.url, scenario), "close times out")


# -- picows.websockets as a peer (issue 20) ---------------------------------------
#
# The harness above runs picows.websockets in every scenario it can run
# (see test_picows_peer.py for its tables).  The scenarios below show what
# the others do not: each frame the client may not send, one at a time.

#: Frames RFC 6455 forbids a client to send (§7.4.1, §5.5), with the call
#: that would send them.
FORBIDDEN_SENDS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "close(1005)": lambda ws: ws.close(1005),
    "close(1006)": lambda ws: ws.close(1006),
    "close(999)": lambda ws: ws.close(999),
    "close(5000)": lambda ws: ws.close(5000),
    "close reason 124 bytes": lambda ws: ws.close(1000, "r" * 124),
    "ping 126 bytes": lambda ws: ws.ping(b"p" * 126),
    "pong 126 bytes": lambda ws: ws.pong(b"p" * 126),
}


@pytest.mark.parametrize("name", list(FORBIDDEN_SENDS))
async def test_a_frame_the_client_may_not_send_stays_home(
    raw_server: StartServer, name: str
) -> None:
    """Each on a fresh connection: what the call does, and what the server
    receives (websockets raises ProtocolError and sends nothing)."""
    seen: dict[str, list[Any]] = {}
    srv = await raw_server(recording(seen, b""))

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, compression=None, ping_interval=None)
        await r.outcome(name, FORBIDDEN_SENDS[name](ws))
        r.add("state", ws.state.name)
        await r.outcome("close()", ws.close())
        r.add("server saw", seen.get(api.name))

    assert_same(await both(srv.url, scenario), f"may not send: {name}")


# -- names and legacy attributes (issue 20) ----------------------------------------


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_state_and_the_protocol_view(
    server: WebsocketsServer, compression: str | None
) -> None:
    """``ws.state is State.OPEN`` and ``ws.protocol.state`` /
    ``ws.protocol.extensions``, with the names imported from the library."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        state = {"websockets": websockets.State, "picows": picows.websockets.State}.get(
            api.name, aiows.State
        )
        ws = await api.connect(url, compression=compression)
        r.add("state is State.OPEN", ws.state is state.OPEN)
        r.read("protocol.state is State.OPEN", lambda: ws.protocol.state is state.OPEN)
        r.add("members", [member.name for member in state])
        r.read("extensions", lambda: [ext.name for ext in ws.protocol.extensions])
        await ws.close()
        r.add("state is State.CLOSED", ws.state is state.CLOSED)
        r.read(
            "protocol.state is State.CLOSED", lambda: ws.protocol.state is state.CLOSED
        )

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, f"state and protocol, {compression}")


async def test_legacy_attributes(server: WebsocketsServer) -> None:
    """The legacy client's ``path``, and its writable ``close_timeout``,
    ``ping_interval`` and ``ping_timeout``."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ws = await api.connect(url, ping_interval=20, ping_timeout=20)
        r.add("path", ws.path)
        r.add("defaults", (ws.close_timeout, ws.ping_interval, ws.ping_timeout))
        ws.close_timeout = 3
        ws.ping_interval = 5
        ws.ping_timeout = 7
        r.add("written", (ws.close_timeout, ws.ping_interval, ws.ping_timeout))
        await ws.send("still")
        r.add("echo", await ws.recv())
        await ws.close()

    result = await each((LEGACY, AIOWS), f"{server.url}/echo?a=1", scenario, server.log)
    assert_same(result, "legacy attributes")


async def test_ping_and_pong_arguments(server: WebsocketsServer) -> None:
    """``ping(42)`` is a TypeError (not 42 zero bytes); a second ping with the
    same payload in flight is a ConcurrencyError; websockets' words."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(url, ping_interval=None)
        for label, call in (
            ("ping(42)", lambda: ws.ping(42)),
            ("pong(42)", lambda: ws.pong(42)),
            ("ping('text')", lambda: ws.ping("text")),
            ("pong(bytearray)", lambda: ws.pong(bytearray(b"b"))),
        ):
            exc = await r.outcome(label, call())
            r.add(f"{label} str", str(exc) if isinstance(exc, Exception) else None)
        # Two with the same payload before the first pong can come back.
        first = await ws.ping(b"same")
        exc = await r.outcome("second ping(b'same')", ws.ping(b"same"))
        r.add("second ping str", str(exc))
        r.add("first answered", await asyncio.wait_for(first, 5) >= 0)
        await ws.close()

    result = await both(f"{server.url}/echo", scenario, server.log)
    assert_same(result, "ping and pong arguments")


async def test_connect_is_not_reentrant(server: WebsocketsServer) -> None:
    """A second ``async with`` on the same ``connect()`` while the first is
    open is a RuntimeError; once the first ended it may be used again."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        context = api.connect(url, ping_interval=None)
        async with context as ws:
            try:
                async with context:
                    r.add("second async with", "entered")
            except RuntimeError as exc:
                r.add("second async with", str(exc))
            await ws.send("still")
            r.add("echo", await ws.recv())
        async with context as again:
            await again.send("again")
            r.add("used again", await again.recv())

    result = await both(f"{server.url}/echo", scenario)
    assert_same(result, "connect() is not reentrant")


# -- extensions (issue 20) -----------------------------------------------------------
#
# websockets-style extension factories through both clients: tests/custom_
# extensions.py's x-noop and x-xor (written against websockets' API, comparing
# opcodes by identity), alone and with permessage-deflate in either order,
# against websockets' server; negotiation failures and failing extensions
# against the scripted server.

# Imported here, with the section, so the rest of the file does not depend on it.
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ServerPerMessageDeflateFactory,
)

from tests import custom_extensions as cx  # noqa: E402

EXTENSIONS_TOPIC = "Extensions"


def offer_of(header: str | None) -> list[list[str] | None] | None:
    """A ``Sec-WebSocket-Extensions`` value, extension by extension, each with
    its parameters sorted (their order carries no meaning)."""
    if header is None:
        return None
    return [parameters(item) for item in header.split(",")]


@pytest.fixture
async def extension_server() -> AsyncIterator[WebsocketsServer]:
    """websockets' server offering x-noop, x-xor and permessage-deflate; its
    handler runs :func:`commands` (echo, ``fragments``, ``ping`` ...)."""
    log = ServerLog()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        run = run_of(ws.request.path)
        log.add(
            run,
            "extensions",
            [type(ext).__name__ for ext in ws.protocol.extensions],
        )
        try:
            await commands(ws, log, run)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            log.add(run, "close rcvd", frame(ws.protocol.close_rcvd))
            log.finished(run)

    factories: list[Any] = [
        cx.ServerNoopFactory(),
        cx.ServerXorFactory(),
        ServerPerMessageDeflateFactory(),
    ]
    async with serve(
        handler,
        "127.0.0.1",
        0,
        extensions=factories,
        process_response=log.process_response,
    ) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield WebsocketsServer(f"ws://127.0.0.1:{port}", log)


def websockets_deflate(api: Api) -> Any:
    """websockets' permessage-deflate factory: aiows takes websockets' own."""
    return ClientPerMessageDeflateFactory()


#: What each run offers: factories, made fresh for each client, and
#: ``compression``.
OFFERS: dict[str, tuple[Callable[[], list[Any]], str | None]] = {
    "x-noop": (lambda: [cx.ClientNoopFactory()], None),
    "x-xor": (lambda: [cx.ClientXorFactory()], None),
    "x-xor, deflate": (
        lambda: [cx.ClientXorFactory(), ClientPerMessageDeflateFactory()],
        None,
    ),
    "deflate, x-xor": (
        lambda: [ClientPerMessageDeflateFactory(), cx.ClientXorFactory()],
        None,
    ),
    "x-xor and compression=deflate": (lambda: [cx.ClientXorFactory()], "deflate"),
    "x-noop, x-xor, deflate": (
        lambda: [
            cx.ClientNoopFactory(),
            cx.ClientXorFactory(),
            ClientPerMessageDeflateFactory(),
        ],
        None,
    ),
}


def deflate_settings(extensions: list[Any]) -> list[str]:
    """The negotiated permessage-deflate's settings, as its ``repr()``
    shows them (websockets' attribute names)."""
    return [repr(ext) for ext in extensions if ext.name == "permessage-deflate"]


def what_extensions_saw(factories: list[Any]) -> list[Any]:
    """Each frame the client's extensions were handed, as user code could
    tell them apart: opcode, bits, ``max_size``, and whether the frame and
    its opcode were websockets' own classes."""
    seen: list[Any] = []
    for factory in factories:
        for made in getattr(factory, "made", []):
            if isinstance(made, cx.Xor):
                seen.append(
                    [
                        (
                            op.name,
                            rsv1,
                            rsv2,
                            cls is websockets.frames.Frame,
                            op_cls is websockets.frames.Opcode,
                            max_size,
                        )
                        for op, rsv1, rsv2, cls, op_cls, max_size in made.seen
                    ]
                )
            else:
                seen.append(
                    (
                        [f.opcode.name for f in made.encoded],
                        [f.opcode.name for f in made.decoded],
                    )
                )
    return seen


@pytest.mark.parametrize("offer", list(OFFERS))
async def test_extensions_round_trip(
    extension_server: WebsocketsServer, offer: str
) -> None:
    """The offer, the answer, what is negotiated in which order, messages
    both ways (fragmented, streamed frame by frame, pings), and every frame
    each extension is handed, with its bits and ``max_size``."""
    make, compression = OFFERS[offer]

    async def scenario(api: Api, url: str, r: Record) -> None:
        factories = make()
        ws = await api.connect(
            url, extensions=factories, compression=compression, ping_interval=None
        )
        r.add("offer", offer_of(ws.request.headers.get("Sec-WebSocket-Extensions")))
        r.add("answer", offer_of(ws.response.headers.get("Sec-WebSocket-Extensions")))
        r.add("negotiated", [ext.name for ext in ws.protocol.extensions])
        r.add("deflate settings", deflate_settings(ws.protocol.extensions))
        for message in ("text " * 100, b"\x00\xff" * 5000):
            await ws.send(message)
            r.add("echo", await ws.recv() == message)
        await ws.send(["frag", "mented"])
        r.add("fragmented echo", await ws.recv())
        await ws.send("fragments")
        r.add("streamed", [piece async for piece in ws.recv_streaming()])
        await ws.send("ping")
        r.add("after the server's ping", await ws.recv())
        r.add("pong", await asyncio.wait_for(await ws.ping(b"cli"), 5) >= 0)
        await ws.close()
        r.state(ws, "closed")
        r.add("the extensions saw", what_extensions_saw(factories))

    result = await both(
        f"{extension_server.url}/echo",
        scenario,
        extension_server.log,
        without_picows="extensions",
    )
    assert_same(result, f"extensions: {offer}")


class PickyXor(cx.ClientXorFactory):
    """Refuses any key but 0x11: the next x-xor factory gets the answer."""

    def process_response_params(self, params: Any, accepted: Any) -> cx.Xor:
        if params != [("key", "11")]:
            raise websockets.exceptions.NegotiationError("not my key")
        return super().process_response_params(params, accepted)


class BrokenXor(cx.ClientXorFactory):
    """Fails with an exception that is not a refusal."""

    def process_response_params(self, params: Any, accepted: Any) -> cx.Xor:
        raise ValueError("broken factory")


#: Answer, factories, compression.
NEGOTIATIONS: dict[str, tuple[str, Callable[[], list[Any] | None], str | None]] = {
    "refused value": ("x-xor; key=zz", lambda: [cx.ClientXorFactory()], None),
    "unknown parameter": (
        "x-xor; key=3c; extra=1",
        lambda: [cx.ClientXorFactory()],
        None,
    ),
    "refused duplicate": (
        "x-xor; key=3c, x-xor; key=3c",
        lambda: [cx.ClientXorFactory()],
        None,
    ),
    "duplicate accepted twice": (
        "x-xor; key=3c, x-xor; key=3c",
        lambda: [cx.ClientXorFactory(check_duplicates=False)],
        None,
    ),
    "not offered": ("x-noop", lambda: [cx.ClientXorFactory()], None),
    "none offered": ("x-noop", lambda: None, None),
    "the next factory of the name": (
        "x-xor; key=3c",
        lambda: [PickyXor(), cx.ClientXorFactory()],
        None,
    ),
    "deflate window above the offer": (
        "permessage-deflate; server_max_window_bits=12",
        lambda: [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        None,
    ),
    "deflate settings accepted": (
        "permessage-deflate; server_max_window_bits=10; "
        "client_no_context_takeover; client_max_window_bits=12",
        lambda: [ClientPerMessageDeflateFactory(server_max_window_bits=10)],
        None,
    ),
    "deflate unknown parameter": (
        "permessage-deflate; foo",
        lambda: [cx.ClientXorFactory()],
        "deflate",
    ),
    "deflate twice": (
        "permessage-deflate, permessage-deflate",
        lambda: None,
        "deflate",
    ),
    "deflate and x-xor, deflate refused": (
        "x-xor; key=3c, permessage-deflate; client_max_window_bits=20",
        lambda: [cx.ClientXorFactory(), ClientPerMessageDeflateFactory()],
        None,
    ),
    "empty extensions=": ("x-xor; key=3c", lambda: [], None),
    "factory fails otherwise": ("x-xor; key=3c", lambda: [BrokenXor()], None),
}


@pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained, TimeoutError); "
    "websockets 16, the oracle on Python 3.10, differs",
)
@pytest.mark.parametrize("name", list(NEGOTIATIONS))
async def test_extension_negotiation(raw_server: StartServer, name: str) -> None:
    """What the server answers is accepted or refused as websockets does,
    with websockets' class and message."""
    answer, make, compression = NEGOTIATIONS[name]
    offers: dict[str, str | None] = {}

    async def handler(peer: RawPeer) -> None:
        offers[run_of(peer.request_line.split()[1])] = peer.request_headers.get(
            "sec-websocket-extensions"
        )
        # A client that connected closes; one that failed hangs up.
        await peer.read_close(timeout=10)
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    srv = await raw_server(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers=f"Sec-WebSocket-Extensions: {answer}\r\n"
        ),
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        factories = make()
        exc = await r.outcome(
            "connect",
            api.connect(
                url,
                extensions=factories,
                compression=compression,
                ping_interval=None,
                open_timeout=1,
            ),
        )
        r.add("offer", offer_of(offers.get(api.name)))
        if isinstance(exc, BaseException):
            r.add("message", str(exc))
            r.add("cause", None if exc.__cause__ is None else kind(exc.__cause__))
        else:
            r.add("negotiated", [ext.name for ext in exc.protocol.extensions])
            r.add("deflate settings", deflate_settings(exc.protocol.extensions))
            r.add("keys", [getattr(e, "key", None) for e in exc.protocol.extensions])
            await exc.close()

    result = await both(srv.url, scenario, without_picows="extensions")
    assert_same(result, f"extension negotiation: {name}")


@pytest.mark.parametrize("name", list(NEGOTIATIONS))
async def test_legacy_extension_negotiation(raw_server: StartServer, name: str) -> None:
    """The same answers through the legacy client: its classes and words,
    and ``ws.extensions``, the legacy attribute."""
    answer, make, compression = NEGOTIATIONS[name]

    async def handler(peer: RawPeer) -> None:
        await peer.read_close(timeout=10)
        peer.send(server_frame(OP_CLOSE, (1000).to_bytes(2, "big")))

    srv = await raw_server(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers=f"Sec-WebSocket-Extensions: {answer}\r\n"
        ),
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        try:
            ws = await api.connect(
                url,
                extensions=make(),
                compression=compression,
                ping_interval=None,
                open_timeout=1,
            )
        except Exception as exc:  # what is raised is compared
            r.add("raised", kind(exc))
            r.add("message", str(exc))
            r.add("cause", None if exc.__cause__ is None else kind(exc.__cause__))
        else:
            # The connection's class differs by design (test_legacy_keyword).
            r.add("negotiated", [ext.name for ext in ws.extensions])
            await ws.close()

    result = await legacy(srv.url, scenario)
    assert_same(result, f"legacy extension negotiation: {name}")


#: What the client's x-xor raises decoding the server's text frame (None:
#: nothing; the frame comes with RSV3, which no extension takes).
DECODE_FAILURES: dict[str, Callable[[], Exception | None]] = {
    "RSV3 left set": lambda: None,
    "ProtocolError": lambda: websockets.exceptions.ProtocolError("bad frame"),
    "PayloadTooBig": lambda: websockets.exceptions.PayloadTooBig(10, 5),
    "another exception": lambda: ValueError("secret detail"),
}


@masked_only
@pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained, TimeoutError); "
    "websockets 16, the oracle on Python 3.10, differs",
)
@pytest.mark.parametrize("oracle", ["websockets", "legacy"])
@pytest.mark.parametrize("name", list(DECODE_FAILURES))
async def test_an_extension_failing_to_decode(
    raw_server: StartServer, name: str, oracle: str, exact: bool
) -> None:
    """The connection fails with websockets' close code, and the
    ConnectionClosedError chains what websockets chains: the extension's
    own exception."""
    closes: dict[str, Any] = {}

    async def handler(peer: RawPeer) -> None:
        rsv = 0x10 if name == "RSV3 left set" else 0x20
        peer.send(server_frame(OP_TEXT, cx.xor(b"hello", 0x3C), rsv=rsv))
        closes[run_of(peer.request_line.split()[1])] = await peer.read_close()
        peer.send(server_frame(OP_CLOSE, b""))

    srv = await raw_server(
        handler,
        response=lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: x-xor; key=3c\r\n"
        ),
    )

    async def scenario(api: Api, url: str, r: Record) -> None:
        raised = DECODE_FAILURES[name]()
        factory = (
            cx.ClientXorFactory() if raised is None else cx.FailingXorFactory(raised)
        )
        ws = await api.connect(
            url, extensions=[factory], compression=None, ping_interval=None
        )
        exc = await r.outcome("recv()", ws.recv())
        r.add("cause class", kind(exc.__cause__))
        r.add("cause is the extension's", exc.__cause__ is raised)
        await ws.wait_closed()
        code, _ = closes[api.name]
        r.add("close code on the wire", code)

    if oracle == "legacy":
        result = await each((LEGACY, AIOWS), srv.url, scenario, exact=exact)
        assert_same(result, f"legacy extension failing to decode: {name}")
    else:
        result = await both(srv.url, scenario, exact=exact, without_picows="extensions")
        assert_same(result, f"extension failing to decode: {name}")


async def _after_the_servers_ping(ws: Any) -> Any:
    await ws.send("ping")
    return await ws.recv()


#: The payload ``encode`` fails on, and how a frame carrying it is sent.
ENCODE_FAILURES: dict[str, tuple[bytes, Callable[[Any], Awaitable[Any]]]] = {
    "send": (b"boom", lambda ws: ws.send("boom")),
    "second fragment": (b"boom", lambda ws: ws.send(["ok", "boom"])),
    "ping": (b"boom", lambda ws: ws.ping(b"boom")),
    "pong": (b"boom", lambda ws: ws.pong(b"boom")),
    # A protocol error: that send fails, the connection goes on.
    "protocol error": (b"boom", lambda ws: ws.send("refused")),
    "protocol error in a ping": (b"boom", lambda ws: ws.ping(b"refused")),
    # The server pings with b"srv": the automatic pong fails.
    "automatic pong": (b"srv", _after_the_servers_ping),
}


@pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained, TimeoutError); "
    "websockets 16, the oracle on Python 3.10, differs",
)
@pytest.mark.parametrize("how", list(ENCODE_FAILURES))
async def test_an_extension_failing_to_encode(
    extension_server: WebsocketsServer, how: str
) -> None:
    """What a send raises when an extension's ``encode`` fails, and whether
    the connection still works after it."""

    word, send = ENCODE_FAILURES[how]

    async def scenario(api: Api, url: str, r: Record) -> None:
        ws = await api.connect(
            url,
            extensions=[cx.EncodeFailingXorFactory(word)],
            compression=None,
            ping_interval=None,
        )
        await r.outcome("the failing send", send(ws))
        await r.outcome("send(after)", ws.send("after"))
        await r.outcome("recv()", ws.recv())
        await ws.close()
        r.state(ws, "closed")

    result = await both(
        f"{extension_server.url}/echo",
        scenario,
        extension_server.log,
        without_picows="extensions",
    )
    assert_same(result, f"extension failing to encode: {how}")


@pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained, TimeoutError); "
    "websockets 16, the oracle on Python 3.10, differs",
)
async def test_an_extension_failing_on_the_keepalive_ping(
    extension_server: WebsocketsServer,
) -> None:
    """The keepalive's ping cannot be encoded: the connection ends at once,
    chaining the extension's exception."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.PING)
        ws = await api.connect(
            url, extensions=[factory], compression=None, ping_interval=0.2
        )
        exc = await r.outcome("recv()", ws.recv())
        r.add("cause", kind(exc.__cause__))
        await r.outcome("close()", ws.close())
        r.state(ws, "closed")

    result = await both(
        f"{extension_server.url}/echo",
        scenario,
        extension_server.log,
        without_picows="extensions",
    )
    assert_same(result, "extension failing on the keepalive ping")


@pytest.mark.skipif(
    OLD_WEBSOCKETS,
    reason="aiows follows websockets 17 here (causes chained, TimeoutError); "
    "websockets 16, the oracle on Python 3.10, differs",
)
async def test_an_extension_failing_on_the_close_frame(
    extension_server: WebsocketsServer,
) -> None:
    """The client's close frame cannot be encoded: ``close()`` returns and
    the connection ends without it, as in websockets."""

    async def scenario(api: Api, url: str, r: Record) -> None:
        factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.CLOSE)
        ws = await api.connect(
            url, extensions=[factory], compression=None, close_timeout=1
        )
        await r.outcome("close()", ws.close())
        await r.outcome("wait_closed", ws.wait_closed())
        r.state(ws, "closed")
        await r.outcome("send()", ws.send("late"))

    result = await both(
        f"{extension_server.url}/echo",
        scenario,
        extension_server.log,
        without_picows="extensions",
    )
    assert_same(result, "extension failing on the close frame")


async def test_an_extension_failing_on_the_answer_to_a_close(
    extension_server: WebsocketsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer to the server's close frame cannot be encoded: the
    connection ends at once, and ``recv()`` raises ``ConnectionClosedError``
    chaining the extension's exception, once the messages that came before
    the close are read; nothing escapes into the event loop.

    Not compared: websockets loses its parser to it ("parser failed").
    """
    factory = cx.OpcodeFailingXorFactory(websockets.frames.Opcode.CLOSE)
    url = f"{extension_server.url}/echo?run=aiows"
    ws = await aiows.connect(url, extensions=[factory], compression=None)
    await ws.send("three 1000")  # three messages, then a close
    assert [await bounded(ws.recv()) for _ in range(3)] == ["one", "two", "three"]
    with pytest.raises(aiows.ConnectionClosedError) as info:
        await bounded(ws.recv())
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    assert info.value.sent is None
    await bounded(ws.wait_closed())
    assert ws.state.name == "CLOSED"
    await extension_server.log.wait("aiows")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["unexpected internal error"]


def _extension_differences() -> list[Difference]:
    empty = "aiows sends no Sec-WebSocket-Extensions header for an empty "
    timeout = kind(TimeoutError())

    def failed(code: int, reason: str) -> Any:
        return (
            "raised",
            {
                "kind": _CLOSED_ERROR,
                **_NO_FRAMES,
                "sent": (code, reason),
                "cause": "<cause>",
            },
        )

    legacy_reasons = [
        Difference(
            f"legacy extension failing to decode: {name}",
            "recv()",
            failed(code, ""),
            failed(code, "<failure reason>"),
            "the legacy client fails a connection with an empty close reason; "
            "aiows gives websockets 17's reason (aiows's words, see Wording)",
            topic=EXTENSIONS_TOPIC,
        )
        for name, code in (
            ("RSV3 left set", 1002),
            ("ProtocolError", 1002),
            ("PayloadTooBig", 1009),
        )
    ]
    return [
        *legacy_reasons,
        Difference(
            "extension negotiation: empty extensions=",
            "offer",
            [[""]],
            None,
            empty + "extensions= (with compression=None); websockets sends the "
            "header empty, which its own server refuses with 400",
            topic=EXTENSIONS_TOPIC,
        ),
        Difference(
            "extension negotiation: factory fails otherwise",
            "connect",
            ("raised", {"kind": timeout}),
            ("raised", {"kind": kind(ValueError())}),
            "an exception from process_response_params() other than a refusal "
            "fails the handshake with that exception at once; in websockets it "
            "escapes its parser and the handshake hangs until open_timeout",
            topic=EXTENSIONS_TOPIC,
        ),
        Difference(
            "extension negotiation: factory fails otherwise",
            "message",
            "timed out during opening handshake",
            "broken factory",
            "see the connect observation of this scenario: aiows raises the "
            "factory's own exception",
            topic=EXTENSIONS_TOPIC,
        ),
        Difference(
            "extension negotiation: factory fails otherwise",
            "cause",
            timeout,
            None,
            "websockets' TimeoutError chains the open_timeout's TimeoutError; "
            "aiows raises the factory's exception, which chains nothing",
            topic=EXTENSIONS_TOPIC,
        ),
    ]


DIFFERENCES.extend(_extension_differences())
