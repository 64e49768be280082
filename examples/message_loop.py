"""The typed message loop: handle each kind of message ``receive()`` returns.

``receive()`` returns ``aiows.WSMessage`` objects (aiohttp's): data
messages, then CLOSE when the server closes, whose ``data`` is the close
code and ``extra`` the reason. (``async for msg in ws`` yields the data
messages and stops at the close without showing it.)

Run ``python examples/server.py`` first (its ``/ws`` echoes messages and
closes when it receives ``bye``)::

    python examples/message_loop.py [ws://127.0.0.1:8080/ws]
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiows
from aiows import WSMsgType


async def main(url: str) -> None:
    async with aiows.ws_connect(url) as ws:
        # Queue a few messages; the echo server sends each one back.
        await ws.send_str("some text")
        await ws.send_bytes(b"\x00\x01\x02")
        await ws.send_json({"price": 42})
        await ws.send_str("bye")  # asks this server to close the connection

        reason = None
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT and msg.data.startswith("{"):
                print("json:", msg.json())
            elif msg.type == WSMsgType.TEXT:
                print("text:", msg.data)
            elif msg.type == WSMsgType.BINARY:
                print("binary:", msg.data.hex())
            elif msg.type == WSMsgType.CLOSE:
                # The server closed; aiows has answered it.
                reason = msg.extra
                break
            elif msg.type == WSMsgType.ERROR:
                # The connection failed (protocol error, message too big,
                # keepalive timeout...); exception() says why.
                print("error:", ws.exception())
                break
            else:  # CLOSING or CLOSED: the connection is gone
                break
        print(f"closed: code={ws.close_code} reason={reason!r}")


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8080/ws"))
