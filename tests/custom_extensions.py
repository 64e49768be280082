"""Two small extensions written against websockets' extension API, each with
its client and its server factory, as a third party would write them.

* ``x-noop`` changes nothing: it proves the chain is entered and left.
* ``x-xor`` XORs the payload of every data frame with a key the server
  picks, and marks each frame it changed with RSV2.  It is reversible, so
  the server's half undoes what the client's did and the other way round,
  and it composes with permessage-deflate in either order.

Both compare ``frame.opcode`` with websockets' ``Opcode`` members by identity
(``is``), build their frames with websockets' ``Frame``, and raise
websockets' exceptions: an extension that works with websockets' client
must work unchanged with aiows's.

The ``*FailingXor`` variants at the end fail on purpose, to test what a
client does with an extension that raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from websockets.exceptions import NegotiationError, ProtocolError
from websockets.extensions.base import (
    ClientExtensionFactory,
    Extension,
    ServerExtensionFactory,
)
from websockets.frames import Frame, Opcode

# The members themselves (websockets 16, the oracle on Python 3.10, has no
# module-level names for them).
TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT

Params = Sequence[tuple[str, str | None]]

NOOP = "x-noop"
XOR = "x-xor"


class Noop(Extension):
    """Hands every frame on as it is; counts the frames it saw."""

    name = NOOP  # type: ignore[assignment]

    def __init__(self) -> None:
        self.encoded: list[Frame] = []
        self.decoded: list[Frame] = []

    def encode(self, frame: Frame) -> Frame:
        self.encoded.append(frame)
        return frame

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.decoded.append(frame)
        return frame


class ClientNoopFactory(ClientExtensionFactory):
    name = NOOP  # type: ignore[assignment]

    def __init__(self) -> None:
        #: The extensions this factory made, for the tests to look at.
        self.made: list[Noop] = []

    def get_request_params(self) -> Params:
        return []

    def process_response_params(
        self, params: Params, accepted_extensions: Sequence[Extension]
    ) -> Noop:
        if params:
            raise NegotiationError(f"x-noop takes no parameters: {params}")
        made = Noop()
        self.made.append(made)
        return made


class ServerNoopFactory(ServerExtensionFactory):
    name = NOOP  # type: ignore[assignment]

    def process_request_params(
        self, params: Params, accepted_extensions: Sequence[Extension]
    ) -> tuple[list[tuple[str, str | None]], Noop]:
        return [], Noop()


def _is_data(frame: Frame) -> bool:
    # By identity, as some extensions compare: only websockets' own members
    # pass.
    opcode = frame.opcode
    return opcode is TEXT or opcode is BINARY or opcode is CONT


def xor(data: Any, key: int) -> bytes:
    return bytes(byte ^ key for byte in bytes(data))


class Xor(Extension):
    """XOR each data frame's payload with ``key``; RSV2 marks a changed frame.

    ``seen`` records each frame ``decode`` was handed: (opcode, rsv1, rsv2,
    the class of the frame, of its opcode, and the ``max_size`` given).
    """

    name = XOR  # type: ignore[assignment]

    def __init__(self, key: int) -> None:
        self.key = key
        self.seen: list[tuple[Any, ...]] = []

    def encode(self, frame: Frame) -> Frame:
        if not _is_data(frame):
            return frame
        if frame.rsv2:
            raise ProtocolError("RSV2 is taken")
        return dataclasses.replace(frame, data=xor(frame.data, self.key), rsv2=True)

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.seen.append(
            (
                frame.opcode,
                frame.rsv1,
                frame.rsv2,
                type(frame),
                type(frame.opcode),
                max_size,
            )
        )
        if not _is_data(frame) or not frame.rsv2:
            return frame
        return Frame(
            frame.opcode,
            xor(frame.data, self.key),
            frame.fin,
            frame.rsv1,
            False,
            frame.rsv3,
        )


def _key(params: Params) -> int:
    key = None
    for name, value in params:
        if name != "key" or key is not None:
            raise NegotiationError(f"unexpected x-xor parameter {name}")
        if value is None or len(value) != 2:
            raise NegotiationError("x-xor key must be two hex digits")
        try:
            key = int(value, 16)
        except ValueError:
            raise NegotiationError("x-xor key must be two hex digits") from None
    if key is None:
        raise NegotiationError("x-xor needs a key")
    return key


class ClientXorFactory(ClientExtensionFactory):
    """Offers ``x-xor; key=KK``; takes the key the server answers with.

    ``check_duplicates`` refuses a second x-xor in the answer, as
    websockets' permessage-deflate refuses a second one of its own.
    """

    name = XOR  # type: ignore[assignment]

    def __init__(self, key: int = 0x5A, *, check_duplicates: bool = True) -> None:
        self.key = key
        self.check_duplicates = check_duplicates
        self.made: list[Xor] = []

    def get_request_params(self) -> Params:
        return [("key", f"{self.key:02x}")]

    def process_response_params(
        self, params: Params, accepted_extensions: Sequence[Extension]
    ) -> Xor:
        if self.check_duplicates and any(
            other.name == XOR for other in accepted_extensions
        ):
            raise NegotiationError("received duplicate x-xor")
        made = Xor(_key(params))
        self.made.append(made)
        return made


class ServerXorFactory(ServerExtensionFactory):
    """Accepts x-xor, answering with its own key (or the client's)."""

    name = XOR  # type: ignore[assignment]

    def __init__(self, key: int | None = 0x3C) -> None:
        self.key = key
        self.made: list[Xor] = []

    def process_request_params(
        self, params: Params, accepted_extensions: Sequence[Extension]
    ) -> tuple[list[tuple[str, str | None]], Xor]:
        key = _key(params) if self.key is None else self.key
        made = Xor(key)
        self.made.append(made)
        return [("key", f"{key:02x}")], made


# -- x-xor variants that fail, for the tests of what a failing extension does --


class FailingXor(Xor):
    """Fails to decode a text frame, with ``exc``."""

    def __init__(self, key: int, exc: Exception) -> None:
        super().__init__(key)
        self.exc = exc

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        if frame.opcode is Opcode.TEXT:
            raise self.exc
        return super().decode(frame, max_size=max_size)


class FailingXorFactory(ClientXorFactory):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def process_response_params(self, params: Any, accepted: Any) -> Xor:
        return FailingXor(0x3C, self.exc)


class EncodeFailingXor(Xor):
    """Fails to encode any frame carrying ``word``."""

    def __init__(self, key: int, word: bytes) -> None:
        super().__init__(key)
        self.word = word

    def encode(self, frame: Any) -> Any:
        if bytes(frame.data) == self.word:
            raise ValueError(f"cannot encode {self.word!r}")
        if bytes(frame.data) == b"refused":
            raise ProtocolError("refused by x-xor")
        return super().encode(frame)


class EncodeFailingXorFactory(ClientXorFactory):
    def __init__(self, word: bytes) -> None:
        super().__init__()
        self.word = word

    def process_response_params(self, params: Any, accepted: Any) -> Xor:
        return EncodeFailingXor(0x3C, self.word)


class OpcodeFailingXor(Xor):
    """Fails to encode any frame of opcode ``failing``."""

    def __init__(self, key: int, failing: Any) -> None:
        super().__init__(key)
        self.failing = failing

    def encode(self, frame: Any) -> Any:
        if frame.opcode is self.failing:
            raise ValueError(f"cannot encode {frame.opcode.name}")
        return super().encode(frame)


class OpcodeFailingXorFactory(ClientXorFactory):
    def __init__(self, failing: Any) -> None:
        super().__init__()
        self.failing = failing

    def process_response_params(self, params: Any, accepted: Any) -> Xor:
        return OpcodeFailingXor(0x3C, self.failing)
