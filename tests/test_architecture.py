"""The package's shape, read from its own imports: one straight line, no circle, front-ends on top.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import hides a circle from the
interpreter, not from the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import relaycheck

PACKAGE = Path(relaycheck.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            # `from pkg import submodule` depends on the submodule, not on everything pkg/__init__ re-exports
            names = submodules if len(submodules) == len(node.names) else [node.module, *submodules]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _is_frontend(name: str, path: Path) -> bool:
    """The CLI, and any pytest plugin (a module that declares pytest hooks)."""
    if name == "relaycheck.cli" or name.startswith("relaycheck.cli."):
        return True
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.FunctionDef) and n.name.startswith("pytest_") for n in tree.body)


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_front_ends_import_the_core_never_the_other_way_round() -> None:
    modules = _modules()
    frontends = {name for name, path in modules.items() if _is_frontend(name, path)}
    assert "relaycheck.cli.main" in frontends
    upward = {
        name: sorted(deps & frontends)
        for name, deps in _graph().items()
        if name not in frontends and deps & frontends
    }
    assert not upward, f"core modules importing a front-end: {upward}"
