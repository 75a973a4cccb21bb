"""The import directions of ARCHITECTURE.md, enforced: layers point down, nothing imports the CLI,
and no two modules import each other, directly or around a loop (lazy imports included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rsvl"

# Top to bottom; a package may import its own layer's packages or any layer below.
LAYERS: list[set[str]] = [
    {"cli", "__main__"},
    {"api", "demo"},
    {"builders", "training", "evaluation"},
    {"models", "imagery", "osm", "captions", "vqa", "synth"},
    {"data"},
    {"errors", "config", "env"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> Iterator[str]:
    """Every ``rsvl`` module this file imports, at top level or inside functions."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("rsvl"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("rsvl"):
                continue
            # ``from rsvl.x import y`` names the submodule rsvl.x.y, or a name of rsvl.x
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in modules else target


def _graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {target for target in _imports(path, set(files))
                   if target in files and target != name}
            for name, path in files.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"rsvl.{package} is in no layer of tests/test_architecture.py; "
                         "add it to LAYERS and to ARCHITECTURE.md")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _graph()


def test_layers_point_down(graph: dict[str, set[str]]) -> None:
    upward = [f"{source} -> {target}" for source, targets in sorted(graph.items())
              for target in sorted(targets)
              if _package(source) and _package(target)
              and _layer(_package(target)) < _layer(_package(source))]
    assert upward == []


def test_library_never_imports_the_cli(graph: dict[str, set[str]]) -> None:
    offenders = [source for source, targets in graph.items()
                 if _package(source) not in {"cli", "__main__"}
                 and any(_package(target) == "cli" for target in targets)]
    assert offenders == []


def test_no_module_cycles(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_no_package_cycles(graph: dict[str, set[str]]) -> None:
    packages: dict[str, set[str]] = {}
    for source, targets in graph.items():
        if _package(source):
            packages.setdefault(_package(source), set()).update(
                _package(t) for t in targets if _package(t) and _package(t) != _package(source))
    assert _cycles(packages) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
