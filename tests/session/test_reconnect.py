"""The reconnect iterator: ``async for ws in session.ws_connect(url)``.

Delays are checked with an injected sleep and clock, never wall time.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import time
from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web

import aiows
from aiows.session.reconnect import process_exception, retry_after


class FakeTime:
    """An injectable clock and sleep: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


def backoff(fake: FakeTime, **kwargs: float) -> aiows.Backoff:
    return aiows.Backoff(
        sleep=fake.sleep, clock=fake.clock, random=lambda: 0.5, **kwargs
    )


def test_backoff_grows_exponentially_to_the_cap() -> None:
    values = iter([0.3, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    policy = aiows.Backoff(
        initial=2.0,
        minimum=1.0,
        factor=2.0,
        maximum=5.0,
        jitter=0.5,
        random=lambda: next(values),
    )
    delays = policy.delays()
    # First: random in [0, initial]; then minimum scaled by [1-j, 1+j].
    assert next(delays) == pytest.approx(0.6)
    assert next(delays) == pytest.approx(0.5)  # 1.0 * (1 - 0.5)
    assert next(delays) == pytest.approx(3.0)  # 2.0 * (1 + 0.5)
    assert next(delays) == pytest.approx(4.0)
    assert next(delays) == pytest.approx(5.0)  # capped
    assert next(delays) == pytest.approx(5.0)


def test_default_backoff_is_documented_values() -> None:
    policy = aiows.Backoff()
    assert (policy.initial, policy.minimum, policy.factor, policy.maximum) == (
        1.0,
        2.0,
        1.8,
        60.0,
    )
    assert policy.reset_after == 30.0


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (ConnectionRefusedError(), True),
        (OSError("network unreachable"), True),
        (asyncio.TimeoutError(), True),
        (aiows.OpenTimeout("slow"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (ValueError("bug"), False),
        (aiows.ProtocolError(1002, "bad frame"), False),
    ],
)
def test_default_rule_for_errors(exc: Exception, retried: bool) -> None:
    assert (process_exception(exc) is None) is retried


def status_error(
    status: int, headers: dict[str, str] | None = None
) -> aiows.InvalidStatus:
    return aiows.InvalidStatus(
        None,
        (),
        status=status,
        message="",
        headers=headers or {},  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retry_statuses(status: int) -> None:
    assert process_exception(status_error(status)) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 200, 301, 426])
def test_fatal_statuses(status: int) -> None:
    exc = status_error(status)
    assert process_exception(exc) is exc


def test_retry_after_seconds_and_date() -> None:
    assert retry_after(status_error(503, {"Retry-After": "7"})) == 7.0
    assert retry_after(status_error(429, {"Retry-After": " 3 "})) == 3.0
    date = retry_after(
        status_error(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    assert date == 0.0  # in the past
    assert retry_after(status_error(503, {"Retry-After": "soon"})) is None
    assert retry_after(status_error(500, {"Retry-After": "7"})) is None
    assert retry_after(status_error(503)) is None
    assert retry_after(ValueError()) is None


def test_invalid_handshake_is_fatal() -> None:
    exc = aiows.InvalidAccept(None, (), status=101, message="bad accept")  # type: ignore[arg-type]
    assert process_exception(exc) is exc


class Script:
    """A server whose answers to successive upgrade attempts are scripted."""

    def __init__(self, plan: list[str | int]) -> None:
        # Each entry: an HTTP status to refuse with, "flap" (accept, then
        # close at once), or "stay" (accept and echo).
        self.plan = plan
        self.attempts = 0
        self.headers: list[dict[str, str]] = []

    async def handler(self, request: web.Request) -> web.StreamResponse:
        step = self.plan[min(self.attempts, len(self.plan) - 1)]
        self.attempts += 1
        self.headers.append(dict(request.headers))
        if isinstance(step, int):
            headers = {"Retry-After": "4"} if step == 429 else {}
            return web.Response(status=step, headers=headers)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if step == "flap":
            await ws.close(code=1011, message=b"flap")
            return ws
        await ws.send_str("welcome")
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws


async def start(aiohttp_server: Callable[..., object], script: Script) -> str:
    app = web.Application()
    app.router.add_get("/ws", script.handler)
    server = await aiohttp_server(app)  # type: ignore[misc]
    return f"ws://127.0.0.1:{server.port}/ws"  # type: ignore[attr-defined]


async def test_fails_flaps_and_recovers(aiohttp_server, caplog) -> None:  # type: ignore[no-untyped-def]
    script = Script([503, 502, 429, "flap", "flap", "stay"])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    caplog.set_level(logging.INFO, logger="aiows.client")
    async with aiows.ClientSession() as session:
        reconnector = session.ws_connect(
            url, backoff=backoff(fake, initial=1.0, minimum=2.0, factor=2.0, jitter=0.0)
        ).__aiter__()
        echoed = None
        async for ws in reconnector:
            msg = await ws.receive()
            if msg.type == aiows.WSMsgType.CLOSE:
                assert msg.data == 1011
                continue
            assert msg.data == "welcome"
            await ws.send_str("hello")
            echoed = await ws.receive_str()
            break
        await reconnector.aclose()
        assert echoed == "hello"
        assert script.attempts == 6
        assert reconnector.attempts == 6
        # 503 -> 0.5 (first, random 0.5 of 1.0); 502 -> 2; 429 -> Retry-After 4;
        # flap -> 4 (2 * 2: the flapping connection did not live long enough
        # to reset); flap -> 8.
        assert fake.sleeps == [0.5, 2.0, 4.0, 4.0, 8.0]
        assert session.connector is not None
        assert not session.connector._acquired
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(messages) == 5
    assert "in 0.50 s" in messages[0] and "503" in messages[0]
    assert "in 4.00 s" in messages[2] and "429" in messages[2]
    assert "closed after" in messages[3]


async def test_long_lived_connection_resets_backoff(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    script = Script([503, 503, "stay"])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    policy = backoff(
        fake, initial=1.0, minimum=2.0, factor=2.0, jitter=0.0, reset_after=30.0
    )
    async with aiows.ClientSession() as session:
        reconnector = session.ws_connect(url, backoff=policy).__aiter__()
        await reconnector.__anext__()
        assert fake.sleeps == [0.5, 2.0]
        fake.now += 31.0  # the connection lived long enough
        await reconnector.__anext__()
        # A fresh sequence: the first delay again.
        assert fake.sleeps == [0.5, 2.0, 0.5]
        await reconnector.aclose()


async def test_fatal_status_is_raised(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    script = Script([503, 403])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.InvalidStatus) as info:
            async for _ws in session.ws_connect(url, backoff=backoff(fake)):
                pytest.fail("must not connect")
        assert info.value.status == 403
        assert script.attempts == 2
        assert session.connector is not None
        assert not session.connector._acquired


async def test_process_exception_overrides(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    script = Script([403, "stay"])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    seen: list[Exception] = []

    def retry_everything(exc: Exception) -> Exception | None:
        seen.append(exc)
        return None

    async with aiows.ClientSession() as session:
        reconnector = session.ws_connect(
            url, backoff=backoff(fake), process_exception=retry_everything
        ).__aiter__()
        ws = await reconnector.__anext__()
        assert not ws.closed
        await reconnector.aclose()
    assert [type(e) for e in seen] == [aiows.InvalidStatus]

    class Stop(Exception):
        pass

    script2 = Script([503])
    url2 = await start(aiohttp_server, script2)
    async with aiows.ClientSession() as session:
        with pytest.raises(Stop) as info:
            async for _ws in session.ws_connect(
                url2, backoff=backoff(fake), process_exception=lambda exc: Stop()
            ):
                pass
        assert isinstance(info.value.__cause__, aiows.InvalidStatus)


async def test_refused_connection_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now.
    fake = FakeTime()
    reconnector = aiows.ws_connect(
        f"ws://127.0.0.1:{port}/", backoff=backoff(fake, jitter=0.0)
    ).__aiter__()
    task = asyncio.ensure_future(reconnector.__anext__())
    while len(fake.sleeps) < 3:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.sleeps[:3] == [0.5, 2.0, 3.6]


async def test_fresh_headers_and_cookies_per_attempt(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    script = Script([503, 503, "stay"])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    tokens = iter(["t1", "t2", "t3"])

    async def fresh_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {next(tokens)}"}

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiows.ClientSession(cookie_jar=jar) as session:

        async def sleep_and_set_cookie(delay: float) -> None:
            await fake.sleep(delay)
            jar.update_cookies({"attempt": str(len(fake.sleeps))})

        policy = aiows.Backoff(sleep=sleep_and_set_cookie, clock=fake.clock)
        reconnector = session.ws_connect(
            url, headers=fresh_headers, backoff=policy
        ).__aiter__()
        await reconnector.__anext__()
        await reconnector.aclose()
    assert [h["Authorization"] for h in script.headers] == [
        "Bearer t1",
        "Bearer t2",
        "Bearer t3",
    ]
    assert "Cookie" not in script.headers[0]
    assert script.headers[1]["Cookie"] == "attempt=1"
    assert script.headers[2]["Cookie"] == "attempt=2"


async def test_sync_callable_headers(echo_url: str) -> None:
    calls = 0

    def headers() -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"X-Attempt": str(calls)}

    async with aiows.ws_connect(echo_url, headers=headers) as ws:
        assert ws.request_headers["X-Attempt"] == "1"


async def test_hundred_reconnects_leak_nothing(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    script = Script(["flap"])
    url = await start(aiohttp_server, script)
    fake = FakeTime()
    tasks_before = len(asyncio.all_tasks())
    async with aiows.ClientSession(connector=aiows.TCPConnector(limit=1)) as session:
        count = 0
        reconnector = session.ws_connect(url, backoff=backoff(fake)).__aiter__()
        async for ws in reconnector:
            msg = await ws.receive()
            assert msg.type == aiows.WSMsgType.CLOSE
            count += 1
            if count == 100:
                await ws.close()
                break
        await reconnector.aclose()
        # limit=1: a leaked slot would have blocked the next attempt.
        assert session.connector is not None
        assert not session.connector._acquired
    assert script.attempts == 100
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) <= tasks_before


async def test_break_closes_the_connection(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    closed = asyncio.Event()
    codes: list[int | None] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _msg in ws:
            pass
        codes.append(ws.close_code)
        closed.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)
    async with aiows.ClientSession() as session:
        async for ws in session.ws_connect(f"ws://127.0.0.1:{server.port}/ws"):
            assert not ws.closed
            break
        # Dropping the iterator lets asyncio finalise it, closing ws.
        await asyncio.wait_for(closed.wait(), 5)
    assert codes == [1000]
    assert ws.closed


# -- Retry-After from a hostile server (issue 11, defect 6) --------------------


def http_date(offset: float, *, asctime: bool = False) -> str:
    """An HTTP-date (RFC 9110 §5.6.7) ``offset`` seconds from now, in GMT."""
    when = time.time() + offset
    if asctime:  # the obsolete form, which carries no zone
        return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(when))
    return email.utils.formatdate(when, usegmt=True)


async def delays_for(
    aiohttp_server: Callable[..., object], value: str, **policy: float
) -> list[float]:
    """Sleeps of a reconnect loop whose first attempt gets a 503 with
    ``Retry-After: value`` from a real aiohttp.web server, and whose second
    attempt connects."""
    attempts = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return web.Response(status=503, headers={"Retry-After": value})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = await aiohttp_server(app)  # type: ignore[misc]
    url = f"ws://127.0.0.1:{server.port}/ws"  # type: ignore[attr-defined]
    fake = FakeTime()
    async with aiows.ClientSession() as session:
        reconnector = session.ws_connect(
            url, backoff=backoff(fake, jitter=0.0, **policy)
        ).__aiter__()
        await reconnector.__anext__()
        await reconnector.aclose()
    assert attempts == 2
    return fake.sleeps


async def test_huge_retry_after_is_capped_by_the_maximum(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    assert await delays_for(aiohttp_server, "999999999") == [60.0]
    assert await delays_for(aiohttp_server, "999999999", maximum=7.5) == [7.5]
    # More digits than a float holds: still the cap, not inf or an error.
    assert await delays_for(aiohttp_server, "9" * 400, maximum=7.5) == [7.5]
    # Below the cap the server's wish is kept.
    assert await delays_for(aiohttp_server, "3", maximum=7.5) == [3.0]


# Superscript two, Arabic-Indic three, fullwidth three: Unicode digits.
UNICODE_DIGITS = ["\u00b2", "\u0663", "\uff13"]


@pytest.mark.parametrize("value", [*UNICODE_DIGITS, "-5", "1.5", "0x10", "soon", ""])
async def test_retry_after_that_is_not_ascii_seconds_nor_a_date_is_ignored(
    aiohttp_server,  # type: ignore[no-untyped-def]
    value: str,
) -> None:
    # "²" passed str.isdigit() and made float() raise a bare ValueError out
    # of the loop.  Now the usual first delay applies: initial (1.0) * 0.5.
    assert await delays_for(aiohttp_server, value) == [0.5]


async def test_retry_after_http_date(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    (delay,) = await delays_for(aiohttp_server, http_date(30))
    # HTTP-dates have one-second resolution, and time passes meanwhile.
    assert 28.0 <= delay <= 30.0
    # In the past: no wait.
    assert await delays_for(aiohttp_server, http_date(-3600)) == [0.0]
    # Far in the future: capped like delay-seconds.
    assert await delays_for(aiohttp_server, http_date(10**9), maximum=7.5) == [7.5]
    assert await delays_for(
        aiohttp_server, "Fri, 31 Dec 9999 23:59:59 GMT", maximum=7.5
    ) == [7.5]


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset()")
async def test_retry_after_asctime_date_is_gmt_whatever_the_local_zone(
    aiohttp_server,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The asctime form has no zone; read as local time, a client five hours
    # west of Greenwich waited five hours more than asked (capped at 60 s).
    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    try:
        (delay,) = await delays_for(aiohttp_server, http_date(30, asctime=True))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert 28.0 <= delay <= 30.0


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Oct 99999 07:28:00 GMT",  # year out of range: ValueError
        "Oct 21 99999999999999999999 1:2 07:28:00",  # OverflowError
        "Wed, 32 Oct 2015 07:28:00 GMT",
    ],
)
def test_retry_after_impossible_dates_are_ignored(value: str) -> None:
    assert retry_after(status_error(503, {"Retry-After": value})) is None


def test_retry_after_maximum_argument() -> None:
    exc = status_error(429, {"Retry-After": "120"})
    assert retry_after(exc) == 120.0
    assert retry_after(exc, 60.0) == 60.0
    assert retry_after(status_error(503, {"Retry-After": "0"}), 60.0) == 0.0
