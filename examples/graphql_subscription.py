"""A GraphQL subscription (``graphql-transport-ws``) that survives restarts.

The protocol wants ``connection_init`` answered by ``connection_ack``
before anything else: that exchange is an ``on_open`` hook, which the
feed runs on every new connection before it replays the subscription.
The subscription's message is a function, so each connection resumes
from the last value seen.

Run ``python examples/feeds_server.py`` first: its ``/graphql`` closes
with 1012 (service restart) after three values::

    python examples/graphql_subscription.py [ws://127.0.0.1:8081/graphql]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiows
from aiows.feeds import Link, Reconnected

QUERY = "subscription Counter($from: Int!) { counter(from: $from) }"


async def main(url: str) -> None:
    last = 0
    feed = aiows.feed(
        url,
        subprotocols=["graphql-transport-ws"],
        loads=json.loads,
        dumps=json.dumps,
        # Short delays for the demo; the defaults suit production.
        backoff=aiows.Backoff(initial=0.05, minimum=0.1, maximum=1.0),
    )

    @feed.on_open
    async def connection_init(link: Link) -> None:
        await link.send({"type": "connection_init", "payload": {"token": "demo"}})
        ack = await link.recv(timeout=10)
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {ack}")

    def subscribe() -> dict[str, Any]:
        # Called for each connection: resume after the last value seen.
        variables = {"from": last + 1}
        payload = {"query": QUERY, "variables": variables}
        return {"id": "1", "type": "subscribe", "payload": payload}

    async with feed:
        await feed.subscribe(subscribe, unsubscribe={"id": "1", "type": "complete"})
        async for message in feed:
            if isinstance(message, Reconnected):
                print(f"reconnected after {message.cause}; resuming from {last + 1}")
            elif message["type"] == "ping":
                await feed.send({"type": "pong"})
            elif message["type"] == "next":
                last = message["payload"]["data"]["counter"]
                print(f"counter {last}")
            elif message["type"] == "complete":
                print("complete")
                break


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8081/graphql"))
