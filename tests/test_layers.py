"""The package's import structure: the layers in pyproject hold, and nothing imports in a circle.

import-linter checks the layers (`make lint` runs it; the first test runs it too, so a
plain `pytest` catches a violation); import-linter has no contract for cycles inside a
layer, so the second test finds them on the same import graph.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_layers_in_pyproject_hold() -> None:
    program = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(program).exists():
        pytest.fail("lint-imports is not installed: `make test` installs it (.[test])")
    result = subprocess.run([program, "--no-cache"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # iterative, so a long chain of imports cannot hit the recursion limit
        work = [(start, iter(sorted(imports.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports.get(child, ())))))
                    break
                if child in on_stack:
                    low[module] = min(low[module], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_in_a_circle() -> None:
    graph = grimp.build_graph("resolver", cache_dir=None)
    imports = {module: {m for m in graph.find_modules_directly_imported_by(module)
                        if m.startswith("resolver")}
               for module in graph.modules if module.startswith("resolver")}
    # a package's __init__ is imported with any of its modules: not an import of its own
    for module, imported in imports.items():
        imported -= {m for m in imported if module.startswith(m + ".")}
    assert import_cycles(imports) == []
