"""Whether the compiled hot paths are used, decided in one place.

``_speedups.c`` (built by ``setup.py`` when a compiler is available) holds
the masking routine and a frame scanner.  Setting ``AIOWS_NO_EXTENSIONS=1``
in the environment, or a build without a compiler, leaves ``compiled`` None,
and every caller uses its pure-Python equivalent instead.
"""

from __future__ import annotations

import os
from types import ModuleType

compiled: ModuleType | None
try:
    if os.environ.get("AIOWS_NO_EXTENSIONS"):
        raise ImportError("AIOWS_NO_EXTENSIONS is set")
    from . import _speedups as compiled
except ImportError:
    compiled = None
