"""The shape of the house, as a newcomer relies on it: imports go one way and never in a
circle, no module reaches into another's private names, functions and modules stay short
enough to read, folders hold few modules, and every package says what its modules hold.

Imports are read with ``ast``, those inside functions too: a cycle hidden by a local
import is still a cycle. (import-linter's contracts in pyproject.toml check the layers
between and inside the packages; this checks what it does not.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("retrieval", "indexer", "api")
LAYER = {"retrieval": 0, "indexer": 1, "api": 2}
MAX_FUNCTION_LINES, MAX_MODULE_LINES, MAX_MODULES_PER_FOLDER = 80, 450, 12


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imported(module: str, node: ast.AST) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for one import statement."""
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    return [(base, alias.name) for alias in node.names]


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for base, name in _imported(module, node):
                target = f"{base}.{name}" if name and f"{base}.{name}" in MODULES else base
                while target and target not in MODULES:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    edges.setdefault(module, set()).add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in MODULES:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others():
    assert _cycles(_edges()) == []


def test_imports_point_one_way_api_then_indexer_then_retrieval():
    against = [f"{a} -> {b}" for a, targets in _edges().items() for b in targets
               if LAYER[b.split(".")[0]] > LAYER[a.split(".")[0]]]
    assert against == []


def test_no_private_name_is_imported_from_another_module():
    private = []
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for base, name in _imported(module, node):
                    if base.split(".")[0] in PACKAGES and name.startswith("_") and not name.startswith("__"):
                        private.append(f"{module}: {base}.{name}")
    assert private == []


def test_functions_and_modules_are_short_enough_to_read():
    long_functions = [f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
                      for module, tree in TREES.items() for node in ast.walk(tree)
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    long_modules = [f"{module}: {len(path.read_text().splitlines())} lines" for module, path in MODULES.items()
                    if len(path.read_text().splitlines()) > MAX_MODULE_LINES]
    assert long_functions == [] and long_modules == []


def test_no_folder_holds_more_than_a_dozen_modules():
    crowded = {}
    for path in MODULES.values():
        if path.name != "__init__.py":
            crowded.setdefault(path.parent, []).append(path.name)
    assert {str(k): len(v) for k, v in crowded.items() if len(v) > MAX_MODULES_PER_FOLDER} == {}


PACKAGE_DIRS = sorted({path.parent for name, path in MODULES.items() if path.name == "__init__.py"
                       and "migrations" not in path.parts})


@pytest.mark.parametrize("folder", PACKAGE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_package_lists_its_modules_and_the_tests_that_exist(folder):
    """A package's docstring is its map: every module and sub-package in it is named, and
    every test file it names exists."""
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
    entries = {p.name for p in folder.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    entries |= {p.name + "/" for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    unnamed = sorted(entry for entry in entries if not re.search(rf"(^|\s){re.escape(entry)}(\s|$)", doc, re.M))
    missing_tests = sorted(t for t in re.findall(r"tests/[\w/]+\.py", doc) if not (ROOT / t).exists())
    assert (unnamed, missing_tests) == ([], [])


def test_no_environment_is_read_below_the_surfaces():
    """Settings are read at the edge (api/settings.py) and passed in."""
    readers = [f"{module}:{node.lineno}" for module, tree in TREES.items() if not module.startswith("api")
               for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
               and isinstance(node.value, ast.Name) and node.value.id == "os"]
    assert readers == []


def test_the_command_line_starts_without_torch():
    """Importing the command line loads no torch, open_clip or OCR engine: those come when a
    command needs them (`clipdex --help` starts in a second, not four)."""
    import subprocess
    import sys

    code = "import sys, api.cli; print(sorted(m for m in ('torch', 'open_clip', 'rapidocr_onnxruntime', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
