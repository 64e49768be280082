"""The CONNECT tunnel of ``aiows.connect()``, against hostile and broken proxies.

Scripted proxies (:mod:`tests.session.scripted_proxy`) write exact bytes:
bytes after the 200 that pose as the server's answer (a forged 302 to a
server of the proxy's choice), status lines aiows must refuse, proxies that
hang up half-way, refusals with bodies, ``https://`` proxies.  Where
websockets' client meets the same proxy, the test runs it too: websockets
17 is the oracle for the exception's class and message.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
import websockets.exceptions
from websockets.asyncio.client import connect as websockets_connect
from websockets.asyncio.server import ServerConnection, serve

import aiows
from aiows.core.errors import HTTPLimitError, HTTPSyntaxError
from aiows.session.dial import INVALID_ANSWER, MAX_PROXY_ANSWER
from tests.session.conftest import TLS

from .scripted_proxy import Script, ScriptedProxy

OK = b"HTTP/1.1 200 Connection established\r\n\r\n"

#: The oracle is websockets 17 (Python 3.11+); websockets 16, the newest on
#: Python 3.10, read a proxy's status line more loosely.
WEBSOCKETS_17 = int(websockets.__version__.split(".")[0]) >= 17
oracle_17 = pytest.mark.skipif(
    not WEBSOCKETS_17, reason="the oracle is websockets 17 (Python 3.11+)"
)


def skip_without_tls_in_tls() -> None:
    """Skip on asyncio's own loop before Python 3.11: its TLS transport
    cannot carry TLS (test_dial.py checks the error that says so)."""
    loop = asyncio.get_running_loop()
    if sys.version_info < (3, 11) and type(loop).__module__.startswith("asyncio"):
        pytest.skip("asyncio carries TLS inside TLS from Python 3.11 on")


@dataclass
class Origin:
    """A websockets server that echoes, and records the path of each request
    that reached it."""

    url: str
    paths: list[str] = field(default_factory=list)


@asynccontextmanager
async def origin(
    tls: TLS | None = None, *, redirect_to: str | None = None
) -> AsyncIterator[Origin]:
    """A server on 127.0.0.1 (``wss://localhost`` with ``tls``)."""
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(f"echo {message}")

    def process_request(connection: ServerConnection, request: Any) -> Any:
        paths.append(request.path)
        if redirect_to is not None:
            response = connection.respond(HTTPStatus.FOUND, "")
            response.headers["Location"] = redirect_to
            return response
        return None

    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=tls.server if tls else None,
        process_request=process_request,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        scheme, host = ("wss", "localhost") if tls else ("ws", "127.0.0.1")
        yield Origin(f"{scheme}://{host}:{port}/", paths)


def forged_redirect(to: Origin) -> bytes:
    """What a hostile proxy slips in after its 200: the server's "answer"."""
    return (
        f"HTTP/1.1 302 Found\r\nLocation: {to.url}stolen\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def ssl_options(tls: TLS | None) -> dict[str, Any]:
    return {"ssl": tls.client} if tls is not None else {}


# -- bytes after the 200 -------------------------------------------------------------


@pytest.mark.both_loops
@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize(
    "answer",
    [(OK,), (OK[:-2], OK[-2:])],
    ids=["with-the-answer", "with-the-answer's-last-bytes"],
)
async def test_bytes_after_the_200_are_refused(
    tls: TLS, secure: bool, answer: tuple[bytes, ...]
) -> None:
    """The proxy writes a forged 302 right behind its 200.  Before, aiows
    replayed it after TLS as the server's answer and followed it (to the
    proxy's server, nine times); now it refuses the tunnel."""
    server_tls = tls if secure else None
    async with origin(server_tls) as real, origin(server_tls) as elsewhere:
        script = Script(answer=answer, inject=forged_redirect(elsewhere))
        async with ScriptedProxy(script) as proxy:
            with pytest.raises(aiows.InvalidProxyMessage) as info:
                await aiows.connect(
                    real.url, proxy=proxy.url, **ssl_options(server_tls)
                )
    injected = len(forged_redirect(elsewhere))
    assert info.value.message == (
        f"the proxy sent {injected} bytes after its 200 answer to CONNECT, before "
        "the tunnel was used: refused, since they would pose as the server's"
    )
    assert isinstance(info.value, aiows.ProxyError)
    # Nothing went through the tunnel, and nothing went elsewhere.
    assert real.paths == []
    assert elsewhere.paths == []
    assert proxy.tunnels == 1


@pytest.mark.both_loops
async def test_bytes_after_the_200_in_a_write_of_their_own_never_pass_for_the_server(
    tls: TLS,
) -> None:
    """For ``wss://`` the forged answer cannot reach the HTTP parser however
    late it comes: read before TLS starts, it is refused; read after, TLS
    refuses it (it is no TLS record)."""
    async with origin(tls) as real, origin(tls) as elsewhere:
        script = Script(inject=forged_redirect(elsewhere), inject_apart=True)
        async with ScriptedProxy(script) as proxy:
            with pytest.raises((aiows.InvalidProxyMessage, ssl.SSLError)):
                await aiows.connect(real.url, proxy=proxy.url, ssl=tls.client)
    assert real.paths == []
    assert elsewhere.paths == []


@oracle_17
async def test_websockets_discards_the_bytes_after_the_200_that_aiows_refuses(
    tls: TLS,
) -> None:
    """The oracle: websockets drops what the proxy sent behind its 200 in
    the same read (they stay in the buffer of its CONNECT reader) and
    connects; aiows refuses the tunnel (docs/from_websockets.rst)."""
    async with origin(tls) as real, origin(tls) as elsewhere:
        script = Script(inject=forged_redirect(elsewhere))
        async with ScriptedProxy(script) as proxy:
            async with websockets_connect(
                real.url, proxy=proxy.url, ssl=tls.client
            ) as ws:
                await ws.send("hi")
                assert await ws.recv() == "echo hi"
            with pytest.raises(aiows.InvalidProxyMessage):
                await aiows.connect(real.url, proxy=proxy.url, ssl=tls.client)
    assert real.paths == ["/"]  # websockets' connection only
    assert elsewhere.paths == []


@pytest.mark.both_loops
@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
async def test_a_clean_tunnel_still_works(tls: TLS, secure: bool) -> None:
    server_tls = tls if secure else None
    async with (
        origin(server_tls) as real,
        ScriptedProxy() as proxy,
        aiows.connect(real.url, proxy=proxy.url, **ssl_options(server_tls)) as ws,
    ):
        await ws.send("hi")
        assert await ws.recv() == "echo hi"
    assert real.paths == ["/"]
    (request,) = proxy.requests
    host = real.url.split("/")[2]
    assert request.split(b"\r\n")[0] == f"CONNECT {host} HTTP/1.1".encode()
    assert f"Host: {host}\r\n".encode() in request
    user_agent = f"User-Agent: {aiows.session.websockets_compat.USER_AGENT}\r\n"
    assert user_agent.encode() in request


# -- answers that are not HTTP, or not within the limits -------------------------------

TOO_MANY_HEADERS = b"HTTP/1.1 200 OK\r\n" + b"X-H: v\r\n" * 129 + b"\r\n"
LONG_HEADER = b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n"

MALFORMED = [
    ("2_00", b"HTTP/1.1 2_00 OK\r\n\r\n", "invalid status line: b'HTTP/1.1 2_00 OK'"),
    ("+200", b"HTTP/1.1 +200 OK\r\n\r\n", "invalid status line: b'HTTP/1.1 +200 OK'"),
    ("HTTP/2", b"HTTP/2 200 OK\r\n\r\n", "invalid status line: b'HTTP/2 200 OK'"),
    ("not-HTTP", b"SSH-2.0-OpenSSH_9.6\r\n", "invalid status line: b'SSH-2.0-Open"),
    ("bare-LF", b"HTTP/1.1 200 OK\n\n", "line not ended by CRLF: b'HTTP/1.1 200 OK'"),
    ("bare-LF-header", b"HTTP/1.1 200 OK\r\nX: y\n\r\n", "line not ended by CRLF"),
    ("obs-fold", b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obsolete line folding"),
    ("no-colon", b"HTTP/1.1 200 OK\r\nX y\r\n\r\n", "invalid header line: b'X y'"),
    ("status-99", b"HTTP/1.1 099 Odd\r\n\r\n", "invalid status code 99"),
    ("status-600", b"HTTP/1.1 600 Odd\r\n\r\n", "invalid status code 600"),
    # Refused at the end of the status line, not at the end of the head.
    ("status-600-alone", b"HTTP/1.1 600 Odd\r\n", "invalid status code 600"),
    ("header-too-long", LONG_HEADER, "header line longer than 8190 bytes"),
    ("too-many-headers", TOO_MANY_HEADERS, "more than 128 headers"),
]


@pytest.mark.both_loops
@pytest.mark.parametrize(
    ("answer", "cause"),
    [pytest.param(answer, cause, id=name) for name, answer, cause in MALFORMED],
)
async def test_an_answer_that_is_not_valid_http_is_invalid_proxy_message(
    answer: bytes, cause: str
) -> None:
    async with ScriptedProxy(Script(answer=(answer,), then="hold")) as proxy:
        with pytest.raises(aiows.InvalidProxyMessage) as info:
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url)
    assert info.value.message == INVALID_ANSWER
    assert isinstance(info.value.__cause__, HTTPSyntaxError)
    assert str(info.value.__cause__).startswith(cause)
    assert proxy.hung_up == 1  # the socket was closed, not left open


@oracle_17
@pytest.mark.parametrize(
    "answer", [pytest.param(answer, id=name) for name, answer, _ in MALFORMED]
)
async def test_websockets_also_refuses_these_answers(answer: bytes) -> None:
    """The oracle: each of these is websockets' InvalidProxyMessage too, with
    the same message."""
    async with ScriptedProxy(Script(answer=(answer,), then="hold")) as proxy:
        with pytest.raises(websockets.exceptions.InvalidProxyMessage) as info:
            await websockets_connect("ws://127.0.0.1:9/", proxy=proxy.url)
    assert str(info.value) == INVALID_ANSWER


async def test_an_answer_over_the_limit_is_refused_before_it_ends() -> None:
    """Header lines each within the limit, but more than 64 KiB of them: the
    head of a proxy's answer is bounded as a whole (websockets would take up
    to 128 lines of 8 KiB)."""
    headers = b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"p" * 600) for i in range(120))
    answer = b"HTTP/1.1 200 OK\r\n" + headers  # never ends
    async with ScriptedProxy(Script(answer=(answer,), then="hold")) as proxy:
        with pytest.raises(aiows.InvalidProxyMessage) as info:
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url)
    assert isinstance(info.value.__cause__, HTTPLimitError)
    assert str(info.value.__cause__) == f"answer longer than {MAX_PROXY_ANSWER} bytes"
    assert proxy.hung_up == 1


