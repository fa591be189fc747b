"""demo/ has no import cycle, and only the demo scripts build on the command-line layer.

The imports are read from each module's source, those inside a function included (a cycle is
often hidden there), so a cycle is found whether or not a test happens to run through it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import DEMO

MODULES = {path.stem: path for path in DEMO.glob("*.py")}


def imported(path: Path) -> set[str]:
    """The modules of demo/ that `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found & MODULES.keys()


def is_script(path: Path) -> bool:
    """Whether the module is a program (`if __name__ == "__main__":`), a demo the user runs."""
    return any(
        isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
        for node in ast.parse(path.read_text(encoding="utf-8")).body
    )


def a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph` (module -> modules it imports), as a path; [] if none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return []
        for each in sorted(graph.get(module, ())):
            cycle = visit(each, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return []


def test_the_cycle_finder_finds_cycles():
    assert a_cycle({"democli": {"batch"}, "batch": {"democli", "media"}, "media": set()}) == [
        "batch",
        "democli",
        "batch",
    ]
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_in_demo():
    graph = {name: imported(path) for name, path in MODULES.items()}
    assert graph["democli"] >= {"batch", "video", "results", "annotation", "console"}
    assert a_cycle(graph) == []


def test_only_demo_scripts_import_the_command_line_layer():
    importers = {name for name, path in MODULES.items() if "democli" in imported(path)}
    assert importers, "no demo imports democli"
    assert {name for name in importers if not is_script(MODULES[name])} == set()
