"""The proxy fuzzer, run for a few seconds inside the normal test run, and
the oracle it predicts with.

``AIOWS_FUZZ_PROXY_SECONDS`` sets the duration (default 6; 0 skips it) and
``AIOWS_FUZZ_SEED`` fixes the seed to replay a failure.  Run it longer with
``python -m tests.fuzz.fuzz_proxy`` (see that module and
``docs/reliability.rst``, "Proxies").  The regression it found (TLS inside
TLS failing with asyncio's own TypeError) is
``tests/session/test_proxy_tunnel.py::test_a_proxy_posing_as_the_server_is_refused_by_tls``.
"""

from __future__ import annotations

import os

import pytest

from .fuzz_parser import settings_from_env
from .fuzz_proxy import MAX_LINE, Prediction, classify, fuzz


def test_fuzz_the_proxy_tunnel() -> None:
    seconds = float(os.environ.get("AIOWS_FUZZ_PROXY_SECONDS", 6))
    if seconds <= 0:
        pytest.skip("AIOWS_FUZZ_PROXY_SECONDS=0")
    _, seed = settings_from_env(seconds)
    report = fuzz(seconds, seed)
    print(f"AIOWS_FUZZ_SEED={seed}\n{report.summary()}")
    outcomes = " ".join(report.outcomes)
    # Each side must be reached: a fuzzer stuck on one tests little.
    for reached in (
        "connected",
        "InvalidProxyMessage (syntax or limit)",
        "InvalidProxyMessage (closed early)",
        "InvalidProxyStatus",
        "refused bytes after a 2xx",
    ):
        assert reached in outcomes, (reached, report.outcomes)


@pytest.mark.parametrize(
    ("answer", "prediction"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\n", Prediction("tunnel", 200)),
        (b"HTTP/1.0 204\r\n\r\n", Prediction("tunnel", 204)),
        (
            b"HTTP/1.1 200 OK\r\nVia: p\r\n\r\nHTTP/1.1 302",
            Prediction("extra", 200, 27),
        ),
        (
            b"HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno",
            Prediction("status", 407),
        ),
        (b"HTTP/1.1 101 Up\r\n\r\n", Prediction("status", 101)),
        (b"HTTP/1.1 2_00 OK\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 +200 OK\r\n\r\n", Prediction("invalid")),
        (b"HTTP/2 200 OK\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 600 No\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 OK\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n b\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 OK\r\nA : 1\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 OK\r\nA: \x01\r\n\r\n", Prediction("tunnel", 200)),
        (b"HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 " + b"k" * MAX_LINE + b"\r\n\r\n", Prediction("invalid")),
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n", Prediction("incomplete")),
        (b"", Prediction("incomplete")),
    ],
)
def test_the_oracle(answer: bytes, prediction: Prediction) -> None:
    assert classify(answer) == prediction
