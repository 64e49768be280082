"""Fixtures of the websockets-face tests: the session tests' local CA (``tls``)."""

from __future__ import annotations

from tests.session.conftest import TLS, tls

__all__ = ["TLS", "tls"]
