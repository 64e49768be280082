"""``unix_connect`` with a ``wss://`` URI speaks TLS on the Unix socket.

aiohttp's own ``UnixConnector`` opens a plain socket whatever the URI says,
which would send the upgrade in clear text where TLS was asked for.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

import aiows


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def tls_pair(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for localhost from ``ca``, and a
    client context that trusts ``ca``."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


async def start_unix_server(
    path: Path, context: ssl.SSLContext | None
) -> web.AppRunner:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        tls = request.transport is not None and (
            request.transport.get_extra_info("sslcontext") is not None
        )
        await ws.send_str(f"tls={tls} host={request.host}")
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, str(path), ssl_context=context).start()
    return runner


async def test_wss_over_a_unix_socket_is_tls(tmp_path: Path, ca: trustme.CA) -> None:
    server_context, client_context = tls_pair(ca)
    runner = await start_unix_server(tmp_path / "s", server_context)
    try:
        async with aiows.unix_connect(
            str(tmp_path / "s"), "wss://localhost/", ssl=client_context
        ) as ws:
            assert await ws.recv() == "tls=True host=localhost"
            assert ws.aiohttp_response.url.scheme == "wss"
            assert ws.response.status_code == 101
    finally:
        await runner.cleanup()


async def test_wss_to_a_plain_unix_socket_fails_instead_of_clear_text(
    tmp_path: Path,
) -> None:
    seen: list[bytes] = []

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(4096))
        writer.close()

    server = await asyncio.start_unix_server(plain, str(tmp_path / "p"))
    try:
        # As in websockets: the OSError itself, not aiohttp's wrapper.
        with pytest.raises(OSError):
            await aiows.unix_connect(str(tmp_path / "p"), "wss://localhost/")
    finally:
        server.close()
        await server.wait_closed()
    # What reached the socket was a TLS ClientHello, never the HTTP upgrade.
    assert seen and seen[0][:1] == b"\x16"
    assert b"GET " not in seen[0]


async def test_wss_over_a_unix_socket_verifies_the_certificate(
    tmp_path: Path, ca: trustme.CA
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    runner = await start_unix_server(tmp_path / "s", server_context)
    try:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            await aiows.unix_connect(str(tmp_path / "s"), "wss://localhost/")
        assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    finally:
        await runner.cleanup()


def test_fingerprints_are_refused_over_unix_sockets() -> None:
    from aiows.session.unix import client_context

    with pytest.raises(ValueError, match="Fingerprint"):
        client_context(aiows_fingerprint())


def aiows_fingerprint() -> Any:
    import aiohttp

    return aiohttp.Fingerprint(b"\0" * 32)


async def test_ssl_false_over_a_unix_socket_is_tls_unverified(
    tmp_path: Path, ca: trustme.CA
) -> None:
    # As aiohttp's ssl=False over TCP: encrypted, the certificate not checked.
    from aiows.session.unix import UnixConnector

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)  # a CA nobody trusts
    runner = await start_unix_server(tmp_path / "s", server_context)
    try:
        async with aiows.ClientSession(
            connector=UnixConnector(str(tmp_path / "s"))
        ) as session:
            with pytest.raises(aiohttp.ClientSSLError):
                await session.ws_connect("wss://localhost/")
            async with session.ws_connect("wss://localhost/", ssl=False) as ws:
                assert await ws.receive_str() == "tls=True host=localhost"
    finally:
        await runner.cleanup()


async def test_wss_through_the_public_unix_connector_is_never_clear_text(
    tmp_path: Path,
) -> None:
    runner = await start_unix_server(tmp_path / "p", None)  # a plain server
    try:
        connector = aiows.UnixConnector(path=str(tmp_path / "p"))
        async with aiows.ClientSession(connector=connector) as session:
            with pytest.raises(OSError):
                async with session.ws_connect("wss://localhost/") as ws:
                    # Reached only in clear text: the server says so.
                    assert await ws.receive_str() == "tls=False host=localhost"
    finally:
        await runner.cleanup()


async def test_the_public_unix_connector_is_aiohttps_with_tls(
    tmp_path: Path, ca: trustme.CA
) -> None:
    server_context, client_context = tls_pair(ca)
    runner = await start_unix_server(tmp_path / "s", server_context)
    try:
        connector = aiows.UnixConnector(str(tmp_path / "s"), limit=3)
        assert isinstance(connector, aiohttp.UnixConnector)
        assert (connector.path, connector.limit) == (str(tmp_path / "s"), 3)
        async with aiows.ClientSession(connector=connector) as session:
            async with session.ws_connect("wss://localhost/", ssl=client_context) as ws:
                assert await ws.receive_str() == "tls=True host=localhost"
            # Nothing ties it to one host: it is the application's socket.
            async with session.ws_connect(
                "wss://localhost:8443/", ssl=client_context
            ) as ws:
                assert await ws.receive_str() == "tls=True host=localhost:8443"
    finally:
        await runner.cleanup()


async def test_unix_connect_refuses_a_redirect_to_another_host(
    tmp_path: Path,
) -> None:
    requests: list[bytes] = []

    async def moved(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(moved, str(tmp_path / "r"))
    try:
        # The same socket would answer for any host: websockets refuses too.
        with pytest.raises(
            ValueError, match=r"cross-origin redirect to elsewhere\.example with a Unix"
        ):
            await aiows.unix_connect(str(tmp_path / "r"), "ws://service.local/")
    finally:
        server.close()
        await server.wait_closed()
    assert len(requests) == 1
    assert b"Host: service.local\r\n" in requests[0]
