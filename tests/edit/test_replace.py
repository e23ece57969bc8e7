"""Writing an edited list file: whole, atomically, over the text the edit began from only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resolver.atomic_write import TemporaryFileError
from resolver.edit import replace as replace_module
from resolver.edit.document import EditError
from resolver.edit.replace import replace_file


def test_the_new_text_replaces_the_old_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    replace_file(path, "new\n", previous="old\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]


def test_a_new_file_follows_the_umask(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        replace_file(tmp_path / "new.yaml", "text\n", previous=None)
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640
    assert (tmp_path / "new.yaml").read_text() == "text\n"


def test_a_file_changed_or_created_meanwhile_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("someone else's\n")
    with pytest.raises(EditError, match="changed while it was being edited"):
        replace_file(path, "mine\n", previous="old\n")
    with pytest.raises(EditError, match="was created meanwhile"):
        replace_file(path, "mine\n", previous=None)
    with pytest.raises(EditError, match="changed while it was being edited"):
        replace_file(tmp_path / "gone.yaml", "mine\n", previous="old\n")
    assert path.read_text() == "someone else's\n"


def test_a_symbolic_link_stays_a_link_to_the_replaced_file(tmp_path: Path) -> None:
    real = tmp_path / "kept" / "a.yaml"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "a.yaml"
    link.symlink_to(real)
    replace_file(link, "new\n", previous="old\n")
    assert link.is_symlink() and real.read_text() == "new\n"


@pytest.mark.parametrize(("error", "said"), [
    (TemporaryFileError(13, "Permission denied"), "cannot write in {dir}: Permission denied"),
    (OSError(28, "No space left on device"), "cannot write {path}: No space left on device"),
])
def test_a_failed_write_is_an_edit_error_and_leaves_the_old_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, said: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("old\n")

    def fail(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(replace_module, "write_atomically", fail)
    with pytest.raises(EditError) as refused:
        replace_file(path, "new\n", previous="old\n")
    assert str(refused.value) == said.format(dir=tmp_path, path=path) + "; nothing was changed"
    assert path.read_text() == "old\n"
