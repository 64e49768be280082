"""Moved to ``tests/helpers.py``; kept until tests/connection is migrated."""

from tests.helpers import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    StartServer,
    bounded,
    close_payload,
    hold,
    receive_in_task,
)

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "StartServer",
    "bounded",
    "close_payload",
    "hold",
    "receive_in_task",
]
