"""User code of websockets' threading client, with aiows's import, type-checked.

``mypy`` checks this file with the package (see ``pyproject.toml``): what a
program written for ``websockets.sync.client`` expects of the types (text
from ``recv(decode=True)``, bytes from ``decode=False``, a connection from
``with connect(...)``, from ``connect(...)`` itself and from each turn of
``for ... in connect(..., legacy=False)``, an
``Event`` from ``ping()``) holds with ``from aiows.sync import connect``.
It is never run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from aiows.sync import ClientConnection, Connect, State, connect, unix_connect


def talk(ws: ClientConnection) -> tuple[str, bytes]:
    ws.send("hello")
    ws.send(b"\x00")
    ws.send(["frag", "ments"])
    text: str = ws.recv(decode=True)
    raw: bytes = ws.recv(5.0, decode=False)
    either: str | bytes = ws.recv(timeout=1)
    pieces: Iterator[str] = ws.recv_streaming(decode=True)
    joined = "".join(pieces) + str(either)
    pong: threading.Event = ws.ping(b"x", ack_on_close=True)
    pong.wait(1)
    ws.pong()
    for message in ws:
        joined += str(message)
    closed: bool = ws.wait_closed(1.0)
    ws.close(1000, "bye")
    assert ws.state is State.CLOSED or closed
    return text + joined, raw


def main() -> None:
    with connect("ws://h/", additional_headers={"X": "1"}, max_queue=(16, 4)) as ws:
        talk(ws)
    legacy: ClientConnection = connect("ws://h/", legacy=True)
    legacy.close()
    direct: ClientConnection = connect("ws://h/")
    direct.close()
    client: Connect = connect(
        "ws://h/", open_timeout=None, ping_interval=None, legacy=False
    )
    for websocket in client:
        talk(websocket)
        client.close()
    with unix_connect("/tmp/s.sock") as local:
        code: int | None = local.close_code
        reason: str | None = local.close_reason
        print(code, reason, local.latency, local.id, local.subprotocol)
