"""resolver.atomic_write: a file is replaced whole, or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from resolver.atomic_write import TemporaryFileError, write_atomically


def test_the_file_is_replaced_with_the_mode_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "list.txt"
    target.write_bytes(b"old\n")
    write_atomically(target, b"new\n", mode=0o640)
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["list.txt"]  # no temporary file left


def test_a_new_file_is_readable_by_others_by_default(tmp_path: Path) -> None:
    target = tmp_path / "copy.txt"
    write_atomically(target, b"a.example\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    target = tmp_path / "list.txt"
    target.write_bytes(b"old\n")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError) as failed:
        write_atomically(target, b"new\n")
    assert not isinstance(failed.value, TemporaryFileError)
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["list.txt"]


def test_no_temporary_file_is_its_own_error(tmp_path: Path) -> None:
    with pytest.raises(TemporaryFileError):
        write_atomically(tmp_path / "absent" / "list.txt", b"new\n")
