"""The errors a feed raises, in one hierarchy::

    FeedError
    ├── Disconnected          no connection was ready for the operation
    │   └── SendQueueFull     ... and the send queue was at its bound
    ├── FeedClosed            the feed was closed
    ├── RequestTimeout        no reply came in time (also asyncio.TimeoutError)
    └── TooManyRequests       too many requests wait for their replies

:class:`Disconnected` is also a ``ConnectionError``, so the default retry
rule (:func:`aiows.process_exception`) retries it when an ``on_open`` hook
meets it.  An error that ends the feed for good (one the retry rule
raises) is not wrapped: the feed's consumers get it as it was.
"""

from __future__ import annotations

import asyncio


class FeedError(Exception):
    """The root of the feed's own errors."""


class Disconnected(FeedError, ConnectionError):
    """No connection was ready: a send under the ``raise`` policy, a wait
    that ran out, or a connection that ended before the reply to a
    request came."""


class SendQueueFull(Disconnected):
    """A send while disconnected, with the send queue already at its bound."""


class FeedClosed(FeedError):
    """The feed was closed: nothing more is sent or received."""


class RequestTimeout(FeedError, asyncio.TimeoutError):
    """No reply to a request came within its timeout."""


class TooManyRequests(FeedError):
    """The number of requests waiting for their replies is at its bound."""
