"""The build (``setup.py``): it compiles each module of ``COMPILED_MODULES``
from C or, with Cython, from Python; where one does not build, it goes on
without it and its last line says so.  ``.ci/run`` builds the sdist and the
wheel themselves, installs each into a fresh venv and runs the quickstart on
them."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiows.core import speedups

pytest.importorskip("setuptools", reason="the build needs setuptools")

ROOT = Path(__file__).parents[1]

#: setup.py's helpers (it calls setup() only when run as a script).
SETUP = runpy.run_path(str(ROOT / "setup.py"))

#: A module compiled from Python: Cython's pure-Python mode, its C types in
#: the .pxd beside it.
TWICE_PY = """\
import cython


def twice(n):
    return 2 * n


def compiled():
    return cython.compiled
"""
TWICE_PXD = "cpdef long twice(long n)\n"

LINE_NOT_BUILT = (
    "they run as pure Python, which behaves the same, only slower (to compile, "
    "install a C compiler and the Python headers, then reinstall)"
)


def test_the_build_compiles_the_modules_aiows_reports_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    assert SETUP["compiled_modules"]() == list(speedups.COMPILED_MODULES)
    assert SETUP["source_of"]("aiows.core._speedups") == "aiows/core/_speedups.c"
    with pytest.raises(FileNotFoundError, match=r"aiows\.core\._nothing"):
        SETUP["source_of"]("aiows.core._nothing")


def test_the_list_must_be_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "aiows" / "core").mkdir(parents=True)
    (tmp_path / "aiows" / "core" / "speedups.py").write_text("MODULES = ()\n")
    with pytest.raises(LookupError, match="no COMPILED_MODULES"):
        SETUP["compiled_modules"]()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The build, with a second compiled module written in Python."""
    core = tmp_path / "aiows" / "core"
    core.mkdir(parents=True)
    shutil.copy(ROOT / "setup.py", tmp_path)
    shutil.copy(ROOT / "aiows" / "core" / "_speedups.c", core)
    (tmp_path / "aiows" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "speedups.py").write_text(
        "from typing import Final\n\n"
        'COMPILED_MODULES: Final = ("aiows.core._speedups", "aiows.core._twice")\n'
    )
    (core / "_twice.py").write_text(TWICE_PY)
    (core / "_twice.pxd").write_text(TWICE_PXD)
    return tmp_path


def build(project: Path, *args: str, first: str = "pass", **env: str) -> str:
    """Run ``setup.py *args`` in ``project``, after the statement ``first``;
    the line it ends with."""
    script = f"import runpy; {first}; runpy.run_path('setup.py', run_name='__main__')"
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k != "AIOWS_NO_EXTENSIONS"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("aiows:")]
    return line


def imported(project: Path) -> str:
    """What the project's ``_twice`` module says of itself."""
    script = "import aiows.core._twice as t; print(t.twice(21), t.compiled())"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def built(project: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in project.glob("aiows/core/*.*.so"))


def test_c_and_cython_modules_are_compiled(project: Path) -> None:
    pytest.importorskip("Cython", reason="the test extra installs Cython")
    line = build(project, "build_ext", "--inplace")
    assert line == "aiows: compiled aiows.core._speedups, aiows.core._twice"
    assert built(project) == ["_speedups", "_twice"]
    assert imported(project) == "42 True\n"


def test_without_a_compiler_the_build_goes_on_in_pure_python(project: Path) -> None:
    pytest.importorskip("Cython", reason="the test extra installs Cython")
    line = build(project, "build_ext", "--inplace", CC="/bin/false")
    assert line == (
        "aiows: could not compile aiows.core._speedups (/bin/false failed), "
        f"aiows.core._twice (/bin/false failed): {LINE_NOT_BUILT}"
    )
    assert built(project) == []
    assert imported(project) == "42 False\n"


def test_a_missing_compiler_is_named(project: Path) -> None:
    line = build(project, "build_ext", "--inplace", CC="/nonexistent/cc")
    assert "aiows.core._speedups (/nonexistent/cc not found)" in line


def test_without_cython_its_modules_stay_python(project: Path) -> None:
    hide = "import sys; sys.modules['Cython'] = None"
    line = build(project, "build_ext", "--inplace", first=hide)
    assert line == (
        "aiows: could not compile aiows.core._twice (Cython is not installed): "
        + LINE_NOT_BUILT.replace("they run", "it runs")
    )
    assert built(project) == ["_speedups"]
    assert imported(project) == "42 False\n"


def test_no_extensions_builds_pure_python(project: Path) -> None:
    line = build(project, "build_py", AIOWS_NO_EXTENSIONS="1")
    assert line == "aiows: AIOWS_NO_EXTENSIONS is set: nothing compiled, pure Python"
    assert built(project) == []


def test_an_error_with_no_words_is_named() -> None:
    from setuptools import Distribution

    command = SETUP["OptionalBuildExt"](Distribution())
    assert command.reason(ValueError("bad\nworse")) == "bad"
    assert command.reason(ValueError()) == "ValueError"


def test_after_a_module_from_python_fails_the_later_ones_are_not_built(
    project: Path,
) -> None:
    """A C class may build on one of an earlier module (COMPILED_MODULES
    lists a module after those it uses), and a compiled subclass of a Python
    class does not import: once one module from Python fails, no later one
    is built."""
    pytest.importorskip("Cython", reason="the test extra installs Cython")
    core = project / "aiows" / "core"
    (core / "_broken.py").write_text("def f(n):\n    return n\n")
    (core / "_broken.pxd").write_text("cpdef long f(long n) nonsense\n")
    (core / "speedups.py").write_text(
        "from typing import Final\n\nCOMPILED_MODULES: Final = (\n"
        '    "aiows.core._speedups", "aiows.core._broken", "aiows.core._twice"\n)\n'
    )
    line = build(project, "build_ext", "--inplace")
    assert line.startswith("aiows: could not compile aiows.core._broken (")
    assert line.endswith(
        f"aiows.core._twice (after aiows.core._broken): {LINE_NOT_BUILT}"
    )
    assert built(project) == ["_speedups"]
    assert imported(project) == "42 False\n"
