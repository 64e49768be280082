"""A market-data client that survives restarts and failovers.

It subscribes to two symbols once: the feed replays the subscriptions on
every new connection.  Tickers go to a ``latest`` channel, which keeps
only the newest ticker per symbol however slow the reader is.  Each
reconnection comes as an event in the feed's stream, where a real client
would fetch a snapshot over REST to cover the gap.

Run ``python examples/feeds_server.py`` first: its ``/market`` restarts
after the first connection and goes away (1001) after the second::

    python examples/market_data.py [ws://127.0.0.1:8081/market]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiows
from aiows.feeds import Reconnected

SYMBOLS = ("BTC", "ETH")


def ticker_symbol(message: Any) -> Any:
    """The channel's key: the symbol of a ticker, None for anything else."""
    return message.get("symbol") if message.get("type") == "ticker" else None


async def main(url: str) -> None:
    feed = aiows.feed(
        url,
        loads=json.loads,
        dumps=json.dumps,
        # Short delays for the demo; the defaults suit production.
        backoff=aiows.Backoff(initial=0.05, minimum=0.1, maximum=1.0),
    )
    tickers = feed.channel(ticker_symbol, overflow="latest", maxsize=len(SYMBOLS))
    book: dict[str, float] = {}

    async def read_tickers() -> None:
        async for ticker in tickers:  # the newest per symbol
            book[ticker["symbol"]] = ticker["price"]

    async with feed:
        for symbol in SYMBOLS:
            await feed.subscribe(
                {"op": "subscribe", "symbol": symbol},
                unsubscribe={"op": "unsubscribe", "symbol": symbol},
            )
        reader = asyncio.create_task(read_tickers())
        async for message in feed:
            if isinstance(message, Reconnected):
                how = "failover" if message.failover else "reconnected"
                print(f"{how} after {message.cause} (connection {message.connection})")
                # Here: fetch a snapshot over REST, the gap may have lost ticks.
            elif message.get("type") == "done":
                break
        # Messages are routed in order: every ticker before "done" is in.
        reader.cancel()
        while len(tickers):
            ticker = tickers.get_nowait()
            book[ticker["symbol"]] = ticker["price"]
    for symbol in SYMBOLS:
        print(f"{symbol} last price {book[symbol]}")
    # However slow the reader, the channel held one ticker per symbol at most.
    assert feed.metrics.channels[tickers.name].high_water <= len(SYMBOLS)
    print("tickers queued: never more than one per symbol")


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AIOWS_EXAMPLE_URL")
    asyncio.run(main(url or "ws://127.0.0.1:8081/market"))
