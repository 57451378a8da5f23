"""What `sam build` made (`make build` first): the layer and the function artifacts that would be deployed.

The layer is built for arm64 (the template's architecture), so its compiled wheels cannot be imported on an x86
build machine; what can be checked without running them is checked here: every module the handlers and the
``pregen`` package import resolves to the standard library, the function's own folder, or the built layer; the
layer ships boto3 with its botocore, at versions that match; compiled modules are for
the template's architecture; and the layer's ``pregen`` is the source tree's.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PathDistribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "CoreLayer" / "python"

pytestmark = pytest.mark.skipif(not LAYER.is_dir(), reason="run `make build` (sam build) first")


def _distribution(name: str) -> PathDistribution:
    (info,) = [p for p in LAYER.glob("*.dist-info") if re.fullmatch(rf"{name}-[^-]+\.dist-info", p.name)]
    return PathDistribution(info)


def _top_level_imports(folder: Path) -> set[str]:
    """Top-level names a folder's code imports at run time (``if TYPE_CHECKING:`` blocks are types only)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                names.update(a.name.split(".")[0] for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.add(child.module.split(".")[0])
            visit(child)

    for path in folder.rglob("*.py"):
        visit(ast.parse(path.read_text()))
    return names


def _in_layer(name: str) -> bool:
    return (LAYER / name).is_dir() or any(LAYER.glob(f"{name}.py")) or any(LAYER.glob(f"{name}.*.so"))


def test_the_layer_ships_boto3_with_the_botocore_it_needs() -> None:
    boto3, botocore = _distribution("boto3"), _distribution("botocore")
    (needs,) = [r for r in map(Requirement, boto3.requires or []) if r.name == "botocore" and r.marker is None]
    assert needs.specifier.contains(botocore.version), f"boto3 {boto3.version} needs {needs}, got {botocore.version}"


def test_compiled_modules_are_built_for_the_templates_architecture() -> None:
    compiled = list(LAYER.rglob("*.so"))
    assert compiled, "pydantic-core, jiter and cryptography ship compiled modules"
    assert all("aarch64" in p.name or "abi3" in p.name for p in compiled), [p.name for p in compiled][:5]


def test_the_layers_pregen_is_the_source_trees() -> None:
    source = ROOT / "layers" / "core" / "pregen"
    built = {p.relative_to(LAYER / "pregen") for p in (LAYER / "pregen").rglob("*.py")}
    assert built == {p.relative_to(source) for p in source.rglob("*.py")}
    assert all((LAYER / "pregen" / p).read_bytes() == (source / p).read_bytes() for p in built)


@pytest.mark.parametrize("function", sorted(p.name for p in BUILD.glob("*Function")) if BUILD.is_dir() else [])
def test_every_import_of_a_function_resolves_to_its_artifact_the_layer_or_the_standard_library(function: str) -> None:
    folder = BUILD / function
    assert (folder / "app.py").is_file()
    assert not (folder / "pregen").exists(), "pregen comes from the layer, once"
    wanted = _top_level_imports(folder) | _top_level_imports(LAYER / "pregen")
    missing = sorted(
        name
        for name in wanted
        if name not in sys.stdlib_module_names
        and name != "__future__"
        and not _in_layer(name)
        and name != "app"
        and not (folder / f"{name}.py").exists()
    )
    # snapshot_restore_py is part of the SnapStart runtime, not of any package we ship
    assert set(missing) <= {"snapshot_restore_py"}, missing
