"""The packages under local/ and the core import one way: the emulator knows nothing of Pregen (another SAM app
could run on it), the core knows nothing of local/, the fakes build on the core, the tools on the core and the
emulator. Every import counts: at module level, lazy inside a function, and under ``if TYPE_CHECKING:``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "aws_emulator": ROOT / "local" / "aws_emulator",
    "pregen_fakes": ROOT / "local" / "pregen_fakes",
    "pregen_tools": ROOT / "local" / "pregen_tools",
    "pregen": ROOT / "layers" / "core" / "pregen",
}
# Which of these packages each may import (besides itself).
ALLOWED = {
    "aws_emulator": set(),
    "pregen": set(),
    "pregen_fakes": {"pregen"},
    "pregen_tools": {"pregen", "aws_emulator"},
}


def imported_packages(source: str) -> set[str]:
    """The top-level names of every import in ``source``, wherever it stands (relative imports excluded)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif (  # importlib.import_module("x.y") / __import__("x") with a literal name
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in {"importlib.import_module", "import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    forbidden = set(PACKAGES) - ALLOWED[package] - {package}
    files = sorted(PACKAGES[package].rglob("*.py"))
    assert files, f"no sources found for {package} under {PACKAGES[package]}"
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path.read_text()) & forbidden)
        for path in files
        if imported_packages(path.read_text()) & forbidden
    }
    assert wrong == {}, f"{package} may import only {sorted(ALLOWED[package]) or 'none'} of {sorted(PACKAGES)}"


def test_the_checker_sees_lazy_type_only_and_dynamic_imports() -> None:
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from pregen.ports import ContentStore
def later():
    import pregen_fakes.memory
    from pregen_tools import dashboard
    return importlib.import_module("pregen.wiring")
from . import sibling
"""
    assert imported_packages(source) == {"typing", "pregen", "pregen_fakes", "pregen_tools"}
