"""``aiows.sync.connect()``: a drop-in for ``websockets.sync.client.connect``.

It takes websockets' arguments (``sock``, ``ssl``, ``server_hostname``,
``origin``, ``subprotocols``, ``compression``, ``additional_headers``,
``user_agent_header``, ``proxy``, ``proxy_ssl``, ``proxy_server_hostname``,
the timeouts, ``max_size``, ``max_queue``, ``logger``,
``create_connection``, and ``socket.create_connection``'s keywords), and
behaves as websockets 17's:

* ``with connect(uri) as ws:`` opens one connection and closes it;
* ``ws = connect(uri)`` opens one and returns it (its first use warns that
  websockets deprecated this use; ``legacy=True`` does the same without
  the warning);
* ``connect(uri, legacy=False)`` (or ``reconnect(uri)``) returns a
  :class:`Connect`, which opens connections when used: ``for ws in ...``
  reconnects after each one, with ``aiows.Backoff``'s delays,
  ``Retry-After`` and ``process_exception`` (the asyncio faces' rules).
"""

from __future__ import annotations

import inspect
import logging
import socket
import ssl as ssl_module
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, Literal, TypeAlias, overload

from ..core.retry import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    Backoff,
    parse_retry_after,
)
from ..exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    OpenTimeout,
    PayloadTooBig,
    ProtocolError,
)
from ..websockets_state import USER_AGENT
from .connection import ClientConnection
from .opening import deadline_of, open_connection
from .options import ProcessException, Settings, settings

# A string: LoggerAdapter is subscriptable only from Python 3.11 on.
LoggerLike: TypeAlias = "logging.Logger | logging.LoggerAdapter[Any]"


#: websockets' threading client's words for an opening that timed out.
OPEN_TIMEOUT_WORDS: Final = "timed out while waiting for handshake response"


def process_exception(exc: Exception) -> Exception | None:
    """The threading face's default retry rule: None to retry, or the error.

    Retried: network errors (``OSError``, but not a certificate that failed
    verification), timeouts, the server closing the connection before it
    answered, and HTTP 429, 500, 502, 503 and 504.  Raised: every other
    status, any other invalid handshake (proxy errors included), protocol
    errors, and anything else.
    """
    if isinstance(exc, InvalidStatus):
        return None if exc.status in RETRY_STATUSES else exc
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return None
    if isinstance(exc, (InvalidHandshake, ProtocolError, PayloadTooBig)):
        return exc
    if isinstance(exc, ssl_module.SSLCertVerificationError):
        return exc
    if isinstance(exc, (OSError, TimeoutError, EOFError)):
        return None
    return exc


def retry_after(exc: BaseException, maximum: float) -> float | None:
    """Seconds a 429 or 503 asked to wait (``Retry-After``), at most ``maximum``."""
    if not isinstance(exc, InvalidStatus) or exc.status not in RETRY_AFTER_STATUSES:
        return None
    value = None if exc.headers is None else exc.headers.get("Retry-After")
    if value is None:
        return None
    return parse_retry_after(value, now=time.time(), maximum=maximum)


