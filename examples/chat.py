"""A chat client that refreshes its token on each reconnect.

The feed runs on the application's session: ``headers=`` is a coroutine
function, called for every connection attempt, which fetches a fresh
token over REST on the same session.  Joining the room is a
subscription, replayed on every connection; what the user says while
disconnected waits in a bounded queue and goes out after the join.

Run ``python examples/feeds_server.py`` first: its ``/chat`` closes with
4001 (token expired) after the first message::

    python examples/chat.py [http://127.0.0.1:8081]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiows
from aiows.feeds import Reconnected, SendPolicy

# What alice answers to each line she reads; None: leave.
ANSWERS = {"bob: hi alice": "hello", "bob: welcome back": "bye", "alice: bye": None}


async def main(base_url: str) -> None:
    async with aiows.ClientSession() as session:

        async def fresh_auth() -> dict[str, str]:
            # Called before every connection attempt.
            async with session.post(f"{base_url}/token") as response:
                token = (await response.json())["token"]
            print(f"token {token}")
            return {"Authorization": f"Bearer {token}"}

        feed = session.ws_feed(
            base_url.replace("http", "ws", 1) + "/chat",
            headers=fresh_auth,
            loads=json.loads,
            dumps=json.dumps,
            send_policy=SendPolicy.queue(max=100),
            # Short delays for the demo; the defaults suit production.
            backoff=aiows.Backoff(initial=0.05, minimum=0.1, maximum=1.0),
        )
        async with feed:
            await feed.subscribe({"op": "join", "room": "general"})
            async for message in feed:
                if isinstance(message, Reconnected):
                    print(f"reconnected after {message.cause}")
                    continue
                print(f"[{message['room']}] {message['text']}")
                answer = ANSWERS.get(message["text"], "")
                if answer is None:
                    break
                if answer:
                    await feed.send({"op": "say", "text": answer})


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "http://127.0.0.1:8081"))
