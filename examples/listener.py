"""The listener API: a counting echo with no task wake-up per message.

Each message arrives in ``on_message`` straight from the socket read, and the
answer is sent from there.  Run ``python examples/server.py`` first::

    python examples/listener.py [ws://127.0.0.1:8080/ws]
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import aiows


class Counter(aiows.Listener):
    """Sends 1, gets 1 back, sends 2, ... up to ``last``, then closes."""

    def __init__(self, last: int) -> None:
        self.last = last
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_open(self, ws: aiows.ListenerConnection) -> None:
        ws.send_str_nowait("1")

    def on_message(self, ws: aiows.ListenerConnection, kind: Any, data: Any) -> None:
        n = int(data)
        if n == self.last:
            self.done.set_result(None)
        else:
            ws.send_str_nowait(str(n + 1))  # no await: still inside the read

    def on_close(self, ws: aiows.ListenerConnection, code: int, reason: str) -> None:
        print("closed:", code)


async def main(url: str) -> None:
    async with aiows.ClientSession() as session:
        counter = Counter(last=1000)
        ws = await session.ws_listen(url, counter)
        await counter.done
        print("echoed:", counter.last)
        await ws.close()


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8080/ws"))
