"""The architecture rule: imports point down only.

cli -> feeds -> session -> faces -> engine -> core: each layer may import the
ones below it, never one above, and the sans-I/O core no I/O library at all.
A feed holds a connection of any face; the command-line program is a user of
the library, on top.  The threading face (sync) is a second driver beside the
engine, on the same core: it imports the core and the public exceptions,
never asyncio or the asyncio layers.  The modules at the package's root
beside ``__init__`` (the public exceptions, the websockets-aware extension
helpers) serve both drivers: they import the core only, and websockets only
inside a function (it is optional).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aiows"

# What each layer may not import, directly or by relative import.
FORBIDDEN = {
    "core": (
        "asyncio",
        "aiohttp",
        "yarl",
        "multidict",
        "aiows.engine",
        "aiows.faces",
        "aiows.session",
        "aiows.exceptions",
        "aiows.feeds",
        "aiows.cli",
    ),
    "engine": (
        "aiohttp",
        "yarl",
        "multidict",
        "aiows.faces",
        "aiows.session",
        "aiows.exceptions",
        "aiows.feeds",
        "aiows.cli",
    ),
    "faces": ("aiows.session", "aiows.feeds", "aiows.cli"),
    "session": ("aiows.feeds", "aiows.cli"),
    "feeds": ("aiows.cli",),
    "sync": (
        "asyncio",
        "aiows.engine",
        "aiows.faces",
        "aiows.session",
        "aiows.cli",
        "aiows.feeds",
    ),
}


#: What a module at the package's root may not import (``__init__`` and
#: ``__main__`` are the whole library's faces and are not held to it).
ROOT_FORBIDDEN = (
    "asyncio",
    "aiows.engine",
    "aiows.faces",
    "aiows.session",
    "aiows.feeds",
    "aiows.cli",
    "aiows.sync",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    package = "aiows." + ".".join(path.relative_to(PACKAGE).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rstrip(".").split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_down(layer: str) -> None:
    files = sorted((PACKAGE / layer).glob("*.py"))
    assert files
    violations = [
        f"{path.name} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if any(
            module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[layer]
        )
    ]
    assert violations == []


def root_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.glob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )


def test_root_modules_serve_both_drivers() -> None:
    files = root_modules()
    assert PACKAGE / "extension_factories.py" in files
    violations = [
        f"{path.name} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if any(module == bad or module.startswith(bad + ".") for bad in ROOT_FORBIDDEN)
    ]
    # websockets is optional: imported inside a function, never at the top.
    for path in files:
        for node in ast.parse(path.read_text()).body:
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            violations += [
                f"{path.name} imports {name} at the top"
                for name in names
                if name == "websockets" or name.startswith("websockets.")
            ]
    assert violations == []


def test_checker_sees_relative_imports() -> None:
    # The rule would pass vacuously if relative imports were misread.
    modules = imported_modules(PACKAGE / "session" / "bind.py")
    assert "aiows.engine.connection" in modules
    assert "aiows.engine.connection.Connection" in modules
    assert "aiows.core.handshake" in modules
    assert "aiows.faces" in modules
    assert "aiows.faces.aiohttp_face" in modules


def test_every_layer_is_known() -> None:
    # A new subpackage must be placed in the rule, or it escapes it; the CLI
    # is the top layer and may import everything below.
    layers = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert layers == {*FORBIDDEN, "cli"}