async def test_an_http_10_proxy_is_accepted(tls: TLS) -> None:
    """Some proxies still answer in HTTP/1.0 (websockets accepts it too)."""
    script = Script(answer=(b"HTTP/1.0 200 Connection established\r\n\r\n",))
    async with (
        origin(tls) as real,
        ScriptedProxy(script) as proxy,
        aiows.connect(real.url, proxy=proxy.url, ssl=tls.client) as ws,
    ):
        await ws.send("hi")
        assert await ws.recv() == "echo hi"


# -- proxies that hang up -------------------------------------------------------------


@pytest.mark.both_loops
@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        ((), "the proxy closed the connection without answering"),
        ((b"HTTP/1.1 20",), "the proxy closed the connection in the middle of its"),
        (
            (b"HTTP/1.1 200 OK\r\nX-A: 1\r\n",),
            "the proxy closed the connection in the middle of its answer",
        ),
    ],
    ids=["before-answering", "in-the-status-line", "in-the-headers"],
)
async def test_a_proxy_that_hangs_up_early_is_invalid_proxy_message(
    answer: tuple[bytes, ...], cause: str
) -> None:
    async with ScriptedProxy(Script(answer=answer, then="close")) as proxy:
        with pytest.raises(aiows.InvalidProxyMessage) as info:
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url)
        # websockets: the same class and message.
        with pytest.raises(websockets.exceptions.InvalidProxyMessage) as oracle:
            await websockets_connect("ws://127.0.0.1:9/", proxy=proxy.url)
    assert info.value.message == str(oracle.value) == INVALID_ANSWER
    assert isinstance(info.value.__cause__, EOFError)
    assert isinstance(oracle.value.__cause__, EOFError)
    assert str(info.value.__cause__).startswith(cause)


