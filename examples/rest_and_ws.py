"""REST calls and a WebSocket through one session.

The session's connector pool, cookies, default headers and TLS settings
apply to both. Run ``python examples/server.py`` first, or pass the base URL
of another server with the same endpoints::

    python examples/rest_and_ws.py [http://127.0.0.1:8080]
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiows


async def main(base_url: str) -> None:
    # Keyword arguments are aiohttp.ClientSession's; these headers go with
    # every request, the WebSocket upgrade included.
    async with aiows.ClientSession(headers={"X-Client": "rest-and-ws"}) as session:
        # An ordinary REST call, exactly as with aiohttp.
        async with session.post(f"{base_url}/token") as response:
            response.raise_for_status()
            token = (await response.json())["token"]
        print("REST: got token", token)

        # A WebSocket on the same session. http:// URLs work too; aiows
        # accepts ws://, wss://, http:// and https://.
        ws_url = base_url.replace("http", "ws", 1) + "/ws"
        async with session.ws_connect(
            ws_url, headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            await ws.send_json({"hello": "world"})
            print("WS: echoed", await ws.receive_json())
        print("WS: closed with code", ws.close_code)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "http://127.0.0.1:8080"))
