"""A first round trip through every layer, against aiohttp.web."""

import aiows


async def test_echo_round_trip(echo_url: str) -> None:
    async with aiows.ClientSession() as session:
        async with session.ws_connect(echo_url) as ws:
            await ws.send_str("hello")
            msg = await ws.receive()
            assert msg.type == aiows.WSMsgType.TEXT
            assert msg.data == "hello"
            await ws.send_bytes(b"\x00\x01")
            assert await ws.receive_bytes() == b"\x00\x01"
        assert ws.closed
        assert ws.close_code == 1000
        assert session.connector is not None
        assert not session.connector._acquired  # the slot is released


async def test_bytes_after_101_are_kept(raw_server) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import server_frame

    async def handler(peer):  # type: ignore[no-untyped-def]
        await peer.read_close()

    server = await raw_server(
        handler, after_101=server_frame(0x1, b"first") + server_frame(0x2, b"second")
    )
    async with aiows.ws_connect(server.url) as ws:
        assert await ws.receive_str() == "first"
        assert await ws.receive_bytes() == b"second"
