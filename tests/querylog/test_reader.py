"""Reading the query log back: file order, damaged lines, the period, rotation under the
reader, and memory that does not grow with the log."""

from __future__ import annotations

import os
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from resolver.querylog.reader import (
    LINE_LIMIT,
    QueryLogReader,
    canonical_ts,
    log_files,
    timestamp,
)
from tests.report.ban_log import ban_records, line, record, write_ban_log

T0 = datetime(2023, 3, 20, 8, 0, tzinfo=UTC)


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_files_are_read_oldest_first_whatever_their_number(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    for n in (1, 2, 10, 3):
        write(Path(f"{live}.{n}"), line(record(T0 - timedelta(hours=n))))
    write(live, line(record(T0)))
    for stranger in ("querylog.jsonl.lock", "querylog.jsonl.1.tmp", "querylog.jsonl.x",
                     "other.jsonl.1"):
        write(tmp_path / stranger, line(record(T0)))
    assert [p.name for p in log_files(live)] == [
        "querylog.jsonl.10", "querylog.jsonl.3", "querylog.jsonl.2", "querylog.jsonl.1",
        "querylog.jsonl"]
    stamps = [r["ts"] for r in QueryLogReader(live)]
    assert stamps == sorted(stamps) and len(stamps) == 5


def test_no_log_at_all(tmp_path: Path) -> None:
    assert log_files(tmp_path / "missing" / "querylog.jsonl") == []
    reader = QueryLogReader(tmp_path / "querylog.jsonl")
    assert list(reader) == [] and (reader.lines, reader.records) == (0, 0)


def test_rotated_files_alone_are_read_when_the_live_file_is_gone(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    write(Path(f"{live}.1"), line(record(T0)))
    assert [r["ts"] for r in QueryLogReader(live)] == [timestamp(T0)]


def test_the_ban_log_reads_back_whole_but_its_damaged_lines(tmp_path: Path) -> None:
    live = write_ban_log(tmp_path / "querylog.jsonl")
    reader = QueryLogReader(live)
    assert list(reader) == ban_records()
    assert reader.skipped == 2  # "not json at all" and the torn last line
    assert reader.lines == len(ban_records()) + 2
    assert reader.records == len(ban_records()) and reader.outside == 0
    assert reader.files == log_files(live) and len(reader.files) == 3


@pytest.mark.parametrize("bad", [
    "\n", "[1, 2]\n", '"text"\n', "42\n", "null\n", '{"name": "no ts"}\n',
    '{"ts": 17}\n', '{"ts": "yesterday"}\n', '{"ts": "2023-02-31T10:00:00.000Z"}\n',
    '{"ts": "2023-03-20T10:00:00"}\n', "\xff\xfe\n", "[" * 100_000 + "\n",
    '{"ts": "2023-03-20T10:00:00.000Z", "na',
])
def test_a_line_that_is_not_a_record_is_skipped_and_counted(tmp_path: Path, bad: str) -> None:
    live = write(tmp_path / "log", line(record(T0)), bad, line(record(T0 + timedelta(1))))
    reader = QueryLogReader(live)
    assert [r["ts"] for r in reader] == [timestamp(T0), timestamp(T0 + timedelta(1))]
    assert (reader.skipped, reader.records) == (1, 2)


def test_a_record_appended_to_a_partial_one_is_recovered(tmp_path: Path) -> None:
    glued = '{"ts": "2023-03-20T07:59:00.000Z", "client": "19' + line(record(T0))
    reader = QueryLogReader(write(tmp_path / "log", glued))
    assert [r["ts"] for r in reader] == [timestamp(T0)]
    assert reader.skipped == 1


def test_an_overlong_line_is_skipped_without_reading_it_whole(tmp_path: Path) -> None:
    garbage = "x" * (3 * LINE_LIMIT + 5) + "\n"
    reader = QueryLogReader(write(tmp_path / "log", garbage, line(record(T0))))
    assert [r["ts"] for r in reader] == [timestamp(T0)]
    assert (reader.lines, reader.skipped) == (2, 1)


def test_other_rfc3339_stamps_are_read_in_the_writers_form(tmp_path: Path) -> None:
    entry = record(T0)
    entry["ts"] = "2023-03-20T09:00:00.5+01:00"
    [read] = QueryLogReader(write(tmp_path / "log", line(entry)))
    assert read["ts"] == "2023-03-20T08:00:00.500Z"
    assert canonical_ts("2023-03-20T08:00:00.500Z") == "2023-03-20T08:00:00.500Z"
    assert canonical_ts("2023-03-20 08:00:00Z") == "2023-03-20T08:00:00.000Z"
    assert canonical_ts("2023-03-20T08:00:00") is None  # no zone: which instant?


def test_since_is_inclusive_and_until_exclusive(tmp_path: Path) -> None:
    moments = [T0 + timedelta(milliseconds=n) for n in range(5)]
    live = write(tmp_path / "log", *(line(record(m)) for m in moments))
    brussels = timezone(timedelta(hours=1))
    reader = QueryLogReader(live, since=moments[1].astimezone(brussels), until=moments[3])
    assert [r["ts"] for r in reader] == [timestamp(moments[1]), timestamp(moments[2])]
    assert reader.outside == 3
    # a bound between two milliseconds: the records on either side fall where time says
    between = moments[1] + timedelta(microseconds=400)
    assert [r["ts"] for r in QueryLogReader(live, since=between)] == \
        [timestamp(m) for m in moments[2:]]
    assert [r["ts"] for r in QueryLogReader(live, until=between)] == \
        [timestamp(m) for m in moments[:2]]


def test_timestamp_is_the_writers_form_rounded_up() -> None:
    assert timestamp(datetime(2023, 3, 20, 8, 0, 0, 123000, tzinfo=UTC)) == \
        "2023-03-20T08:00:00.123Z"
    assert timestamp(datetime(2023, 3, 20, 8, 59, 59, 999001, tzinfo=UTC)) == \
        "2023-03-20T09:00:00.000Z"
    with pytest.raises(ValueError, match="time zone"):
        timestamp(datetime(2023, 3, 20))


def test_a_rotation_while_reading_neither_repeats_nor_loses_a_file(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    write(Path(f"{live}.1"), *(line(record(T0 + timedelta(seconds=n))) for n in range(3)))
    write(live, *(line(record(T0 + timedelta(seconds=n))) for n in range(3, 6)))
    reader = iter(QueryLogReader(live))
    first = next(reader)
    # the writer rotates: .1 -> .2, live -> .1, a new live file
    os.rename(f"{live}.1", f"{live}.2")
    os.rename(live, f"{live}.1")
    write(live, line(record(T0 + timedelta(seconds=99))))
    rest = list(reader)
    assert [r["ts"] for r in [first, *rest]] == \
        [timestamp(T0 + timedelta(seconds=n)) for n in range(6)]


def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    live = tmp_path / "querylog.jsonl"
    with live.open("w", encoding="utf-8") as out:
        for n in range(200_000):
            out.write(line(record(T0 + timedelta(seconds=n), list_name="tiktok",
                                  client=f"10.{n % 250}.{n % 7}.0", name=f"n{n}.tiktok.com")))
    assert live.stat().st_size > 40_000_000
    tracemalloc.start()
    try:
        reader = QueryLogReader(live)
        count = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 1_000_000, f"peak {peak} bytes while reading {count} records"


def test_bytes_that_are_not_utf8_and_carriage_returns_do_not_break_lines(
        tmp_path: Path) -> None:
    entry = line(record(T0, name="PLACEHOLDER")).encode()
    live = tmp_path / "log"
    live.write_bytes(entry.replace(b"PLACEHOLDER", b"bad\xff.example")
                     + line(record(T0, name="cr\r.example")).encode()
                     + b'{"ts": "2023-03-20T08:00:00.000Z",\r"x": 1}\n')
    reader = QueryLogReader(live)
    read = list(reader)
    assert [r.get("name") for r in read] == ["bad\ufffd.example", "cr\r.example", None]
    assert read[2]["x"] == 1  # a raw CR is JSON whitespace, not the end of a line
    assert (reader.lines, reader.skipped, reader.records) == (3, 0, 3)
