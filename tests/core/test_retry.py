"""The reconnection delays and ``Retry-After`` (RFC 9110 §10.2.3)."""

from __future__ import annotations

import email.utils

import pytest

from aiows.core.retry import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    Backoff,
    parse_retry_after,
)

NOW = 1_700_000_000.0


def test_delays_grow_exponentially_to_the_cap() -> None:
    values = iter([0.3, 0.0, 1.0, 0.5, 0.5, 0.5])
    policy = Backoff(
        initial=2.0,
        minimum=1.0,
        factor=2.0,
        maximum=5.0,
        jitter=0.5,
        random=lambda: next(values),
    )
    delays = policy.delays()
    assert next(delays) == pytest.approx(0.6)  # random in [0, initial]
    assert next(delays) == pytest.approx(0.5)  # minimum * (1 - jitter)
    assert next(delays) == pytest.approx(3.0)  # 2 * (1 + jitter)
    assert next(delays) == pytest.approx(4.0)
    assert next(delays) == pytest.approx(5.0)  # capped
    assert next(delays) == pytest.approx(5.0)


def test_the_defaults() -> None:
    policy = Backoff()
    assert (policy.initial, policy.minimum, policy.factor, policy.maximum) == (
        1.0,
        2.0,
        1.8,
        60.0,
    )
    assert (policy.jitter, policy.reset_after) == (0.25, 30.0)
    assert policy.sleep is None and policy.clock is None


def test_each_delays_call_starts_over() -> None:
    policy = Backoff(random=lambda: 1.0)
    first = policy.delays()
    assert [next(first) for _ in range(3)] == [1.0, 2.5, 4.5]
    assert next(policy.delays()) == 1.0


def test_statuses() -> None:
    assert {429, 500, 502, 503, 504} == RETRY_STATUSES
    assert {429, 503} == RETRY_AFTER_STATUSES


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), (" 3 ", 3.0), ("0", 0.0), ("120", 60.0)],
)
def test_delay_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW, maximum=60.0) == seconds


def test_no_maximum_by_default() -> None:
    assert parse_retry_after("86400", now=NOW) == 86400.0


def test_http_date_in_the_future_and_the_past() -> None:
    future = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(future, now=NOW) == pytest.approx(30.0)
    past = email.utils.formatdate(NOW - 30, usegmt=True)
    assert parse_retry_after(past, now=NOW) == 0.0
    assert parse_retry_after(future, now=NOW, maximum=10.0) == 10.0


def test_asctime_date_is_gmt() -> None:
    # RFC 9110 §5.6.7's obsolete asctime form has no zone: it is GMT.
    assert parse_retry_after("Tue Nov 14 22:13:40 2023", now=NOW) == pytest.approx(20.0)


@pytest.mark.parametrize(
    "value",
    [
        "soon",
        "",
        "²",  # a Unicode digit: not delay-seconds
        "-5",
        "1.5",
        "Wed, 99 Oct 2015 07:28:00 GMT",
        "Wed, 21 Oct 99999999999 07:28:00 GMT",
    ],
)
def test_anything_else_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None
