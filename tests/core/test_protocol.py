"""ClientProtocol: the connection's state machine, driven with byte strings."""

from __future__ import annotations

import itertools
import zlib

import pytest

from aiows.core.deflate import DeflateParams, PerMessageDeflate
from aiows.core.errors import InvalidState, InvalidUTF8, ProtocolError, TooManyPings
from aiows.core.frames import Close
from aiows.core.messages import WSMessage, WSMsgType
from aiows.core.parser import FrameParser
from aiows.core.protocol import (
    MAX_PINGS_IN_FLIGHT,
    TRANSITIONS,
    ClientProtocol,
    Policy,
    State,
    Transition,
)
from aiows.core.writer import FrameWriter
from tests.conftest import server_frame

from .helpers import ClientFrame, decode_client_frames

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def protocol(**kwargs: object) -> ClientProtocol:
    return ClientProtocol(FrameParser(), FrameWriter(), **kwargs)  # type: ignore[arg-type]


def close_frame(code: int | None, reason: bytes = b"") -> bytes:
    payload = b"" if code is None else code.to_bytes(2, "big") + reason
    return server_frame(CLOSE, payload)


def sent(frames: list[bytes] | bytes) -> list[ClientFrame]:
    """The client frames in ``frames``, decoded and unmasked."""
    data = frames if isinstance(frames, bytes) else b"".join(frames)
    return decode_client_frames(data)


def close_of(frame: ClientFrame) -> tuple[int | None, bytes]:
    assert frame.opcode == CLOSE and frame.masked
    if not frame.payload:
        return None, b""
    return int.from_bytes(frame.payload[:2], "big"), frame.payload[2:]


# -- the state table ------------------------------------------------------


def test_table_reads_as_documented() -> None:
    assert TRANSITIONS == {
        (State.OPEN, Transition.RECEIVE_CLOSE): State.CLOSE_RECEIVED,
        (State.OPEN, Transition.SEND_CLOSE): State.CLOSE_SENT,
        (State.OPEN, Transition.FAIL): State.CLOSE_DONE,
        (State.OPEN, Transition.SEND_DATA): State.OPEN,
        (State.OPEN, Transition.CONNECTION_LOST): State.CLOSED,
        (State.CLOSE_RECEIVED, Transition.SEND_CLOSE): State.CLOSE_DONE,
        (State.CLOSE_RECEIVED, Transition.FAIL): State.CLOSE_DONE,
        (State.CLOSE_RECEIVED, Transition.SEND_DATA): State.CLOSE_RECEIVED,
        (State.CLOSE_RECEIVED, Transition.CONNECTION_LOST): State.CLOSED,
        (State.CLOSE_SENT, Transition.RECEIVE_CLOSE): State.CLOSE_DONE,
        (State.CLOSE_SENT, Transition.FAIL): State.CLOSE_DONE,
        (State.CLOSE_SENT, Transition.CONNECTION_LOST): State.CLOSED,
        (State.CLOSE_DONE, Transition.CONNECTION_LOST): State.CLOSED,
    }


@pytest.mark.parametrize(
    ("state", "event"),
    [pair for pair in itertools.product(State, Transition) if pair not in TRANSITIONS],
)
def test_every_illegal_event_raises_naming_state_and_event(
    state: State, event: Transition
) -> None:
    p = protocol()
    p.state = state
    with pytest.raises(InvalidState) as info:
        p.check(event)
    assert info.value.state == state.name
    assert info.value.event == event.value
    assert str(info.value) == f"cannot {event.value} in state {state.name}"
    assert p.state is state


def test_can_send_follows_the_table() -> None:
    p = protocol()
    allowed = {s for s in State if (s, Transition.SEND_DATA) in TRANSITIONS}
    assert allowed == {State.OPEN, State.CLOSE_RECEIVED}
    for state in State:
        p.state = state
        assert p.can_send is (state in allowed)


# -- receiving -------------------------------------------------------------


def test_data_messages_come_out_in_order() -> None:
    p = protocol()
    events = p.receive_data(server_frame(TEXT, b"hi") + server_frame(BINARY, b"\x00"))
    assert events == [
        WSMessage(WSMsgType.TEXT, "hi", None),
        WSMessage(WSMsgType.BINARY, b"\x00", None),
    ]
    assert p.take_outgoing() == []
    assert p.state is State.OPEN


