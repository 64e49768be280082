"""Custom request headers and authentication; reading the handshake headers.

Headers can be set for the whole session (every REST call and WebSocket) or
for one connection; HTTP Basic credentials are an ``Authorization`` header
(``auth=aiows.BasicAuth(...)`` does the same, but aiohttp 3.14 deprecates
``BasicAuth``). After connecting,
``ws.request_headers`` is what was sent and ``ws.response.headers`` what the
server answered. Run ``python examples/server.py`` first::

    python examples/headers_auth.py [ws://127.0.0.1:8080/ws]
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys

import aiows


async def main(url: str) -> None:
    session = aiows.ClientSession(
        # Session defaults: sent with every request made through this session.
        headers={"User-Agent": "my-app/1.0", "X-Tenant": "acme"}
    )
    async with session:
        credentials = base64.b64encode(b"alice:s3cret").decode("ascii")
        ws = await session.ws_connect(
            url,
            headers={  # this connection only
                "X-Request-Id": "42",
                "Authorization": f"Basic {credentials}",
            },
            origin="https://my-app.example",  # the Origin header
        )
        sent = ws.request_headers
        for name in ("User-Agent", "X-Tenant", "X-Request-Id", "Origin"):
            print(f"sent {name}: {sent[name]}")
        print("sent Authorization:", sent["Authorization"].split()[0], "...")
        # ws.response is the aiohttp.ClientResponse of the 101 answer.
        print("status:", ws.response.status)
        print("server header X-Server:", ws.response.headers.get("X-Server"))
        await ws.close()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8080/ws"))
