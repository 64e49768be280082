"""What ``docs/api.rst`` states by hand, checked against the code: the enum
tables list every member with its value, and the REST calls return the type
the page names."""

from __future__ import annotations

import enum
import re
import typing
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.client
import pytest

import aiows

API = (Path(__file__).parents[2] / "docs" / "api.rst").read_text()


def table_of(name: str) -> dict[str, int]:
    """Member -> value, from the table under ``.. class:: aiows.NAME``."""
    section = API.split(f".. class:: aiows.{name}\n", 1)[1]
    table = section.split("\n.. ", 1)[0]
    rows = re.findall(r"^ {3}``([A-Z_]+)``\s+(0x[0-9A-F]+|\d+)\s", table, re.M)
    return {member: int(value, 0) for member, value in rows}


@pytest.mark.parametrize("enum_class", [aiows.WSMsgType, aiows.WSCloseCode])
def test_enum_table_lists_every_member(enum_class: type[enum.IntEnum]) -> None:
    members = {member.name: member.value for member in enum_class}
    assert table_of(enum_class.__name__) == members


@pytest.mark.parametrize(
    "method", ["get", "post", "put", "patch", "delete", "head", "options"]
)
async def test_rest_calls_return_the_documented_type(
    aiohttp_server: Any, method: str
) -> None:
    async def ok(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="ok")

    app = aiohttp.web.Application()
    app.router.add_route("*", "/", ok)
    server = await aiohttp_server(app)
    assert (
        f".. method:: aiows.ClientSession.{method}(url: str | yarl.URL, "
        "**kwargs: Any) -> aiohttp.client._RequestContextManager"
    ) in API
    async with aiows.ClientSession() as session:
        call = getattr(session, method)(f"http://127.0.0.1:{server.port}/")
        documented = aiohttp.client._RequestContextManager
        # A generic alias on aiohttp 3.11+, a class before.
        assert isinstance(call, typing.get_origin(documented) or documented)
        async with call as response:
            assert response.status == 200
