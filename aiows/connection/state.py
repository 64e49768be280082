"""The connection's states and the transitions allowed between them.

A connection is created OPEN, once the opening handshake is done.  It goes
CLOSING when a close frame is sent or received, or when it fails, and CLOSED
when the transport is gone.  It can also drop from OPEN straight to CLOSED
when the network is lost.  Any other transition is a bug in aiows and raises
at once, naming both states.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class State(Enum):
    """Where a connection is in its life."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.OPEN: frozenset({State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


def check_transition(current: State, new: State) -> None:
    """Raise ``RuntimeError`` unless ``current -> new`` is in the table."""
    if new not in TRANSITIONS[current]:
        raise RuntimeError(
            f"illegal connection state transition {current.name} -> {new.name}"
        )
