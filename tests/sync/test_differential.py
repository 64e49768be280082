"""websockets' threading client as the oracle: the same user code, both clients.

See :mod:`tests.sync.differential` for the machinery.  Each scenario is a
piece of user code written for ``websockets.sync.client``; it runs with
websockets' names and with aiows's against websockets' own server, and what
the program observes (and what the server saw) must be the same, but for the
differences docs/from_websockets.rst lists.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.sync.conftest import TLS, WsServer
from tests.sync.differential import (
    OLD_WEBSOCKETS,
    Api,
    Record,
    assert_same,
    both,
    closed_without_reading,
    differences,
)

try:
    from websockets.sync.client import reconnect as websockets_reconnect
except ImportError:  # websockets 16 (Python 3.10)
    websockets_reconnect = None

# Short timeouts: the scenarios where the server stays silent on purpose.
FAST = {"close_timeout": 2, "open_timeout": 5}


def test_echo_text_and_binary(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            r.state(ws, "open")
            r.add("subprotocol", ws.subprotocol)
            ws.send("hello")
            r.outcome("recv text", lambda: ws.recv(timeout=5))
            ws.send(b"\x00\xff")
            r.outcome("recv binary", lambda: ws.recv(timeout=5))
            ws.send("é")
            r.outcome("recv decode=False", lambda: ws.recv(timeout=5, decode=False))
            ws.send(b"abc")
            r.outcome("recv decode=True", lambda: ws.recv(timeout=5, decode=True))
            ws.send(b"text as text", text=True)
            r.outcome("text=True", lambda: ws.recv(timeout=5))
            ws.send("binary as binary", text=False)
            r.outcome("text=False", lambda: ws.recv(timeout=5))
            ws.send(bytearray(b"ba"))
            r.outcome("bytearray", lambda: ws.recv(timeout=5))
            ws.send(memoryview(b"mv"))
            r.outcome("memoryview", lambda: ws.recv(timeout=5))
        r.state(ws, "after with")

    result = both(f"{ws_server.url}/echo", scenario, ws_server.log)
    assert_same(result, "echo")
    assert ("recv text", ("returned", "hello")) in result["aiows"]


def test_the_server_closes_normally(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("three 1000")
            r.add("messages", [m for m in ws])
            r.state(ws, "after the loop")
            r.outcome("recv after the end", ws.recv)
            r.outcome("recv_streaming after the end", lambda: list(ws.recv_streaming()))
            r.outcome("send after the end", lambda: ws.send("x"))
            r.outcome("close again", ws.close)

    result = both(f"{ws_server.url}/echo", scenario, ws_server.log)
    assert_same(result, "server closes normally")
    assert ("messages", ["one", "two", "three"]) in result["aiows"]


@pytest.mark.parametrize("code", [1001, 1011, 4000])
def test_the_server_closes_with_a_code(ws_server: WsServer, code: int) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send(f"close {code} going")
            r.outcome("for loop", lambda: [m for m in ws])
            r.state(ws, "after")
            r.outcome("recv", ws.recv)
            r.outcome("ping", ws.ping)
            r.outcome("pong", ws.pong)

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "server code")


def test_messages_before_the_close_stay_readable(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("three 1000")
            closed_without_reading(ws)
            r.state(ws, "closed")
            for label in ("one", "two", "three", "end"):
                r.outcome(label, lambda: ws.recv(timeout=5))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "readable")


def test_the_client_closes(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        ws = api.connect(url, **FAST).__enter__()
        ws.send("hi")
        r.outcome("recv", lambda: ws.recv(timeout=5))
        r.outcome("close", lambda: ws.close(4001, "done"))
        r.state(ws, "closed")
        r.outcome("close again", ws.close)
        r.outcome("send", lambda: ws.send("late"))
        r.outcome("recv", ws.recv)
        r.outcome("wait_closed", lambda: ws.wait_closed(1))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "client close")


def test_an_exception_leaves_with(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, **FAST) as ws:
                raise KeyError("boom")
        except KeyError as exc:
            r.error("with", exc)
        r.state(ws, "after")

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "exception")


def test_fragmented_messages(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("fragments")
            r.outcome("text", lambda: ws.recv(timeout=5))
            ws.send("bin-fragments")
            r.outcome("binary", lambda: ws.recv(timeout=5))
            ws.send(["a", "b", "c"])
            r.outcome("echo of a fragmented send", lambda: ws.recv(timeout=5))
            ws.send([b"x", bytearray(b"y"), memoryview(b"z")])
            r.outcome("binary fragments", lambda: ws.recv(timeout=5))
            ws.send([])
            ws.send("after nothing")
            r.outcome("empty iterable sends nothing", lambda: ws.recv(timeout=5))
            r.outcome("mixed types", lambda: ws.send(["a", b"b"]))
            r.state(ws, "after mixed")

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "fragments")


def test_streaming_whole_messages(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("whole")
            r.add("a whole message", list(ws.recv_streaming()))
            ws.send("fragments")
            r.add("joined", "".join(ws.recv_streaming()))
            ws.send("bin-fragments")
            r.add("decoded", "".join(ws.recv_streaming(decode=True)))
            ws.send("é")
            r.add("encoded", b"".join(ws.recv_streaming(decode=False)))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "streaming")


def test_pings(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("ping")  # the server pings, then sends "pinged"
            r.outcome("after the server's ping", lambda: ws.recv(timeout=5))
            event = ws.ping()
            r.add("pong arrives", event.wait(5))
            r.add("latency measured", ws.latency > 0)
            r.outcome("str payload", lambda: ws.ping("text").wait(5))
            r.outcome("bad payload", lambda: ws.ping(3))  # type: ignore[arg-type]
            r.outcome("pong", lambda: ws.pong(b"unsolicited"))
            r.outcome("str pong", lambda: ws.pong("unsolicited"))
            r.outcome("bad pong", lambda: ws.pong(3))  # type: ignore[arg-type]

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "pings")


def test_the_tcp_connection_drops(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("drop")
            r.outcome("recv", lambda: ws.recv(timeout=5))
            r.state(ws, "dropped")
            r.outcome("send", lambda: ws.send("x"))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "drop")


def test_recv_timeout(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            started = time.monotonic()
            r.outcome("recv(timeout=0.3)", lambda: ws.recv(timeout=0.3))
            waited = time.monotonic() - started
            r.add("waited the timeout", 0.29 <= waited < 2)
            r.outcome("recv(timeout=0)", lambda: ws.recv(timeout=0))
            r.outcome("recv(timeout=-1)", lambda: ws.recv(timeout=-1))
            ws.send("late")
            r.outcome("the message is not lost", lambda: ws.recv(timeout=5))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "timeout")


def test_over_tls(wss_server: WsServer, tls: TLS) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        # A queue that holds what is sent: the pong may come after it.
        with api.connect(url, ssl=tls.client, max_queue=64, **FAST) as ws:
            ws.send("hello")
            r.outcome("echo", lambda: ws.recv(timeout=5))
            started = time.monotonic()
            r.outcome("recv(timeout=0.2)", lambda: ws.recv(timeout=0.2))
            r.add("waited the timeout", 0.15 < time.monotonic() - started < 2)
            # Records queued while nobody reads, then read.
            ws.send("big 40 65536")
            r.add("ping answered", ws.ping().wait(5))
            got = [ws.recv(timeout=5) for _ in range(40)]
            r.add("big", [int.from_bytes(m[:4], "big") for m in got])
            ws.send("fragments")
            r.add("streamed", "".join(ws.recv_streaming()))
            ws.send("close 1000 bye")
            r.outcome("after the close", lambda: ws.recv(timeout=5))
            r.state(ws, "closed")

    assert_same(both(f"{wss_server.url}/echo", scenario, wss_server.log), "tls")


def test_a_refused_handshake(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, **FAST):
                pass
        except Exception as exc:
            r.error("connect", exc)
            response = getattr(exc, "response", None)
            r.add("status", getattr(response, "status_code", None))
            r.add("body", getattr(response, "body", None))
            r.add("X-Why", response.headers.get("X-Why") if response else None)

    assert_same(both(f"{ws_server.url}/deny", scenario), "403")


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="websockets 16 follows no redirects")
def test_a_redirect_is_followed(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            r.add("request path", ws.request.path)
            ws.send("hi")
            r.outcome("recv", lambda: ws.recv(timeout=5))

    assert_same(both(f"{ws_server.url}/redirect", scenario, ws_server.log), "redirect")


def test_subprotocols_and_headers(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(
            url,
            subprotocols=["chat", "superchat"],
            additional_headers={"X-Token": "t0k"},
            origin="https://app.example",
            **FAST,
        ) as ws:
            r.add("subprotocol", ws.subprotocol)
            request = ws.request.headers
            r.add("Origin", request["Origin"])
            r.add("Sec-WebSocket-Protocol", request["Sec-WebSocket-Protocol"])
            r.add("X-Token", request["X-Token"])
            r.add("User-Agent", request["User-Agent"])
            r.add("response Upgrade", ws.response.headers["Upgrade"])
            r.add("status", (ws.response.status_code, ws.response.reason_phrase))
            r.add("get_all", ws.response.headers.get_all("Upgrade"))

    assert_same(both(f"{ws_server.url}/echo", scenario, ws_server.log), "user agent")


@pytest.mark.parametrize(
    ("label", "call"),
    [
        ("http:// URI", lambda api, url: api.connect("http://127.0.0.1:9/")),
        ("no host", lambda api, url: api.connect("ws:///path")),
        ("bad port", lambda api, url: api.connect("ws://127.0.0.1:99999/")),
        ("ssl= with ws://", lambda api, url: api.connect(url, ssl=object())),
        (
            "one subprotocol as a str",
            lambda api, url: api.connect(url, subprotocols="chat"),
        ),
        ("bad compression", lambda api, url: api.connect(url, compression="gzip")),
        ("bad max_queue", lambda api, url: api.connect(url, max_queue=(4, 16))),
    ],
)
def test_bad_arguments(ws_server: WsServer, label: str, call: Any) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with call(api, url):
                pass
        except Exception as exc:
            r.error(label, exc)

    assert_same(both(f"{ws_server.url}/echo", scenario), f"bad arguments: {label}")


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="websockets 16 has no legacy flag")
def test_connect_without_with(ws_server: WsServer) -> None:
    """``ws = connect(url)`` opens the connection, and its first use warns
    (once, naming the caller); ``with`` and ``legacy=True`` do not warn;
    ``legacy=False`` opens nothing until used."""

    def scenario(api: Api, url: str, r: Record) -> None:
        def seen(caught: list[warnings.WarningMessage]) -> list[tuple[str, ...]]:
            return [
                (w.category.__name__, str(w.message), Path(w.filename).name)
                for w in caught
            ]

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client = api.connect(url, **FAST)
            r.add("connect() returns", type(client).__name__)
            r.add("warned at the call", seen(caught))
            client.send("one")
            r.add("echo", client.recv(timeout=5))
            client.send("two")
            r.add("echo", client.recv(timeout=5))
            client.close()
            r.add("warned", seen(caught))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with api.connect(url, **FAST) as ws:
                ws.send("three")
                r.add("echo", ws.recv(timeout=5))
            with api.connect(url, legacy=True, **FAST) as ws:
                r.add("legacy=True returns", type(ws).__name__)
            legacy = api.connect(url, legacy=True, **FAST)
            legacy.send("four")
            r.add("echo", legacy.recv(timeout=5))
            legacy.close()
            later = api.connect(url, legacy=False, **FAST)
            r.add("legacy=False opens", hasattr(later, "recv"))
            r.add("warned with with or a flag", seen(caught))

    assert_same(both(f"{ws_server.url}/echo", scenario), "connect without with")


# -- documented differences, asserted as such ---------------------------------------


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="websockets 16 has no reconnect()")
def test_reconnecting_after_a_connection_that_ended(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        iterate = getattr(api.connect, "__module__", "").startswith("websockets")
        loop = (
            websockets_reconnect(url, reconnect_delays=lambda: iter([0.3] * 9))
            if iterate
            else api.connect(
                url, legacy=False, reconnect_delays=lambda: iter([0.3] * 9)
            )
        )
        started = time.monotonic()
        for i, ws in enumerate(loop):
            ws.send(f"pass {i}")
            r.outcome(f"pass {i}", lambda ws=ws: ws.recv(timeout=5))
            if i == 2:
                break
        r.add("waited between connections", time.monotonic() - started > 0.5)

    assert_same(both(f"{ws_server.url}/echo", scenario), "reconnect after an end")


def test_close_with_many_messages_unread(ws_server: WsServer) -> None:
    # The server sent far more than max_queue (16) before the client closes:
    # the messages before the server's close frame are the client's to read.
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, close_timeout=1, open_timeout=5) as ws:
            ws.send("burst 200")
            r.add("first five", [ws.recv(timeout=5) for _ in range(5)])
            ws.close()
            after: list[Any] = []
            try:
                while True:
                    after.append(ws.recv(timeout=5))
            except Exception as exc:
                r.error("reading after close()", exc)
            # Both deliver at least what was queued up to the high water
            # mark, in order; how many more websockets gets depends on when
            # its close timed out.
            r.add("queued ones read", after[:11] == [f"m{i}" for i in range(5, 16)])
            r.state(ws, "after")

    assert_same(both(f"{ws_server.url}/echo", scenario), "close with messages unread")


def test_leaving_a_stream_early(ws_server: WsServer) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, **FAST) as ws:
            ws.send("fragments")
            for piece in ws.recv_streaming():
                r.add("first piece read", bool(piece))
                break
            ws.send("next")
            r.outcome("recv after leaving the stream", lambda: ws.recv(timeout=5))

    assert_same(both(f"{ws_server.url}/echo", scenario), "leaving a stream")


# -- against aiohttp.web's server -----------------------------------------------------


def test_aiohttp_server_echo_and_close(aiohttp_ws: str) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url, subprotocols=["chat"], **FAST) as ws:
            r.add("subprotocol", ws.subprotocol)
            r.add(
                "deflate",
                "permessage-deflate"
                in ws.response.headers.get("Sec-WebSocket-Extensions", ""),
            )
            ws.send("hello aiohttp")
            r.outcome("text", lambda: ws.recv(timeout=5))
            ws.send(b"\x01\x02" * 5000)
            r.outcome("binary", lambda: len(ws.recv(timeout=5)))
            ws.send(["frag", "mented"])
            r.outcome("fragmented", lambda: ws.recv(timeout=5))
            ws.send("close:4321:done")
            r.outcome("after the server's close", ws.recv)
            r.state(ws, "closed")

    assert_same(both(aiohttp_ws, scenario), "aiohttp server")


def test_aiohttp_server_client_close(aiohttp_ws: str) -> None:
    def scenario(api: Api, url: str, r: Record) -> None:
        ws = api.connect(url, **FAST).__enter__()
        ws.send("x")
        r.outcome("recv", lambda: ws.recv(timeout=5))
        started = time.monotonic()
        ws.close(1001, "leaving")
        r.add("closed quickly", time.monotonic() - started < 2)
        r.state(ws, "closed")
        r.outcome("send after", lambda: ws.send("y"))

    assert_same(both(aiohttp_ws, scenario), "aiohttp server close")


# Documented differences that the differential scenarios cannot observe, and
# the tests that assert them instead.
ASSERTED_ELSEWHERE = {
    "Threads": "tests/sync/test_hub.py::test_one_thread_for_many_connections",
    "websockets 16, on Python 3.10": "the scenarios skipped on websockets 16",
}


def test_the_docs_list_the_differences() -> None:
    """docs/from_websockets.rst's threading section has one term per topic
    of :func:`differences`, and no other but :data:`ASSERTED_ELSEWHERE`."""
    page = (Path(__file__).parents[2] / "docs" / "from_websockets.rst").read_text()
    section = page.split("The threading client: ``aiows.sync``\n", 1)[1]
    terms = set(re.findall(r"^(\S[^\n]*)\n   \S", section, re.MULTILINE))
    topics = {difference.topic for difference in differences()}
    assert terms == topics | set(ASSERTED_ELSEWHERE)
