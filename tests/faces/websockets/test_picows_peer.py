"""picows.websockets as a peer: where it differs from websockets, and what it lacks.

picows 2 ships ``picows.websockets``, a re-implementation of websockets'
asyncio client API on picows' compiled core.  ``test_differential.py`` runs
it beside aiows in every scenario it can run, with websockets 17 as the
oracle; this module holds what that comparison found, as data the
comparison asserts both ways (a row that no longer holds fails, and so does
a difference no row lists):

* :data:`PICOWS_DIFFERENCES`: every observation where picows.websockets and
  websockets differ, each explained by one or more :data:`PICOWS_TRAITS`,
  which say what picows does, which of the two aiows follows, and why.  The
  rule: websockets is the oracle, and aiows follows it unless a deliberate
  difference of its own (``DIFFERENCES`` in ``test_differential.py``) says
  otherwise; a row's ``follows`` says which, and a test checks it against
  ``DIFFERENCES``.
* :data:`PICOWS_CANNOT`: the features picows.websockets lacks, each with an
  attempt that shows it failing (run by :func:`test_what_picows_cannot_do`);
  a scenario that needs one leaves picows out by naming it.

Recorded against picows 2.3.1 and websockets 17.  The values are what the
harness records: ``("raised", {"kind": ...})`` for an exception,
``closed(...)`` for a ``ConnectionClosed`` with its frames, ``(code,
reason)`` pairs; ``<failure reason>``, ``<cause>`` and ``<detail>`` where a
scenario masks details (the failure reasons are each library's own words);
:data:`ABSENT` for an observation one client did not make.
"""

from __future__ import annotations

import re
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import import_module, metadata
from typing import Any, NamedTuple

import picows.websockets
import pytest
import websockets.exceptions
import websockets.version
from picows.websockets import ClientConnection as PicowsConnection
from picows.websockets import connect as picows_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

import aiows

# picows.websockets is compared with websockets 17 (Python 3.11 on): the
# names and behaviours its differences are stated against are 17's.
pytestmark = pytest.mark.skipif(
    int(websockets.version.version.split(".")[0]) < 17,
    reason="picows is compared with websockets 17",
)

#: The value of an observation one client made and the other did not.
ABSENT = "<absent>"
#: A ConnectionClosed's ``__cause__`` where a scenario masks it.
CAUSE = "<cause>"

_PYTHON = f"Python/{sys.version_info.major}.{sys.version_info.minor}"
WEBSOCKETS_VERSION = websockets.version.version
PICOWS_VERSION = metadata.version("picows")

Kind = tuple[str, tuple[str, ...], tuple[str, ...]]
Frame = tuple[int, Any] | None


def ws_error(name: str, *bases: str) -> Kind:
    """The kind of an exception of websockets' hierarchy (``kind()`` in
    ``test_differential.py``): its name, then its websockets bases."""
    return name, (name, *bases), ()


def builtin_error(name: str, *bases: str) -> Kind:
    """The kind of a built-in exception, with its built-in bases."""
    return name, (), (name, *bases)


def raised(kind: Kind) -> tuple[str, dict[str, Any]]:
    """An exception as ``Record.error`` records it."""
    return "raised", {"kind": kind}


