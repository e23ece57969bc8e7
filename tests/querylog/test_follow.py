"""Following the query log: each record once, across appends, a line written in two
steps, rotations, a budget, and files too old to matter."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from resolver.querylog.follow import LogFollower
from resolver.querylog.reader import LINE_LIMIT
from tests.report.ban_log import line, record

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def lines(first: int, count: int) -> str:
    return "".join(line(record(START + timedelta(minutes=i), list_name="tiktok",
                               client=f"198.51.100.{i % 250}"))
                   for i in range(first, first + count))


def minutes(records: list[dict[str, object]]) -> list[int]:
    return [int((datetime.fromisoformat(str(r["ts"])) - START).total_seconds() // 60)
            for r in records]


def test_each_record_is_read_once_as_the_log_grows(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    live.write_text(lines(0, 5))
    follower = LogFollower(live)
    records, progress = follower.read(1 << 20)
    assert minutes(records) == [0, 1, 2, 3, 4] and progress.behind == 0
    assert follower.read(1 << 20)[0] == []
    with live.open("a") as stream:
        stream.write(lines(5, 2))
    assert minutes(follower.read(1 << 20)[0]) == [5, 6]
    assert follower.reader.records == 7 and follower.files == 1


def test_a_line_being_written_is_read_once_it_ends(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    whole = lines(0, 2)
    cut = whole.index("\n") + 10
    live.write_text(whole[:cut])
    follower = LogFollower(live)
    records, progress = follower.read(1 << 20)
    assert minutes(records) == [0] and progress.behind == 0  # waiting is not being behind
    with live.open("a") as stream:
        stream.write(whole[cut:])
    assert minutes(follower.read(1 << 20)[0]) == [1]
    assert follower.reader.skipped == 0


def test_a_rotation_neither_repeats_nor_loses_records(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    live.write_text(lines(0, 3))
    follower = LogFollower(live)
    assert minutes(follower.read(1 << 20)[0]) == [0, 1, 2]
    with live.open("a") as stream:  # written just before the rotation, not read yet
        stream.write(lines(3, 2))
    os.replace(live, tmp_path / "querylog.jsonl.1")
    live.write_text(lines(5, 1))
    assert minutes(follower.read(1 << 20)[0]) == [3, 4, 5]
    assert follower.files == 2


def test_a_budget_spreads_a_large_log_over_several_reads(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    text = lines(0, 200)
    live.write_text(text)
    follower = LogFollower(live)
    budget = len(text) // 3 + 5
    seen: list[int] = []
    reads, before = 0, 0
    while True:
        records, progress = follower.read(budget)
        reads += 1
        seen += minutes(records)
        assert 0 < progress.read - before <= budget  # whole lines, within the budget
        before = progress.read
        if progress.behind == 0:
            break
        assert progress.behind == len(text) - progress.read
    assert seen == list(range(200)) and 3 <= reads <= 4


def test_files_older_than_the_window_are_not_read(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    old = tmp_path / "querylog.jsonl.1"
    old.write_text(lines(0, 3))
    live.write_text(lines(3, 2))
    week_ago = (START - timedelta(days=7)).timestamp()
    os.utime(old, (week_ago, week_ago))
    follower = LogFollower(live, START - timedelta(days=1))
    assert minutes(follower.read(1 << 20)[0]) == [3, 4]
    follower.forget_before(START + timedelta(minutes=5))
    with live.open("a") as stream:
        stream.write(lines(4, 3))
    assert minutes(follower.read(1 << 20)[0]) == [5, 6]
    assert follower.reader.outside == 1


def test_a_truncated_file_is_read_again_and_garbage_is_skipped(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    live.write_text(lines(0, 4))
    follower = LogFollower(live)
    follower.read(1 << 20)
    live.write_text(lines(10, 1))  # same inode, shorter: truncated and written again
    assert minutes(follower.read(1 << 20)[0]) == [10]
    with live.open("a") as stream:
        stream.write("x" * (LINE_LIMIT + 10))  # no newline, longer than any line
    follower.read(LINE_LIMIT + 100)
    with live.open("a") as stream:
        stream.write("\n" + lines(11, 1))
    assert minutes(follower.read(1 << 20)[0]) == [11]
    assert follower.reader.skipped == 2
    assert json.loads(lines(11, 1))["list"] == "tiktok"
