"""Reconnect automatically, with a fresh token for every attempt.

``async for ws in session.ws_connect(...)`` opens a new connection each time
round the loop, waiting a growing, randomised delay between attempts.
``headers=`` may be a callable (here an async one): it is called for every
attempt, so each connection carries a token fetched just before it.

Run ``python examples/server.py`` first: its ``/feed`` sends two messages and
then closes with 4001 ("token expired")::

    python examples/reconnect_token.py [http://127.0.0.1:8080] [connections]
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiows


async def main(base_url: str, connections: int = 3) -> None:
    async with aiows.ClientSession() as session:

        async def fresh_auth() -> dict[str, str]:
            # Called before every connection attempt.
            async with session.post(f"{base_url}/token") as response:
                token = (await response.json())["token"]
            return {"Authorization": f"Bearer {token}"}

        def retry_on_401(exc: Exception) -> Exception | None:
            # Return None to retry, or the exception to raise. A 401 is worth
            # retrying here, since the next attempt gets a new token; for
            # everything else, keep aiows's default rule.
            if isinstance(exc, aiows.InvalidStatus) and exc.status == 401:
                return None
            return aiows.process_exception(exc)

        seen = 0
        async for ws in session.ws_connect(
            base_url.replace("http", "ws", 1) + "/feed",
            headers=fresh_auth,
            process_exception=retry_on_401,
            # Short delays for the demo; the defaults suit production.
            backoff=aiows.Backoff(initial=0.1, minimum=0.5, maximum=5.0),
        ):
            seen += 1
            print(f"connection {seen}: open")
            async with ws:  # closes this connection however the block ends
                msg = await ws.receive()
                while msg.type == aiows.WSMsgType.TEXT:
                    print(f"connection {seen}: {msg.data}")
                    msg = await ws.receive()
            # The server's CLOSE message carries the reason as ``extra``.
            reason = msg.extra if msg.type == aiows.WSMsgType.CLOSE else ""
            print(f"connection {seen}: closed with {ws.close_code} {reason}")
            if seen == connections:
                break  # leaving the loop opens no new connection


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    asyncio.run(main(url or "http://127.0.0.1:8080", n))
