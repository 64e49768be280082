"""Measuring the buffers of a live connection, read by read.

:class:`EngineProbe` puts itself between the transport and the engine
(:class:`aiows.engine.connection.Connection`) with
``transport.set_protocol``: every callback is passed on unchanged, and after
each read it records how large each buffer a server can grow has become.
It also wraps ``transport.write`` so that the write buffer is sampled after
every write, not only after reads.  The tests of ``tests/reliability/
test_bounds.py`` and the connection fuzzer (``tests/fuzz/
fuzz_connection.py``) compare the peaks with the documented limits.

It reads engine internals on purpose (the parser's buffers, the assembler's
queue): the bound is on those structures, and only they can show it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiows.core.messages import Fragment
from aiows.core.parser import FrameParser
from aiows.engine.connection import Connection


def parser_held_bytes(parser: FrameParser) -> int:
    """Bytes the parser holds for an unfinished frame or message.

    That is the incomplete header or control frame it keeps for the next
    read, the pieces of the message being assembled (kept as they came or
    folded into one buffer) and the text decoded so far, counted in UTF-8.
    """
    held = len(parser._buffer)
    held += sum(len(piece) for piece in parser._msg_bytes)
    folded = parser._msg_folded
    if folded is not None:
        held += len(folded)
    held += sum(len(text.encode("utf-8", "surrogatepass")) for text in parser._msg_text)
    return held


def _data_size(item: Any) -> int:
    data = item.data if type(item) is Fragment else item[1]
    if isinstance(data, str):
        return len(data.encode("utf-8", "surrogatepass"))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    return 0


def queued_bytes(engine: Connection) -> int:
    """Payload bytes waiting in the assembler: queued items and the pieces a
    whole-message read has taken so far."""
    assembler = engine.assembler
    return sum(_data_size(item) for item in assembler.queue) + sum(
        # A folded text message is an io.StringIO: its position is its length.
        piece.tell() if isinstance(piece, io.StringIO) else len(piece)
        for piece in assembler.partial
    )


@dataclass
class Peaks:
    """The largest value each buffer reached while the probe watched."""

    #: Items in the assembler's queue.
    queue_items: int = 0
    #: Payload bytes in the queue and in a read's partial message.
    queue_bytes: int = 0
    #: Bytes the parser held between reads.
    parser_bytes: int = 0
    #: The transport's write buffer, sampled after each write and read.
    write_buffer: int = 0
    #: The largest single ``transport.write()``.
    largest_write: int = 0
    #: Messages (and pieces) one read put into the queue.
    items_per_read: int = 0
    #: Bytes of one read, as the transport delivered them.
    largest_read: int = 0
    #: Bytes the engine wrote during one read (its automatic replies).
    written_per_read: int = 0
    #: Bytes the inflater produced during one read, all messages together.
    inflated_per_read: int = 0
    #: Bytes the inflater produced for one message, before it ended or failed.
    inflated_per_message: int = 0
    #: Pings waiting for a pong.
    pings_in_flight: int = 0
    #: Reads seen.
    reads: int = 0
    #: Times the engine paused the transport's reading.
    pauses: int = 0


class _WatchedTransport:
    """``transport``, telling ``probe`` about each write and each pause or
    resume of reading."""

    def __init__(self, transport: asyncio.Transport, probe: EngineProbe) -> None:
        self._transport = transport
        self._probe = probe

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def write(self, data: Any) -> None:
        self._transport.write(data)
        probe = self._probe
        peaks = probe.peaks
        peaks.largest_write = max(peaks.largest_write, len(data))
        if probe._in_read:
            probe._written += len(data)
        probe.sample()

    def pause_reading(self) -> None:
        self._transport.pause_reading()
        probe = self._probe
        probe.peaks.pauses += 1
        probe.paused.set()
        probe._changed.set()

    def resume_reading(self) -> None:
        self._transport.resume_reading()
        self._probe._changed.set()


class EngineProbe(asyncio.Protocol):
    """Watches ``engine``'s buffers; see the module docstring.

    Install it with :meth:`install` once the connection is open, before the
    server sends what the test is about.
    """

    def __init__(self, engine: Connection) -> None:
        self.engine = engine
        self.peaks = Peaks()
        #: Set each time the engine pauses reading (cleared by the test).
        self.paused = asyncio.Event()
        # Set after every callback and every pause or resume: wakes until().
        self._changed = asyncio.Event()
        # Bytes written and inflated since the current read began.
        self._in_read = False
        self._written = 0
        self._inflated = 0
        # Bytes inflated for the message being parsed.
        self._message_inflated = 0

    @classmethod
    def install(cls, engine: Connection) -> EngineProbe:
        transport = engine.transport
        probe = cls(engine)
        if transport is None:
            # Gone already (the server closed with the 101): nothing to watch
            # but what it left queued.
            probe.peaks.items_per_read = len(engine.assembler.queue)
            probe.sample()
            return probe
        # The engine's send lane and read gate get a watching stand-in for
        # the transport (uvloop's transports cannot have their methods
        # replaced); everything else still talks to the transport itself.
        watched = _WatchedTransport(transport, probe)
        engine.lane._transport = watched  # type: ignore[assignment]
        engine.reading.transport = watched  # type: ignore[assignment]
        deflate = engine.protocol._parser._deflate
        if deflate is not None:
            original_inflate = deflate._inflate
            original_decompress = deflate.decompress

            def inflate(data: Any, limit: int | None) -> bytes:
                out = original_inflate(data, limit)
                probe._inflated += len(out)
                probe._message_inflated += len(out)
                peaks = probe.peaks
                peaks.inflated_per_message = max(
                    peaks.inflated_per_message, probe._message_inflated
                )
                return out

            def decompress(data: Any, fin: bool, limit: int | None) -> bytes:
                try:
                    return original_decompress(data, fin, limit)
                except Exception:
                    probe._message_inflated = 0
                    raise
                finally:
                    if fin:
                        probe._message_inflated = 0

            deflate._inflate = inflate  # type: ignore[method-assign]
            deflate.decompress = decompress  # type: ignore[method-assign]
        transport.set_protocol(probe)
        # What came with the 101 is already queued: it counts as one read.
        probe.peaks.items_per_read = len(engine.assembler.queue)
        probe.sample()
        return probe

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds, checking it after each thing
        the transport or the engine did (wrap it in ``bounded``)."""
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    def sample(self) -> None:
        """Record the current size of every buffer."""
        engine = self.engine
        peaks = self.peaks
        queue = engine.assembler.queue
        peaks.queue_items = max(peaks.queue_items, len(queue))
        peaks.queue_bytes = max(peaks.queue_bytes, queued_bytes(engine))
        peaks.parser_bytes = max(
            peaks.parser_bytes, parser_held_bytes(engine.protocol._parser)
        )
        peaks.pings_in_flight = max(
            peaks.pings_in_flight, len(engine.protocol.pings_in_flight())
        )
        transport = engine.transport
        if transport is not None:
            peaks.write_buffer = max(
                peaks.write_buffer, transport.get_write_buffer_size()
            )

    # -- asyncio.Protocol, passed on -----------------------------------------

    def data_received(self, data: bytes) -> None:
        self._changed.set()
        peaks = self.peaks
        peaks.reads += 1
        peaks.largest_read = max(peaks.largest_read, len(data))
        before = len(self.engine.assembler.queue)
        self._in_read = True
        self._written = self._inflated = 0
        try:
            self.engine.data_received(data)
        finally:
            self._in_read = False
            added = len(self.engine.assembler.queue) - before
            peaks.items_per_read = max(peaks.items_per_read, added)
            peaks.written_per_read = max(peaks.written_per_read, self._written)
            peaks.inflated_per_read = max(peaks.inflated_per_read, self._inflated)
            self.sample()

    def eof_received(self) -> bool | None:
        return self.engine.eof_received()

    def pause_writing(self) -> None:
        self.engine.pause_writing()
        self._changed.set()

    def resume_writing(self) -> None:
        self.engine.resume_writing()
        self._changed.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._changed.set()
        self.sample()
        self.engine.connection_lost(exc)
