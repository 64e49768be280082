"""A SOCKS5 proxy over real sockets (RFC 1928, no authentication or RFC 1929
user/password), enough for the client's CONNECT; it records each target."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from tests.helpers import Handlers, relay


@dataclass
class SocksServer:
    """Start with :meth:`start`; ``url`` is ``socks5://127.0.0.1:PORT``."""

    #: (host, port) of each CONNECT, and the user of each login.
    targets: list[tuple[str, int]] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    #: Demand a user name and password (RFC 1929).
    password: str | None = None
    server: asyncio.AbstractServer | None = None
    handlers: Handlers = field(default_factory=Handlers)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> SocksServer:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        await self.handlers.close(self.server)

    async def _client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with self.handlers.track():
            try:
                version, count = await reader.readexactly(2)
                methods = await reader.readexactly(count)
                assert version == 5
                if self.password is None:
                    assert 0 in methods
                    writer.write(b"\x05\x00")
                else:
                    assert 2 in methods
                    writer.write(b"\x05\x02")
                    await reader.readexactly(1)
                    user = await reader.readexactly((await reader.readexactly(1))[0])
                    word = await reader.readexactly((await reader.readexactly(1))[0])
                    self.users.append(user.decode())
                    if word.decode() != self.password:
                        writer.write(b"\x01\x01")
                        return
                    writer.write(b"\x01\x00")
                _, command, _, kind = await reader.readexactly(4)
                assert command == 1  # CONNECT
                if kind == 1:
                    host = socket.inet_ntoa(await reader.readexactly(4))
                elif kind == 3:
                    host = (
                        await reader.readexactly((await reader.readexactly(1))[0])
                    ).decode()
                else:
                    packed = await reader.readexactly(16)
                    host = socket.inet_ntop(socket.AF_INET6, packed)
                port = int.from_bytes(await reader.readexactly(2), "big")
                self.targets.append((host, port))
                up_reader, up_writer = await asyncio.open_connection(host, port)
                bound = socket.inet_aton("127.0.0.1")
                writer.write(b"\x05\x00\x00\x01" + bound + b"\0\0")
                await relay(reader, writer, up_reader, up_writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
