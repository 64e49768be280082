"""The soak in miniature, for CI: 50 connections x 100 messages x 2 rounds."""

from __future__ import annotations

import pytest

from .soak import check, soak


@pytest.mark.parametrize("server", ["aiohttp", "picows"])
async def test_short_soak(server: str) -> None:
    results = await soak(50, 100, 2, server, quiet=True)
    assert [r.messages for r in results] == [5000, 5000]
    assert check(results) == []
