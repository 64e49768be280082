"""The opening handshake against answers that are wrong, both clients
compared: the classes, the response they carry, what each says."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import RawPeer, accept_for, server_frame, upgrade_response
from tests.helpers import OP_CLOSE, OP_TEXT, close_payload
from tests.sync.conftest import Raw
from tests.sync.differential import OLD_WEBSOCKETS, Api, Record, assert_same, both


async def wait_for_close(peer: RawPeer) -> None:
    try:
        await peer.read_close(5)
        peer.send(server_frame(OP_CLOSE, close_payload(1000)))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
        pass


def words(r: Record, exc: BaseException) -> None:
    """What the error says, and the class of its cause: websockets' words
    are what programs match on."""
    r.add("says", str(exc))
    r.add("cause", None if exc.__cause__ is None else type(exc.__cause__).__name__)


def attempt(api: Api, url: str, r: Record, **kwargs: Any) -> None:
    try:
        with api.connect(url, open_timeout=2, **kwargs) as ws:
            r.add("connected", ws.subprotocol)
    except Exception as exc:
        r.error("connect", exc)
        words(r, exc)
        response = getattr(exc, "response", None)
        if response is not None and type(exc).__name__ == "InvalidStatus":
            r.add("status", response.status_code)
            r.add("body", response.body)


ANSWERS: list[tuple[str, Callable[[str], bytes]]] = [
    ("wrong accept", lambda key: upgrade_response(key, accept="nope")),
    ("no Upgrade", lambda key: upgrade_response(key, upgrade=None)),
    ("Upgrade: h2c", lambda key: upgrade_response(key, upgrade="h2c")),
    ("no Connection", lambda key: upgrade_response(key, connection=None)),
    (
        "unrequested subprotocol",
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Protocol: x\r\n"
        ),
    ),
    (
        "unrequested extension",
        lambda key: upgrade_response(
            key, extra_headers="Sec-WebSocket-Extensions: y\r\n"
        ),
    ),
    ("status 600", lambda key: b"HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n"),
    (
        "refusal with a body",
        lambda key: b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope",
    ),
    (
        "chunked refusal",
        lambda key: (
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        ),
    ),
]


@pytest.mark.parametrize(("name", "answer"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_bad_answers(raw: Callable[..., Raw], name: str, answer: Any) -> None:
    server = raw(wait_for_close, response=answer)
    assert_same(both(server.url, attempt), f"handshake: {name}")


def test_the_server_hangs_up_before_answering(raw: Callable[..., Raw]) -> None:
    async def hang_up(peer: RawPeer) -> None:
        peer.close()

    server = raw(hang_up, response=lambda key: b"")
    assert_same(both(server.url, attempt), "handshake: hang up")


def test_an_answer_that_is_not_http(raw: Callable[..., Raw]) -> None:
    server = raw(wait_for_close, response=lambda key: b"SSH-2.0-OpenSSH\r\n\r\n")
    assert_same(both(server.url, attempt), "handshake: not HTTP")


def test_no_answer_in_time(raw: Callable[..., Raw]) -> None:
    async def silent(peer: RawPeer) -> None:
        await peer.reader.read()  # until the client gives up

    server = raw(silent, response=lambda key: b"")

    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, open_timeout=0.3):
                pass
        except Exception as exc:
            r.error("connect", exc)
            words(r, exc)

    assert_same(both(server.url, scenario), "open timeout")


def test_frames_right_behind_the_101(raw: Callable[..., Raw]) -> None:
    frames = server_frame(OP_TEXT, b"early") + server_frame(
        OP_CLOSE, close_payload(1000, b"bye")
    )

    def response(key: str) -> bytes:
        return upgrade_response(key)

    async def closing(peer: RawPeer) -> None:
        await peer.read_close()
        peer.close()

    server = raw(closing, response=response, after_101=frames)

    def scenario(api: Api, url: str, r: Record) -> None:
        with api.connect(url) as ws:
            r.outcome("recv", lambda: ws.recv(timeout=5))
            r.outcome("then", lambda: ws.recv(timeout=5))
            r.state(ws, "after")

    assert_same(both(server.url, scenario), "frames behind the 101")


def test_accept_for_is_independent() -> None:
    # RFC 6455 §1.3's example, to trust the scripted server's answers.
    assert accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.skipif(OLD_WEBSOCKETS, reason="websockets 16 follows no redirects")
def test_a_redirect_to_an_http_location(
    raw: Callable[..., Raw], ws_server: Any
) -> None:
    location = f"http://127.0.0.1:{ws_server.port}/echo"

    def response(key: str) -> bytes:
        return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n".encode()

    async def nothing(peer: RawPeer) -> None:
        await asyncio.sleep(0)

    server = raw(nothing, response=response)

    def scenario(api: Api, url: str, r: Record) -> None:
        try:
            with api.connect(url, open_timeout=5) as ws:
                r.add("connect", ("followed to", ws.request.path))
        except Exception as exc:
            r.error("connect", exc)

    assert_same(both(server.url, scenario), "redirect to http")
