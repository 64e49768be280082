"""Security properties: TLS, redirects, credentials, mask keys."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer

import aiows
import aiows.core.mask
from tests.conftest import RawPeer, RawServer, echo_handler, server_frame

StartServer = Callable[..., Awaitable[RawServer]]
ServerFactory = Callable[..., Awaitable[TestServer]]


def server_tls() -> ssl.SSLContext:
    """A server context with a certificate from a CA nobody trusts."""
    cert = trustme.CA().issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


async def ws_app(aiohttp_server: ServerFactory, **kwargs: object) -> TestServer:
    app = web.Application()
    app.router.add_get("/ws", echo_handler)
    return await aiohttp_server(app, **kwargs)


# -- TLS verification ----------------------------------------------------------


async def test_untrusted_certificate_is_refused_with_a_clear_error(
    aiohttp_server: ServerFactory,
) -> None:
    server = await ws_app(aiohttp_server, ssl=server_tls())
    url = f"wss://127.0.0.1:{server.port}/ws"
    async with aiows.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError) as info:
            await asyncio.wait_for(session.ws_connect(url), 5)
        message = str(info.value)
        assert "certificate verify failed" in message
        assert f"127.0.0.1:{server.port}" in message
        assert isinstance(info.value.certificate_error, ssl.SSLCertVerificationError)
        # The reconnect iterator gives up at once instead of retrying.
        sleeps: list[float] = []

        async def sleep(delay: float) -> None:
            sleeps.append(delay)

        reconnector = session.ws_connect(url, backoff=aiows.Backoff(sleep=sleep))
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async for _ws in reconnector:
                pytest.fail("connected to an untrusted server")
        assert sleeps == []
        assert session.connector is not None
        assert not session.connector._acquired


# -- redirects -----------------------------------------------------------------


async def redirecting_tls_server(
    aiohttp_server: ServerFactory, location: str
) -> TestServer:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    app = web.Application()
    app.router.add_get("/ws", redirect)
    return await aiohttp_server(app, ssl=server_tls())


async def test_redirect_from_wss_to_ws_is_refused(
    aiohttp_server: ServerFactory,
) -> None:
    plain_requests: list[str] = []

    async def plain(request: web.Request) -> web.WebSocketResponse:
        plain_requests.append(request.path)
        return await echo_handler(request)

    app = web.Application()
    app.router.add_get("/ws", plain)
    plain_server = await aiohttp_server(app)
    secure = await redirecting_tls_server(
        aiohttp_server, f"ws://127.0.0.1:{plain_server.port}/ws"
    )
    async with aiows.ClientSession() as session:
        with pytest.raises(aiows.InvalidHandshake, match="clear text") as info:
            await asyncio.wait_for(
                session.ws_connect(f"wss://127.0.0.1:{secure.port}/ws", ssl=False), 5
            )
        assert f"ws://127.0.0.1:{plain_server.port}/ws" in str(info.value)
        assert session.connector is not None
        assert not session.connector._acquired
    assert plain_requests == []


async def test_redirect_from_wss_to_http_is_refused(
    aiohttp_server: ServerFactory,
) -> None:
    """A 302 from wss:// to http:// must not downgrade the handshake."""
    plain_requests: list[str] = []

    async def plain(request: web.Request) -> web.WebSocketResponse:
        plain_requests.append(request.path)
        return await echo_handler(request)

    app = web.Application()
    app.router.add_get("/ws", plain)
    plain_server = await aiohttp_server(app)
    secure = await redirecting_tls_server(
        aiohttp_server, f"http://127.0.0.1:{plain_server.port}/ws"
    )
    connected = False
    async with aiows.ClientSession() as session:
        try:
            ws = await asyncio.wait_for(
                session.ws_connect(f"wss://127.0.0.1:{secure.port}/ws", ssl=False), 5
            )
        except aiohttp.ClientError:
            pass
        else:
            connected = True
            await ws.close()
    assert (connected, plain_requests) == (False, [])


async def test_credentials_are_not_sent_to_another_origin_after_redirect(
    aiohttp_server: ServerFactory,
) -> None:
    seen: list[dict[str, str]] = []

    async def target(request: web.Request) -> web.WebSocketResponse:
        seen.append(dict(request.headers))
        return await echo_handler(request)

    app = web.Application()
    app.router.add_get("/ws", target)
    other = await aiohttp_server(app)
    origin_headers: list[dict[str, str]] = []

    async def redirect(request: web.Request) -> web.Response:
        origin_headers.append(dict(request.headers))
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{other.port}/ws")

    first_app = web.Application()
    first_app.router.add_get("/ws", redirect)
    first = await aiohttp_server(first_app)
    url = f"ws://127.0.0.1:{first.port}/ws"
    cases: list[tuple[dict[str, object], dict[str, object]]] = [
        ({}, {"auth": aiows.BasicAuth("user", "ws-secret")}),
        ({}, {"headers": {"Authorization": "Bearer tok", "Cookie": "sid=secret"}}),
        ({"auth": aiows.BasicAuth("user", "session-secret")}, {}),
        ({"headers": {"Cookie": "sid=session-secret"}}, {}),
    ]
    for session_kwargs, connect_kwargs in cases:
        async with aiows.ClientSession(**session_kwargs) as session:  # type: ignore[arg-type]
            ws = await asyncio.wait_for(session.ws_connect(url, **connect_kwargs), 5)
            await ws.send_str("ok")
            assert await asyncio.wait_for(ws.receive_str(), 5) == "ok"
            await ws.close()
            assert ws.response.url.port == other.port
    assert len(seen) == len(cases)
    for headers in origin_headers:
        # The first origin got the credentials (so the test is meaningful).
        assert "Authorization" in headers or "Cookie" in headers
    for headers in seen:
        assert "Authorization" not in headers
        assert "Cookie" not in headers
        assert headers["Upgrade"] == "websocket"