@pytest.mark.both_loops
async def test_a_proxy_that_hangs_up_right_after_its_200_fails_the_open() -> None:
    """The tunnel ends before it carried anything: a handshake error (which
    one depends on whether the end came before the hand-over), never a hang."""
    async with ScriptedProxy(Script(then="close", answer=(OK,))) as proxy:
        with pytest.raises(aiows.InvalidHandshake) as info:
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url, open_timeout=5)
    assert isinstance(info.value, (aiows.ProxyError, aiows.InvalidMessage))


# -- refusals ------------------------------------------------------------------------


REFUSALS = [
    (
        "407-with-a-body",
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b'Proxy-Authenticate: Basic realm="p"\r\nContent-Length: 13\r\n\r\n'
        b"log in first\n",
        407,
    ),
    (
        "403-chunked",
        b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nnope!\r\n0\r\n\r\n",
        403,
    ),
    (
        "502-body-to-eof",
        b"HTTP/1.1 502 Bad Gateway\r\n\r\nthe server is down, and this body never ends",
        502,
    ),
    ("101", b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101),
]


@pytest.mark.both_loops
@pytest.mark.parametrize(
    ("answer", "status"),
    [pytest.param(answer, status, id=name) for name, answer, status in REFUSALS],
)
async def test_a_refusal_is_invalid_proxy_status_at_once(
    answer: bytes, status: int
) -> None:
    """The status is known at the end of the head: aiows fails there, does
    not wait for the body (the proxy holds the connection open) and closes
    the socket; websockets does the same, with the same message."""
    async with ScriptedProxy(Script(answer=(answer,), then="hold")) as proxy:
        with pytest.raises(aiows.InvalidProxyStatus) as info:
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url, open_timeout=3)
        with pytest.raises(websockets.exceptions.InvalidProxyStatus) as oracle:
            await websockets_connect(
                "ws://127.0.0.1:9/", proxy=proxy.url, open_timeout=3
            )
    error = info.value
    assert error.status == status
    expected = f"proxy rejected connection: HTTP {status}"
    assert error.message == str(oracle.value) == expected
    assert error.response is not None
    assert error.response.status_code == status
    assert error.response.body == b""
    assert proxy.hung_up == 2
    if status == 407:
        assert error.response.headers["Proxy-Authenticate"] == 'Basic realm="p"'


