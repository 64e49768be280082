"""Open a WebSocket through an HTTP proxy.

For ``wss://`` URLs the client asks the proxy for a tunnel (``CONNECT``) and
runs TLS and the WebSocket inside it, so the proxy sees neither. ``proxy=``
and ``proxy_headers=`` are aiohttp's; the proxy can also be set once for the
whole session with ``aiows.ClientSession(proxy=...)``.

    python examples/through_proxy.py wss://echo.example/ws http://proxy:3128

The CA file for the server's certificate, if it is not signed by a CA the
system trusts, comes from the ``AIOWS_EXAMPLE_CA`` environment variable, and
proxy credentials from ``AIOWS_PROXY_USER`` and ``AIOWS_PROXY_PASSWORD``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import sys

import aiows


async def main(url: str, proxy: str, cafile: str | None = None) -> None:
    context = ssl.create_default_context(cafile=cafile)  # None: system CAs
    proxy_headers = {}
    user = os.environ.get("AIOWS_PROXY_USER")
    if user:  # Basic credentials for the proxy, sent with CONNECT only
        password = os.environ.get("AIOWS_PROXY_PASSWORD", "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        proxy_headers["Proxy-Authorization"] = f"Basic {token}"
    async with aiows.ws_connect(
        url, proxy=proxy, proxy_headers=proxy_headers, ssl=context
    ) as ws:
        # The socket's peer is the proxy; the WebSocket is the server's.
        print("connected through", proxy)
        await ws.send_str("through the tunnel")
        print("received:", await ws.receive_str())


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    proxy = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AIOWS_PROXY")
    asyncio.run(
        main(
            url or "wss://localhost:8443/ws",
            proxy or "http://127.0.0.1:8899",  # proxy.py's default address
            os.environ.get("AIOWS_EXAMPLE_CA"),
        )
    )