def test_ping_is_answered_with_the_same_payload_and_not_shown() -> None:
    p = protocol()
    events = p.receive_data(server_frame(PING, b"abc") + server_frame(TEXT, b"x"))
    assert events == [WSMessage(WSMsgType.TEXT, "x", None)]
    [pong] = sent(p.take_outgoing())
    assert (pong.opcode, pong.payload, pong.masked, pong.fin) == (
        PONG,
        b"abc",
        True,
        True,
    )
    assert p.take_outgoing() == []


def test_report_control_shows_pings_and_pongs() -> None:
    p = protocol(report_control=True, auto_pong=False)
    events = p.receive_data(server_frame(PING, b"a") + server_frame(PONG, b"b"))
    assert events == [
        WSMessage(WSMsgType.PING, b"a", None),
        WSMessage(WSMsgType.PONG, b"b", None),
    ]
    assert p.outgoing == []  # auto_pong=False: the application answers


def test_no_pong_once_the_client_sent_its_close() -> None:
    p = protocol()
    p.send_close()
    assert p.receive_data(server_frame(PING, b"late")) == []
    assert p.outgoing == []


def test_pong_acknowledges_its_ping_and_every_earlier_one() -> None:
    p = protocol()
    frames = [
        p.send_ping(payload, token)
        for payload, token in [(b"a", 1), (b"b", 2), (b"c", 3)]
    ]
    assert [f.payload for f in sent(frames)] == [b"a", b"b", b"c"]
    assert p.ping_in_flight(b"b") and not p.ping_in_flight(b"z")
    assert p.pings_in_flight() == [1, 2, 3]
    p.receive_data(server_frame(PONG, b"b"))
    assert p.take_acknowledged() == [1, 2]
    assert p.take_acknowledged() == []
    assert p.pings_in_flight() == [3]
    # An unsolicited pong (a one-way heartbeat) acknowledges nothing.
    p.receive_data(server_frame(PONG, b"zzz"))
    assert p.acknowledged == [] and p.pings_in_flight() == [3]


def test_a_pong_answers_the_newest_ping_with_its_payload() -> None:
    # A peer may answer only the latest of several pings (RFC 6455 §5.5.3).
    p = protocol()
    p.send_ping(b"", "first")
    p.send_ping(b"", "second")
    p.send_ping(b"x", "third")
    p.receive_data(server_frame(PONG, b""))
    assert p.take_acknowledged() == ["first", "second"]
    p.receive_data(server_frame(PONG, b""))
    assert p.take_acknowledged() == []
    assert p.pings_in_flight() == ["third"]


def test_reply_echoes_the_reason_when_asked() -> None:
    p = protocol(echo_reason=True)
    p.receive_data(close_frame(4100, b"done"))
    assert close_of(sent(p.take_outgoing())[0]) == (4100, b"done")
    q = protocol(echo_reason=True)
    q.receive_data(close_frame(None))
    assert close_of(sent(q.take_outgoing())[0]) == (None, b"")


def test_pings_in_flight_are_bounded() -> None:
    p = protocol()
    for i in range(MAX_PINGS_IN_FLIGHT):
        p.send_ping(i.to_bytes(4, "big"), i)
    with pytest.raises(TooManyPings, match=f"{MAX_PINGS_IN_FLIGHT} pings"):
        p.send_ping(b"one more", None)
    assert len(p.pings_in_flight()) == MAX_PINGS_IN_FLIGHT


# -- the server closes -------------------------------------------------------


def test_close_answered_at_once_echoes_the_code() -> None:
    p = protocol()
    events = p.receive_data(server_frame(TEXT, b"last") + close_frame(1001, b"bye"))
    assert events == [
        WSMessage(WSMsgType.TEXT, "last", None),
        WSMessage(WSMsgType.CLOSE, 1001, "bye"),
    ]
    [reply] = sent(p.take_outgoing())
    assert close_of(reply) == (1001, b"")
    assert p.state is State.CLOSE_DONE
    assert p.close_rcvd == Close(1001, "bye")
    assert p.close_sent == Close(1001, "")
    assert p.close_rcvd_then_sent is True
    # Nothing more is parsed.
    assert p.receive_data(server_frame(TEXT, b"after")) == []


