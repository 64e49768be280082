"""websockets' threading client as the oracle: the machinery of the comparison.

A scenario is a function of user code written for
``websockets.sync.client.connect``; it runs once with websockets' names and
once with aiows's (``aiows.sync.connect``, ``aiows.ConnectionClosedOK``...),
against the same server, and records what user code observes: values
returned, exception classes (by name, with websockets' hierarchy by name),
close frames, ``state`` by name, and what the server saw.  The two records
must be equal, but for the :data:`DIFFERENCES`, which are asserted as
differences (docs/from_websockets.rst lists the same).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import websockets
import websockets.exceptions
import websockets.sync.client

import aiows
import aiows.sync
from tests.sync.conftest import ServerLog, settle

#: websockets 17 needs Python 3.11; on 3.10 the oracle is websockets 16.
OLD_WEBSOCKETS = int(websockets.version.version.split(".")[0]) < 17


@dataclass(frozen=True)
class Api:
    """The names a program imports: websockets' or aiows's."""

    name: str
    connect: Callable[..., Any]
    #: Where the exception classes are: ``websockets.exceptions`` or ``aiows``.
    errors: Any


WEBSOCKETS = Api("websockets", websockets.sync.client.connect, websockets.exceptions)
AIOWS = Api("aiows", aiows.sync.connect, aiows)

#: websockets' exception names; the hierarchy is compared on these.
WEBSOCKETS_NAMES = frozenset(websockets.exceptions.__all__) - {"WebSocketException"}
PUBLIC: dict[str, Any] = {name: getattr(aiows, name) for name in aiows.__all__}
_ROOTS = (object, BaseException, Exception)


def inside_recv(ws: Any) -> None:
    """Wait until a thread is inside ``ws.recv()`` (each client's own flag:
    no event tells)."""
    if isinstance(ws, aiows.sync.ClientConnection):
        settle(lambda: ws._receiving)
    else:
        settle(lambda: ws.recv_messages.get_in_progress)


def closed_without_reading(ws: Any) -> None:
    """Wait until ``ws`` is closed, reading nothing: ``wait_closed()``, or
    the state where websockets 16 has no ``wait_closed()``."""
    if hasattr(ws, "wait_closed"):
        assert ws.wait_closed(10)
    else:
        settle(lambda: ws.state.name == "CLOSED")


def class_kind(cls: type) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A class's name, its websockets bases by name, and its built-in bases
    (but those an aiohttp base brings: a documented addition)."""
    from_aiohttp: set[type] = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "aiohttp":
            from_aiohttp.update(base.__mro__)
    hierarchy = tuple(
        base.__name__
        for base in cls.__mro__
        if base.__name__ in WEBSOCKETS_NAMES
        and base
        in (getattr(websockets.exceptions, base.__name__), PUBLIC.get(base.__name__))
    )
    builtin = tuple(
        base.__name__
        for base in cls.__mro__
        if base.__module__ == "builtins"
        and base not in _ROOTS
        and base not in from_aiohttp
    )
    return cls.__name__, hierarchy, builtin


def kind(exc: BaseException) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    return class_kind(type(exc))


def frame(close: Any) -> tuple[int, str] | None:
    return None if close is None else (int(close.code), close.reason)


def closed_info(exc: BaseException) -> dict[str, Any]:
    """What a ConnectionClosed says of the ending."""
    return {
        "rcvd": frame(getattr(exc, "rcvd", None)),
        "sent": frame(getattr(exc, "sent", None)),
        "rcvd_then_sent": getattr(exc, "rcvd_then_sent", None),
        "cause": None if exc.__cause__ is None else kind(exc.__cause__)[0],
    }


