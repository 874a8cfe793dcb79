"""The object store's modules form no import cycle, and none imports a
private name (``_x``) of another module."""

from __future__ import annotations

import ast
from pathlib import Path

import stratus.objectstore

ROOT = Path(stratus.objectstore.__file__).parent
PACKAGE = "stratus.objectstore"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:``."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def imports_of(name: str) -> tuple[set[str], list[str]]:
    """The object-store modules ``name`` imports at run time (lazy imports
    included), and the private names it imports from other modules."""
    tree = ast.parse(MODULES[name].read_text())
    skip = _type_checking_only(tree)
    found: set[str] = set()
    private: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and node.lineno not in skip:
            found |= {a.name for a in node.names if a.name in MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.lineno not in skip:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    found.add(sub)
                elif node.module in MODULES:
                    found.add(node.module)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.append(f"{name}: from {node.module} import {alias.name}")
    found.discard(name)
    return found, private


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    graph = {name: imports_of(name)[0] for name in MODULES}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_no_private_name_imported() -> None:
    private = [p for name in MODULES for p in imports_of(name)[1]]
    assert not private, private


def test_the_checks_can_fail() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_layers_know_no_web_framework() -> None:
    """The layers and the service speak the interface's plain values only."""
    for name, path in MODULES.items():
        if name.startswith((f"{PACKAGE}.layers", f"{PACKAGE}.service")):
            text = path.read_text()
            assert "starlette" not in text and f"{PACKAGE}.api" not in text, name
