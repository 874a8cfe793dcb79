"""The import structure stays clean: no import cycle inside a service (lazy
and type-checking imports count too), and no module takes a private name
(``_name``) of another module, in the packages checked here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import stratus

ROOT = Path(stratus.__file__).parent
CHECKED = ("common", "compute", "identity", "image", "network", "volume",
           "loadbalancer", "database", "orchestration", "objectstore",
           "cli", "")  # fmt: skip  ("": the modules at stratus's top level)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    files = (ROOT / package).rglob("*.py") if package else ROOT.glob("*.py")
    return {module_name(p): p for p in sorted(files)}


def is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every import
    statement anywhere in the file, relative ones resolved."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module_name(path if path.name == "__init__.py" else path.parent)
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield base, alias.name, node.lineno


def edges(name: str, path: Path) -> set[str]:
    """The stratus modules ``name`` imports (a name that is a submodule
    counts as that module)."""
    out = set()
    for base, taken, _ in imports(path):
        if not base.startswith("stratus"):
            continue
        target = f"{base}.{taken}" if taken and is_module(f"{base}.{taken}") else base
        if target != name:
            out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_a_service() -> None:
    problems = []
    for package in CHECKED:
        found = modules(package)
        graph = {name: edges(name, path) for name, path in found.items()}
        problems += cycles(graph)
    assert not problems, "import cycles: " + "; ".join(" <-> ".join(c) for c in problems)


def test_no_module_imports_a_private_name_of_another() -> None:
    problems = []
    for package in CHECKED:
        for name, path in modules(package).items():
            for base, taken, line in imports(path):
                if base.startswith("stratus") and taken and taken.startswith("_"):
                    if not (taken.startswith("__") and taken.endswith("__")):
                        problems.append(f"{name}:{line} imports {taken} from {base}")
    assert not problems, "\n".join(problems)


def test_the_checks_see_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from stratus.common.db import _secret\n")
    assert list(imports(source)) == [("stratus.common.db", "_secret", 2)]
