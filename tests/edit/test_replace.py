"""Writing an edited list file: whole, atomically, over the text the edit began from only."""

from __future__ import annotations

import io
import os
import signal
import stat
import threading
from pathlib import Path

import pytest

from resolver.atomic_write import TemporaryFileError
from resolver.edit import replace as replace_module
from resolver.edit.document import EditError
from resolver.edit.replace import replace_file
from tests.commands.edit_runner import (
    dnsfence,
    in_process,
    lint,
    new_lines,
    shipped_site,
    stand_in,
    tiktok,
)


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


# --- through `dnsfence block add`, as an admin edits ------------------------------------------

@pytest.fixture
def site(tmp_path: Path) -> Path:
    return shipped_site(tmp_path)


def test_the_file_keeps_its_permissions(site: Path) -> None:
    path = site / "blocklists" / "tiktok.yaml"
    path.chmod(0o640)
    assert dnsfence("block", "add", "x.example", "--list", "tiktok", cwd=site).status == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tiktok(site)

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    run = in_process(site, "block", "add", "x.example", "--list", "tiktok")
    assert run.status == 1
    assert "dnsfence: cannot write blocklists/tiktok.yaml: No space left on device; nothing " \
           "was changed" in run.err
    assert tiktok(site) == before
    assert sorted(p.name for p in (site / "blocklists").iterdir()) == ["tiktok.yaml"]


def test_an_interrupt_before_the_rename_leaves_the_old_file_and_no_temporary_file(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tiktok(site)

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    run = in_process(site, "block", "add", "x.example", "--list", "tiktok")
    assert run.status == 130  # dnsfence turns Ctrl-C into the shell's 128 + SIGINT
    assert tiktok(site) == before
    assert sorted(p.name for p in (site / "blocklists").iterdir()) == ["tiktok.yaml"]


KILLED = """
    def killed(source, target):
        assert open(source, "rb").read().endswith(b"x.example\\n")  # written and flushed
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = killed
"""


def test_a_kill_between_write_and_rename_leaves_the_old_file_in_force(site: Path) -> None:
    before = tiktok(site)
    run = dnsfence("block", "add", "x.example", "--list", "tiktok", cwd=site,
                   program=stand_in(KILLED))
    assert run.status == -signal.SIGKILL
    assert tiktok(site) == before
    # What a kill leaves is a hidden temporary file, which no loader reads.
    leftovers = [p.name for p in (site / "blocklists").iterdir() if p.name != "tiktok.yaml"]
    assert all(name.startswith(".tiktok.yaml.") for name in leftovers)
    run = lint(site)
    assert run.status == 0
    assert "1 list(s), 42 entries" in run.out


def test_a_file_changed_during_the_edit_is_not_overwritten(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resolver.edit import checks
    from resolver.edit.checks import load_policy_with as real

    path = site / "blocklists" / "tiktok.yaml"

    def meanwhile(*args: object, **kwargs: object) -> object:
        path.write_bytes(path.read_bytes() + b"  - someone.else\n")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "load_policy_with", meanwhile)
    run = in_process(site, "block", "add", "x.example", "--list", "tiktok")
    assert run.status == 1
    assert "changed while it was being edited; nothing was changed" in run.err
    assert path.read_bytes().endswith(b"  - someone.else\n")


def test_readers_see_the_old_file_or_the_new_one_never_a_mix(site: Path) -> None:
    from resolver.commands.edit import run_add, run_remove
    from resolver.config.load import defaults
    from resolver.policy.model import Action

    config = defaults().with_overrides(blocklists=site / "blocklists")
    path = site / "blocklists" / "tiktok.yaml"
    old = path.read_bytes()
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    sink = io.StringIO()
    try:
        for _ in range(3):
            assert run_add(config, "tiktok", ["x.example"], Action.BLOCK, out=sink,
                           err=sink) == 0
            assert run_remove(config, "tiktok", ["x.example"], Action.BLOCK, out=sink,
                              err=sink) == 0
    finally:
        done.set()
        reader.join()
    assert path.read_bytes() == old
    assert seen <= {old, old + b"  - x.example\n"}


def test_a_symbolic_link_stays_a_link_to_the_edited_file(site: Path) -> None:
    real = site / "kept" / "tiktok.yaml"
    real.parent.mkdir()
    link = site / "blocklists" / "tiktok.yaml"
    link.replace(real)
    link.symlink_to(real)
    before = real.read_bytes()
    run = in_process(site, "block", "add", "x.example", "--list", "tiktok")
    assert run.status == 0, run.err
    assert link.is_symlink()
    assert new_lines(before, real.read_bytes()) == ["  - x.example"]
