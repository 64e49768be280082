"""``python -m benchmarks.engine_loop``: aiows' own Python cost per message.

The harness (:mod:`benchmarks.run`) measures a real client against a real
server, system calls included, on a machine other work also uses.  This
measures only what aiows' code adds: the engine and a face on a real event
loop, over a fake transport whose ``write()`` hands the echo back through
``loop.call_soon`` (one event-loop iteration per round trip, as a socket
read would), with no system call and no server.  It is steadier than the
harness, so it shows whether a change to the hot path helps; the harness
says how much that matters next to the kernel's share.

Each case is run ``--repeats`` times and the best is printed (other load
only ever adds time): µs of CPU per message, for the coroutine API
(``send_bytes`` + ``receive``) and the listener API
(``send_bytes_nowait`` from ``on_message``), ping-pong and pipelined.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiows
from aiows.core.parser import FrameParser
from aiows.core.protocol import ClientProtocol, Policy
from aiows.core.writer import FrameWriter
from aiows.engine.connection import Connection
from aiows.faces import aiohttp_face, aiohttp_messages, listener
from aiows.session.options import DEFAULT_WS_TIMEOUT


def server_frame(payload: bytes) -> bytes:
    """An unmasked BINARY frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        header = bytes([0x82, n])
    elif n < 65536:
        header = bytes([0x82, 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x82, 127]) + n.to_bytes(8, "big")
    return header + payload


class EchoTransport(asyncio.Transport):
    """Echoes each client frame at the next loop iteration, as one read."""

    def __init__(self, loop: asyncio.AbstractEventLoop, echo: bytes) -> None:
        super().__init__()
        self._loop = loop
        self._echo = echo
        self._frame_size = 0  # size of one client frame, learnt from the first
        self._pending = 0  # echoes owed
        self._scheduled = False
        self._batches: dict[int, tuple[bytes, bytearray]] = {}
        self.protocol: Any = None

    def write(self, data: Any) -> None:
        if not self._frame_size:
            self._frame_size = len(data)
        self._pending += len(data) // self._frame_size
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._scheduled = False
        n, self._pending = self._pending, 0
        batch = self._batches.get(n)
        if batch is None:
            data = self._echo * n
            batch = self._batches[n] = (data, bytearray(data))
        data, copy = batch
        protocol = self.protocol
        # Each read costs a copy, as a socket's does.
        if hasattr(protocol, "get_buffer"):
            offset = 0
            while offset < len(data):
                view = protocol.get_buffer(-1)
                n = min(len(view), len(data) - offset)
                view[:n] = data[offset : offset + n]
                offset += n
                protocol.buffer_updated(n)
        else:
            protocol.data_received(bytes(copy))

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def make_engine(
    loop: asyncio.AbstractEventLoop, echo: bytes, kinds: Any
) -> tuple[Connection, EchoTransport]:
    parser = FrameParser(max_msg_size=16 * 1024 * 1024, kinds=kinds)
    protocol = ClientProtocol(
        parser,
        FrameWriter(),
        close_reply=Policy.WHEN_READ,
        failure=Policy.WHEN_READ,
    )
    transport = EchoTransport(loop, echo)
    engine = Connection(protocol, transport, loop=loop, kinds=kinds)
    transport.protocol = engine
    return engine, transport


async def coroutine_api(size: int, n: int, window: int) -> float:
    loop = asyncio.get_running_loop()
    payload = bytes(size)
    kinds = aiohttp_messages.message_kinds(True)
    engine, _ = make_engine(loop, server_frame(payload), kinds)
    ws = aiohttp_face.ClientWebSocketResponse(
        engine,
        None,  # type: ignore[arg-type]
        subprotocol=None,
        timeout=DEFAULT_WS_TIMEOUT,
        autoclose=True,
        autoping=True,
        compress=0,
        client_notakeover=False,
    )
    binary = aiows.WSMsgType.BINARY
    t0 = time.process_time()
    sent = min(window, n)
    for _ in range(sent):
        await ws.send_bytes(payload)
    for _ in range(n):
        msg = await ws.receive()
        if msg.type is not binary:
            raise RuntimeError(msg)
        if sent < n:
            await ws.send_bytes(payload)
            sent += 1
    return time.process_time() - t0


async def listener_api(size: int, n: int, window: int) -> float:
    loop = asyncio.get_running_loop()
    payload = bytes(size)
    engine, _ = make_engine(loop, server_frame(payload), listener.KINDS)
    done = loop.create_future()
    binary = aiows.WSMsgType.BINARY

    class Echo(aiows.Listener):
        to_send = n - min(window, n)
        to_receive = n

        def on_message(self, ws: Any, kind: Any, data: Any) -> None:
            if kind is not binary:
                raise RuntimeError(kind)
            bytes(data)
            if self.to_send:
                ws.send_bytes_nowait(payload)
                self.to_send -= 1
            self.to_receive -= 1
            if not self.to_receive:
                done.set_result(None)

    ws = listener.ListenerConnection(engine, Echo(), None, None)  # type: ignore[arg-type]
    engine.sink = listener.ListenerSink(ws)
    t0 = time.process_time()
    for _ in range(min(window, n)):
        ws.send_bytes_nowait(payload)
    await done
    return time.process_time() - t0


CASES = {
    "pingpong 256 B": (256, 20_000, 1),
    "pingpong 8 KiB": (8192, 20_000, 1),
    "pipelined 64 B": (64, 100_000, 100),
    "pipelined 4 KiB": (4096, 50_000, 100),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    run: Any = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    for name, (size, n, window) in CASES.items():
        n = max(100, int(n * args.scale))
        row = []
        for api in (coroutine_api, listener_api):
            best = min(run(api(size, n, window)) for _ in range(args.repeats))
            row.append(f"{best / n * 1e6:6.2f}")
        print(f"{name:<18} coroutine {row[0]} µs   listener {row[1]} µs", flush=True)


if __name__ == "__main__":
    main()
