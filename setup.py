"""Build script: the optional compiled modules of aiows.

The modules to compile are ``COMPILED_MODULES`` in ``aiows/core/speedups.py``
(read from there, so that the build and ``aiows --version`` share one list).
Each is built from ``<name>.py`` or ``<name>.pyx`` with Cython (a ``.py`` in
Cython's pure-Python mode, its C types in the ``.pxd`` beside it), else from
``<name>.c``.

Every one is optional.  Where one does not build (no C compiler, no Python
headers, no Cython), the build goes on without it, that module's pure-Python
path is used, and the build ends with one line that says so.
``AIOWS_NO_EXTENSIONS=1`` in the environment compiles nothing, and gives a
pure-Python wheel.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import CCompilerError

#: Where the list of modules to compile is kept.
MODULE_LIST = Path("aiows", "core", "speedups.py")

#: Sources compiled with Cython; any other source is C.
CYTHON_SOURCES = (".py", ".pyx")


def compiled_modules() -> list[str]:
    """``COMPILED_MODULES`` of ``aiows/core/speedups.py``."""
    for node in ast.parse(MODULE_LIST.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "COMPILED_MODULES"
            and node.value is not None
        ):
            return list(ast.literal_eval(node.value))
    raise LookupError(f"{MODULE_LIST} assigns no COMPILED_MODULES")


def source_of(module: str) -> str:
    """The source file of ``module``: its ``.py``, ``.pyx`` or ``.c`` file."""
    base = Path(*module.split("."))
    for suffix in (*CYTHON_SOURCES, ".c"):
        path = base.with_name(base.name + suffix)
        if path.exists():
            return path.as_posix()
    raise FileNotFoundError(f"no source for the compiled module {module}")


def extension(module: str) -> Extension:
    """The extension that compiles ``module``, optional: a failure to build
    it leaves the pure-Python path."""
    return Extension(
        module, [source_of(module)], optional=True, extra_compile_args=["-O3"]
    )


def summary(modules: list[str], failed: dict[str, str]) -> str:
    """The line that ends a build: what was compiled, or why not."""
    if os.environ.get("AIOWS_NO_EXTENSIONS"):
        return "aiows: AIOWS_NO_EXTENSIONS is set: nothing compiled, pure Python"
    if not failed:
        return f"aiows: compiled {', '.join(modules)}"
    reasons = ", ".join(f"{name} ({why})" for name, why in failed.items())
    they = "it runs" if len(failed) == 1 else "they run"
    return (
        f"aiows: could not compile {reasons}: {they} as pure Python, which "
        f"behaves the same, only slower (to compile, install a C compiler and "
        f"the Python headers, then reinstall)"
    )


class OptionalBuildExt(build_ext):
    """Builds each compiled module it can (Cython sources translated first),
    goes on without the ones it cannot, and ends with the line that says
    which."""

    def initialize_options(self) -> None:
        super().initialize_options()
        #: The modules that did not build, and why.
        self.failed: dict[str, str] = {}
        #: The first module compiled from Python that did not build: the
        #: ones after it are not built either.
        self.cython_failed: str | None = None

    def run(self) -> None:
        super().run()
        print(summary(compiled_modules(), self.failed), file=sys.stderr)

    def build_extension(self, ext: Extension) -> None:
        from_cython = ext.sources[0].endswith(CYTHON_SOURCES)
        if from_cython and self.cython_failed is not None:
            # Its C classes may build on the one that failed (a compiled
            # subclass of a Python class does not import): COMPILED_MODULES
            # lists a module after those it uses.
            self.failed[ext.name] = f"after {self.cython_failed}"
            return
        try:
            if from_cython:
                self.cythonize(ext)
            super().build_extension(ext)
        except Exception as error:  # any failure: the module stays pure Python
            self.failed[ext.name] = self.reason(error)
            if from_cython:
                self.cython_failed = ext.name

    def reason(self, error: Exception) -> str:
        """Why a module did not build, in a few words."""
        if isinstance(error, CCompilerError):
            # The compiler's own messages, if any, are printed above.
            program = (getattr(self.compiler, "compiler_so", None) or ["compiler"])[0]
            found = "No such file" not in str(error)
            return f"{program} {'failed' if found else 'not found'}"
        lines = str(error).strip().splitlines()
        return lines[0][:200] if lines else type(error).__name__

    def cythonize(self, ext: Extension) -> None:
        """Replace ``ext``'s Cython source with the C that Cython makes of it."""
        try:
            from Cython.Build import cythonize
        except ImportError:
            raise ImportError("Cython is not installed") from None
        (translated,) = cythonize(
            [Extension(ext.name, ext.sources)],
            build_dir=os.path.join(self.build_temp, "cython"),
            # The C types are the .pxd's alone: the annotations of the .py
            # are for mypy (to Cython an ``int`` there would be a Python
            # int, against the .pxd's C integer).
            compiler_directives={"language_level": 3, "annotation_typing": False},
            force=self.force,
            quiet=True,
        )
        ext.sources = translated.sources


class BuildPy(build_py):
    """``build_py``, which says so when nothing is to be compiled (then
    ``build_ext`` does not run)."""

    def run(self) -> None:
        super().run()
        if not self.distribution.ext_modules:
            print(summary(compiled_modules(), {}), file=sys.stderr)


if __name__ == "__main__":
    no_extensions = bool(os.environ.get("AIOWS_NO_EXTENSIONS"))
    setup(
        ext_modules=[] if no_extensions else list(map(extension, compiled_modules())),
        cmdclass={"build_py": BuildPy, "build_ext": OptionalBuildExt},
    )
