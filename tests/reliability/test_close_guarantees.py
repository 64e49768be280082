"""Failing the connection never loses the client's close frame.

When aiows fails a connection (RFC 6455 §7.1.7) while the server is still
sending, closing the socket at once would leave the server's data unread in
the kernel, which then answers with an RST; on the server's side the RST
throws away what it had not read yet, the client's close frame among it,
and the server never learns why.  So after its close frame aiows half-closes
its side, reads and discards what the server still sends until the server
closes (or ``close_timeout`` passes), and only then closes the socket.

Each case runs :data:`RUNS` times against a server that streams without
pause, and reads only once the client failed, so that the close frame is
still on its way, behind a message the client sent first, when the client
is done: on every face and for every code the face fails with, on asyncio's
loop and on uvloop, the server must read the close code every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import aiows
from tests.conftest import RawPeer, server_frame, upgrade_response
from tests.helpers import OP_BINARY, OP_CLOSE, OP_TEXT, StartServer, bounded

#: Runs of each case: the server must get the close code in every one.
RUNS = 100
#: The client's message limit.
MAX_SIZE = 64 * 1024
#: What the server streams, frame after frame, before and after the bad one.
CHUNK = server_frame(OP_BINARY, b"s" * 16 * 1024)
#: Frames sent before the bad one.
BEFORE = 8
#: What the client sends before it reads: the server reads none of it
#: until the client failed, so the close frame queues behind it.
UPLOAD = b"u" * 256 * 1024
#: How long the server waits to read when the test cannot tell it that the
#: client failed (the websockets face and the listener report the failure
#: only once the connection is gone).
READ_AFTER = 0.002

DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n"


def bomb() -> bytes:
    """A compressed message that inflates far past :data:`MAX_SIZE`."""
    compressor = zlib.compressobj(wbits=-15)
    payload = compressor.compress(b"\0" * 16 * MAX_SIZE)
    payload += compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = server_frame(OP_BINARY, payload[:-4])
    return bytes([frame[0] | 0x40]) + frame[1:]


#: What the server sends to make the client fail, by case.
BAD = {
    "1002": server_frame(OP_BINARY, b"x", rsv=0x20),
    "1007": server_frame(OP_TEXT, b"caf\xe9"),
    "1009": server_frame(OP_BINARY, b"b" * 2 * MAX_SIZE),
    "1009-deflate": bomb(),
    "1011": b"",  # the client fails by itself
}


class Streamer:
    """After the 101, streams :data:`CHUNK` until it reads the client's close
    frame (with ``bad`` after :data:`BEFORE` chunks), then answers it and
    closes; records the code it read, or ``"reset"``/``"eof"`` when the
    connection ended without one.  It reads nothing until
    :attr:`client_failed` is set or :data:`READ_AFTER` passed."""

    def __init__(self, bad: bytes) -> None:
        self.bad = bad
        #: What the server read, one item per connection, as it read it.
        self.codes: asyncio.Queue[int | str | None] = asyncio.Queue()
        #: Set by the test once the application saw the failure.
        self.client_failed = asyncio.Event()

    async def __call__(self, peer: RawPeer) -> None:
        got_close = asyncio.Event()
        writer = asyncio.create_task(self._stream(peer, got_close))
        try:
            code = await self._read_close(peer)
        finally:
            got_close.set()
            await asyncio.gather(writer, return_exceptions=True)
        self.codes.put_nowait(code)
        if isinstance(code, int):
            try:
                peer.send(server_frame(OP_CLOSE, code.to_bytes(2, "big")))
                await peer.writer.drain()
            except ConnectionError:
                pass

    async def _stream(self, peer: RawPeer, stop: asyncio.Event) -> None:
        sent = 0
        try:
            while not stop.is_set():
                peer.send(self.bad if sent == BEFORE and self.bad else CHUNK)
                sent += 1
                await peer.writer.drain()
        except ConnectionError:
            pass

    async def _read_close(self, peer: RawPeer) -> int | str | None:
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(self.client_failed.wait(), READ_AFTER)
        self.client_failed.clear()
        reader = peer.reader
        try:
            while True:
                # Read frames without unmasking their payloads (the upload is
                # half a megabyte): only the close frame's is looked at.
                head = await asyncio.wait_for(reader.readexactly(2), 10)
                length = head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                key = await reader.readexactly(4)
                payload = await reader.readexactly(length)
                if head[0] & 0x0F == OP_CLOSE:
                    if length < 2:
                        return None
                    return int.from_bytes(payload[:2], "big") ^ int.from_bytes(
                        key[:2], "big"
                    )
        except ConnectionResetError:
            return "reset"
        except asyncio.IncompleteReadError:
            return "eof"


class Failing(aiows.Listener):
    """Sends :data:`UPLOAD` on opening, raises in ``on_message`` for the 1011
    case, and notes the end."""

    def __init__(self, raise_on_message: bool) -> None:
        self.raise_on_message = raise_on_message
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_open(self, ws: aiows.ListenerConnection) -> None:
        ws.send_bytes_nowait(UPLOAD)

    def on_message(self, ws: Any, kind: Any, data: Any) -> None:
        if self.raise_on_message:
            raise RuntimeError("the application's callback failed")

    def on_close(self, ws: Any, code: int, reason: str) -> None:
        self.closed.set_result(code)


async def _fragments() -> AsyncIterator[bytes]:
    yield b"first"
    raise RuntimeError("the application's iterator failed")


async def fail_once(face: str, case: str, url: str, streamer: Streamer) -> None:
    """Open ``url`` with ``face``, send :data:`UPLOAD`, read until aiows
    fails the connection, and wait for the connection to end."""
    compress = case == "1009-deflate"
    if face == "aiohttp":
        ws = await aiows.ws_connect(
            url, max_msg_size=MAX_SIZE, compress=15 if compress else 0
        )
        upload = asyncio.create_task(ws.send_bytes(UPLOAD))
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.BINARY:
                break
        assert msg.type is aiohttp.WSMsgType.ERROR, msg
        streamer.client_failed.set()
        await ws.wait_closed()
        await asyncio.gather(upload, return_exceptions=True)
    elif face == "websockets":
        ws = await aiows.connect(
            url,
            max_size=MAX_SIZE,
            compression="deflate" if compress else None,
            ping_interval=None,
        )
        upload = asyncio.create_task(ws.send(UPLOAD))
        if case == "1011":
            with pytest.raises(RuntimeError):
                await ws.send(_fragments())
        with pytest.raises(aiows.ConnectionClosedError):
            while True:
                await ws.recv()
        await ws.wait_closed()
        await asyncio.gather(upload, return_exceptions=True)
    else:
        listener = Failing(raise_on_message=case == "1011")
        async with aiows.ClientSession() as session:
            ws = await session.ws_listen(
                url,
                listener,
                max_msg_size=MAX_SIZE,
                compress=15 if compress else 0,
            )
            await listener.closed
            await ws.wait_closed()


CASES = [
    ("aiohttp", "1002"),
    ("aiohttp", "1007"),
    ("aiohttp", "1009"),
    ("aiohttp", "1009-deflate"),
    ("websockets", "1002"),
    ("websockets", "1007"),
    ("websockets", "1009"),
    ("websockets", "1009-deflate"),
    ("websockets", "1011"),
    ("listener", "1002"),
    ("listener", "1007"),
    ("listener", "1009"),
    ("listener", "1009-deflate"),
    ("listener", "1011"),
]


@pytest.mark.both_loops
@pytest.mark.parametrize(("face", "case"), CASES)
async def test_the_server_gets_the_close_code_every_time(
    raw_server: StartServer, face: str, case: str
) -> None:
    streamer = Streamer(BAD[case])

    def answer(key: str) -> bytes:
        extra = DEFLATE if case == "1009-deflate" else ""
        return upgrade_response(key, extra_headers=extra)

    server = await raw_server(streamer, response=answer)
    codes = []
    for _ in range(RUNS):
        await bounded(fail_once(face, case, server.url, streamer), 10)
        codes.append(await bounded(streamer.codes.get()))
    assert codes == [int(case[:4])] * RUNS
