"""demo/ has no import cycle, and only the demo scripts build on the command-line layer.

The imports are read from each module's source, those inside a function included (a cycle is
often hidden there), so a cycle is found whether or not a test happens to run through it.
"""

from __future__ import annotations

import ast
import os
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


# Records, when cv2 is first imported, the limit OpenCV then reads from the environment.
_CV2_WATCH = """
import importlib.abc, os, sys
seen = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "cv2" and not seen:
            seen.append(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS"))
sys.meta_path.insert(0, Watch())
sys.path.insert(0, {demo!r})
import {module}
print(seen[0] if seen else "cv2 not imported")
"""


def test_opencv_loads_with_the_demos_pixel_limit_whichever_demo_imports_it():
    import subprocess
    import sys

    sys.path.insert(0, str(DEMO))
    try:
        from media import MAX_PIXELS
    finally:
        sys.path.remove(str(DEMO))
    scripts = [name for name, path in MODULES.items() if is_script(path)]
    # As a user's shell has it: not what media, imported by other tests, set in this process.
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPENCV_")}
    for module in sorted(scripts + ["batch", "democli"]):
        code = _CV2_WATCH.format(demo=str(DEMO), module=module)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=DEMO,
            env=env,
        )
        assert result.returncode == 0, (module, result.stderr)
        assert result.stdout.strip() in (str(MAX_PIXELS), "cv2 not imported"), (module, result.stdout)
