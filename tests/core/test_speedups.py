"""Which compiled modules are in use (``aiows.core.speedups``)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from aiows.core import frames, speedups

try:
    from aiows.core import _speedups
except ImportError:  # depends on the build
    _speedups = None


def test_every_compiled_module_is_reported() -> None:
    assert list(speedups.compiled_modules()) == list(speedups.COMPILED_MODULES)
    assert "aiows.core._speedups" in speedups.COMPILED_MODULES


def test_in_use_unless_disabled_or_not_built() -> None:
    switch = os.environ.get("AIOWS_NO_EXTENSIONS", "")
    disabled = bool(switch) and switch != "cython"
    assert speedups.NO_EXTENSIONS is disabled
    assert speedups.FROM_SOURCE is bool(switch)
    in_use = not disabled and _speedups is not None
    assert speedups.compiled_modules()["aiows.core._speedups"] is in_use
    assert (speedups.compiled is not None) is in_use


@pytest.mark.skipif(_speedups is None, reason="no compiled module")
def test_an_extension_is_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _speedups is not None
    assert speedups.is_compiled(_speedups)
    monkeypatch.setattr(speedups, "NO_EXTENSIONS", False)
    assert speedups.compiled_modules()["aiows.core._speedups"] is True


def test_none_in_use_with_no_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedups, "NO_EXTENSIONS", True)
    assert speedups.compiled_modules() == dict.fromkeys(
        speedups.COMPILED_MODULES, False
    )


def test_source_and_missing_modules_are_not_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not speedups.is_compiled(frames)  # loaded from its .py
    assert not speedups.is_compiled(sys)  # built in: no file at all
    modules = ("aiows.core.frames", "aiows.core._not_built")
    monkeypatch.setattr(speedups, "COMPILED_MODULES", modules)
    monkeypatch.setattr(speedups, "NO_EXTENSIONS", False)
    assert speedups.compiled_modules() == dict.fromkeys(modules, False)


# -- the modules compiled from Python, and AIOWS_NO_EXTENSIONS -------------------

CORE = str(Path(speedups.__file__).parent)


def test_source_finder_imports_a_module_compiled_from_python_from_its_py() -> None:
    spec = speedups.SourceFinder().find_spec("aiows.core.parser", ["/nowhere", CORE])
    assert spec is not None and spec.origin == os.path.join(CORE, "parser.py")


def test_source_finder_leaves_every_other_import_alone() -> None:
    finder = speedups.SourceFinder()
    assert finder.find_spec("aiows.core.frames", [CORE]) is None  # not compiled
    assert finder.find_spec("aiows.core._speedups", [CORE]) is None  # from C
    assert finder.find_spec("aiows.core.parser", None) is None  # not a submodule


def test_every_compiled_module_has_a_source() -> None:
    root = Path(CORE).parent.parent
    for name in speedups.COMPILED_MODULES:
        base = root.joinpath(*name.split("."))
        assert [s for s in (".py", ".pyx", ".c") if base.with_suffix(s).exists()]


def test_modules_compiled_from_python_are_what_compiled_modules_says() -> None:
    """With AIOWS_NO_EXTENSIONS set (to anything, ``cython`` too) they were
    imported from their .py files: the builds beside them are not used."""
    for name in speedups.COMPILED_MODULES[1:]:  # [0] is the C one
        module = importlib.import_module(name)
        assert module.__file__ is not None
        if speedups.FROM_SOURCE:
            assert module.__file__.endswith(".py")
        assert speedups.compiled_modules()[name] is (
            not speedups.NO_EXTENSIONS and speedups.is_compiled(module)
        )
