"""The log's files: rotation keeps `keep` files, retention deletes old ones, one lock."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from resolver.querylog.files import DAY, LogFiles, first_record_time


def record(ts: str) -> str:
    return f'{{"ts":"{ts}","client":""}}\n'


def make(files: LogFiles, live: str | None, *rotated: str) -> None:
    if live is not None:
        files.path.write_text(live)
    for index, text in enumerate(rotated, 1):
        files.rotated(index).write_text(text)


def contents(files: LogFiles) -> list[str]:
    return [path.read_text() for path in files.all_paths()]


def test_rotation_shifts_and_deletes_beyond_keep(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=3, retention_days=90)
    make(files, "live", "one", "two", "three")
    files.rotate()
    assert files.rotated_indexes() == [1, 2, 3]
    assert not files.path.exists()
    assert contents(files) == ["two", "one", "live"]  # oldest first; "three" is gone
    files.path.write_text("next")
    files.rotate()
    assert contents(files) == ["one", "live", "next"]


def test_rotation_with_keep_0_deletes_the_live_file(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=0, retention_days=90)
    make(files, "live", "one")
    files.rotate()
    assert files.all_paths() == []


def test_a_lower_keep_deletes_the_surplus(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=2, retention_days=90)
    make(files, "live", "one", "two", "three", "four")
    (tmp_path / "q.jsonl.x").write_text("not ours")
    (tmp_path / "q.jsonl.lock").write_text("")
    files.rotate()
    assert contents(files) == ["one", "live"]
    assert (tmp_path / "q.jsonl.x").exists()


def test_retention_deletes_rotated_files_last_written_too_long_ago(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=10, retention_days=30)
    now = time.time()
    make(files, record("2999-01-01T00:00:00.000Z"), "new", "recent", "old", "older")
    for index, age in ((1, 1), (2, 29), (3, 31), (4, 400)):
        mtime = now - age * DAY
        os.utime(files.rotated(index), (mtime, mtime))
    assert files.expire(now) is False
    assert files.rotated_indexes() == [1, 2]
    assert files.path.exists()


def test_the_live_file_rotates_once_its_first_record_is_too_old(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=10, retention_days=30)
    now = time.time()
    first = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 31 * DAY))
    recent = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 29 * DAY))
    files.path.write_text(record(recent))
    assert files.expire(now) is False and files.path.exists()
    files.path.write_text(record(first) + record(recent))
    assert files.expire(now) is True
    assert not files.path.exists()
    assert files.rotated(1).read_text().startswith(record(first))


@pytest.mark.parametrize("text", ["", "not json\n", '{"no":"ts"}\n', '{"ts":"yesterday"}\n',
                                  "[1]\n"])
def test_a_first_line_without_a_time_is_no_reason_to_rotate(tmp_path: Path,
                                                             text: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(text)
    assert first_record_time(path) is None
    assert first_record_time(tmp_path / "missing") is None
    assert LogFiles(path, keep=1, retention_days=1).expire(time.time()) is False


def test_the_lock_excludes_every_other_holder(tmp_path: Path) -> None:
    files = LogFiles(tmp_path / "q.jsonl", keep=1, retention_days=1)
    with files.locked():
        fd = os.open(files.lock_path, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(files.lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
    finally:
        os.close(fd)
