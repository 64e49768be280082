"""A scripted HTTP proxy over real sockets: it answers CONNECT with exact bytes.

Hostile or broken proxies, written byte for byte: an answer that is not
HTTP, a status line aiows must refuse, bytes after the 200 that pose as the
server's, a proxy that hangs up half-way.  Each connection reads the
CONNECT request (kept in :attr:`ScriptedProxy.requests`), then plays a
:class:`Script`:

* ``answer``: the bytes written back, in the pieces given, with a drain
  and a loop turn between two pieces (so they tend to arrive apart);
* ``inject``: bytes written once the answer is out, in the same write as
  its last piece (``inject_apart=False``) or in a write of their own after
  it (``inject_apart=True``);
* ``then``: ``"relay"`` opens the tunnel to the CONNECT target and copies
  both ways, ``"close"`` hangs up, ``"hold"`` waits for the client to hang
  up (:attr:`ScriptedProxy.hung_up` counts those that did), ``"pose"``
  reads what the client sends into the tunnel (its TLS ClientHello, its
  upgrade request) and answers it with ``inject``, posing as the server,
  and ``"cut"`` hangs up once the client speaks through the tunnel (in the
  middle of its TLS handshake with the server).

With ``ssl`` it is an ``https://`` proxy.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.helpers import Handlers, relay

#: How long a "hold" proxy waits for the client to hang up, at most.
HOLD_LIMIT = 5.0


@dataclass(frozen=True)
class Script:
    """What the proxy does with each connection (see the module docstring)."""

    answer: Sequence[bytes] = (b"HTTP/1.1 200 Connection established\r\n\r\n",)
    inject: bytes = b""
    inject_apart: bool = False
    then: str = "relay"


@dataclass
class ScriptedProxy:
    """``async with ScriptedProxy(script) as proxy:``; ``proxy.url`` is its URL."""

    script: Script = field(default_factory=Script)
    ssl: ssl.SSLContext | None = None
    #: The head of each CONNECT request received, as bytes.
    requests: list[bytes] = field(default_factory=list)
    #: Connections whose client hung up while the proxy held them.
    hung_up: int = 0
    #: Connections opened to CONNECT targets (``then="relay"``).
    tunnels: int = 0
    server: asyncio.AbstractServer | None = None
    handlers: Handlers = field(default_factory=Handlers)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> ScriptedProxy:
        self.server = await asyncio.start_server(
            self._client, "127.0.0.1", 0, ssl=self.ssl
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Every connection handled to its end: no socket outlives the test.
        assert self.server is not None
        await self.handlers.close(self.server, wait=HOLD_LIMIT + 1)

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with self.handlers.track():
            script = self.script
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                upstream = None
                if script.then == "relay":
                    target = head.split(b" ", 2)[1].decode()
                    host, _, port = target.rpartition(":")
                    upstream = await asyncio.open_connection(
                        host.strip("[]"), int(port)
                    )
                    self.tunnels += 1
                pieces = list(script.answer)
                for i, piece in enumerate(pieces):
                    last = i == len(pieces) - 1
                    if (
                        last
                        and script.inject
                        and not script.inject_apart
                        and (script.then != "pose")
                    ):
                        piece += script.inject
                    writer.write(piece)
                    await writer.drain()
                    if not last:
                        await asyncio.sleep(0)
                if script.then in ("pose", "cut"):
                    await reader.read(1)  # the client speaks through the tunnel
                    if script.then == "cut":
                        return
                    writer.write(script.inject)
                    await writer.drain()
                    await asyncio.wait_for(reader.read(), HOLD_LIMIT)
                    return
                if script.inject and script.inject_apart:
                    await asyncio.sleep(0)
                    writer.write(script.inject)
                    await writer.drain()
                if upstream is not None:
                    await relay(reader, writer, *upstream)
                elif script.then == "hold":
                    try:
                        await asyncio.wait_for(reader.read(), HOLD_LIMIT)
                    except asyncio.TimeoutError:
                        return
                    except ConnectionError:
                        pass
                    self.hung_up += 1
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                writer.close()