class Connect:
    """What :func:`connect` returns: use it with ``with``, or iterate it.

    ``with connect(uri) as ws:`` gives one :class:`ClientConnection`, closed
    when the block ends (1000, or 1011 after an exception).

    ``for ws in connect(uri):`` gives a connection per pass of the loop and
    reconnects after each one ends; an attempt that fails with a transient
    error (see :func:`process_exception`) is retried after the next
    :class:`aiows.Backoff` delay, or after the server's ``Retry-After``.
    :meth:`close`, from any thread, ends the loop.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection: ClientConnection | None = None
        # Set by close(): the loop ends, a wait between attempts too.
        self._stopped = threading.Event()
        self._current: ClientConnection | None = None

    def connect(self) -> ClientConnection:
        """Open one connection (following redirects) and return it."""
        settings = self._settings
        try:
            return open_connection(settings, deadline_of(settings))
        except TimeoutError as exc:
            if isinstance(exc, OpenTimeout):
                raise
            # websockets' threading client's words, and no cause, as there;
            # where the time ran out is the detail.
            error = OpenTimeout(
                f"timed out during the opening handshake with {settings.uri} "
                f"(open_timeout={settings.open_timeout})"
            )
            error.detail = str(error)
            error.websockets_message = OPEN_TIMEOUT_WORDS
            error.in_websockets_words()
            raise error from None

    # -- with connect(...) as ws ----------------------------------------------

    def __enter__(self) -> ClientConnection:
        if self._connection is not None:
            raise RuntimeError("connect() isn't reentrant")
        self._connection = self.connect()
        return self._connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        assert connection is not None
        connection.close_for(exc)

    # -- for ws in connect(...) -----------------------------------------------

    def __iter__(self) -> Iterator[ClientConnection]:
        settings = self._settings
        backoff = settings.backoff
        clock = backoff.clock or time.monotonic
        process = settings.process_exception or process_exception
        delays = backoff.delays()
        while not self._stopped.is_set():
            try:
                ws = self.connect()
            except Exception as exc:
                try:
                    error = process(exc)
                except Exception as raised:  # raising is a common mistake
                    error = raised
                if error is exc:
                    raise
                if error is not None:
                    raise error from exc
                delay = retry_after(exc, backoff.maximum)
                self._wait(
                    next(delays) if delay is None else delay,
                    traceback.format_exception_only(type(exc), exc)[-1].strip(),
                )
                continue
            opened_at = clock()
            self._current = ws
            try:
                if self._stopped.is_set():
                    return
                yield ws
            finally:
                self._current = None
                ws.close()
            lived = clock() - opened_at
            if lived >= backoff.reset_after:
                delays = backoff.delays()
            self._wait(
                next(delays),
                f"connection closed after {lived:.1f} s (code {ws.close_code})",
            )

    def _wait(self, delay: float, cause: str) -> None:
        self._settings.logger.info(
            "reconnecting to %s in %.2f s: %s", self._settings.uri, delay, cause
        )
        sleep = self._settings.backoff.sleep
        if sleep is None:
            self._stopped.wait(delay)
            return
        if inspect.isawaitable(sleep(delay)):
            raise TypeError(
                "backoff.sleep must be a plain function for aiows.sync (it is "
                "called, not awaited)"
            )

    def close(self) -> None:
        """Stop reconnecting: the loop ends, the connection it gave last is
        closed, and a wait between attempts ends at once.  From any thread."""
        self._stopped.set()
        current = self._current
        if current is not None:
            current.close()


@overload
def connect(
    uri: str,
    *,
    legacy: Literal[False],
    **kwargs: Any,
) -> Connect: ...
@overload
def connect(
    uri: str,
    *,
    sock: socket.socket | None = ...,
    ssl: ssl_module.SSLContext | None = ...,
    server_hostname: str | None = ...,
    origin: str | None = ...,
    extensions: Sequence[Any] | None = ...,
    subprotocols: Sequence[str] | None = ...,
    compression: str | None = ...,
    additional_headers: Any = ...,
    user_agent_header: str | None = ...,
    proxy: str | Literal[True] | None = ...,
    proxy_ssl: ssl_module.SSLContext | None = ...,
    proxy_server_hostname: str | None = ...,
    process_exception: ProcessException | None = ...,
    open_timeout: float | None = ...,
    ping_interval: float | None = ...,
    ping_timeout: float | None = ...,
    close_timeout: float | None = ...,
    reconnect_delays: Callable[[], Iterator[float]] | None = ...,
    max_size: int | tuple[int | None, int | None] | None = ...,
    max_queue: int | tuple[int | None, int | None] | None = ...,
    logger: LoggerLike | None = ...,
    create_connection: Callable[..., ClientConnection] | None = ...,
    backoff: Backoff | None = ...,
    legacy: Literal[True] | None = ...,
    **kwargs: Any,
) -> ClientConnection: ...
def connect(
    uri: str,
    *,
    sock: socket.socket | None = None,
    ssl: ssl_module.SSLContext | None = None,
    server_hostname: str | None = None,
    origin: str | None = None,
    extensions: Sequence[Any] | None = None,
    subprotocols: Sequence[str] | None = None,
    compression: str | None = "deflate",
    additional_headers: Any = None,
    user_agent_header: str | None = USER_AGENT,
    proxy: str | Literal[True] | None = True,
    proxy_ssl: ssl_module.SSLContext | None = None,
    proxy_server_hostname: str | None = None,
    process_exception: ProcessException | None = None,
    open_timeout: float | None = 10,
    ping_interval: float | None = 20,
    ping_timeout: float | None = 20,
    close_timeout: float | None = 10,
    reconnect_delays: Callable[[], Iterator[float]] | None = None,
    max_size: int | tuple[int | None, int | None] | None = 2**20,
    max_queue: int | tuple[int | None, int | None] | None = 16,
    logger: LoggerLike | None = None,
    create_connection: Callable[..., ClientConnection] | None = None,
    backoff: Backoff | None = None,
    legacy: bool | None = None,
    **kwargs: Any,
) -> Connect | ClientConnection:
    """Connect to the WebSocket server at ``uri``, websockets' threading way.

    ::

        from aiows.sync import connect

        with connect("wss://example.com/feed") as ws:
            ws.send("hello")
            print(ws.recv(timeout=10))

        for ws in connect("wss://example.com/feed", legacy=False):  # reconnects
            try:
                for message in ws:
                    print(message)
            except aiows.ConnectionClosed:
                continue

    Keywords have websockets' names and defaults.  ``additional_headers``
    may also be a function returning the headers, called for every attempt
    (a fresh token per reconnection).  ``extensions`` takes websockets'
    client extension factories (``compression="deflate"`` adds
    permessage-deflate after them).  ``proxy=True`` uses the
    environment's proxy as websockets reads it; a URL (``http://``,
    ``https://``, ``socks5://``, ``socks5h://``, ``socks4://``,
    ``socks4a://``) uses that proxy; None uses none (SOCKS needs the
    ``aiows-client[socks]`` extra).  Other keywords go to
    ``socket.create_connection`` (``address=`` changes only where TCP
    goes).  ``process_exception``, ``reconnect_delays`` and ``backoff``
    tune ``for ws in connect(..., legacy=False)``.

    As in websockets 17, ``connect()`` opens the connection and returns it
    (its first use outside ``with`` warns that this use is deprecated;
    ``legacy=True`` returns it without the warning); ``legacy=False``
    returns a :class:`Connect`, which checks its arguments at once and
    connects only when used (``with``, ``for``, :meth:`Connect.connect`).
    """
    given = {
        "sock": sock,
        "ssl": ssl,
        "server_hostname": server_hostname,
        "origin": origin,
        "extensions": extensions,
        "subprotocols": subprotocols,
        "compression": compression,
        "additional_headers": additional_headers,
        "user_agent_header": user_agent_header,
        "proxy": proxy,
        "proxy_ssl": proxy_ssl,
        "proxy_server_hostname": proxy_server_hostname,
        "process_exception": process_exception,
        "open_timeout": open_timeout,
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "close_timeout": close_timeout,
        "reconnect_delays": reconnect_delays,
        "max_size": max_size,
        "max_queue": max_queue,
        "logger": logger,
        "create_connection": create_connection,
        "backoff": backoff,
    }
    connecter = Connect(settings(uri, given, kwargs))
    if legacy is False:
        return connecter
    connection = connecter.connect()
    # websockets 17 connects here unless told legacy=False, and warns at
    # the first use of a connection that ``with`` did not enter.
    connection._unentered = legacy is None
    return connection


def reconnect(uri: str, **kwargs: Any) -> Connect:
    """websockets' ``reconnect()``: :func:`connect`, iterated to reconnect."""
    kwargs.pop("legacy", None)
    return connect(uri, legacy=False, **kwargs)


def unix_connect(path: str | None = None, uri: str | None = None, **kwargs: Any) -> Any:
    """Like :func:`connect`, over the Unix socket at ``path``.

    ``uri`` defaults to ``ws://localhost/`` (``wss://localhost/`` when
    ``ssl`` is given); it names the ``Host`` header and the request path.
    """
    if path is None and kwargs.get("sock") is None:
        raise ValueError("missing path argument")
    if path is not None and kwargs.get("sock") is not None:
        raise ValueError("path is incompatible with sock")
    if uri is None:
        uri = "wss://localhost/" if kwargs.get("ssl") is not None else "ws://localhost/"
    if path is not None:
        kwargs.update(unix=True, path=str(path))
    return connect(uri, **kwargs)


def unix_reconnect(
    path: str | None = None, uri: str | None = None, **kwargs: Any
) -> Connect:
    """websockets' ``unix_reconnect()``: :func:`unix_connect`, iterated."""
    kwargs["legacy"] = False
    result = unix_connect(path, uri, **kwargs)
    assert isinstance(result, Connect)
    return result
