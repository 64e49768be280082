"""Connect over TLS to a server whose certificate comes from your own CA.

Pass an ``ssl.SSLContext`` that trusts the CA: the certificate is still
verified, against that CA instead of the system's. To try it locally::

    python -m trustme           # writes server.pem, server.key and client.pem
    python examples/server.py --port 8443 --certfile server.pem --keyfile server.key
    python examples/tls_custom_ca.py wss://localhost:8443/ws client.pem

The CA file can also come from the ``AIOWS_EXAMPLE_CA`` environment variable.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys

import aiows


async def main(url: str, cafile: str) -> None:
    # A context that verifies certificates and host names, trusting only
    # the CA in `cafile` (a PEM file).
    context = ssl.create_default_context(cafile=cafile)
    async with aiows.ws_connect(url, ssl=context) as ws:
        print("TLS version:", ws.get_extra_info("ssl_object").version())
        await ws.send_str("over TLS")
        print("received:", await ws.receive_str())


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    ca = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AIOWS_EXAMPLE_CA")
    asyncio.run(main(url or "wss://localhost:8443/ws", ca or "client.pem"))
