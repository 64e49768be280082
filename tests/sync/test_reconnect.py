"""``for ws in reconnect(...)`` (``connect(..., legacy=False)``): reconnecting,
as the asyncio iterator does.

The same backoff (:class:`aiows.Backoff`), ``Retry-After`` and
``process_exception`` rules as ``async for ws in aiows.connect(...)``, and
``additional_headers`` called again for every attempt.  Delays are checked
through an injected ``sleep`` and ``clock``, never wall time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest

import aiows
from aiows.sync import process_exception, reconnect
from tests.conftest import RawPeer, upgrade_response
from tests.sync.conftest import Raw, WsServer


class FakeTime:
    """An injectable clock and sleep: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


def backoff(fake: FakeTime, **kwargs: Any) -> aiows.Backoff:
    return aiows.Backoff(
        sleep=fake.sleep, clock=fake.clock, random=lambda: 0.5, **kwargs
    )


def refusing(raw: Callable[..., Raw], *answers: bytes) -> Raw:
    """A server answering each attempt with the next of ``answers`` (then a
    101), and closing at once after the 101."""
    pending = list(answers)

    def response(key: str) -> bytes:
        return pending.pop(0) if pending else upgrade_response(key)

    async def handler(peer: RawPeer) -> None:
        await asyncio.sleep(0)

    return raw(handler, response=response)


def status(code: int, *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {code} Nope", "Content-Length: 0", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_transient_statuses_are_retried_with_backoff(raw: Callable[..., Raw]) -> None:
    fake = FakeTime()
    server = refusing(raw, status(503), status(500), status(429))
    with next(iter(reconnect(server.url, backoff=backoff(fake)))) as ws:
        assert ws.response.status_code == 101
    # 0.5 * initial, then minimum * (1 - j + 2j * 0.5) = minimum, then x factor.
    assert fake.sleeps == pytest.approx([0.5, 2.0, 3.6])


def test_retry_after_wins_and_is_capped(raw: Callable[..., Raw]) -> None:
    fake = FakeTime()
    server = refusing(
        raw, status(503, "Retry-After: 7"), status(429, "Retry-After: 999"), status(503)
    )
    client = reconnect(server.url, backoff=backoff(fake, maximum=60.0))
    with next(iter(client)):
        pass
    # The third answer has no Retry-After: the backoff's first delay.
    assert fake.sleeps == pytest.approx([7.0, 60.0, 0.5])


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_other_statuses_are_raised(raw: Callable[..., Raw], code: int) -> None:
    fake = FakeTime()
    server = refusing(raw, status(code))
    with pytest.raises(aiows.InvalidStatus) as info:
        for _ in reconnect(server.url, backoff=backoff(fake)):
            pass
    assert info.value.response.status_code == code
    assert fake.sleeps == []


def test_process_exception_decides(raw: Callable[..., Raw]) -> None:
    fake = FakeTime()
    server = refusing(raw, status(403), status(404))
    seen: list[int] = []

    def retry_403(exc: Exception) -> Exception | None:
        assert isinstance(exc, aiows.InvalidStatus)
        seen.append(exc.status)
        return None if exc.status == 403 else ValueError("fatal")

    with pytest.raises(ValueError, match="fatal") as info:
        for _ in reconnect(
            server.url, backoff=backoff(fake), process_exception=retry_403
        ):
            pass
    assert seen == [403, 404]
    assert isinstance(info.value.__cause__, aiows.InvalidStatus)


def test_process_exception_raising_counts_as_returning(raw: Callable[..., Raw]) -> None:
    server = refusing(raw, status(403))

    def raising(exc: Exception) -> Exception | None:
        raise KeyError("from process_exception")

    with pytest.raises(KeyError):
        for _ in reconnect(
            server.url, backoff=backoff(FakeTime()), process_exception=raising
        ):
            pass


def test_network_errors_are_retried() -> None:
    fake = FakeTime()
    # A port nothing listens on: connection refused, retried.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts = 0
    clients: list[Any] = []

    def sleep(delay: float) -> None:
        nonlocal attempts
        attempts += 1
        fake.sleep(delay)
        if attempts == 3:
            clients[0].close()

    policy = aiows.Backoff(sleep=sleep, clock=fake.clock, random=lambda: 0.5)
    clients.append(reconnect(f"ws://127.0.0.1:{port}/", backoff=policy))
    assert list(clients[0]) == []
    assert attempts == 3


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (ConnectionRefusedError(), True),
        (OSError("unreachable"), True),
        (TimeoutError(), True),
        (aiows.OpenTimeout("slow"), True),
        (EOFError(), True),
        (ssl.SSLCertVerificationError("untrusted"), False),
        (aiows.ProtocolError(1002, "bad"), False),
        (aiows.PayloadTooBig(1009, "big"), False),
        (ValueError("bug"), False),
    ],
)
def test_the_default_rule(exc: Exception, retried: bool) -> None:
    assert (process_exception(exc) is None) is retried


