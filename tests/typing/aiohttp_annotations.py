"""User code annotated with aiohttp's types, type-checked against aiows.

``mypy`` checks this file with the package (see ``pyproject.toml``): code
that annotates the WebSocket as ``aiohttp.ClientWebSocketResponse`` and its
messages as ``aiohttp.WSMessage`` keeps type-checking when the session is
aiows's.  It is never run.
"""

from __future__ import annotations

import aiohttp

import aiows


async def handle(ws: aiohttp.ClientWebSocketResponse) -> str:
    msg: aiohttp.WSMessage = await ws.receive()
    if msg.type is aiohttp.WSMsgType.TEXT:
        await ws.send_str(msg.data)
    await ws.send_json({"ok": True})
    closed: bool = await ws.close(code=aiohttp.WSCloseCode.OK, message=b"bye")
    return f"{closed} {ws.close_code} {ws.protocol}"


async def main() -> None:
    async with aiows.ClientSession() as session:
        ws: aiohttp.ClientWebSocketResponse = await session.ws_connect("ws://h/")
        await handle(ws)
        async with session.ws_connect("ws://h/") as other:
            await handle(other)
            async for message in other:
                assert isinstance(message, aiohttp.WSMessage)
