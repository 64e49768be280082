"""Echo servers the benchmark clients talk to, run in a process of their own.

Started by :mod:`benchmarks.run` as ``python -m benchmarks.server``.  On a
uvloop event loop, pinned to CPU 0 where the OS allows, it listens on three
ports of 127.0.0.1 and prints them as one JSON line on stdout once ready:

``plain``
    a picows server echoing every data frame as it arrives (same opcode,
    same payload), answering pings and the closing handshake.  The
    throughput scenarios and the handshake rate use it: picows is a
    C-level server, so it stays out of the way of the clients measured.
``tls``
    the same picows echo server behind TLS, with a certificate for
    ``127.0.0.1`` and ``localhost`` issued by a throw-away CA (``trustme``)
    whose PEM file the orchestrator passes with ``--ca-dir``.
``deflate``
    a ``websockets`` server that accepts permessage-deflate, used only by
    the idle-connection memory measurement: picows does not negotiate
    compression, and a compressed connection is only worth measuring if the
    extension is actually agreed.

It runs until terminated (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
from pathlib import Path

import uvloop
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_create_server,
)
from websockets.asyncio.server import ServerConnection, serve

from benchmarks.common import pin_to_cpu, raise_fd_limit

#: Largest frame the echo server accepts (the biggest scenario sends 1 MiB).
MAX_FRAME = 16 * 1024 * 1024


class EchoListener(WSListener):
    """Echo data frames back unchanged; answer the closing handshake."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type is WSMsgType.CLOSE:
            code = frame.get_close_code()
            if code is WSCloseCode.NO_INFO:  # an empty close frame: answer 1000
                code = WSCloseCode.OK
            transport.send_close(code, frame.get_close_message())
            transport.disconnect()
        elif msg_type is WSMsgType.PING:
            # Kept explicit although picows' auto-pong would also answer.
            transport.send_pong(frame.get_payload_as_bytes())
        elif msg_type is not WSMsgType.PONG:
            # TEXT, BINARY or CONTINUATION: echo the frame as it came, so a
            # fragmented message comes back fragmented the same way.
            transport.send(msg_type, frame.get_payload_as_bytes(), frame.fin)


def _echo_listener(_request: object) -> EchoListener:
    return EchoListener()


async def _deflate_echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def _server_ssl_context(ca_dir: Path) -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(ca_dir / "ca.pem"))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


async def serve_forever(host: str, ca_dir: Path) -> None:
    """Start the three servers, report their ports, wait for a signal."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)

    plain = await ws_create_server(
        _echo_listener, host, 0, max_frame_size=MAX_FRAME, enable_auto_pong=False
    )
    tls = await ws_create_server(
        _echo_listener,
        host,
        0,
        max_frame_size=MAX_FRAME,
        enable_auto_pong=False,
        ssl=_server_ssl_context(ca_dir),
    )
    deflate = await serve(
        _deflate_echo,
        host,
        0,
        compression="deflate",
        ping_interval=None,
        max_size=MAX_FRAME,
    )
    ports = {
        "plain": plain.sockets[0].getsockname()[1],
        "tls": tls.sockets[0].getsockname()[1],
        "deflate": next(iter(deflate.sockets)).getsockname()[1],
    }
    print(json.dumps(ports), flush=True)
    try:
        await stop
    finally:
        for server in (plain, tls):
            server.close()
        deflate.close()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``python -m benchmarks.server``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: none)")
    parser.add_argument("--ca-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    pinned = pin_to_cpu(args.cpu)
    print(f"server pid {os.getpid()} pinned={pinned}", file=sys.stderr)
    raise_fd_limit()
    uvloop.run(serve_forever(args.host, args.ca_dir))


if __name__ == "__main__":
    main()