def test_close_without_code_is_answered_without_code() -> None:
    p = protocol()
    p.receive_data(close_frame(None))
    [reply] = sent(p.take_outgoing())
    assert close_of(reply) == (None, b"")
    assert p.close_rcvd == Close(1005, "")
    assert p.close_sent == Close(1005, "")


def test_close_answered_when_read() -> None:
    p = protocol(close_reply=Policy.WHEN_READ)
    p.receive_data(server_frame(TEXT, b"m") + close_frame(4000, b"done"))
    assert p.state is State.CLOSE_RECEIVED
    assert p.reply_due is True
    assert p.outgoing == []
    # The client may still answer the message before the close.
    [reply] = sent(p.send_message(TEXT, b"echo m"))
    assert (reply.opcode, reply.payload) == (TEXT, b"echo m")
    assert close_of(sent(p.answer())[0]) == (4000, b"")
    assert p.state is State.CLOSE_DONE
    assert p.reply_due is False
    assert p.answer() == b""
    with pytest.raises(InvalidState, match="cannot send a message in state CLOSE_DONE"):
        p.send_message(TEXT, b"too late")


def test_close_answered_by_the_application() -> None:
    p = protocol(close_reply=Policy.BY_APPLICATION)
    p.receive_data(close_frame(1000))
    assert p.state is State.CLOSE_RECEIVED
    assert p.reply_due is False
    assert p.answer() == b""
    assert close_of(sent(p.send_close(4001, "mine"))[0]) == (4001, b"mine")
    assert p.state is State.CLOSE_DONE
    assert p.close_sent == Close(4001, "mine")


# -- the client closes -------------------------------------------------------


def test_client_close_then_server_answer() -> None:
    p = protocol()
    assert close_of(sent(p.send_close(1000, b"bye"))[0]) == (1000, b"bye")
    assert p.state is State.CLOSE_SENT
    assert p.close_sent == Close(1000, "bye")
    with pytest.raises(InvalidState, match="CLOSE_SENT"):
        p.send_message(BINARY, b"x")
    with pytest.raises(InvalidState):
        p.send_close()
    # Messages still in flight from the server are still parsed.
    events = p.receive_data(server_frame(TEXT, b"in flight") + close_frame(1000))
    assert events == [
        WSMessage(WSMsgType.TEXT, "in flight", None),
        WSMessage(WSMsgType.CLOSE, 1000, ""),
    ]
    assert p.outgoing == []
    assert p.state is State.CLOSE_DONE
    assert p.close_rcvd_then_sent is False


def test_close_without_code_from_the_client() -> None:
    p = protocol()
    assert close_of(sent(p.send_close(None))[0]) == (None, b"")
    assert p.close_sent == Close(1005, "")


def test_invalid_close_arguments_change_nothing() -> None:
    p = protocol()
    with pytest.raises(ValueError, match="1005"):
        p.send_close(1005)
    with pytest.raises(ValueError, match="reason"):
        p.send_close(1000, "x" * 124)
    assert p.state is State.OPEN and p.close_sent is None


# -- failing -----------------------------------------------------------------


def test_protocol_error_fails_at_once_after_earlier_messages() -> None:
    p = protocol()
    masked = bytes([0x81, 0x81]) + b"\x00\x00\x00\x00x"
    events = p.receive_data(
        server_frame(TEXT, b"valid") + masked + server_frame(TEXT, b"x")
    )
    assert events[0] == WSMessage(WSMsgType.TEXT, "valid", None)
    assert events[1] == WSMessage(WSMsgType.ERROR, p.failure, None)
    assert isinstance(p.failure, ProtocolError)
    assert len(events) == 2
    code, reason = close_of(sent(p.take_outgoing())[0])
    assert code == 1002 and b"masked" in reason
    assert p.state is State.CLOSE_DONE
    assert p.receive_data(server_frame(TEXT, b"more")) == []


def test_protocol_error_fails_when_read() -> None:
    p = protocol(failure=Policy.WHEN_READ)
    bad = server_frame(TEXT, b"\xff")
    events = p.receive_data(server_frame(TEXT, b"valid") + bad)
    assert events[-1].type is WSMsgType.ERROR
    assert isinstance(events[-1].data, InvalidUTF8)
    assert p.state is State.OPEN and p.reply_due and p.outgoing == []
    # Parsing stopped at the error.
    assert p.receive_data(server_frame(TEXT, b"ignored")) == []
    # A reply to the valid message goes out before the failure.
    assert sent(p.send_message(TEXT, b"echo"))[0].payload == b"echo"
    code, _ = close_of(sent(p.answer())[0])
    assert code == 1007
    assert p.state is State.CLOSE_DONE
    assert p.close_sent is not None and p.close_sent.code == 1007