# -- mask keys -----------------------------------------------------------------


async def read_keys(reader: asyncio.StreamReader) -> list[bytes]:
    """The mask key of every client frame, up to and including the close."""
    keys = []
    while True:
        head = await reader.readexactly(2)
        assert head[1] & 0x80, "unmasked client frame"
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        keys.append(await reader.readexactly(4))
        await reader.readexactly(length)
        if head[0] & 0x0F == 0x8:
            return keys


async def test_mask_keys_come_from_os_urandom(
    raw_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[bytes] = []
    real = aiows.core.mask.os

    def urandom(n: int) -> bytes:
        data = real.urandom(n)
        drawn.append(data)
        return data

    monkeypatch.setattr(
        aiows.core.mask, "os", SimpleNamespace(urandom=urandom, environ=real.environ)
    )
    # The pool is shared by the whole process: start this test on a fresh one.
    monkeypatch.setattr(aiows.core.mask.KEYS, "_offset", aiows.core.mask.KEYS.REFILL)
    per_connection: list[list[bytes]] = []

    async def handler(peer: RawPeer) -> None:
        per_connection.append(await asyncio.wait_for(read_keys(peer.reader), 5))
        peer.send(server_frame(0x8, (1000).to_bytes(2, "big")))

    server = await raw_server(handler)
    frames = 1500  # more than one refill of the key pool
    async with aiows.ClientSession() as session:
        for _ in range(2):
            async with session.ws_connect(server.url) as ws:
                for i in range(frames):
                    await ws.send_bytes(i.to_bytes(2, "big"))
    assert len(per_connection) == 2
    pool = b"".join(drawn)
    all_keys: list[bytes] = []
    for keys in per_connection:
        assert len(keys) == frames + 1  # the close frame too
        all_keys += keys
    # Every key is a 4-byte slice of what os.urandom returned, in order.
    offsets = []
    start = 0
    for key in all_keys:
        found = pool.find(key, start)
        assert found >= 0, key
        offsets.append(found)
        start = found + 4
    refill = aiows.core.mask.MaskKeySource.REFILL
    assert len(drawn) == -(-len(all_keys) * 4 // refill)  # one draw per 1024 keys
    assert all(len(chunk) == aiows.core.mask.MaskKeySource.REFILL for chunk in drawn)
    # Keys differ across frames and across connections.
    assert len(set(all_keys)) == len(all_keys)


# -- proxy credentials never leak ----------------------------------------------

SECRET = "hunter2-proxy-secret"
SECRET_B64 = base64.b64encode(f"proxyuser:{SECRET}".encode()).decode()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def leaks(text: str) -> bool:
    return SECRET in text or SECRET_B64 in text


def chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


async def refusing_proxy(raw_server: StartServer) -> RawServer:
    """An HTTP proxy that answers every request with 407."""

    async def handler(peer: RawPeer) -> None:
        await peer.expect_eof()

    return await raw_server(
        handler,
        response=lambda key: (
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="x"\r\n'
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )


@pytest.mark.parametrize("target", ["ws", "wss"])
@pytest.mark.parametrize(
    "proxy_kind",
    [
        "refused",
        "407",
    ],
)
@pytest.mark.parametrize("where", ["url", "proxy_auth"])
async def test_proxy_credentials_never_in_logs_or_errors(
    raw_server: StartServer,
    caplog: pytest.LogCaptureFixture,
    target: str,
    proxy_kind: str,
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiows")
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    if proxy_kind == "refused":
        port = closed_port()
    else:
        port = (await refusing_proxy(raw_server)).port
    kwargs: dict[str, object]
    if where == "url":
        kwargs = {"proxy": f"http://proxyuser:{SECRET}@127.0.0.1:{port}"}
    else:
        kwargs = {
            "proxy": f"http://127.0.0.1:{port}",
            "proxy_auth": aiows.BasicAuth("proxyuser", SECRET),
        }
    url = f"{target}://127.0.0.1:1/ws"
    errors: list[BaseException] = []
    async with aiows.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as info:
            await asyncio.wait_for(session.ws_connect(url, **kwargs), 5)
        errors += chain(info.value)

        # The reconnect iterator logs each failure; three attempts, then stop.
        attempts: list[float] = []

        async def sleep(delay: float) -> None:
            attempts.append(delay)
            if len(attempts) == 3:
                raise RuntimeError("enough")

        # (A 407 answered to a plain ws:// request is final: no retry.)
        with pytest.raises((RuntimeError, aiohttp.ClientError)) as final:
            async for _ws in session.ws_connect(
                url, backoff=aiows.Backoff(sleep=sleep), **kwargs
            ):
                pytest.fail("connected through a broken proxy")
        errors += chain(final.value)
        assert session.connector is not None
        assert not session.connector._acquired
    if attempts:
        # Each retry was logged with its cause: the check is not vacuous.
        assert len([r for r in caplog.records if "reconnecting" in r.message]) >= 3
    for record in caplog.records:
        assert not leaks(record.getMessage()), record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            errors += chain(record.exc_info[1])
    for exc in errors:
        assert not leaks(str(exc)), str(exc)
        assert not leaks(repr(exc)), repr(exc)
        for arg in exc.args:
            assert not leaks(repr(arg))
