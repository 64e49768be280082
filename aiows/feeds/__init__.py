"""Feeds that survive: a WebSocket that comes back by itself, in the state
the application put it in.

::

    async with aiows.feed(url, loads=json.loads, dumps=json.dumps) as feed:
        await feed.subscribe({"op": "subscribe", "channel": "tickers"})
        async for message in feed:
            ...

See :class:`Feed` and the guide, "Feeds that survive" (``docs/feeds.rst``).
The feeds sit above the session layer: they hold a connection of any face
and never reach below the faces' public API.
"""

from ..session import client as _client
from .channels import Channel
from .errors import (
    Disconnected,
    FeedClosed,
    FeedError,
    RequestTimeout,
    SendQueueFull,
    TooManyRequests,
)
from .events import Reconnected
from .links import Link
from .live import Feed, feed
from .metrics import ChannelMetrics, FeedMetrics
from .options import FeedOptions
from .otel import Telemetry
from .policy import SendPolicy
from .subscriptions import Subscription

# ClientSession.ws_feed() makes feeds through this hook: the session layer
# sits below the feeds and may not import them.
_client.feed_factory = feed

__all__ = [
    "Channel",
    "ChannelMetrics",
    "Disconnected",
    "Feed",
    "FeedClosed",
    "FeedError",
    "FeedMetrics",
    "FeedOptions",
    "Link",
    "Reconnected",
    "RequestTimeout",
    "SendPolicy",
    "SendQueueFull",
    "Subscription",
    "Telemetry",
    "TooManyRequests",
    "feed",
]
