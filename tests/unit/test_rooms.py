"""The rooms of ``pregen`` import only downward, and no module imports itself back through another.

Every import counts, lazy ones inside functions included (they are still dependencies), except those under
``if TYPE_CHECKING:`` (types only: the ports, the Deps of other rooms).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "pregen"
FUNCTIONS = ROOT / "functions"
ROOMS = ("domain", "adapters", "http", "config", "services", "wiring")
# The package root holds the observability singletons and the hit's log line: any room may use them.
TOP = "top"

# What each room may import at run time (besides itself). Handlers import what they wire and present.
ALLOWED: dict[str, set[str]] = {
    TOP: {"domain"},
    "domain": set(),
    "messages": {"domain"},
    "adapters": {"domain", "messages", TOP},
    "services": {"domain", "messages", TOP},
    "http": {"domain", "messages", "services", TOP},
    "config": {"domain"},
    "ports": set(),
    "wiring": {"domain", "messages", "adapters", "services", "config", TOP},
    "functions": {"domain", "messages", "services", "http", "wiring", "config", TOP},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT / "layers" / "core" if path.is_relative_to(PACKAGE) else ROOT).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def room(module: str) -> str:
    if module.startswith("functions."):
        return "functions"
    parts = module.split(".")
    if len(parts) == 1:
        return TOP
    return parts[1] if parts[1] in (*ROOMS, "messages", "ports") else TOP


def runtime_imports(path: Path, *, types_too: bool = False) -> set[str]:
    """The pregen modules a file imports, outside ``if TYPE_CHECKING:`` blocks (inside them too with ``types_too``)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if not types_too and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.module.split(".")[0] == "pregen":
                for alias in child.names:  # `from pregen.domain import models` names a module
                    candidate = f"{child.module}.{alias.name}"
                    found.add(candidate if is_module(candidate) else child.module)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.split(".")[0] == "pregen")
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def is_module(name: str) -> bool:
    base = ROOT / "layers" / "core" / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def graph(*, types_too: bool = False) -> dict[str, set[str]]:
    files = [*PACKAGE.rglob("*.py"), *FUNCTIONS.rglob("app.py")]
    return {module_name(path): runtime_imports(path, types_too=types_too) for path in files}


def test_every_import_goes_to_a_room_below() -> None:
    wrong = sorted(
        f"{module} ({room(module)}) imports {target} ({room(target)})"
        for module, targets in graph().items()
        for target in targets
        if room(target) != room(module) and room(target) not in ALLOWED[room(module)] and target != "pregen"
    )
    assert not wrong, "\n".join(wrong)


def test_the_ports_are_for_type_checking_only() -> None:
    users = sorted(module for module, targets in graph().items() if "pregen.ports" in targets)
    assert not users


def test_the_ports_name_only_the_domain() -> None:
    # The lowest module names no use case, not even for a type (a port that knows a service is a circle).
    wrong = sorted(t for t in graph(types_too=True)["pregen.ports"] if room(t) not in ("domain", "messages"))
    assert not wrong


@pytest.mark.parametrize("types_too", [False, True], ids=["run-time", "type-only-too"])
def test_no_module_imports_itself_back(types_too: bool) -> None:
    edges = graph(types_too=types_too)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if target not in edges:
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif state.get(target) is None:
                walk(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module, [module])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", ["pregen.services.content", "functions.get_content.app"])
def test_the_checker_sees_real_imports(module: str) -> None:
    # Guard against a checker that finds nothing: these modules do import pregen modules at run time.
    assert graph()[module]