def closed(
    name: str,
    rcvd: Frame,
    sent: Frame,
    rcvd_then_sent: bool | None,
    cause: Kind | str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A ``ConnectionClosed`` as ``Record.error`` records it."""
    return "raised", {
        "kind": ws_error(name, "ConnectionClosed"),
        "rcvd": rcvd,
        "sent": sent,
        "rcvd_then_sent": rcvd_then_sent,
        "cause": cause,
    }


class PicowsTrait(NamedTuple):
    """One way picows.websockets behaves otherwise than websockets."""

    #: What picows does, and what websockets does instead.
    picows: str
    #: What aiows does, and why.
    aiows: str


#: What picows.websockets does otherwise than websockets, by name.
PICOWS_TRAITS: dict[str, PicowsTrait] = {
    "missing-names": PicowsTrait(
        "Seven of websockets 17's exception names do not exist: StatusLineTooLong, "
        "RequestLineTooLong, HeaderLineTooLong and TooManyHeaders (its "
        "SecurityErrors for an oversized handshake response), InvalidMethod, "
        "InvalidProtocol and TooManyFragments; importing them fails.",
        "websockets: aiows has every name of websockets.exceptions (and "
        "derives each from the aiohttp exception that means the same, a "
        "difference of its own).",
    ),
    "names": PicowsTrait(
        "The default User-Agent names picows-websockets.",
        'Neither: aiows names itself ("Names" in docs/from_websockets.rst).',
    ),
    "attributes": PicowsTrait(
        "ws.id and ws.logger cannot be read: they are attributes of a compiled class "
        "that picows does not expose to Python (AttributeError).",
        "websockets: both are documented attributes, for telling connections apart "
        "and for logging on the connection's logger.",
    ),
    "reason-none": PicowsTrait(
        "A close frame received without a reason gives the reason None (close_reason,"
        " ConnectionClosed.rcvd.reason); websockets gives ''.",
        "websockets: a close reason is always a str, empty when the frame had none, "
        "so code that formats or compares it needs no None check.",
    ),
    "mixed-1002": PicowsTrait(
        "A send() whose fragments mix str and bytes fails the connection with 1002 "
        "(protocol error); websockets with 1011 (internal error).",
        "websockets: the fault is in the client's own program; 1002 would tell the "
        "server that it broke the protocol (RFC 6455 §7.4.1).",
    ),
    "code-after-failure": PicowsTrait(
        "After a connection that ended without a close frame from the server, "
        "close_code and close_reason are those of the frame picows sent, or None "
        "after a dropped TCP connection; websockets gives 1006 and ''.",
        "websockets, as RFC 6455 §7.1.5 says: the close code is 1006 when no close "
        "frame was received; what the client sent is in ConnectionClosed.sent.",
    ),
    "no-cause": PicowsTrait(
        "A ConnectionClosedError chains no cause: not the EOFError of a dropped "
        "connection, nor the PayloadTooBig or ProtocolError that failed it.",
        "websockets 17: the cause says why the connection ended.",
    ),
    "exit-1000": PicowsTrait(
        "An exception leaving async with closes the connection with 1000 (normal), as"
        " websockets 16 did; websockets 17 closes with 1011.",
        "websockets 17: the server learns that the client ended on an error.",
    ),
    "order-flag": PicowsTrait(
        "ConnectionClosed.rcvd_then_sent is False when only one close frame was "
        "exchanged; websockets leaves it None, since there is no order to tell.",
        "websockets.",
    ),
    "send-racing": PicowsTrait(
        "While the closing handshake runs, close_code already gives the code picows "
        "sent (websockets: None until the handshake ends), and a send() waiting for "
        "it raises before close() returns.",
        "websockets: close_code describes the ending once there is one.",
    ),
    "recv-broken": PicowsTrait(
        "A recv_streaming() refused with ConcurrencyError because a recv() is running"
        " breaks that recv(): it never returns, even when its message arrives (the "
        "refused call clears the waiter the running one waits on).",
        "websockets: a refused call leaves the running one alone.",
    ),
    "keepalive": PicowsTrait(
        "When a ping gets no pong within ping_timeout, picows runs a normal closing "
        "handshake with 1011 and waits for the server's close frame; websockets sends"
        " its close frame and closes the TCP connection without waiting.",
        "websockets: a server that does not answer pings is not expected to answer a "
        "close frame either, and waiting for it would add close_timeout to the time a"
        " dead connection goes unnoticed.",
    ),
    "reads-after-failure": PicowsTrait(
        "After failing the connection for a protocol error, picows reads the server's"
        " answering close frame and reports it (ConnectionClosed.rcvd, close_code); "
        "websockets reports none.",
        "websockets: RFC 6455 §7.1.7 says an endpoint that fails the connection must "
        "not process more data, a responding close frame included (aiows discards "
        "what still arrives, so its own close frame is not lost to a reset).",
    ),
    "rsv2": PicowsTrait(
        "A frame with RSV2 or RSV3 set is delivered as if they were clear: picows "
        "never checks them; websockets fails the connection with 1002.",
        "websockets: RFC 6455 §5.2 requires failing the connection when a reserved "
        "bit that no negotiated extension defines is set, since the frame's meaning "
        "is unknown.",
    ),
    "refused-body": PicowsTrait(
        "InvalidStatus.response.body is empty: picows does not read the body of a "
        "refused handshake; websockets does.",
        "websockets: the body often says why the server refused.",
    ),
    "reason-phrase": PicowsTrait(
        "InvalidStatus.response.reason_phrase is the standard phrase of the status "
        "code, not the one the server sent.",
        "websockets: the server's own words.",
    ),
    "handshake-assert": PicowsTrait(
        "A server that answers with something that is not HTTP, or closes before the "
        "end of its answer, makes connect() raise a bare AssertionError (an assert in"
        " picows' connect(), which python -O removes); websockets raises "
        "InvalidMessage.",
        "websockets: an InvalidHandshake that except clauses name, and that the "
        "reconnecting iterator's process_exception() retries when the server hung up "
        "(EOFError cause).",
    ),
    "handshake-words": PicowsTrait(
        "A failed handshake's str() is in picows' words (\"('Upgrade', None)\" for "
        '"missing Upgrade header", "unsupported subprotocol negotiated by server: x",'
        ' "non-secure URL"), and its __cause__ is the exception of picows\' core '
        "(WSInvalidStatusError, WSInvalidUpgradeError, WSHandshakeError) where "
        "websockets chains none, or the redirect's InvalidStatus.",
        "websockets: user code and test suites match on these words, and the cause "
        "is part of websockets' account (the refused redirect's status).",
    ),
    "reentrant": PicowsTrait(
        "A second async with on the connect() object already in use opens a second "
        "connection; the inner exit closes it and forgets the first, which the outer "
        "exit then leaves open.  websockets raises RuntimeError (\"connect() isn't "
        'reentrant").',
        "websockets: one connect() object holds one connection at a time, so no "
        "connection is left unclosed.",
    ),
    "negotiation-class": PicowsTrait(
        "A subprotocol or extension that the client did not offer is refused with "
        "InvalidHandshake; websockets raises its subclass NegotiationError.",
        "websockets.",
    ),
    "unasked-subprotocol": PicowsTrait(
        "A subprotocol chosen by the server when the client offered none is accepted "
        "(ws.subprotocol is the server's choice); websockets refuses it with "
        "NegotiationError.",
        "websockets: RFC 6455 §4.1 says the client must fail the connection when the "
        "server picks a subprotocol the client did not offer.",
    ),
    "accept-class": PicowsTrait(
        "A wrong Sec-WebSocket-Accept is InvalidHeader; websockets raises its "
        "subclass InvalidHeaderValue.",
        "websockets.",
    ),
    "subprotocols-str": PicowsTrait(
        "subprotocols='chat' (a str, not a list) is taken letter by letter: the "
        "request offers 'c, h, a, t'; websockets raises TypeError.",
        "websockets: the mistake is caught where it is made.",
    ),
    "uri-class": PicowsTrait(
        "An http:// URI, or one without a scheme, raises picows' own WSInvalidURL "
        "(not a websockets exception) once the connection is awaited; websockets "
        "raises InvalidURI where connect() is called.",
        "websockets.",
    ),
    "ssl-ws": PicowsTrait(
        "ssl= with a ws:// URI is ignored: the connection is made in clear text; "
        "websockets raises ValueError.",
        "websockets: a program that passes a TLS context expects TLS.",
    ),
    "proxy-class": PicowsTrait(
        "A proxy URL with an unsupported scheme raises ValueError, one without a host"
        " InvalidURI; websockets raises InvalidProxy for both.",
        "Neither: websockets' InvalidProxy, but where connect() is called (\"Arguments"
        ' are checked at the call" in docs/from_websockets.rst).',
    ),
    "compression-check": PicowsTrait(
        "compression='gzip' raises NotImplementedError once the connection is "
        "awaited; websockets raises ValueError where connect() is called.",
        "websockets.",
    ),
    "sock-host": PicowsTrait(
        "sock= with host= raises TypeError; websockets raises ValueError.",
        "Neither: websockets' ValueError, but where connect() is called (\"Arguments "
        'are checked at the call").',
    ),
    "redirect-limit": PicowsTrait(
        "picows follows 5 redirects (picows.ws_connect's max_redirects, which "
        "connect() does not expose), then raises InvalidStatus with the last 3xx; "
        "websockets follows 10, then raises SecurityError.",
        "websockets.",
    ),
    "redirect-downgrade": PicowsTrait(
        "A redirect from wss:// to ws:// is refused with InvalidHandshake; websockets"
        " raises its subclass SecurityError.",
        "websockets.",
    ),
    "split-character": PicowsTrait(
        "recv_streaming() decodes each frame of a text message on its own, so a "
        "character split across two frames fails the connection with 1007 although "
        "the message is valid UTF-8; websockets yields the character with the frame "
        "that completes it.",
        "websockets: RFC 6455 §5.6 lets a text frame hold a partial UTF-8 sequence; "
        "only the whole message must be valid.",
    ),
    "concurrency-words": PicowsTrait(
        "After a recv_streaming() left in the middle of a message, reads raise "
        "ConcurrencyError with picows' words (\"recv_streaming() wasn't fully "
        'consumed").',
        "websockets' words.",
    ),
    "headers-class": PicowsTrait(
        "request.headers and response.headers are multidict's CIMultiDict: no "
        "get_all() or raw_items() (it has getall()); websockets' Headers has both.",
        "websockets.",
    ),
    "str-closed": PicowsTrait(
        "str(ConnectionClosed) is in picows' words (\"received then sent close frames:"
        ' received 1000 (bye), ...").',
        "websockets' words, which name the codes (\"received 1000 (OK) bye; then sent "
        '1000 (OK) bye").',
    ),
    "forbidden-frames": PicowsTrait(
        "close() sends any code, 1005 and 1006 (which only report an ending and are "
        "never sent), 999 and 5000 (outside the ranges) included, and reasons and "
        "ping or pong payloads longer than a control frame may carry (125 bytes); "
        "websockets raises ProtocolError, sends nothing, and the connection stays "
        "open.",
        "websockets: RFC 6455 §7.4 forbids these codes on the wire and §5.5 limits "
        "control frames to 125 bytes; a conforming server fails the connection (the "
        "websockets server answers 1002).",
    ),
    "close-timeout": PicowsTrait(
        "When close() times out waiting for the server's close frame, a later recv() "
        'raises ConnectionClosedOK ("sent 1000 ()") with no cause, and close_code is '
        '1000; websockets raises ConnectionClosedError ("sent 1000 (OK); no close '
        'frame received") caused by TimeoutError, and close_code is 1006.',
        "websockets: the closing handshake did not complete, which is an error (RFC "
        "6455 §7.1.5: 1006), not a normal close.",
    ),
    "protocol-view": PicowsTrait(
        "ws.protocol does not exist: protocol.state and protocol.extensions raise "
        "AttributeError.",
        "websockets: ws.protocol is a read-only view with state and extensions.",
    ),
    "ping-words": PicowsTrait(
        "ping(42), pong(42) and a second ping with the same payload raise websockets'"
        " classes with picows' words.",
        "websockets' words.",
    ),
}


class PicowsDifference(NamedTuple):
    """In ``scenario``, observation ``label`` is ``oracle`` for websockets and
    ``picows`` for picows.websockets, for the reasons ``traits``.  ``follows``
    is what aiows does: "websockets" (no deliberate difference there), or
    "neither" (a deliberate difference of aiows's own, in ``DIFFERENCES``)."""

    scenario: str
    label: str
    oracle: Any
    picows: Any
    traits: tuple[str, ...]
    follows: str = "websockets"


def row(
    scenario: str,
    label: str,
    oracle: Any,
    picows: Any,
    *traits: str,
    follows: str = "websockets",
) -> PicowsDifference:
    return PicowsDifference(scenario, label, oracle, picows, traits, follows)


class Matching:
    """An observed string that varies from run to run (a port number): equal
    to each string that ``pattern`` matches in full."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Matching):
            return self.pattern == other.pattern
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"Matching({self.pattern.pattern!r})"


FAILURE = "<failure reason>"
ABNORMAL = (1006, "")
ERROR, OK = "ConnectionClosedError", "ConnectionClosedOK"
NO_ATTRIBUTE = raised(builtin_error("AttributeError"))
PROTOCOL_ERROR = raised(ws_error("ProtocolError"))
UNICODE_ERROR = builtin_error("UnicodeDecodeError", "UnicodeError", "ValueError")


def protocol_error(name: str, code: int, reads: bool) -> list[PicowsDifference]:
    """``protocol error: <name>`` fails the connection with ``code`` in both;
    picows reads the server's answer when ``reads``."""
    frame = (code, FAILURE)
    theirs = closed(ERROR, None, frame, None, CAUSE)
    ours = closed(ERROR, frame if reads else None, frame, False, CAUSE)
    traits = ("reads-after-failure", "order-flag") if reads else ("order-flag",)
    after = "reads-after-failure" if reads else "code-after-failure"
    scenario = f"protocol error: {name}"
    return [
        row(scenario, "recv() again", theirs, ours, *traits),
        row(scenario, "after close", ABNORMAL, frame, after),
        row(scenario, "send()", theirs, ours, *traits),
    ]


def may_not_send(name: str, returns: Any, saw: list[Any]) -> list[PicowsDifference]:
    """``may not send: <name>``: websockets refuses, picows sends it."""
    scenario = f"may not send: {name}"
    rows = [row(scenario, name, PROTOCOL_ERROR, returns, "forbidden-frames")]
    if name.startswith("close"):
        rows.append(row(scenario, "state", "OPEN", "CLOSED", "forbidden-frames"))
    bye = [("close", (1000, ""))]
    rows.append(row(scenario, "server saw", bye, saw, "forbidden-frames"))
    return rows


def reason_none(scenario: str, label: str, ok: bool = False) -> PicowsDifference:
    """A normal close whose reason picows reads as None."""
    if not ok:
        return row(scenario, label, (1000, ""), (1000, None), "reason-none")
    theirs = closed(OK, (1000, ""), (1000, ""), False)
    ours = closed(OK, (1000, None), (1000, ""), False)
    return row(scenario, label, theirs, ours, "reason-none")


#: The ConnectionClosedError after picows sent a close frame with 1005 and
#: the server answered 1002.
AFTER_1005 = closed(ERROR, (1002, "invalid status code"), (1005, ""), False)
AFTER_1005_STR = (
    "sent then received close frames: received 1002 (invalid status code), sent 1005 ()"
)
#: recv() of a binary message that is not UTF-8, with decode=True.
NOT_UTF8 = (1007, "unexpected end of data at position 3")
#: The frame a send() of mixed fragments fails the connection with.
MIXED = "error in fragmented message"
#: A bad argument: where it was refused, and how.
AT_CALL, AWAITED = "at the call", "when awaited"

#: websockets' exception names that aiows has too (``SHARED_NAMES`` in
#: ``test_differential.py``), and those that picows.websockets lacks.
SHARED_NAMES = {
    name for name in websockets.exceptions.__all__ if hasattr(aiows, name)
} - {"WebSocketException"}
MISSING_NAMES = {
    "StatusLineTooLong": ws_error(
        "StatusLineTooLong", "SecurityError", "InvalidHandshake"
    ),
    "RequestLineTooLong": ws_error(
        "RequestLineTooLong", "SecurityError", "InvalidHandshake"
    ),
    "HeaderLineTooLong": ws_error(
        "HeaderLineTooLong", "SecurityError", "InvalidHandshake"
    ),
    "TooManyHeaders": ws_error("TooManyHeaders", "SecurityError", "InvalidHandshake"),
    "InvalidMethod": ws_error("InvalidMethod", "InvalidHandshake"),
    "InvalidProtocol": ws_error("InvalidProtocol", "InvalidHandshake"),
    "TooManyFragments": ws_error("TooManyFragments"),
}

#: Where picows.websockets and websockets differ.
PICOWS_DIFFERENCES: list[PicowsDifference] = [
    # -- the exception classes
    *(
        row("exception hierarchy", name, kind, ABSENT, "missing-names")
        for name, kind in MISSING_NAMES.items()
    ),
    row(
        "exception hierarchy",
        "aiohttp bases",
        {name: () for name in SHARED_NAMES},
        {name: () for name in SHARED_NAMES - set(MISSING_NAMES)},
        "missing-names",
        follows="neither",
    ),
    # -- the connection's surface
    row(
        "surface",
        "User-Agent",
        f"{_PYTHON} websockets/{WEBSOCKETS_VERSION}",
        f"{_PYTHON} picows-websockets/{PICOWS_VERSION}",
        "names",
        follows="neither",
    ),
    row("surface", "id", "UUID", NO_ATTRIBUTE, "attributes"),
    row("surface", "logger", True, NO_ATTRIBUTE, "attributes"),
    row("surface", "logger extra", True, NO_ATTRIBUTE, "attributes"),
    row(
        "surface",
        "logger name",
        "websockets.client",
        NO_ATTRIBUTE,
        "attributes",
        follows="neither",
    ),
    row("Headers methods", "get_all", ["chat"], NO_ATTRIBUTE, "headers-class"),
    row("Headers methods", "raw_items", ["Host"], NO_ATTRIBUTE, "headers-class"),
    *(
        row(f"state and protocol, {compression}", label, value, NO_ATTRIBUTE, trait)
        for compression, extensions in (
            ("deflate", ["permessage-deflate"]),
            ("None", []),
        )
        for label, value, trait in (
            ("protocol.state is State.OPEN", True, "protocol-view"),
            ("extensions", extensions, "protocol-view"),
            ("protocol.state is State.CLOSED", True, "protocol-view"),
        )
    ),
    # -- a normal close without a reason
    reason_none("surface", "after close close"),
    reason_none("send racing a normal close", "send()", ok=True),
    reason_none("send racing a normal close", "closed close"),
    reason_none("cancelling recv_streaming", "after close"),
    reason_none("messages before the server's close", "drained", ok=True),
    reason_none("messages before the server's close", "after close"),
    reason_none("a message between the close frames", "recv() again", ok=True),
    reason_none("a message between the close frames", "after close"),
    # -- sending, receiving, closing
    row(
        "send racing a normal close",
        "closing close",
        (None, None),
        (1000, ""),
        "send-racing",
    ),
    row(
        "send racing a normal close",
        "close() done when the send raised",
        True,
        False,
        "send-racing",
    ),
    row(
        "mixed fragments",
        "recv()",
        closed(ERROR, None, (1011, MIXED), None),
        closed(ERROR, None, (1002, MIXED), False),
        "mixed-1002",
        "order-flag",
    ),
    row(
        "mixed fragments",
        "server close rcvd",
        (1011, MIXED),
        (1002, MIXED),
        "mixed-1002",
    ),
    row(
        "mixed fragments",
        "after close",
        ABNORMAL,
        (1002, MIXED),
        "code-after-failure",
        "mixed-1002",
    ),
    row(
        "close during a fragmented send",
        "closed close",
        ABNORMAL,
        (1011, "close during fragmented message"),
        "code-after-failure",
    ),
    row(
        "close during a fragmented send",
        "the send",
        closed(ERROR, None, (1011, "close during fragmented message"), None),
        closed(ERROR, None, (1011, "close during fragmented message"), False),
        "order-flag",
    ),
    *(
        row(
            scenario,
            "after the loop close",
            ABNORMAL,
            (None, None),
            "code-after-failure",
        )
        for scenario in ("async for, TCP drops", "async for, TCP drops, exactly")
    ),
    row(
        "async for, TCP drops, exactly",
        "async for",
        closed(ERROR, None, None, None, builtin_error("EOFError")),
        closed(ERROR, None, None, None),
        "no-cause",
    ),
    *(
        row(f"cause: {name}", f"{call} cause is {cause}", True, False, "no-cause")
        for name, cause in (
            ("too big", "PayloadTooBig"),
            ("reserved opcode", "ProtocolError"),
        )
        for call in ("recv()", "send()")
    ),
    *(
        row("exception leaves async with", label, (1011, ""), (1000, ""), "exit-1000")
        for label in ("server close rcvd", "server close sent")
    ),
    *(
        row(
            "decode=True, not UTF-8",
            label,
            closed(ERROR, None, NOT_UTF8, None, UNICODE_ERROR),
            closed(ERROR, None, NOT_UTF8, False, UNICODE_ERROR),
            "order-flag",
        )
        for label in ("recv(decode=True)", "recv() again")
    ),
    row(
        "decode=True, not UTF-8",
        "after close",
        ABNORMAL,
        NOT_UTF8,
        "code-after-failure",
    ),
    row("two recv at once", "first recv() returns", True, False, "recv-broken"),
    row(
        "two recv at once",
        "first recv()",
        ("returned", "for the first"),
        ABSENT,
        "recv-broken",
    ),
    row(
        "streaming piece by piece",
        "split character",
        ["", "😀"],
        closed(
            ERROR,
            None,
            (1007, "unexpected end of data at position 0"),
            False,
            UNICODE_ERROR,
        ),
        "split-character",
    ),
    *(
        row(
            "cancelling recv_streaming",
            f"{call} str",
            f"cannot call {call[:-2]} while another coroutine is already running "
            "recv or recv_streaming",
            "recv_streaming() wasn't fully consumed",
            "concurrency-words",
        )
        for call in ("recv()", "recv_streaming()")
    ),
    *(
        row("str(ConnectionClosed)", label, theirs, ours, "str-closed")
        for label, theirs, ours in (
            (
                "close 1000 bye",
                "received 1000 (OK) bye; then sent 1000 (OK) bye",
                "received then sent close frames: received 1000 (bye), sent 1000 (bye)",
            ),
            (
                "close 4000 custom",
                "received 4000 (private use) custom; then sent 4000 (private use) "
                "custom",
                "received then sent close frames: received 4000 (custom), "
                "sent 4000 (custom)",
            ),
            (
                "close 1011 oops",
                "received 1011 (internal error) oops; then sent 1011 (internal "
                "error) oops",
                "received then sent close frames: received 1011 (oops), sent 1011 "
                "(oops)",
            ),
            (
                "client close",
                "sent 1001 (going away) client leaves; then received 1001 (going "
                "away) client leaves",
                "sent then received close frames: received 1001 (client leaves), "
                "sent 1001 (client leaves)",
            ),
        )
    ),
    row(
        "close times out",
        "recv()",
        closed(ERROR, None, (1000, ""), None, builtin_error("TimeoutError", "OSError")),
        closed(OK, None, (1000, ""), False),
        "close-timeout",
    ),
    row(
        "close times out",
        "recv() str",
        "sent 1000 (OK); no close frame received",
        "sent 1000 ()",
        "close-timeout",
    ),
    row(
        "close times out",
        "cause str",
        "timed out while closing connection",
        "None",
        "close-timeout",
    ),
    row("close times out", "after close", ABNORMAL, (1000, ""), "close-timeout"),
    # -- ping, pong, keepalive
    row(
        "keepalive timeout",
        "recv()",
        closed(ERROR, None, (1011, "keepalive ping timeout"), None),
        closed(
            ERROR,
            (1011, "keepalive ping timeout"),
            (1011, "keepalive ping timeout"),
            False,
        ),
        "keepalive",
        "order-flag",
    ),
    row(
        "keepalive timeout",
        "after close",
        ABNORMAL,
        (1011, "keepalive ping timeout"),
        "keepalive",
    ),
    *(
        row("ping and pong arguments", label, theirs, ours, "ping-words")
        for label, theirs, ours in (
            (
                "ping(42) str",
                "data must be str or bytes-like",
                "ping payload must be str, bytes-like, or None",
            ),
            (
                "pong(42) str",
                "data must be str or bytes-like",
                "a bytes-like object is required, not 'int'",
            ),
            (
                "second ping str",
                "already waiting for a pong with the same data",
                "another ping was sent with the same data",
            ),
        )
    ),
    # -- frames the client may not send: picows sends them
    *(
        row("frames not to send", call, PROTOCOL_ERROR, ("returned", None), trait)
        for call in (
            "close(1005)",
            "close(999)",
            "close(5000)",
            "close reason 124 bytes",
        )
        for trait in ("forbidden-frames",)
    ),
    *(
        row("frames not to send", f"{call} str", words, "None", "forbidden-frames")
        for call, words in (
            ("close(1005)", "invalid status code"),
            ("close(999)", "invalid status code"),
            ("close(5000)", "invalid status code"),
            ("close reason 124 bytes", "control frame too long"),
        )
    ),
    *(
        row("frames not to send", label, theirs, ours, "forbidden-frames")
        for call in ("ping 126 bytes", "pong 126 bytes")
        for label, theirs, ours in (
            (call, PROTOCOL_ERROR, AFTER_1005),
            (f"{call} str", "control frame too long", AFTER_1005_STR),
        )
    ),
    *(
        row("frames not to send", label, theirs, ours, "forbidden-frames")
        for label, theirs, ours in (
            ("state", "OPEN", "CLOSED"),
            ("send()", ("returned", None), AFTER_1005),
            ("echo", ("returned", "still open"), AFTER_1005),
            ("after close", (1000, "r" * 123), (1002, "invalid status code")),
            ("server got", ("str", "still open"), ABSENT),
            ("server close rcvd", (1000, "r" * 123), None),
            ("server close sent", (1000, "r" * 123), (1002, "invalid status code")),
        )
    ),
    *may_not_send("close(1005)", ("returned", None), [("close", (1005, ""))]),
    *may_not_send("close(1006)", ("returned", None), [("close", (1006, ""))]),
    *may_not_send("close(999)", ("returned", None), [("close", (999, ""))]),
    *may_not_send("close(5000)", ("returned", None), [("close", (5000, ""))]),
    *may_not_send(
        "close reason 124 bytes", ("returned", None), [("close", (1000, "r" * 124))]
    ),
    *may_not_send(
        "ping 126 bytes",
        ("returned", "Future"),
        [(0x9, b"p" * 126), ("close", (1000, ""))],
    ),
    *may_not_send(
        "pong 126 bytes",
        ("returned", None),
        [(0xA, b"p" * 126), ("close", (1000, ""))],
    ),
    # -- protocol errors from the server
    *protocol_error("invalid UTF-8", 1007, reads=False),
    *protocol_error("truncated UTF-8", 1007, reads=False),
    *protocol_error("reserved opcode", 1002, reads=False),
    *protocol_error("fragmented ping", 1002, reads=False),
    *protocol_error("long ping", 1002, reads=False),
    *protocol_error("masked frame", 1002, reads=False),
    *protocol_error("continuation first", 1002, reads=True),
    *protocol_error("text inside text", 1002, reads=True),
    *protocol_error("RSV1 without deflate", 1002, reads=True),
    *protocol_error("close code 1005", 1002, reads=True),
    *protocol_error("close code 999", 1002, reads=True),
    *protocol_error("one-byte close", 1002, reads=True),
    *protocol_error("close reason not UTF-8", 1007, reads=True),
    *protocol_error("too big", 1009, reads=True),
    *protocol_error("too big in fragments", 1009, reads=True),
    *(
        row("protocol error: RSV2", label, theirs, ours, "rsv2")
        for label, theirs, ours in (
            (
                "recv() again",
                closed(ERROR, None, (1002, FAILURE), None, CAUSE),
                ("returned", "x"),
            ),
            ("after state", "CLOSED", "OPEN"),
            ("after close", ABNORMAL, (None, None)),
            (
                "send()",
                closed(ERROR, None, (1002, FAILURE), None, CAUSE),
                ("returned", None),
            ),
            ("server saw", [("close", (1002, FAILURE))], []),
        )
    ),
    # -- the opening handshake
    row(
        "refused handshake",
        "response.body",
        bytearray(b"no entry\n"),
        b"",
        "refused-body",
    ),
    row(
        "refused by aiohttp",
        "response.body",
        bytearray(b'{"error": "go away"}'),
        b"",
        "refused-body",
    ),
    *(
        row(
            scenario, "cause", None, ("WSInvalidStatusError", (), ()), "handshake-words"
        )
        for scenario in ("refused handshake", "refused by aiohttp")
    ),
    row(
        "refused by aiohttp",
        "response",
        (401, "Who Are You"),
        (401, "Unauthorized"),
        "reason-phrase",
    ),
    *(
        row(
            f"handshake error: {name}",
            "connect",
            raised(ws_error("InvalidMessage", "InvalidHandshake")),
            raised(builtin_error("AssertionError")),
            "handshake-assert",
        )
        for name in ("not HTTP", "EOF", "EOF in the headers")
    ),
    *(
        row(f"handshake error: {name}", label, theirs, ours, "handshake-assert")
        for name, cause in (
            ("not HTTP", builtin_error("ValueError")),
            ("EOF", builtin_error("EOFError")),
            ("EOF in the headers", builtin_error("EOFError")),
        )
        for label, theirs, ours in (
            ("str", "did not receive a valid HTTP response", ""),
            ("cause", cause, None),
        )
    ),
    *(
        row(f"handshake error: {name}", label, theirs, ours, "handshake-words")
        for name, words, header in (
            ("no Upgrade", "missing Upgrade header", ("Upgrade", None)),
            ("Upgrade: h2c", "invalid Upgrade header: h2c", ("Upgrade", "h2c")),
            ("no Connection", "missing Connection header", ("Connection", None)),
        )
        for label, theirs, ours in (
            ("str", words, str(header)),
            ("cause", None, ("WSInvalidUpgradeError", (), ())),
        )
    ),
    row(
        "handshake error: subprotocol not offered",
        "str",
        "unsupported subprotocol: other",
        "unsupported subprotocol negotiated by server: other",
        "handshake-words",
    ),
    row(
        "handshake error: extension not offered",
        "str",
        "Unsupported extension: name = x-unknown, params = []",
        "unsupported websocket extension negotiation",
        "handshake-words",
    ),
    *(
        row(
            f"handshake error: {name}",
            "connect",
            raised(ws_error("NegotiationError", "InvalidHandshake")),
            raised(ws_error("InvalidHandshake")),
            "negotiation-class",
        )
        for name in ("subprotocol not offered", "extension not offered")
    ),
    *(
        row(
            "handshake error: subprotocol when none offered",
            label,
            theirs,
            ours,
            trait,
            follows=follows,
        )
        for label, theirs, ours, trait, follows in (
            (
                "connect",
                raised(ws_error("NegotiationError", "InvalidHandshake")),
                ("returned", "ClientConnection"),
                "unasked-subprotocol",
                "websockets",
            ),
            (
                "str",
                "no subprotocols supported",
                ABSENT,
                "unasked-subprotocol",
                "websockets",
            ),
            ("cause", None, ABSENT, "unasked-subprotocol", "websockets"),
            # aiows's error carries the response: a difference of its own.
            ("has response", False, ABSENT, "unasked-subprotocol", "neither"),
            (
                "no error",
                ABSENT,
                "ClientConnection",
                "unasked-subprotocol",
                "websockets",
            ),
        )
    ),
    row(
        "wrong accept",
        "connect",
        raised(ws_error("InvalidHeaderValue", "InvalidHeader", "InvalidHandshake")),
        raised(ws_error("InvalidHeader", "InvalidHandshake")),
        "accept-class",
    ),
    *(
        row("too many redirects", label, theirs, ours, "redirect-limit")
        for label, theirs, ours in (
            (
                "connect",
                raised(ws_error("SecurityError", "InvalidHandshake")),
                raised(ws_error("InvalidStatus", "InvalidHandshake")),
            ),
            ("has response", False, True),
            ("requests", 10, 6),
            ("response", ABSENT, (302, "Found")),
            (
                "response.headers",
                ABSENT,
                [
                    ("connection", "close"),
                    ("content-length", "0"),
                    ("content-type", "text/plain; charset=utf-8"),
                    ("date", "<varies>"),
                    ("location", "/loop?run=<run>"),
                    ("server", f"{_PYTHON} websockets/{WEBSOCKETS_VERSION}"),
                ],
            ),
            ("response.body", ABSENT, b""),
        )
    ),
    row(
        "wss to ws redirect",
        "connect",
        raised(ws_error("SecurityError", "InvalidHandshake")),
        raised(ws_error("InvalidHandshake")),
        "redirect-downgrade",
    ),
    row(
        "wss to ws redirect",
        "str",
        Matching(r"cannot follow redirect to non-secure URI ws://127\.0\.0\.1:\d+/\S+"),
        Matching(r"cannot follow redirect to non-secure URL ws://127\.0\.0\.1:\d+/\S+"),
        "handshake-words",
    ),
    row(
        "wss to ws redirect",
        "cause",
        ws_error("InvalidStatus", "InvalidHandshake"),
        ("WSHandshakeError", (), ()),
        "handshake-words",
    ),
    row(
        "connect() is not reentrant",
        "second async with",
        "connect() isn't reentrant",
        "entered",
        "reentrant",
    ),
    # -- bad arguments
    *(
        row("bad arguments", label, theirs, ours, trait, follows=follows)
        for label, theirs, ours, trait, follows in (
            (
                "subprotocols='chat'",
                (AT_CALL, builtin_error("TypeError")),
                ("connected", "OPEN"),
                "subprotocols-str",
                "websockets",
            ),
            (
                "http:// URI",
                (AT_CALL, ws_error("InvalidURI")),
                (AWAITED, ("WSInvalidURL", (), ())),
                "uri-class",
                "websockets",
            ),
            (
                "no scheme",
                (AT_CALL, ws_error("InvalidURI")),
                (AWAITED, ("WSInvalidURL", (), ())),
                "uri-class",
                "websockets",
            ),
            (
                "ssl= with ws://",
                (AT_CALL, builtin_error("ValueError")),
                ("connected", "OPEN"),
                "ssl-ws",
                "websockets",
            ),
            (
                "ftp:// proxy",
                (AWAITED, ws_error("InvalidProxy")),
                (AWAITED, builtin_error("ValueError")),
                "proxy-class",
                "neither",
            ),
            (
                "proxy without host",
                (AWAITED, ws_error("InvalidProxy")),
                (AWAITED, ws_error("InvalidURI")),
                "proxy-class",
                "neither",
            ),
            (
                "compression='gzip'",
                (AT_CALL, builtin_error("ValueError")),
                (AWAITED, builtin_error("NotImplementedError", "RuntimeError")),
                "compression-check",
                "websockets",
            ),
            (
                "sock with host",
                (AWAITED, builtin_error("ValueError")),
                (AWAITED, builtin_error("TypeError")),
                "sock-host",
                "neither",
            ),
        )
    ),
]


# -- what picows.websockets cannot do -----------------------------------------------


class PicowsGap(NamedTuple):
    """A feature of websockets' client, and of aiows's, that picows.websockets
    lacks: ``attempt(url)`` tries it against a websockets server at ``url``
    and raises ``raises`` (by class name)."""

    feature: str
    attempt: Callable[[str], Awaitable[Any]]
    raises: str


async def _with_extension(url: str) -> Any:
    return await picows_connect(url, extensions=[ClientPerMessageDeflateFactory()])


async def _with_create_connection(url: str) -> Any:
    custom = type("Custom", (PicowsConnection,), {})
    return await picows_connect(url, create_connection=custom)


async def _unix_connect(url: str) -> Any:
    return getattr(picows.websockets, "unix_connect")  # noqa: B009


async def _sync_client(url: str) -> Any:
    return import_module("picows.websockets.sync.client")


async def _proxy_ssl(url: str) -> Any:
    context = ssl.create_default_context()
    # Port 1 is never reached: the keyword is refused first.
    return await picows_connect(url, proxy="https://127.0.0.1:1", proxy_ssl=context)


async def _legacy_keyword(url: str) -> Any:
    return await picows_connect(url, extra_headers={"X-Token": "abc"})


#: What picows.websockets lacks, by name (a scenario that needs one passes
#: the name as ``without_picows``).
PICOWS_CANNOT: dict[str, PicowsGap] = {
    "extensions": PicowsGap(
        "extensions= (websockets' extension factories, permessage-deflate's "
        "own included): NotImplementedError once awaited",
        _with_extension,
        "NotImplementedError",
    ),
    "create_connection": PicowsGap(
        "create_connection= (a subclass of the connection class): "
        "NotImplementedError at the call",
        _with_create_connection,
        "NotImplementedError",
    ),
    "unix sockets": PicowsGap(
        "unix_connect() does not exist, and connect(sock=...) with a Unix "
        "socket never opens (picows sets TCP_NODELAY on every socket, which "
        "fails in connection_made)",
        _unix_connect,
        "AttributeError",
    ),
    "sync API": PicowsGap(
        "no threading client (websockets.sync.client): picows.websockets "
        "has the asyncio API only",
        _sync_client,
        "ModuleNotFoundError",
    ),
    "proxy TLS options": PicowsGap(
        "proxy_ssl= and proxy_server_hostname= for an https:// proxy reach "
        "loop.create_connection(), which refuses them (TypeError)",
        _proxy_ssl,
        "TypeError",
    ),
    "legacy API": PicowsGap(
        "no legacy client: its keywords (extra_headers=, timeout=, "
        "read_limit=, klass=, create_protocol=, loop=) are TypeErrors, and "
        "its attributes (path, writable close_timeout, ping_interval, "
        "ping_timeout) are missing",
        _legacy_keyword,
        "TypeError",
    ),
}


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


@pytest.mark.parametrize("name", list(PICOWS_CANNOT))
async def test_what_picows_cannot_do(echo_url: str, name: str) -> None:
    """Each gap is real: the attempt fails as described.  When picows gains
    the feature this fails, and the scenarios that leave picows out for it
    should run it again."""
    gap = PICOWS_CANNOT[name]
    with pytest.raises(Exception) as caught:
        await gap.attempt(echo_url)
    assert type(caught.value).__name__ == gap.raises, caught.value


def test_every_trait_explains_a_difference() -> None:
    used = {trait for d in PICOWS_DIFFERENCES for trait in d.traits}
    assert used == set(PICOWS_TRAITS)
    for d in PICOWS_DIFFERENCES:
        assert d.traits, d
        assert d.oracle != d.picows, d
        assert d.follows in ("websockets", "neither"), d
    keys = [(d.scenario, d.label, repr(d.oracle)) for d in PICOWS_DIFFERENCES]
    assert len(keys) == len(set(keys))