def test_close_while_a_failure_is_due_sends_the_failure() -> None:
    p = protocol(failure=Policy.WHEN_READ)
    p.receive_data(server_frame(0x3, b""))  # unknown opcode
    code, _ = close_of(sent(p.send_close(1000, "normal"))[0])
    assert code == 1002
    assert p.state is State.CLOSE_DONE


def test_protocol_error_after_the_client_closed() -> None:
    p = protocol()
    p.send_close()
    events = p.receive_data(server_frame(0x3, b""))
    assert isinstance(events[0].data, ProtocolError)
    assert p.outgoing == []
    assert p.state is State.CLOSE_DONE
    assert p.close_sent == Close(1000, "")


def test_fail_from_the_application_cuts_the_reason() -> None:
    q = protocol(close_reply=Policy.WHEN_READ)
    q.receive_data(close_frame(1000))
    code, reason = close_of(sent(q.fail(1011, "é" * 100))[0])
    assert code == 1011
    # 123 bytes fit; a two-byte character is never split.
    assert reason.decode() == "é" * 61
    assert q.state is State.CLOSE_DONE
    assert q.close_rcvd_then_sent is True
    assert q.close_sent == Close(1011, "é" * 61)


def test_fail_after_the_client_closed_sends_nothing() -> None:
    p = protocol()
    p.send_close()
    assert p.fail(1011, "late") == b""
    assert p.state is State.CLOSE_DONE
    with pytest.raises(InvalidState):
        p.fail(1011, "again")


def test_failed_is_set_by_every_failure_and_only_by_one() -> None:
    # The client fails it.
    p = protocol()
    assert not p.failed
    p.fail(1011, "gave up")
    assert p.failed
    # The server's error, answered at once and when read.
    for policy in (Policy.AT_ONCE, Policy.WHEN_READ):
        q = protocol(failure=policy)
        q.receive_data(server_frame(0x3, b""))
        assert q.failed is (policy is Policy.AT_ONCE)
        q.answer()
        assert q.failed
    # The server's error after the client's own close.
    r = protocol()
    r.send_close()
    r.receive_data(server_frame(0x3, b""))
    assert r.failed
    # A normal closing handshake is not a failure.
    n = protocol()
    n.receive_data(close_frame(1000))  # answered at once
    assert n.state is State.CLOSE_DONE and not n.failed


def test_failure_policy_cannot_wait_for_the_application() -> None:
    with pytest.raises(ValueError, match="at once or when read"):
        protocol(failure=Policy.BY_APPLICATION)


# -- sending -------------------------------------------------------------------


def test_send_fragments_and_pong() -> None:
    p = protocol()
    frames = sent(
        [
            p.send_fragment(TEXT, b"a", first=True, fin=False),
            p.send_fragment(TEXT, b"b", first=False, fin=True),
            p.send_pong(b"beat"),
        ]
    )
    assert [(f.opcode, f.fin, f.payload) for f in frames] == [
        (TEXT, False, b"a"),
        (0x0, True, b"b"),
        (PONG, True, b"beat"),
    ]
    p.send_close()
    with pytest.raises(InvalidState):
        p.send_fragment(TEXT, b"c", first=True, fin=True)
    with pytest.raises(InvalidState):
        p.send_pong(b"")
    with pytest.raises(InvalidState):
        p.send_ping(b"", None)


def test_send_message_after_the_server_closed_is_allowed() -> None:
    p = protocol(close_reply=Policy.WHEN_READ)
    p.receive_data(close_frame(1000))
    assert sent(p.send_fragment(BINARY, b"x", first=True, fin=True))[0].payload == b"x"


# -- the transport ends ---------------------------------------------------------


def test_connection_lost_from_any_live_state() -> None:
    for prepare in (
        lambda p: None,
        lambda p: p.send_close(),
        lambda p: p.receive_data(close_frame(1000)),
    ):
        p = protocol(close_reply=Policy.WHEN_READ)
        prepare(p)
        p.connection_lost()
        assert p.state is State.CLOSED
        assert p.reply_due is False
        with pytest.raises(InvalidState, match="lose the transport in state CLOSED"):
            p.connection_lost()


