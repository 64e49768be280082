"""The connection state machine (aiows/connection/state.py)."""

from __future__ import annotations

import itertools

import pytest

from aiows.connection.state import TRANSITIONS, State, check_transition

ALLOWED = {
    (State.OPEN, State.CLOSING),
    (State.OPEN, State.CLOSED),
    (State.CLOSING, State.CLOSED),
}


def test_transition_table() -> None:
    assert set(TRANSITIONS) == set(State)
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert TRANSITIONS[State.CLOSED] == frozenset()


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED, key=str))
def test_allowed_transitions_pass(current: State, new: State) -> None:
    assert check_transition(current, new) is None


@pytest.mark.parametrize(
    ("current", "new"),
    [p for p in itertools.product(State, State) if p not in ALLOWED],
    ids=lambda s: s.name,
)
def test_illegal_transition_names_both_states(current: State, new: State) -> None:
    with pytest.raises(RuntimeError) as info:
        check_transition(current, new)
    assert f"{current.name} -> {new.name}" in str(info.value)


def test_state_values() -> None:
    assert [s.value for s in State] == ["open", "closing", "closed"]
