"""One message of many tiny fragments: aiows against aiohttp and websockets.

Issue 11's eighth defect: a message of 200,000 one-byte fragments took
0.72 s to receive on aiows, against 0.02 s on aiohttp.  This measures the
client CPU time of receiving it (from the first byte to the whole message),
for each client in the same run, and prints the ratios::

    python -m benchmarks.fragments [--count 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import websockets

import aiows

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes, fin: bool) -> bytes:
    return bytes([(0x80 if fin else 0) | opcode, len(payload)]) + payload


def message(count: int) -> bytes:
    return (
        frame(0x2, b"x", False)
        + frame(0x0, b"x", False) * (count - 2)
        + frame(0x0, b"x", True)
    )


async def serve(data: bytes) -> asyncio.AbstractServer:
    """Answers the upgrade, waits for one byte of the client's, sends ``data``."""

    async def client(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            await reader.read(1)
            writer.write(data)
            await writer.drain()
            await reader.read()
        except ConnectionError:
            pass  # a client that refused the message hangs up hard
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", 0)


async def aiohttp_style(session_class: type, url: str) -> float:
    async with session_class() as session:
        ws = await session.ws_connect(url, max_msg_size=0)
        await ws.send_bytes(b"g")
        start = time.process_time()
        await ws.receive()
        cost = time.process_time() - start
        await ws.close()
    return cost


async def websockets_client(url: str) -> float:
    """websockets refuses so many fragments (1009): then NaN."""
    try:
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            await ws.send(b"g")
            start = time.process_time()
            await ws.recv()
            return time.process_time() - start
    except websockets.ConnectionClosedError:
        return float("nan")


CLIENTS: dict[str, Callable[[str], Awaitable[float]]] = {
    "aiows": lambda url: aiohttp_style(aiows.ClientSession, url),
    "aiohttp": lambda url: aiohttp_style(aiohttp.ClientSession, url),
    "websockets": websockets_client,
}


async def main(count: int, rounds: int) -> None:
    server = await serve(message(count))
    port = server.sockets[0].getsockname()[1]
    results: dict[str, list[float]] = {name: [] for name in CLIENTS}
    for _ in range(rounds):
        for name, run in CLIENTS.items():
            results[name].append(await run(f"ws://127.0.0.1:{port}/"))
    server.close()
    medians = {name: statistics.median(costs) for name, costs in results.items()}
    print(
        f"one message of {count:,} one-byte fragments, client CPU, median of {rounds}"
    )
    for name, cost in medians.items():
        if cost != cost:  # NaN
            print(f"  {name:<11}  refused the message (too many fragments)")
            continue
        ratio = medians["aiows"] / cost
        print(f"  {name:<11} {cost * 1000:8.1f} ms   aiows/{name} {ratio:5.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.rounds))
