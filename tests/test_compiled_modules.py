"""resolver.compiled_modules: the compiled hot modules run only when they are built from the
source beside them and not switched off; otherwise Python imports that source, and says why.

The choice is tested on a small package made here (its "extension" is a file Python could
not load, so importing the source proves the finder took it); the real build is checked
when the checkout has one (in CI, `make build` makes it, except in the pure-Python run).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import resolver
import resolver.pipeline
from resolver import compiled_modules
from resolver.compiled_modules import PURE_PYTHON_ENV, SourceFirst, choose, install
from tests.integration.harness import in_ci

REPO = Path(__file__).resolve().parent.parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
PURE_RUN = compiled_modules.pure_python()
"""Whether this test run is the pure-Python one (read before any fixture changes it)."""


@pytest.fixture(autouse=True)
def no_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)


@pytest.fixture()
def built(tmp_path: Path) -> Iterator[Path]:
    """A package `hotpkg` with two modules, "compiled" (an unloadable extension beside each
    source), its shared library and a manifest naming the sources' digests."""
    package = tmp_path / "hotpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    digests = {}
    for name, body in (("fast", "WHERE = 'source'\n"), ("other", "VALUE = 2\n")):
        source = package / f"{name}.py"
        source.write_text(body)
        (package / f"{name}{SUFFIX}").write_bytes(b"not an extension")
        digests[f"hotpkg.{name}"] = hashlib.sha256(source.read_bytes()).hexdigest()
    (package / f"_hot__mypyc{SUFFIX}").write_bytes(b"not an extension either")
    (package / "compiled.json").write_text(json.dumps(
        {"shared_library": "hotpkg._hot", "modules": digests}))
    yield package
    for name in [*sys.modules]:
        if name == "hotpkg" or name.startswith("hotpkg."):
            del sys.modules[name]


def test_a_build_from_the_source_beside_it_is_chosen(built: Path) -> None:
    chosen = choose(built / "compiled.json", built.parent)
    assert chosen.compiled and chosen.stale == ()
    assert chosen.description == "compiled (mypyc, 2 hot modules)"


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_chooses_the_source(built: Path, monkeypatch: pytest.MonkeyPatch,
                                            value: str) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, value)
    chosen = choose(built / "compiled.json", built.parent)
    assert not chosen.compiled
    assert chosen.description == f"python ({PURE_PYTHON_ENV} is set)"


def test_one_edited_source_makes_the_whole_build_stale(built: Path) -> None:
    (built / "other.py").write_text("VALUE = 3\n")
    chosen = choose(built / "compiled.json", built.parent)
    assert not chosen.compiled and chosen.stale == ("hotpkg.other",)
    assert "older than their source: make build" in chosen.description


def test_a_deleted_source_is_stale_too(built: Path) -> None:
    (built / "fast.py").unlink()
    assert choose(built / "compiled.json", built.parent).stale == ("hotpkg.fast",)


@pytest.mark.parametrize("damage", ["no manifest", "unreadable manifest", "no shared library"])
def test_without_a_whole_build_the_source_runs(built: Path, damage: str) -> None:
    if damage == "no manifest":
        (built / "compiled.json").unlink()
    elif damage == "unreadable manifest":
        (built / "compiled.json").write_text("{not json")
    else:
        (built / f"_hot__mypyc{SUFFIX}").unlink()
    chosen = choose(built / "compiled.json", built.parent)
    assert not chosen.compiled
    assert chosen.description == "python (the hot modules are not compiled)"


def test_when_the_source_is_chosen_it_is_what_python_imports(
        built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (built / "other.py").write_text("VALUE = 3\n")  # stale: every listed module from source
    monkeypatch.syspath_prepend(str(built.parent))
    before = list(sys.meta_path)
    try:
        chosen = install(built / "compiled.json", built.parent)
        import hotpkg.fast  # type: ignore[import-not-found]
        import hotpkg.other  # type: ignore[import-not-found]
    finally:
        sys.meta_path[:] = before
    assert not chosen.compiled
    assert hotpkg.fast.WHERE == "source" and hotpkg.other.VALUE == 3
    assert hotpkg.fast.__file__ == str(built / "fast.py")


def test_without_the_finder_python_would_take_the_extension(
        built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture's extensions really shadow their sources: what the finder is for."""
    monkeypatch.syspath_prepend(str(built.parent))
    with pytest.raises(ImportError):
        import hotpkg.fast  # noqa: F401


def test_a_chosen_build_leaves_the_import_path_alone(built: Path) -> None:
    before = list(sys.meta_path)
    try:
        assert install(built / "compiled.json", built.parent).compiled
        assert sys.meta_path == before
    finally:
        sys.meta_path[:] = before


def test_the_finder_takes_only_the_listed_modules(tmp_path: Path) -> None:
    finder = SourceFirst(frozenset({"hotpkg.fast"}), tmp_path)
    assert finder.find_spec("hotpkg.other", None) is None
    spec = finder.find_spec("hotpkg.fast", None)
    assert spec is not None and spec.origin == str(tmp_path / "hotpkg" / "fast.py")


def test_this_checkouts_choice_matches_its_build() -> None:
    """The package as imported here: compiled exactly when built, wanted and current."""
    chosen = resolver.HOT_MODULES
    compiled_file = resolver.pipeline.__file__ or ""
    assert chosen.compiled == (not compiled_file.endswith(".py")), (chosen, compiled_file)
    if not (REPO / "resolver" / "compiled.json").exists():
        assert not chosen.compiled
    if PURE_RUN:
        assert not chosen.compiled
    elif in_ci():
        # CI's first run is of the compiled build (make build made it): prove it ran
        assert chosen.compiled, f"CI=true and the hot modules run as {chosen.description}"


def test_the_build_lists_every_hot_module_and_leaves_the_rest_interpreted() -> None:
    """setup.py compiles what a query runs through, never a module mypyc cannot build."""
    listed = subprocess.run(
        [sys.executable, "-c", "import setup; print('\\n'.join(setup.hot_sources()))"],
        cwd=REPO, capture_output=True, text=True, check=True,
        env={**os.environ, "DNSFENCE_COMPILE": ""}).stdout.split()
    assert "resolver/pipeline.py" in listed and "resolver/stages/blocking.py" in listed
    assert "resolver/policy/index.py" in listed and "resolver/dns/query.py" in listed
    assert "resolver/stages/response_kind.py" not in listed
    assert "resolver/stages/roles.py" not in listed
    assert not any(path.endswith("__init__.py") for path in listed)
    assert compiled_modules.MANIFEST == REPO / "resolver" / "compiled.json"