@dataclass
class Record:
    """The observations of one run, in order."""

    api: Api
    events: list[tuple[str, Any]] = field(default_factory=list)

    def add(self, label: str, value: Any) -> None:
        self.events.append((label, value))

    def error(self, label: str, exc: BaseException) -> None:
        value: dict[str, Any] = {"kind": kind(exc)}
        if isinstance(exc, self.api.errors.ConnectionClosed):
            value.update(closed_info(exc))
        self.add(label, ("raised", value))

    def outcome(self, label: str, call: Callable[[], Any]) -> Any:
        """Call ``call``; record what it returned or raised."""
        try:
            result = call()
        except Exception as exc:
            self.error(label, exc)
            return exc
        plain = result is None or isinstance(result, (str, bytes, int, float, list))
        self.add(label, ("returned", result if plain else type(result).__name__))
        return result

    def state(self, ws: Any, label: str) -> None:
        self.add(f"{label} state", ws.state.name)
        self.add(f"{label} close", (ws.close_code, ws.close_reason))


Scenario = Callable[[Api, str, Record], None]
Result = dict[str, list[tuple[str, Any]]]


def with_run(url: str, name: str) -> str:
    sep = "&" if "?" in url.rpartition("/")[2] else "?"
    return f"{url}{sep}run={name}"


def both(
    url: str, scenario: Scenario, log: ServerLog | None = None, *, masked: bool = False
) -> Result:
    """Run ``scenario`` with websockets, then with aiows; add what the
    server saw.  With ``masked``, the reasons of failure close frames (each
    library's own words) are masked."""
    out: Result = {}
    for api in (WEBSOCKETS, AIOWS):
        record = Record(api)
        scenario(api, with_run(url, api.name), record)
        events = list(record.events)
        if log is not None:
            seen = log.wait(api.name)
            events += [("server " + label, value) for label, value in seen]
        events = [(label, _same_run(value, api.name)) for label, value in events]
        if masked:
            events = [(label, reasons_masked(value)) for label, value in events]
        out[api.name] = events
    return out


#: Close codes that mean a failure: their reasons are each library's words.
FAILURE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, 1011})
FAILURE_REASON = "<failure reason>"


def reasons_masked(value: Any) -> Any:
    """``value`` with the reason of every failure close masked."""
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and type(value[0]) is int
        and value[0] in FAILURE_CODES
        and isinstance(value[1], str)
    ):
        return (value[0], FAILURE_REASON)
    if isinstance(value, (list, tuple)):
        return type(value)(reasons_masked(item) for item in value)
    if isinstance(value, dict):
        return {key: reasons_masked(item) for key, item in value.items()}
    return value


