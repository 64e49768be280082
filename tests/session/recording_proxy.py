"""A forward HTTP proxy over real sockets that records what it is asked.

It tunnels ``CONNECT host:port`` and forwards absolute-form requests
(``GET http://host:port/path``) to their origin, stripping
``Proxy-Authorization`` as RFC 9110 §11.7.1 asks of a proxy, and keeps each
request's method, target and headers, so a test can see which credentials
reached the proxy and which went on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.helpers import Handlers, relay


@dataclass
class Seen:
    """One request the proxy received."""

    method: str
    target: str
    headers: dict[str, str]


@dataclass
class RecordingProxy:
    """Start with :meth:`start`; ``url`` is ``http://127.0.0.1:PORT``."""

    seen: list[Seen] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None
    handlers: Handlers = field(default_factory=Handlers)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> RecordingProxy:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        await self.handlers.close(self.server)

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with self.handlers.track():
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip()] = value.strip()
                self.seen.append(Seen(method, target, headers))
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    up_reader, up_writer = await asyncio.open_connection(
                        host, int(port)
                    )
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    parts = urlsplit(target)
                    up_reader, up_writer = await asyncio.open_connection(
                        parts.hostname, parts.port or 80
                    )
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    forwarded = [f"{method} {path or '/'} {version}"] + [
                        f"{name}: {value}"
                        for name, value in headers.items()
                        if name.lower() != "proxy-authorization"
                    ]
                    head_out = "\r\n".join(forwarded) + "\r\n\r\n"
                    up_writer.write(head_out.encode("latin-1"))
                await relay(reader, writer, up_reader, up_writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
