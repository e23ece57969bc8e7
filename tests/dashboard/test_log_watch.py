"""The log's reading thread: started by the first look, a bounded read every few seconds,
idle once nobody looks, and a snapshot a request takes without waiting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from resolver.dashboard import log_watch
from resolver.dashboard.log_watch import LogWatch
from tests.report.ban_log import line, record

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


def write(path: Path, count: int, start: int = 0) -> None:
    with path.open("a") as stream:
        stream.write("".join(line(record(NOW - timedelta(minutes=count + start - i),
                                         list_name="tiktok")) for i in range(count)))


def test_the_first_look_starts_the_thread_and_waits_for_the_first_read(
        tmp_path: Path) -> None:
    path = tmp_path / "querylog.jsonl"
    write(path, 5)
    watch = LogWatch(path, "UTC", Clock())
    try:
        assert watch.state.read_at is None and watch.attempts.lists == ()
        watch.looked_at()
        assert watch.state.read_at == NOW.timestamp()
        assert watch.attempts.lists[0].total == 5 and watch.state.records == 5
        assert watch.state.files == 1 and watch.state.behind_bytes == 0
    finally:
        watch.stop()


def wait_for_total(watch: LogWatch, total: int, failure: str) -> None:
    """Until the first list's attempts reach `total`, 5 s at most (then `failure`)."""
    deadline = time.monotonic() + 5
    while watch.attempts.lists[0].total < total:
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)


def test_the_thread_reads_what_the_log_gains(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(log_watch, "INTERVAL", 0.05)
    path = tmp_path / "querylog.jsonl"
    write(path, 2)
    watch = LogWatch(path, "UTC", Clock())
    try:
        watch.looked_at()
        write(path, 3)
        wait_for_total(watch, 5, "the thread did not read the new lines")
    finally:
        watch.stop()


def test_nobody_looking_stops_the_reading(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(log_watch, "INTERVAL", 0.02)
    clock = Clock()
    path = tmp_path / "querylog.jsonl"
    write(path, 1)
    watch = LogWatch(path, "UTC", clock)
    try:
        watch.looked_at()
        clock.now += log_watch.IDLE_AFTER + 1
        time.sleep(0.2)  # the thread sees nobody looked and waits
        write(path, 2)
        time.sleep(0.2)
        assert watch.attempts.lists[0].total == 1  # not read while idle
        watch.looked_at()
        wait_for_total(watch, 3, "a new look did not wake the thread")
    finally:
        watch.stop()


def test_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    watch = LogWatch(tmp_path / "none" / "querylog.jsonl", "UTC", Clock())
    watch.step()
    assert watch.state.files == 0 and watch.state.error is None
    assert watch.attempts.lists == ()
