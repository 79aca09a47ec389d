"""The package's modules import one another in one direction: no module imports one that
imports it, directly or through others (``if TYPE_CHECKING`` imports included; imports
inside functions are not module dependencies and are left out, and a package's parent is
not counted as a dependency of each module in it, as Python imports it first anyway)."""

from __future__ import annotations

import ast
from pathlib import Path

import rewriteproxy

PACKAGE = Path(rewriteproxy.__file__).parent


def module_name(path: Path) -> str:
    parts = (*path.relative_to(PACKAGE.parent).parent.parts, path.name.partition(".")[0])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports in its module body (not inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:  # a submodule by name, else a name from ``base``
                    found.add(sub if (sub := f"{base}.{alias.name}") in modules else base)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", ()):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    compiled = [*PACKAGE.rglob("*.so"), *PACKAGE.rglob("*.pyi")]  # C extensions: no edges out
    modules = {module_name(p) for p in (*paths, *compiled)}
    return {module_name(p): top_level_imports(p, modules) for p in paths}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import path for each module that comes back to itself."""
    found = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for successor in sorted(graph.get(node, ())):
                if successor == start:
                    found.append([*path, start])
                    stack.clear()
                    break
                if successor not in seen:
                    seen.add(successor)
                    stack.append((successor, [*path, successor]))
    return found


def test_the_graph_sees_the_package_s_imports() -> None:
    graph = import_graph()
    assert "rewriteproxy.runtime" in graph["rewriteproxy.proxy"]
    assert "rewriteproxy.proxy" in graph["rewriteproxy.app"]


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"],
        ["b", "c", "a", "b"],
        ["c", "a", "b", "c"],
    ]


def test_no_module_imports_one_that_imports_it() -> None:
    assert cycles(import_graph()) == []