def test_an_upgrade_the_server_did_not_answer_is_retried(
    raw: Callable[..., Raw],
) -> None:
    async def hang_up(peer: RawPeer) -> None:
        peer.close()

    server = raw(hang_up, response=lambda key: b"")
    with pytest.raises(aiows.InvalidMessage) as info, reconnect(server.url):
        pass
    assert isinstance(info.value.__cause__, EOFError)
    assert process_exception(info.value) is None
    # Not valid HTTP: fatal.
    exc = aiows.InvalidMessage(None, (), message="garbage")  # type: ignore[arg-type]
    assert process_exception(exc) is exc


def test_each_attempt_calls_additional_headers(ws_server: WsServer) -> None:
    tokens = iter(["first", "second", "third"])
    fake = FakeTime()
    seen = []
    for ws in reconnect(
        f"{ws_server.url}/echo",
        additional_headers=lambda: {"X-Token": next(tokens)},
        backoff=backoff(fake),
    ):
        seen.append(ws.request.headers["X-Token"])
        if len(seen) == 3:
            break
    assert seen == ["first", "second", "third"]
    # Each connection ended at once: a delay after each (none reset it).
    assert len(fake.sleeps) == 2


def test_a_long_connection_resets_the_backoff(ws_server: WsServer) -> None:
    fake = FakeTime()
    lived = [0.0, 31.0, 0.0]
    client = reconnect(f"{ws_server.url}/echo", backoff=backoff(fake, reset_after=30.0))
    for i, _ws in enumerate(client):
        if i == 3:
            break
        fake.now += lived[i]
    # After the 31 s connection the sequence starts again at its first value.
    assert fake.sleeps == pytest.approx([0.5, 0.5, 2.0])


def test_leaving_the_loop_closes_the_connection(ws_server: WsServer) -> None:
    for ws in reconnect(f"{ws_server.url}/echo?run=break", backoff=backoff(FakeTime())):  # noqa: B007
        break
    assert ws.state.name == "CLOSED"
    assert dict(ws_server.log.wait("break"))["close rcvd"] == (1000, "")


def test_close_interrupts_the_wait_between_attempts(raw: Callable[..., Raw]) -> None:
    server = refusing(raw, status(503, "Retry-After: 3600"))
    client = reconnect(server.url)
    timer = threading.Timer(0.2, client.close)
    timer.start()
    try:
        assert list(client) == []  # the hour-long wait ended at once
    finally:
        timer.join()


def test_an_async_sleep_is_refused(raw: Callable[..., Raw]) -> None:
    server = refusing(raw, status(503))

    async def asleep(delay: float) -> None:
        pass

    with (
        pytest.raises(TypeError, match="plain function"),
        pytest.warns(RuntimeWarning, match="never awaited"),
    ):
        for _ in reconnect(server.url, backoff=aiows.Backoff(sleep=asleep)):
            pass


def test_reconnect_delays_of_websockets(
    raw: Callable[..., Raw], caplog: pytest.LogCaptureFixture
) -> None:
    server = refusing(raw, status(503), status(503))
    client = reconnect(server.url, reconnect_delays=lambda: iter([0.05, 0.025]))
    with caplog.at_level(logging.INFO, logger="aiows.client"), next(iter(client)):
        pass
    waits = [r.message for r in caplog.records if "reconnecting" in r.message]
    assert [" in 0.05 s" in waits[0], " in 0.03 s" in waits[1]] == [True, True]


def test_retries_are_logged(
    raw: Callable[..., Raw], caplog: pytest.LogCaptureFixture
) -> None:
    server = refusing(raw, status(503))
    with (
        caplog.at_level(logging.INFO, logger="aiows.client"),
        next(iter(reconnect(server.url, backoff=backoff(FakeTime())))),
    ):
        pass
    assert any(
        "reconnecting to" in record.message and "503" in record.message
        for record in caplog.records
    )