def _same_run(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace(f"run={name}", "run=<run>")
    if isinstance(value, (list, tuple)):
        return type(value)(_same_run(item, name) for item in value)
    if isinstance(value, dict):
        return {key: _same_run(item, name) for key, item in value.items()}
    return value


class Difference(NamedTuple):
    """In ``scenario``, observation ``label`` is ``oracle`` for websockets
    and ``aiows`` for aiows, on purpose (``topic``: its heading in
    docs/from_websockets.rst)."""

    scenario: str
    label: str
    oracle: Any
    aiows: Any
    reason: str
    topic: str


def assert_same(result: Result, name: str) -> None:
    """aiows observed what websockets did, but for :data:`DIFFERENCES`."""
    oracle, ours = result["websockets"], result["aiows"]
    allowed = {d.label: d for d in differences() if d.scenario == name}
    table = "\n".join(
        f"{'  ' if expected == got else '!='} {label}\n"
        f"     websockets: {expected!r}\n     aiows:      {got!r}"
        for (label, expected), (_, got) in zip(oracle, ours, strict=False)
    )
    assert [label for label, _ in ours] == [label for label, _ in oracle], (
        f"{name}: the observations differ\n{table}"
    )
    for (label, expected), (_, got) in zip(oracle, ours, strict=True):
        if OLD_WEBSOCKETS and _only_the_cause_of_16(expected, got):
            allowed.pop(label, None)  # a cause 17 chains otherwise
            continue
        if label in allowed:
            difference = allowed.pop(label)
            assert (expected, got) == (difference.oracle, difference.aiows), (
                f"{name}: {label} (a documented difference)\n{table}"
            )
        else:
            assert got == expected, f"{name}: {label}\n{table}"
    assert not allowed, f"{name}: documented differences not seen: {list(allowed)}"


def _only_the_cause_of_16(expected: Any, got: Any) -> bool:
    """websockets 16 (the oracle on Python 3.10) chains no cause to the
    ConnectionClosedError of a connection that failed or dropped; 17 and
    aiows chain the error (docs/from_websockets.rst)."""
    if not (
        isinstance(expected, tuple)
        and isinstance(got, tuple)
        and expected[:1] == got[:1] == ("raised",)
        and isinstance(expected[1], dict)
        and isinstance(got[1], dict)
    ):
        return False
    theirs, ours = expected[1], got[1]
    return (
        theirs.get("cause", "") is None
        and ours.get("cause")
        in (
            "ProtocolError",
            "PayloadTooBig",
            "EOFError",
            "UnicodeDecodeError",
            "ConnectionResetError",
        )
        and {**theirs, "cause": None} == {**ours, "cause": None}
    )


_TIMEOUT = ("TimeoutError", (), ("TimeoutError", "OSError"))
# OpenTimeout is a TimeoutError through aiohttp's ServerTimeoutError from
# Python 3.11 on (built-in bases an aiohttp base brings are not listed); on
# 3.10 it derives from the built-in TimeoutError itself.
_OPEN_TIMEOUT = class_kind(aiows.OpenTimeout)
_PYTHON = f"Python/{sys.version_info.major}.{sys.version_info.minor}"


def differences() -> list[Difference]:
    """Where aiows's threading face differs from websockets' on purpose."""
    found = [
        Difference(
            "bad arguments: bad port",
            "bad port",
            ("raised", {"kind": ("ValueError", (), ("ValueError",))}),
            ("raised", {"kind": ("InvalidURI", ("InvalidURI",), ())}),
            "a URI that does not parse (a port out of range) is InvalidURI, a "
            "ValueError, as in the asyncio faces; websockets lets urllib's "
            "ValueError through",
            "Connecting",
        ),
        Difference(
            "reconnect after an end",
            "waited between connections",
            False,
            True,
            "after a connection that ended, the next attempt waits the backoff "
            "delay (unless it stayed up reset_after, 30 s), so a server that "
            "accepts and drops at once is not hammered; websockets reconnects "
            "at once after a connection that opened",
            "Reconnecting",
        ),
        Difference(
            "close with messages unread",
            "reading after close()",
            (
                "raised",
                {
                    "kind": (
                        "ConnectionClosedError",
                        ("ConnectionClosedError", "ConnectionClosed"),
                        (),
                    ),
                    "rcvd": None,
                    "sent": (1000, ""),
                    "rcvd_then_sent": None,
                    "cause": "TimeoutError",
                },
            ),
            (
                "raised",
                {
                    "kind": (
                        "ConnectionClosedOK",
                        ("ConnectionClosedOK", "ConnectionClosed"),
                        (),
                    ),
                    "rcvd": (1000, ""),
                    "sent": (1000, ""),
                    "rcvd_then_sent": False,
                    "cause": None,
                },
            ),
            "once the client's close frame went, aiows never stops reading, so "
            "the server's close gets in and the close completes (1000); data "
            "past the high water mark is dropped meanwhile.  websockets keeps "
            "its flow control: with the queue full it cannot read the "
            "server's close, waits close_timeout and ends with 1006",
            "Closing with messages unread",
        ),
        Difference(
            "close with messages unread",
            "after close",
            (1006, ""),
            (1000, ""),
            "as above",
            "Closing with messages unread",
        ),
        Difference(
            "redirect to http",
            "connect",
            ("raised", {"kind": ("InvalidURI", ("InvalidURI",), ())}),
            ("followed to", "/echo"),
            "an http:// or https:// Location leads to the matching ws:// or "
            "wss:// URI (the asyncio faces' rule); websockets refuses it",
            "Redirects",
        ),
        Difference(
            "open timeout",
            "connect",
            ("raised", {"kind": _TIMEOUT}),
            ("raised", {"kind": _OPEN_TIMEOUT}),
            "the opening handshake's timeout is aiows.OpenTimeout, a TimeoutError "
            "subclass (the asyncio faces' class)",
            "Timeouts",
        ),
        Difference(
            "proxy: bytes after the 200",
            "bytes after the 200",
            ("raised", {"kind": _TIMEOUT}),
            (
                "raised",
                {
                    "kind": (
                        "InvalidProxyMessage",
                        ("InvalidProxyMessage", "ProxyError", "InvalidHandshake"),
                        (),
                    )
                },
            ),
            "bytes an HTTP proxy sends after its 2xx to CONNECT, before the "
            "client spoke through the tunnel, are refused (InvalidProxyMessage); "
            "websockets drops what came in the same read as the answer and "
            "waits for the server's",
            "Proxies",
        ),
        Difference(
            "proxy: bytes after the 200",
            "says",
            "timed out while waiting for handshake response",
            "the proxy sent 56 bytes after its answer to CONNECT, before the "
            "client spoke through the tunnel",
            "the refusal says what the proxy did (websockets has no such error)",
            "Proxies",
        ),
        Difference(
            "proxy: a head over 64 KiB",
            "a head over 64 KiB",
            ("raised", {"kind": _TIMEOUT}),
            (
                "raised",
                {
                    "kind": (
                        "InvalidProxyMessage",
                        ("InvalidProxyMessage", "ProxyError", "InvalidHandshake"),
                        (),
                    )
                },
            ),
            "a proxy's answer to CONNECT over 64 KiB is refused, as by the "
            "asyncio faces; websockets takes it (its limits are per line and "
            "per header count)",
            "Proxies",
        ),
        Difference(
            "proxy: a head over 64 KiB",
            "says",
            "timed out while waiting for handshake response",
            "did not receive a valid HTTP response from proxy",
            "as above",
            "Proxies",
        ),
        Difference(
            "proxy: a head over 64 KiB",
            "cause",
            None,
            "ValueError",
            "as above",
            "Proxies",
        ),
        Difference(
            "user agent",
            "User-Agent",
            f"{_PYTHON} websockets/{websockets.version.version}",
            f"{_PYTHON} aiows/{aiows.__version__}",
            "the default User-Agent names aiows",
            "Names and words",
        ),
    ]
    failed_1007 = {
        "kind": (
            "ConnectionClosedError",
            ("ConnectionClosedError", "ConnectionClosed"),
            (),
        ),
        "rcvd": None,
        "sent": (1007, FAILURE_REASON),
        "rcvd_then_sent": None,
    }
    found.append(
        Difference(
            "invalid UTF-8",
            "recv 0",
            ("raised", {**failed_1007, "cause": "UnicodeDecodeError"}),
            ("raised", {**failed_1007, "cause": "ProtocolError"}),
            "a text message that is not UTF-8 fails the connection with 1007 in "
            "both; aiows chains its ProtocolError, websockets the "
            "UnicodeDecodeError",
            "Names and words",
        )
    )
    found += [
        Difference(
            scenario,
            "server server saw the end after the close frame",
            False,
            True,
            "after failing the connection aiows half-closes its side once its "
            "close frame is written, so the server sees the end at once; "
            "websockets waits for the server to close",
            "Closing after a failure",
        )
        for scenario in (
            "protocol error half-closes",
            "invalid UTF-8",
            "too big",
            "decode=True",
        )
    ]
    found.append(
        Difference(
            "extension negotiation: empty extensions=",
            "offer",
            [[""]],
            None,
            "aiows sends no Sec-WebSocket-Extensions header for an empty "
            "extensions= (with compression=None), as the asyncio face; "
            "websockets sends the header empty, which its own server refuses "
            "with 400",
            "Extensions",
        )
    )
    if OLD_WEBSOCKETS:
        found.append(
            Difference(
                "client close",
                "wait_closed",
                ("raised", {"kind": ("AttributeError", (), ("AttributeError",))}),
                ("returned", True),
                "websockets 16's threading connection has no wait_closed()",
                "websockets 16, on Python 3.10",
            )
        )
    return found
