"""Close the connection cleanly (code 1000) when the process gets SIGTERM.

This is what a container orchestrator or systemd sends before stopping a
service. The signal handler starts ``ws.close()``; the ``async for`` loop
then ends, and the program exits normally. (Unix only:
``loop.add_signal_handler`` is not available on Windows.)

Run ``python examples/server.py`` first, start this, then ``kill <pid>``::

    python examples/sigterm_shutdown.py [ws://127.0.0.1:8080/ws]
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiows


async def main(url: str) -> None:
    # aiows.connect() is the websockets-style API: iterating yields str or
    # bytes, and the loop ends quietly after a normal close.
    async with aiows.connect(url) as ws:
        loop = asyncio.get_running_loop()
        # On SIGTERM, run ws.close() as a task: it sends a close frame with
        # code 1000 and waits for the server's answer. (The lambda creates
        # the coroutine only if the signal comes, so no "never awaited"
        # warning when the connection ends some other way.)
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(ws.close()))
        print(f"connected (pid {os.getpid()}); send SIGTERM to stop", flush=True)
        async for message in ws:
            print("received:", message, flush=True)
    print(f"closed cleanly with code {ws.close_code}", flush=True)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8080/ws"))
