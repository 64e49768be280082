"""The client's WebSocket protocol, without I/O (RFC 6455 §5, §7).

:class:`ClientProtocol` holds everything about an open connection that is a
rule rather than a socket: its state, the close frames sent and received,
failing the connection, the pings waiting for a pong, and which control
frames are answered and when.  Bytes from the server go in with
:meth:`~ClientProtocol.receive_data`; messages come out, and the replies it
decided on (pongs, the answer to a close) wait in
:attr:`~ClientProtocol.outgoing`.  What the application sends goes in
through the ``send_*`` methods, each returning the bytes to write.

The states and the events that move between them are the table
:data:`TRANSITIONS`; an event the table does not list for the current state
raises :class:`~aiows.core.errors.InvalidState` at once, naming both.

When to answer a close, and when to fail on a protocol error, differs by API
(see :class:`Policy`), so the protocol takes that as a parameter.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final, overload

from .errors import ExtensionFailed, InvalidState, ProtocolError, TooManyPings
from .frames import MAX_CLOSE_REASON, NO_STATUS_RECEIVED, Close, Opcode, WSCloseCode
from .messages import Event, make_message
from .parser import FrameParser
from .writer import FrameWriter, Payload


class State(Enum):
    """Where a connection is in its life; see :data:`TRANSITIONS`."""

    #: Messages flow both ways.
    OPEN = "open"
    #: The server's close frame arrived; the client has not answered yet.
    CLOSE_RECEIVED = "close received"
    #: The client's close frame went out; the server has not answered yet.
    CLOSE_SENT = "close sent"
    #: Both close frames went, or the connection failed: no more frames
    #: either way; waiting for the transport to end.
    CLOSE_DONE = "close done"
    #: The transport is gone.
    CLOSED = "closed"


class Transition(Enum):
    """What moves a connection from one :class:`State` to another."""

    RECEIVE_CLOSE = "receive a close frame"
    SEND_CLOSE = "send a close frame"
    FAIL = "fail the connection"
    SEND_DATA = "send a message"
    CONNECTION_LOST = "lose the transport"


_S = State
_T = Transition

#: Every legal (state, event) pair and the state it leads to; any other pair
#: raises.  Read it row by row: from OPEN a close frame either way starts the
#: closing handshake, a failure ends it at once; from CLOSE_RECEIVED and
#: CLOSE_SENT the other side's close (or a failure) finishes it; losing the
#: transport ends every state but CLOSED.  Sending data after the server's
#: close is allowed (RFC 6455 §5.5.1: an endpoint may finish what it is
#: sending before it answers); after the client's own close it is not.
TRANSITIONS: Final[dict[tuple[State, Transition], State]] = {
    (_S.OPEN, _T.RECEIVE_CLOSE): _S.CLOSE_RECEIVED,
    (_S.OPEN, _T.SEND_CLOSE): _S.CLOSE_SENT,
    (_S.OPEN, _T.FAIL): _S.CLOSE_DONE,
    (_S.OPEN, _T.SEND_DATA): _S.OPEN,
    (_S.OPEN, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.CLOSE_RECEIVED, _T.SEND_CLOSE): _S.CLOSE_DONE,
    (_S.CLOSE_RECEIVED, _T.FAIL): _S.CLOSE_DONE,
    (_S.CLOSE_RECEIVED, _T.SEND_DATA): _S.CLOSE_RECEIVED,
    (_S.CLOSE_RECEIVED, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.CLOSE_SENT, _T.RECEIVE_CLOSE): _S.CLOSE_DONE,
    (_S.CLOSE_SENT, _T.FAIL): _S.CLOSE_DONE,
    (_S.CLOSE_SENT, _T.CONNECTION_LOST): _S.CLOSED,
    (_S.CLOSE_DONE, _T.CONNECTION_LOST): _S.CLOSED,
}


class Policy(Enum):
    """When the protocol answers a close frame, or fails on a bad frame."""

    #: As soon as it is parsed (websockets).  Messages that came before it
    #: stay readable.
    AT_ONCE = "at once"
    #: Once the application has read up to it, or the engine's time bound
    #: ran out (aiohttp reads to the close before answering it).  Until
    #: then the client may still send, so a reply to an earlier message is
    #: not lost (RFC 6455 §5.5.1 lets it finish first).
    WHEN_READ = "when read"
    #: Only when the application closes (aiohttp's ``autoclose=False``).
    BY_APPLICATION = "by the application"


#: Pings waiting for a pong, at most; a dead peer cannot make this grow.
MAX_PINGS_IN_FLIGHT: Final = 1024

_PING = int(Opcode.PING)
_PONG = int(Opcode.PONG)
_CLOSE = int(Opcode.CLOSE)


def _cut_reason(reason: str) -> str:
    """``reason`` cut to fit a close frame, on a character boundary."""
    return reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")


class ClientProtocol:
    """The state machine of one client connection, fed bytes and calls.

    >>> protocol = ClientProtocol(FrameParser(), FrameWriter())
    >>> protocol.receive_data(b"\\x81\\x02hi\\x89\\x00")
    [WSMessage(type=<WSMsgType.TEXT: 1>, data='hi', extra=None)]
    >>> [frame[:2] for frame in protocol.take_outgoing()]  # the pong
    [b'\\x8a\\x80']

    ``parser`` must not have an ``on_control`` handler of its own: the
    protocol installs one.  ``report_control`` puts pings and pongs in the
    output as messages too (aiohttp's ``autoping=False``), ``auto_pong``
    answers pings.  ``close_reply`` and ``failure`` say when a close frame
    is answered and when a protocol error fails the connection;
    ``echo_reason`` repeats the server's reason in the reply (websockets
    does, aiohttp does not).
    """

    __slots__ = (
        "_auto_pong",
        "_close_reply",
        "_echo_reason",
        "_failure_policy",
        "_parser",
        "_pings",
        "_report_control",
        "_writer",
        "acknowledged",
        "close_rcvd",
        "close_rcvd_then_sent",
        "close_sent",
        "failed",
        "failure",
        "outgoing",
        "reply_due",
        "reply_failed",
        "state",
    )

    def __init__(
        self,
        parser: FrameParser,
        writer: FrameWriter,
        *,
        auto_pong: bool = True,
        report_control: bool = False,
        close_reply: Policy = Policy.AT_ONCE,
        failure: Policy = Policy.AT_ONCE,
        echo_reason: bool = False,
    ) -> None:
        if failure is Policy.BY_APPLICATION:
            raise ValueError(
                "a protocol error fails the connection at once or when read"
            )
        self._parser = parser
        parser._on_control = self._on_control
        self._writer = writer
        self._auto_pong = auto_pong
        self._report_control = report_control
        self._close_reply = close_reply
        self._failure_policy = failure
        # Whether the close reply repeats the server's reason with its code.
        self._echo_reason = echo_reason
        #: Where the connection is; changed only through :data:`TRANSITIONS`.
        self.state = State.OPEN
        #: The close frame the server sent, once it did.
        self.close_rcvd: Close | None = None
        #: The close frame the client sent, once it did.
        self.close_sent: Close | None = None
        #: Whether the server's close came first, once both went; None before.
        self.close_rcvd_then_sent: bool | None = None
        #: The protocol error that failed (or, when read, will fail) the
        #: connection; set at most once.
        self.failure: ProtocolError | None = None
        #: Set once the connection was failed (RFC 6455 §7.1.7), by the
        #: client or for the server's error: the driver then reads and drops
        #: what the server still sends until it closes, so that its close
        #: frame is not lost to a reset.
        self.failed = False
        #: A close reply or a failure waits for :meth:`answer` (the WHEN_READ
        #: policy).
        self.reply_due = False
        #: An extension could not encode the close frame :meth:`receive_data`
        #: decided to send (the answer to the server's close, or the close
        #: that fails the connection): the messages parsed before it are
        #: returned all the same, and the driver ends the connection once
        #: it has delivered them.
        self.reply_failed: ExtensionFailed | None = None
        #: Frames :meth:`receive_data` decided to send (pongs, a close
        #: reply, the close that fails the connection), oldest first.
        self.outgoing: list[bytes] = []
        #: Tokens of the pings the pongs received so far answered, oldest
        #: first; the caller takes them.
        self.acknowledged: list[Any] = []
        # Pings waiting for a pong, oldest first, as (payload, token).  A
        # list: few are in flight, and an empty deque costs 760 bytes; None
        # until the first ping, as many connections never send one.
        self._pings: list[tuple[bytes, Any]] | None = None

    # -- the state table -------------------------------------------------

    def _move(self, event: Transition) -> None:
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            raise InvalidState(self.state.name, event.value)
        self.state = new
        if event is Transition.FAIL:
            self.failed = True

    def check(self, event: Transition) -> None:
        """Raise :class:`InvalidState` unless ``event`` is legal now."""
        if (self.state, event) not in TRANSITIONS:
            raise InvalidState(self.state.name, event.value)

    @property
    def extensions(self) -> list[Any]:
        """The extensions negotiated, in the order the server accepted them
        (outgoing frames go through them in this order, incoming frames in
        the reverse order), each with its ``name``."""
        return self._parser.extensions

    @property
    def can_send(self) -> bool:
        """Whether a message may be sent now."""
        return (self.state, Transition.SEND_DATA) in TRANSITIONS

    # -- receiving -------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Whether the last :meth:`receive_data` kept bytes back unparsed
        because a budget ran out (inflated bytes, pieces or control
        frames); ``receive_data(b"")`` goes on.

        False once going on is pointless: :meth:`receive_data` ignores the
        server's bytes after a failure (the client's or the server's) or
        the closing handshake.  Still True once the connection is lost:
        the bytes kept back came before the end, and the messages in them
        are the application's (nothing is answered any more).
        """
        return (
            self._parser.pending
            and self.failure is None
            and not self.failed
            and self.state is not State.CLOSE_DONE
        )

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse ``data``; return the messages the application should see.

        Pings, pongs and close frames are handled here as they are parsed;
        replies go to :attr:`outgoing`.  A protocol error ends parsing:
        the messages before it are returned, then an ERROR message whose
        ``data`` is the error, as the last item (the connection fails at
        once or when the error is read, by the ``failure`` policy).  After
        a close frame, or once the connection failed, the server's bytes
        are ignored.  ``data`` may be a view of a buffer the caller reuses.
        A close frame an extension cannot encode is :attr:`reply_failed`.
        """
        if self.failure is not None or self.failed or self.state is State.CLOSE_DONE:
            return []
        parser = self._parser
        events = parser.feed(data)
        if parser.exc is not None:
            self._on_error(parser.exc, events)
        return events

    def receive_buffer(self) -> memoryview | None:
        """Where the next bytes from the server can be read to in place.

        The rest of a large binary message's payload while one is being
        received (see :meth:`FrameParser.read_into`), else None.  Bytes read
        there are reported with :meth:`receive_into`, not
        :meth:`receive_data`.
        """
        if self.failure is not None or self.state is State.CLOSE_DONE:
            return None
        return self._parser.read_into()

    def receive_into(self, n: int) -> list[Event]:
        """``n`` bytes were read into the view :meth:`receive_buffer` gave;
        the messages they complete."""
        return self._parser.written(n)

    def _on_control(self, msg: Any, out: list[Event]) -> None:
        kind = int(msg[0])
        if kind == _PING:
            if self._auto_pong and self.state is State.OPEN:
                try:
                    pong = self._writer.control(Opcode.PONG, msg[1])
                except ExtensionFailed as exc:
                    # As websockets: an extension that cannot encode the
                    # pong is an internal error (1011), chaining its own.
                    raise ProtocolError("", WSCloseCode.INTERNAL_ERROR) from (
                        exc.__cause__
                    )
                self.outgoing.append(pong)
            if self._report_control:
                out.append(msg)
        elif kind == _PONG:
            self._on_pong(msg[1])
            if self._report_control:
                out.append(msg)
        else:
            assert kind == _CLOSE
            self._on_close(msg, out)

    def _on_pong(self, payload: bytes) -> None:
        pings = self._pings
        if not pings:
            return  # unsolicited: a one-way heartbeat
        # The newest ping with this payload: a peer may answer only the
        # latest of several pings (RFC 6455 §5.5.3).
        last = None
        for index, (sent, _) in enumerate(pings):
            if sent == payload:
                last = index
        if last is None:
            return  # unsolicited: a one-way heartbeat
        # A pong answers its ping and every one sent before it.
        self.acknowledged.extend(token for _, token in pings[: last + 1])
        del pings[: last + 1]

    def _on_close(self, msg: Any, out: list[Event]) -> None:
        code, reason = msg[1], msg[2]
        if self.state is not State.CLOSED:  # else: from bytes kept back
            self._move(Transition.RECEIVE_CLOSE)
        self.close_rcvd = Close(code, reason)
        if self.close_sent is not None:
            self.close_rcvd_then_sent = False
        out.append(msg)
        if self.state is State.CLOSE_RECEIVED:
            if self._close_reply is Policy.AT_ONCE:
                try:
                    self.outgoing.append(self._reply_frame())
                except ExtensionFailed as exc:
                    self.reply_failed = exc
            elif self._close_reply is Policy.WHEN_READ:
                self.reply_due = True

    def _on_error(self, exc: ProtocolError, out: list[Event]) -> None:
        self.failure = exc
        kinds = self._parser.kinds
        out.append(make_message(kinds.control, kinds.types.ERROR, exc, None))
        if self.state is State.CLOSED:
            return  # in bytes kept back, read after the end: nothing to send
        if self.state is State.CLOSE_SENT:
            # Our close already went; nothing more is sent or read.
            self._move(Transition.FAIL)
        elif self._failure_policy is Policy.AT_ONCE:
            try:
                self.outgoing.append(self._fail_frame(exc.code, exc.reason))
            except ExtensionFailed as failed:
                self.reply_failed = failed
        else:
            self.reply_due = True

    def take_outgoing(self) -> list[bytes]:
        """The frames :meth:`receive_data` decided to send, emptying the list."""
        outgoing, self.outgoing = self.outgoing, []
        return outgoing

    def take_acknowledged(self) -> list[Any]:
        """The tokens of the pings answered since the last call."""
        acknowledged, self.acknowledged = self.acknowledged, []
        return acknowledged

    def answer(self) -> bytes:
        """Send the reply a WHEN_READ policy held back; ``b""`` if none is due.

        That is the close that fails the connection after a protocol error,
        or the answer to the server's close frame, echoing its code.
        """
        if not self.reply_due:
            return b""
        self.reply_due = False
        failure = self.failure
        if failure is not None:
            return self._fail_frame(failure.code, failure.reason)
        return self._reply_frame()

    def _reply_frame(self) -> bytes:
        # RFC 6455 §5.5.1: echo the code; a close without one gets one
        # without one.
        assert self.close_rcvd is not None
        code, reason = self.close_rcvd.code, self.close_rcvd.reason
        if code == NO_STATUS_RECEIVED:
            return self._close_frame(None, "")
        return self._close_frame(code, reason if self._echo_reason else "")

    # -- sending ---------------------------------------------------------

    @overload
    def send_message(
        self, opcode: int, payload: Payload, *, compress: bool = ..., into: None = ...
    ) -> bytes: ...
    @overload
    def send_message(
        self, opcode: int, payload: Payload, *, compress: bool = ..., into: bytearray
    ) -> bytes | memoryview: ...
    def send_message(
        self,
        opcode: int,
        payload: Payload,
        *,
        compress: bool = True,
        into: bytearray | None = None,
    ) -> bytes | memoryview:
        """The frame of a whole data message (TEXT or BINARY); with ``into``,
        a view of it written there when it fits (see
        :meth:`FrameWriter.message <aiows.core.writer.FrameWriter.message>`)."""
        if self.state is not State.OPEN:
            self.check(Transition.SEND_DATA)
        return self._writer.message(opcode, payload, compress=compress, into=into)

    def send_fragment(
        self, opcode: int, payload: Payload, *, first: bool, fin: bool
    ) -> bytes:
        """One frame of a fragmented message; ``opcode`` is the message's."""
        if self.state is not State.OPEN:
            self.check(Transition.SEND_DATA)
        return self._writer.fragment(opcode, payload, first=first, fin=fin)

    def send_ping(self, payload: Payload, token: Any) -> bytes:
        """A ping frame; ``token`` comes back in :attr:`acknowledged` on its pong.

        Raises :class:`TooManyPings` past :data:`MAX_PINGS_IN_FLIGHT`.
        """
        self.check(Transition.SEND_DATA)
        pings = self._pings
        if pings is None:
            pings = self._pings = []
        if len(pings) >= MAX_PINGS_IN_FLIGHT:
            raise TooManyPings(
                f"{MAX_PINGS_IN_FLIGHT} pings are already waiting for a pong; "
                "wait for one before sending more"
            )
        frame = self._writer.control(Opcode.PING, payload)
        pings.append((bytes(payload), token))
        return frame

    def forget_oldest_ping(self) -> Any:
        """Give up on the oldest ping in flight; return its token.

        Raises ``IndexError`` when no ping is in flight.
        """
        pings = self._pings
        if not pings:
            raise IndexError("no ping is in flight")
        return pings.pop(0)[1]

    def ping_in_flight(self, payload: bytes) -> bool:
        """Whether a ping with ``payload`` is waiting for its pong."""
        return any(sent == payload for sent, _ in self._pings or ())

    def pings_in_flight(self) -> list[Any]:
        """The tokens of every ping waiting for a pong, oldest first."""
        return [token for _, token in self._pings or ()]

    def send_pong(self, payload: Payload) -> bytes:
        """An unsolicited pong frame (a one-way heartbeat, RFC 6455 §5.5.3)."""
        self.check(Transition.SEND_DATA)
        return self._writer.control(Opcode.PONG, payload)

    def send_close(self, code: int | None = 1000, reason: str | bytes = "") -> bytes:
        """The client's close frame: it starts the closing handshake or answers.

        ``code=None`` sends a close frame without a code.  When a protocol
        error is waiting to fail the connection (WHEN_READ), that close goes
        instead: the connection is failed, not closed normally.  Raises
        ``ValueError`` for a code that may not be sent or a reason too long,
        before anything changes.
        """
        if self.failure is not None and self.reply_due:
            return self.answer()
        self.check(Transition.SEND_CLOSE)
        return self._close_frame(code, reason)

    def _close_frame(self, code: int | None, reason: str | bytes) -> bytes:
        frame = self._writer.close(code, reason)
        text = reason.decode("utf-8") if isinstance(reason, bytes) else reason
        self._move(Transition.SEND_CLOSE)
        self.reply_due = False
        self.close_sent = Close(NO_STATUS_RECEIVED if code is None else code, text)
        if self.close_rcvd is not None:
            self.close_rcvd_then_sent = True
        return frame

    def fail(self, code: int, reason: str) -> bytes:
        """Fail the connection (RFC 6455 §7.1.7): the close frame to send.

        Used when the client itself cannot go on, e.g. a fragmented send was
        interrupted.  Returns ``b""`` when a close frame already went.
        """
        self.check(Transition.FAIL)
        if self.close_sent is not None:
            self._move(Transition.FAIL)
            return b""
        return self._fail_frame(code, reason)

    def _fail_frame(self, code: int, reason: str) -> bytes:
        frame = self._writer.close(code, _cut_reason(reason))
        self._move(Transition.FAIL)
        self.reply_due = False
        self.close_sent = Close(code, _cut_reason(reason))
        if self.close_rcvd is not None:
            self.close_rcvd_then_sent = True
        return frame

    def connection_lost(self) -> None:
        """The transport is gone; nothing more is sent or received, but the
        bytes the parser kept back (:attr:`pending`) are still parsed."""
        self._move(Transition.CONNECTION_LOST)
        self.reply_due = False