# -- https:// proxies ------------------------------------------------------------------


def https_proxy(tls: TLS, script: Script | None = None) -> ScriptedProxy:
    """A scripted proxy behind TLS, its certificate for ``proxy.test``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.ca.issue_cert("proxy.test").configure_cert(context)
    return ScriptedProxy(script or Script(), ssl=context)


@pytest.mark.both_loops
@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
async def test_an_https_proxy(tls: TLS, secure: bool) -> None:
    if secure:
        skip_without_tls_in_tls()
    server_tls = tls if secure else None
    async with (
        origin(server_tls) as real,
        https_proxy(tls) as proxy,
        aiows.connect(
            real.url,
            proxy=proxy.url,
            proxy_ssl=tls.client,
            proxy_server_hostname="proxy.test",
            proxy_ssl_handshake_timeout=5,
            ssl_handshake_timeout=5,
            **ssl_options(server_tls),
        ) as ws,
    ):
        await ws.send("hi")
        assert await ws.recv() == "echo hi"
    assert real.paths == ["/"]


@pytest.mark.both_loops
async def test_an_https_proxy_that_injects_is_refused(tls: TLS) -> None:
    async with origin(tls) as real, origin(tls) as elsewhere:
        script = Script(inject=forged_redirect(elsewhere))
        async with https_proxy(tls, script) as proxy:
            with pytest.raises(aiows.InvalidProxyMessage):
                await aiows.connect(
                    real.url,
                    proxy=proxy.url,
                    ssl=tls.client,
                    proxy_ssl=tls.client,
                    proxy_server_hostname="proxy.test",
                )
    assert real.paths == elsewhere.paths == []


@pytest.mark.both_loops
@pytest.mark.parametrize("https", [False, True], ids=["http-proxy", "https-proxy"])
async def test_a_proxy_posing_as_the_server_is_refused_by_tls(
    tls: TLS, https: bool
) -> None:
    """The proxy waits for the client's TLS ClientHello in the tunnel and
    answers it with a forged HTTP response: TLS refuses it.  Through an
    https:// proxy (TLS inside TLS) asyncio 3.11 trips on its own error
    handling there and raises a TypeError, which aiows took for a loop that
    cannot do TLS inside TLS (found by the proxy fuzzer); the TLS error is
    what it raises now."""
    if https:
        skip_without_tls_in_tls()
    async with origin(tls) as elsewhere:
        script = Script(inject=forged_redirect(elsewhere), then="pose")
        proxy = https_proxy(tls, script) if https else ScriptedProxy(script)
        async with proxy:
            with pytest.raises(ssl.SSLError):
                await aiows.connect(
                    "wss://localhost:9/",
                    proxy=proxy.url,
                    ssl=tls.client,
                    **(
                        {"proxy_ssl": tls.client, "proxy_server_hostname": "proxy.test"}
                        if https
                        else {}
                    ),
                )
    assert elsewhere.paths == []


@pytest.mark.both_loops
async def test_an_https_proxy_that_hangs_up_during_the_servers_tls_handshake(
    tls: TLS,
) -> None:
    """The proxy answers 200 and hangs up once the client's TLS handshake
    with the server has begun inside the tunnel.  asyncio 3.11 trips on its
    own error handling there (a TypeError from ``SSLProtocol._abort()``,
    which escaped: found by the proxy fuzzer); the error is a
    ``ConnectionError`` that says what happened."""
    skip_without_tls_in_tls()
    async with https_proxy(tls, Script(then="cut", answer=(OK,))) as proxy:
        with pytest.raises(ConnectionError) as info:
            await aiows.connect(
                "wss://localhost:9/",
                proxy=proxy.url,
                ssl=tls.client,
                proxy_ssl=tls.client,
                proxy_server_hostname="proxy.test",
                open_timeout=5,
            )
    assert "during the TLS handshake" in str(info.value), info.value


async def test_an_https_proxy_with_a_bad_answer(tls: TLS) -> None:
    script = Script(answer=(b"HTTP/1.1 2_00 OK\r\n\r\n",), then="hold")
    async with https_proxy(tls, script) as proxy:
        with pytest.raises(aiows.InvalidProxyMessage) as info:
            await aiows.connect(
                "ws://127.0.0.1:9/",
                proxy=proxy.url,
                proxy_ssl=tls.client,
                proxy_server_hostname="proxy.test",
            )
    assert isinstance(info.value.__cause__, HTTPSyntaxError)


async def test_an_https_proxy_is_verified(tls: TLS) -> None:
    """Without ``proxy_ssl`` the proxy's certificate is checked against the
    system's CAs (and the proxy's name), as in websockets."""
    async with https_proxy(tls) as proxy:
        with pytest.raises(ssl.SSLCertVerificationError):
            await aiows.connect("ws://127.0.0.1:9/", proxy=proxy.url)
        with pytest.raises(ssl.SSLCertVerificationError):
            # The right CA, the wrong name: the certificate is proxy.test's.
            await aiows.connect(
                "ws://127.0.0.1:9/", proxy=proxy.url, proxy_ssl=tls.client
            )
    assert proxy.requests == []


# -- a real proxy ----------------------------------------------------------------------


@pytest.mark.both_loops
async def test_wss_through_proxy_py(tls: TLS, http_proxy: Any) -> None:
    user, password = http_proxy.auth.login, http_proxy.auth.password
    proxy_url = str(http_proxy.url.with_user(user).with_password(password))
    async with (
        origin(tls) as real,
        aiows.connect(real.url, proxy=proxy_url, ssl=tls.client) as ws,
    ):
        await ws.send("hi")
        assert await ws.recv() == "echo hi"
    assert real.paths == ["/"]


async def test_proxy_py_refusing_the_credentials(tls: TLS, http_proxy: Any) -> None:
    proxy_url = str(http_proxy.url.with_user("intruder").with_password("guess"))
    async with origin(tls) as real:
        with pytest.raises(aiows.InvalidProxyStatus) as info:
            await aiows.connect(real.url, proxy=proxy_url, ssl=tls.client)
        with pytest.raises(websockets.exceptions.InvalidProxyStatus) as oracle:
            await websockets_connect(real.url, proxy=proxy_url, ssl=tls.client)
    assert info.value.status == 407
    assert info.value.message == str(oracle.value)
    assert "guess" not in repr(info.value)
    assert real.paths == []


# -- connect(session=...): aiohttp's own tunnel ----------------------------------------


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 2_00 OK\r\n\r\n", aiows.InvalidProxyMessage),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", aiows.InvalidProxyMessage),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
            aiows.InvalidProxyStatus,
        ),
    ],
    ids=["2_00", "not-HTTP", "407"],
)
async def test_with_session_aiohttps_tunnel_fails_with_proxy_errors(
    answer: bytes, error: type[Exception]
) -> None:
    """With ``session=``, ``wss://`` goes through aiohttp's own CONNECT; what
    it cannot read of the proxy's answer was ``InvalidMessage`` (as if the
    server had said it), and is a proxy error now."""
    import aiohttp

    script = Script(answer=(answer,), then="hold")
    async with ScriptedProxy(script) as proxy, aiohttp.ClientSession() as http:
        with pytest.raises(error) as info:
            await aiows.connect("wss://localhost:9/", session=http, proxy=proxy.url)
    if error is aiows.InvalidProxyMessage:
        assert info.value.message == INVALID_ANSWER
    else:
        assert info.value.message == "proxy rejected connection: HTTP 407"
