"""A one-shot connection with subprotocols, without creating a session.

``aiows.ws_connect()`` opens the WebSocket on a private session that is
closed together with the connection. Run ``python examples/server.py`` first::

    python examples/one_shot.py [ws://127.0.0.1:8080/ws]
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiows


async def main(url: str) -> None:
    # Offer two subprotocols, preferred first. The server picks one (or
    # none); if it picked one we did not offer, the handshake would fail
    # with aiows.NegotiationError.
    async with aiows.ws_connect(url, protocols=("chat.v2", "chat.v1")) as ws:
        print("subprotocol:", ws.protocol)
        await ws.send_str("hello")
        print("received:", await ws.receive_str())
    # Leaving the block performed the closing handshake.
    print("close code:", ws.close_code)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8080/ws"))
