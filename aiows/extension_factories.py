"""``extensions=``: websockets-style extension factories, made ready for the core.

The core (:mod:`aiows.core.extensions`) negotiates and runs any factory
with websockets' API; what it cannot know without importing websockets is
decided here, for both drivers (the asyncio session layer and the threading
face, :mod:`aiows.sync`), which is why this module sits beside
:mod:`aiows.exceptions` and imports only the core, the public exceptions
and, inside a function, websockets:

* :func:`client_factory` checks a factory at the call and turns websockets'
  own ``ClientPerMessageDeflateFactory`` into aiows's
  :class:`~aiows.core.deflate.DeflateFactory` with the same settings, so
  compression keeps aiows's fast path;
* :func:`frame_types` picks the frame class and opcode enum the chain
  builds frames from: websockets' own when it is installed;
* :func:`error_kinds` says what aiows's and websockets' exceptions mean
  when a factory or an extension raises them;
* :func:`negotiated_frame_path` gives both drivers the parser and writer
  for what the handshake negotiated.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from typing import Any, Final

from . import exceptions
from .core.deflate import EXTENSION_NAME, DeflateFactory, PerMessageDeflate
from .core.errors import NegotiationError
from .core.extensions import CORE_FRAME_TYPES, ErrorKinds, FrameTypes, frame_path
from .core.parser import FrameParser
from .core.writer import FrameWriter

#: Where websockets defines its permessage-deflate factory.
_WEBSOCKETS_DEFLATE: Final = (
    "websockets.extensions.permessage_deflate",
    "ClientPerMessageDeflateFactory",
)
#: The ``compress_settings`` aiows's compressor can follow.
_ZLIB_SETTINGS: Final = frozenset({"level", "memLevel"})
#: zlib's default ``memLevel``, which websockets' factory leaves in place
#: unless told otherwise.
_ZLIB_MEM_LEVEL: Final = 8


def _from_websockets_deflate(factory: Any) -> DeflateFactory | None:
    """aiows's factory with the settings of websockets' ``factory``, or None
    when aiows's compressor cannot follow them (websockets' own
    implementation then runs in the chain)."""
    settings = factory.compress_settings or {}
    if not set(settings) <= _ZLIB_SETTINGS:
        return None
    client_bits = factory.client_max_window_bits
    return DeflateFactory(
        factory.server_max_window_bits,
        client_max_window_bits=False if client_bits is None else client_bits,
        server_no_context_takeover=factory.server_no_context_takeover,
        client_no_context_takeover=factory.client_no_context_takeover,
        level=settings.get("level", zlib.Z_DEFAULT_COMPRESSION),
        mem_level=settings.get("memLevel", _ZLIB_MEM_LEVEL),
    )


def client_factory(factory: Any) -> Any:
    """``factory`` as the core negotiates it, checked at the call.

    websockets' ``ClientPerMessageDeflateFactory`` (not a subclass of it,
    which may change its rules) becomes aiows's
    :class:`~aiows.core.deflate.DeflateFactory`; any other object with
    ``name``, ``get_request_params()`` and ``process_response_params()`` is
    used as it is.  Anything else is a ``TypeError``.
    """
    cls = type(factory)
    if (cls.__module__, cls.__qualname__) == _WEBSOCKETS_DEFLATE:
        mapped = _from_websockets_deflate(factory)
        if mapped is not None:
            return mapped
    name = getattr(factory, "name", None)
    if not isinstance(name, str) or not all(
        callable(getattr(factory, method, None))
        for method in ("get_request_params", "process_response_params")
    ):
        raise TypeError(
            "extensions must be client extension factories, with name, "
            f"get_request_params() and process_response_params(); got {factory!r}"
        )
    return factory


def client_factories(
    extensions: Sequence[Any] | None, compression: str | None
) -> tuple[Any, ...] | None:
    """The factories ``connect(extensions=..., compression=...)`` offers,
    in order, or None when it offers none (``extensions`` not given).

    As in websockets, ``compression="deflate"`` adds permessage-deflate
    (with ``memLevel`` 5) after the others unless one of them is already
    permessage-deflate.
    """
    if extensions is None:
        return None
    if isinstance(extensions, (str, bytes)) or not hasattr(extensions, "__iter__"):
        raise TypeError(
            f"extensions must be a sequence of extension factories, not {extensions!r}"
        )
    factories = [client_factory(factory) for factory in extensions]
    if compression == "deflate" and not any(
        factory.name == EXTENSION_NAME for factory in factories
    ):
        factories.append(DeflateFactory())
    return tuple(factories)


def is_own(factories: Sequence[Any] | None) -> bool:
    """Whether every factory is aiows's own (so nothing else needs websockets'
    classes)."""
    return all(type(factory) is DeflateFactory for factory in factories or ())


def refusals(factories: Sequence[Any] | None) -> tuple[type[BaseException], ...]:
    """The exceptions that mean a factory of ``factories`` refuses the
    server's answer: the core's alone when every factory is aiows's own,
    else aiows's public ones and websockets' too."""
    if is_own(factories):
        return (NegotiationError,)
    return error_kinds().refused


@functools.lru_cache(maxsize=1)
def _websockets() -> tuple[FrameTypes, ErrorKinds] | None:
    try:
        import websockets.exceptions
        import websockets.frames
    except ImportError:
        return None
    errors = websockets.exceptions
    return (
        FrameTypes(websockets.frames.Frame, websockets.frames.Opcode),
        ErrorKinds(
            refused=(
                NegotiationError,
                exceptions.NegotiationError,
                errors.NegotiationError,
            ),
            protocol=(exceptions.ProtocolError, errors.ProtocolError),
            too_big=(exceptions.PayloadTooBig, errors.PayloadTooBig),
        ),
    )


#: What aiows's own exceptions mean, without websockets.
_OWN_ERRORS: Final = ErrorKinds(
    refused=(NegotiationError, exceptions.NegotiationError),
    protocol=(exceptions.ProtocolError,),
    too_big=(exceptions.PayloadTooBig,),
)


def frame_types() -> FrameTypes:
    """websockets' ``Frame`` and ``Opcode`` when websockets can be imported,
    else the core's mirror of them.

    An extension written for websockets builds the frames it returns with
    websockets' ``Frame`` and may compare ``frame.opcode`` with websockets'
    members by identity (``frame.opcode is TEXT``), which only its own
    members pass; so when websockets is there, its classes are used.  The
    chain reads what an extension returns by attribute, so either class
    may come back.
    """
    found = _websockets()
    return CORE_FRAME_TYPES if found is None else found[0]


def error_kinds() -> ErrorKinds:
    """What a factory's or an extension's exceptions mean: aiows's public
    ones and, when websockets is installed, websockets'."""
    found = _websockets()
    return _OWN_ERRORS if found is None else found[1]


def negotiated_frame_path(
    negotiated: Sequence[Any], **parser_options: Any
) -> tuple[FrameParser, FrameWriter]:
    """The parser and the writer for the extensions a handshake negotiated.

    The core picks them (:func:`aiows.core.extensions.frame_path`:
    permessage-deflate alone keeps its fast path); any other extension is
    told which frame classes and exceptions to speak (:func:`frame_types`,
    :func:`error_kinds`).  ``parser_options`` go to the
    :class:`~aiows.core.parser.FrameParser`.
    """
    if all(type(extension) is PerMessageDeflate for extension in negotiated):
        return frame_path(negotiated, **parser_options)
    return frame_path(
        negotiated,
        frame_types=frame_types(),
        errors=error_kinds(),
        **parser_options,
    )
