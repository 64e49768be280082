"""The architecture rule: imports point down only (session -> connection -> core)."""

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
        "aiows.connection",
        "aiows.session",
        "aiows.exceptions",
    ),
    "connection": ("aiows.session",),
}


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


def test_checker_sees_relative_imports() -> None:
    # The rule would pass vacuously if relative imports were misread.
    modules = imported_modules(PACKAGE / "session" / "connect.py")
    assert "aiows.connection.protocol" in modules
    assert "aiows.core.handshake" in modules
