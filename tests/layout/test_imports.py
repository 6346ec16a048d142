"""The layout keeps the architecture: imports point one way (DESIGN.md), with no circle.

Every import is read from the AST, at module level and inside functions (most imports here are
inside functions, to keep `--help` fast), so a lazy import that runs back up is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bench", "infer_core", "reports")

# importer prefix -> imported prefixes it must never reach
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "reports": ("bench", "infer_core", "tensorflow", "tf_keras", "keras"),
    "infer_core": ("bench", "reports"),
    "bench.worker": ("bench.runner", "bench.cli", "bench.results", "bench.integrations", "bench.scenario"),
    "bench.timing": ("bench.runner", "bench.cli", "bench.results", "bench.worker", "infer_core", "reports"),
    "bench.scenario": ("bench.runner", "bench.cli", "bench.results", "bench.worker", "reports"),
    "bench.runner": ("bench.cli", "bench.integrations"),
    "bench.results": ("bench.cli", "bench.integrations", "bench.worker"),
    "bench.integrations": ("bench.cli",),
    "bench.errors": ("bench.cli", "bench.runner", "bench.worker"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path: Path) -> None:
    here = module_name(path)
    rules = [(prefix, banned) for prefix, banned in FORBIDDEN.items() if _within(here, prefix)]
    wrong = sorted(f"{name} (from {prefix}, which never imports {b})" for name in imported(path)
                   for prefix, bans in rules for b in bans if _within(name, b))
    assert not wrong, f"{here} imports the wrong way: {wrong}"


def _graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t if t in modules else t.rpartition(".")[0] for t in imported(path)}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle() -> None:
    """A package's __init__ may re-export its modules; otherwise no module reaches itself again."""
    graph = _graph()
    for name in graph:  # a package's own __init__ importing its children is not a circle
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_rooms_exist() -> None:
    """A newcomer can tell from folder names where code runs."""
    for room in ("cli", "worker", "runner", "scenario", "results", "integrations"):
        assert (ROOT / "bench" / room / "__init__.py").is_file(), room
