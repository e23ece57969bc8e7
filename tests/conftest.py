"""What every test module shares: the `source_only` marker.

A test marked `source_only` replaces a function inside the hot modules to inject a fault
(monkeypatch). Compiled, those modules call each other directly, so the replacement would
not be seen: such a test runs where the hot modules run from source, which `make test`'s
second, pure-Python pass always does (CI runs both passes).
"""

from __future__ import annotations

import pytest

import resolver


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not resolver.HOT_MODULES.compiled:
        return
    skip = pytest.mark.skip(reason="injects a fault into a compiled hot module; runs in the "
                                   "pure-Python pass (DNSFENCE_PURE_PYTHON=1)")
    for item in items:
        if item.get_closest_marker("source_only") is not None:
            item.add_marker(skip)
