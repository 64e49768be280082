"""Whether the compiled hot paths are used, decided in one place.

Two kinds of module are compiled (by ``setup.py``, when a compiler is
available):

* ``_speedups.c``, the masking routine and a frame scanner, which the
  modules that use it take from :data:`compiled` (None when it is not in
  use: each caller then uses its pure-Python equivalent);
* the per-message path, compiled from its own ``.py`` files by Cython in
  pure-Python mode (the C classes and types are declared in the ``.pxd``
  beside each file): the frame parser and the message in progress, the
  frame writer, the protocol, the send lane, the connection's read path
  and the receive queue.  A compiled build has the module's own name and
  sits beside its ``.py``, so it is the one imported.

Setting ``AIOWS_NO_EXTENSIONS=1`` in the environment gives pure Python for
both: :data:`compiled` stays None, and the modules compiled from Python are
imported from their ``.py`` files (:class:`SourceFinder`, installed when
``aiows`` is imported).  ``AIOWS_NO_EXTENSIONS=cython`` does only the
latter: that is how the coverage of those ``.py`` files is measured with
the C module in use (coverage sees only Python).

:data:`COMPILED_MODULES` lists every module that ``setup.py`` compiles (it
reads the list from this file), and :func:`compiled_modules` says which of
them are in use; ``aiows --version`` prints it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType
from typing import Final

#: The modules ``setup.py`` compiles, by import name, each optional: built
#: from ``<name>.py`` or ``<name>.pyx`` with Cython (a ``.py`` in Cython's
#: pure-Python mode, its C types in the ``.pxd`` beside it), else from
#: ``<name>.c``.  A new compiled module is one more entry here.  (Once
#: compiled, a module imports as the extension, not from its ``.py``,
#: unless ``AIOWS_NO_EXTENSIONS`` is set: see :class:`SourceFinder`.)  A
#: module comes after those whose C classes it uses: where one of them does
#: not build, ``setup.py`` builds none after it.
COMPILED_MODULES: Final = (
    "aiows.core._speedups",
    "aiows.core.pieces",
    "aiows.core.parser",
    "aiows.core.writer",
    "aiows.core.protocol",
    "aiows.engine.sendlane",
    "aiows.engine.connection",
    "aiows.engine.assembler",
)

_SWITCH: Final = os.environ.get("AIOWS_NO_EXTENSIONS", "")

#: ``AIOWS_NO_EXTENSIONS`` is set: every module runs as pure Python.
NO_EXTENSIONS: Final = bool(_SWITCH) and _SWITCH != "cython"

#: The modules compiled from Python are imported from their ``.py`` files:
#: with ``AIOWS_NO_EXTENSIONS`` set, and with ``AIOWS_NO_EXTENSIONS=cython``,
#: which keeps ``_speedups``, the C module, in use.  That is how the tests
#: of the core measure its coverage: its ``.py`` files as they run, with
#: and without the C module.
FROM_SOURCE: Final = bool(_SWITCH)


class SourceFinder(importlib.abc.MetaPathFinder):
    """Imports each of :data:`COMPILED_MODULES` that has a ``.py`` from
    that file, not from the compiled build beside it.

    Python's own finders prefer an extension module to a source file of the
    same name; this one, first on ``sys.meta_path`` while
    ``AIOWS_NO_EXTENSIONS`` is set (:data:`FROM_SOURCE`), is asked before
    them.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname not in COMPILED_MODULES or path is None:
            return None
        for directory in path:
            source = os.path.join(directory, fullname.rpartition(".")[2] + ".py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None  # built from C: there is no Python to import


# Only the module of that name installs it: a test that loads this file
# afresh under another name leaves the imports as they are.
if FROM_SOURCE and __name__ == "aiows.core.speedups":  # pragma: no branch
    sys.meta_path.insert(0, SourceFinder())

compiled: ModuleType | None
try:
    if NO_EXTENSIONS:
        raise ImportError("AIOWS_NO_EXTENSIONS is set")
    from . import _speedups as compiled
except ImportError:
    compiled = None


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` was loaded from a compiled extension, not source."""
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and path.endswith(tuple(EXTENSION_SUFFIXES))


def compiled_modules() -> dict[str, bool]:
    """Each of :data:`COMPILED_MODULES`, and whether its compiled build is the
    one in use: False where ``AIOWS_NO_EXTENSIONS`` is set, and where the
    module was not built (no compiler at install time)."""
    return {name: not NO_EXTENSIONS and _built(name) for name in COMPILED_MODULES}


def _built(name: str) -> bool:
    """Whether module ``name`` imports from a compiled extension."""
    try:
        return is_compiled(importlib.import_module(name))
    except ImportError:
        return False
