"""`tests/` mirrors `resolver/`: every module has a test module of its own that imports it.

`resolver/<path>/<name>.py` is tested by `tests/<path>/test_<name>.py`, so a module's tests are
found by its name alone and a new module without tests shows up here.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "resolver"
TESTS = REPO / "tests"


def modules() -> list[Path]:
    """Every module of the package that holds behaviour of its own."""
    return sorted(path.relative_to(PACKAGE) for path in PACKAGE.rglob("*.py")
                  if path.name != "__init__.py" and path != PACKAGE / "__main__.py")


def mirror(module: Path) -> Path:
    return TESTS / module.parent / f"test_{module.name}"


def dotted(module: Path) -> str:
    return ".".join(("resolver", *module.with_suffix("").parts))


def imports(test_module: Path, module: Path) -> bool:
    """Whether the test module's text imports `module` (`resolver.a.b`, or `b` from
    `resolver.a`)."""
    text = test_module.read_text(encoding="utf-8")
    name = dotted(module)
    package, _, leaf = name.rpartition(".")
    return re.search(rf"\b{re.escape(name)}\b(?!\.)", text) is not None or re.search(
        rf"from {re.escape(package)} import (?:\([^)]*\b{leaf}\b[^)]*\)|[^\n]*\b{leaf}\b)",
        text) is not None


def test_the_walk_finds_the_package() -> None:
    found = modules()
    assert Path("server.py") in found and Path("commands/check.py") in found
    assert Path("__main__.py") not in found
    assert all(path.name != "__init__.py" for path in found)
    assert mirror(Path("commands/check.py")) == TESTS / "commands" / "test_check.py"
    assert mirror(Path("server.py")) == TESTS / "test_server.py"
    assert dotted(Path("lists/formats/rpz.py")) == "resolver.lists.formats.rpz"


def test_an_import_is_told_from_a_longer_name(tmp_path: Path) -> None:
    edit = Path("commands/edit.py")
    for text, found in [
        ("from resolver.commands.edit import relative\n", True),
        ("from resolver.commands import edit\n", True),
        ("from resolver.commands import (\n    check,\n    edit,\n)\n", True),
        ("import resolver.commands.edit\n", True),
        ("from resolver.commands.edit_cli import dispatch\n", False),
        ("from resolver.commands import edit_cli\n", False),
        ("from resolver.commands import lint\nedit = 1\n", False),
        ("import resolver.commands.edit.something\n", False),
    ]:
        (tmp_path / "test_edit.py").write_text(text)
        assert imports(tmp_path / "test_edit.py", edit) is found, text


def test_every_module_has_a_test_module_of_its_own() -> None:
    missing = [str(mirror(module).relative_to(REPO)) for module in modules()
               if not mirror(module).is_file()]
    assert missing == []


def test_each_test_module_imports_the_module_it_mirrors() -> None:
    strangers = [str(mirror(module).relative_to(REPO)) for module in modules()
                 if mirror(module).is_file() and not imports(mirror(module), module)]
    assert strangers == []