def test_forget_oldest_ping_makes_room() -> None:
    p = protocol()
    p.send_ping(b"a", 1)
    p.send_ping(b"b", 2)
    assert p.forget_oldest_ping() == 1
    assert p.pings_in_flight() == [2]
    assert not p.ping_in_flight(b"a")
    assert p.forget_oldest_ping() == 2
    with pytest.raises(IndexError, match="no ping is in flight"):
        p.forget_oldest_ping()


def test_a_protocol_that_never_pinged_has_no_pings_in_flight() -> None:
    p = protocol()
    assert p.pings_in_flight() == [] and not p.ping_in_flight(b"")
    with pytest.raises(IndexError, match="no ping is in flight"):
        p.forget_oldest_ping()
    # A pong before any ping is unsolicited (RFC 6455 §5.5.3): nothing is
    # acknowledged, and the book is still not made.
    p.receive_data(b"\x8a\x00")
    assert p.acknowledged == [] and p.pings_in_flight() == []


def _kept_back(after: bytes = b"") -> ClientProtocol:
    """A protocol whose last read inflated its budget and kept the rest
    (a second message, then ``after``)."""
    compressor = zlib.compressobj(wbits=-15)

    def message(data: bytes) -> bytes:
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return server_frame(BINARY, payload[:-4], rsv=0x40)

    parser = FrameParser(deflate=PerMessageDeflate(DeflateParams()), inflate_budget=100)
    p = ClientProtocol(parser, FrameWriter())
    events = p.receive_data(message(b"a" * 200) + message(b"b" * 200) + after)
    assert [e.data for e in events] == [b"a" * 200]
    return p


def test_pending_while_the_parser_kept_bytes_back() -> None:
    p = _kept_back()
    assert p.pending is True
    assert [e.data for e in p.receive_data(b"")] == [b"b" * 200]
    assert p.pending is False


def test_the_kept_back_bytes_are_read_after_the_client_closed() -> None:
    # The server's close may be among them.
    p = _kept_back()
    p.send_close()
    assert p.pending is True
    p.receive_data(b"")
    assert p.pending is False


def test_nothing_is_pending_once_the_client_failed() -> None:
    # receive_data ignores the bytes now: going on would spin.
    p = _kept_back()
    p.fail(1011, "gone")
    assert p.pending is False
    assert p.receive_data(b"") == []


def test_the_kept_back_bytes_are_read_after_the_connection_is_lost() -> None:
    """They came before the end: their messages and the server's close are
    the application's, and nothing is answered any more."""
    p = _kept_back(server_frame(PING, b"p") + close_frame(1000, b"bye"))
    p.connection_lost()
    assert p.pending is True
    events = p.receive_data(b"")
    while p.pending:  # one inflate budget at a time
        events += p.receive_data(b"")
    assert [e.type for e in events] == [WSMsgType.BINARY, WSMsgType.CLOSE]
    assert events[0].data == b"b" * 200
    assert p.close_rcvd == Close(1000, "bye") and p.close_sent is None
    assert p.outgoing == [] and p.state is State.CLOSED
    assert p.pending is False


def test_an_error_in_the_kept_back_bytes_after_the_end_sends_nothing() -> None:
    p = _kept_back(b"\xa2\x00")  # RSV2 set
    p.connection_lost()
    events = p.receive_data(b"")
    while p.pending:
        events += p.receive_data(b"")
    assert [e.type for e in events] == [WSMsgType.BINARY, WSMsgType.ERROR]
    assert isinstance(p.failure, ProtocolError)
    assert p.outgoing == [] and p.close_sent is None and p.state is State.CLOSED
    assert p.pending is False


def test_nothing_is_pending_once_the_client_failed_and_the_connection_is_gone() -> None:
    p = _kept_back()
    p.fail(1011, "gone")
    p.connection_lost()
    assert p.pending is False
    assert p.receive_data(b"") == []


def test_extensions_lists_what_was_negotiated() -> None:
    assert protocol().extensions == []
    deflate = PerMessageDeflate(DeflateParams())
    with_deflate = ClientProtocol(FrameParser(deflate=deflate), FrameWriter(deflate))
    assert with_deflate.extensions == [deflate]
    assert with_deflate.extensions[0].name == "permessage-deflate"
