"""The writer: records reach the file whole, off the caller's thread, and a broken log
neither blocks nor raises; several processes share one file without tearing lines."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import resource
import shutil
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from resolver.dns.query import Query
from resolver.querylog.anonymise import KEY_FILE
from resolver.querylog.files import DAY, LogFiles
from resolver.querylog.record import RawRecord, RecordFormatter, RecordQueue
from resolver.querylog.writer import PART, PIPE_CHUNK, QueryLogWriter
from resolver.stages.contract import BLOCKED

NEVER = 3600.0
"""A batch interval the tests never reach: only close() writes."""


def raw(n: int, client: str = "192.0.2.7", now: float | None = None,
        name: str = "") -> RawRecord:
    query = Query(n & 0xFFFF, 0x0100, name or f"n{n}.example", 1, 1, b"", None)
    return (time.time() if now is None else now, client, "", query, BLOCKED, 3, None, "",
            None, False)


def read_lines(paths: list[Path]) -> list[dict[str, object]]:
    """Every line of the files, each parsed (a torn line fails here)."""
    lines: list[dict[str, object]] = []
    for path in paths:
        data = path.read_bytes()
        assert not data or data.endswith(b"\n"), f"{path} ends inside a line"
        lines.extend(json.loads(line) for line in data.splitlines())
    return lines


def names(lines: list[dict[str, object]]) -> list[str]:
    return [str(line["name"]) for line in lines]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_records_are_written_in_order_and_close_flushes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "q.jsonl"  # the directory is made
    writer = QueryLogWriter(path, interval=NEVER)
    count = 2 * PART + 7  # formatted and written a part at a time
    for n in range(count):
        writer.submit(raw(n))
    assert writer.queued == count and not path.exists()
    writer.close()
    assert names(read_lines([path])) == [f"n{n}.example" for n in range(count)]
    assert (writer.written, writer.dropped, writer.errors) == (count, 0, 0)
    assert read_lines([path])[0]["client"] == "192.0.2.0"  # truncate is the default
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_the_thread_writes_batches_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = QueryLogWriter(path, interval=0.01)
    try:
        writer.submit(raw(1))
        wait_for(lambda: writer.written == 1)
        writer.submit(raw(2))
        wait_for(lambda: writer.written == 2)
        assert names(read_lines([path])) == ["n1.example", "n2.example"]
    finally:
        writer.close()


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = QueryLogWriter(path, queue=100, interval=NEVER)
    started = time.perf_counter()
    for n in range(100_000):
        writer.submit(raw(n))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"100k submits took {elapsed:.2f} s"
    assert (writer.queued, writer.dropped) == (100, 99_900)
    writer.close()
    assert names(read_lines([path])) == [f"n{n}.example" for n in range(100)]
    assert (writer.written, writer.dropped) == (100, 99_900)


def test_records_taken_while_others_arrive_are_neither_lost_nor_repeated() -> None:
    queue = RecordQueue(1000)
    records = [raw(n, now=0.0) for n in range(100_000)]
    taken: list[RawRecord] = []

    def submit_all() -> None:
        for record in records:
            queue.submit(record)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns as often as they can
    try:
        producer = threading.Thread(target=submit_all)
        producer.start()
        batches = 0
        while producer.is_alive():
            got = queue.take()
            batches += bool(got)
            taken += got
        producer.join()
    finally:
        sys.setswitchinterval(previous)
    taken += queue.take()
    assert batches > 1  # taken while records arrived
    assert len(taken) + queue.overflow == len(records)  # every record taken or counted
    # compiled, a record is copied on its way in: its query is the same object
    ids = {id(record[3]): n for n, record in enumerate(records)}
    order = [ids[id(record[3])] for record in taken]
    assert order == sorted(set(order))  # in order, none twice


def test_size_rotation_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = QueryLogWriter(path, rotate_bytes=4096, keep=3, interval=NEVER)
    for n in range(200):
        writer.submit(raw(n))
    writer.close()
    files = LogFiles(path, keep=3, retention_days=90)
    assert files.rotated_indexes() == [1, 2, 3]
    assert all(p.stat().st_size <= 2 * 4096 for p in files.all_paths())
    kept = names(read_lines(files.all_paths()))
    assert 0 < len(kept) < 200
    assert kept == [f"n{n}.example" for n in range(200 - len(kept), 200)]  # oldest gone


def test_retention_applies_to_rotated_and_live_files(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    old = time.time() - 100 * DAY
    QueryLogWriter(path, interval=NEVER).close()  # nothing queued: nothing written
    assert not path.exists()
    path.write_text(RecordFormatter(str).line(raw(0, now=old)))
    stale = path.with_name("q.jsonl.1")
    stale.write_text("{}\n")
    os.utime(stale, (old, old))
    writer = QueryLogWriter(path, retention_days=90, interval=NEVER)
    writer.submit(raw(1))
    writer.close()
    # the stale rotated file went, the live file (first record 100 days old) rotated
    assert names(read_lines([stale])) == ["n0.example", "n1.example"]
    assert not path.exists()
    assert LogFiles(path, 10, 90).rotated_indexes() == [1]
    writer = QueryLogWriter(path, retention_days=101, interval=NEVER)
    writer.submit(raw(2))
    writer.close()
    assert names(read_lines([path])) == ["n2.example"]  # a young log stays where it is


def test_a_file_rotated_by_another_writer_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = QueryLogWriter(path, interval=0.01)
    try:
        writer.submit(raw(1))
        wait_for(lambda: writer.written == 1)
        path.rename(tmp_path / "q.jsonl.1")
        writer.submit(raw(2))
        wait_for(lambda: writer.written == 2)
    finally:
        writer.close()
    assert names(read_lines([path])) == ["n2.example"]


def _fill_up(path: str) -> None:
    """Write until the file size limit cuts a write short, then go on once it is lifted."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, like ENOSPC, instead of a kill
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, hard))
    writer = QueryLogWriter(Path(path), interval=NEVER)
    for n in range(100):
        writer.submit(raw(n))
    writer._batch()  # in this thread, so that its limit applies
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    whole = writer.written
    assert 0 < whole < 100
    assert (writer.dropped, writer.errors) == (100 - whole, 1)
    writer.submit(raw(100))
    writer.close()
    assert (writer.written, writer.dropped) == (whole + 1, 100 - whole)
    assert len(Path(path).read_bytes().splitlines()) == whole + 2


def test_a_write_cut_short_leaves_at_most_one_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    child = multiprocessing.get_context("fork").Process(target=_fill_up, args=(str(path),))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    lines = path.read_bytes().splitlines()
    assert names([json.loads(line) for line in lines[:-2]]) == \
        [f"n{n}.example" for n in range(len(lines) - 2)]
    assert lines[-2].startswith(b'{"ts":')
    with pytest.raises(ValueError):
        json.loads(lines[-2])  # the half line the limit left
    assert json.loads(lines[-1])["name"] == "n100.example"


def test_an_unwritable_log_is_reported_once_counted_and_recovers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")  # fails even for root
    path = blocker / "q.jsonl"
    caplog.set_level(logging.WARNING, logger="dnsfence")
    writer = QueryLogWriter(path, interval=0.01)
    try:
        for n in range(5):
            started = time.perf_counter()
            writer.submit(raw(n))
            assert time.perf_counter() - started < 0.1
            wait_for(lambda n=n: writer.dropped == n + 1)  # type: ignore[misc]
        assert writer.errors == 5 and writer.written == 0
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        assert str(path) in caplog.records[0].getMessage()
        blocker.unlink()
        blocker.mkdir()
        writer.submit(raw(10))
        wait_for(lambda: writer.written == 1)
        wait_for(lambda: len(caplog.records) >= 2)  # logged just after the write, by the thread
        assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
        shutil.rmtree(blocker)
        blocker.write_text("broken again")
        writer.submit(raw(11))
        wait_for(lambda: writer.dropped == 6)
        wait_for(lambda: len(caplog.records) >= 3)
        assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING", "ERROR"]
    finally:
        writer.close()


def test_hash_tokens_are_the_same_for_writers_of_one_state_dir(tmp_path: Path) -> None:
    tokens = []
    for state in ("a", "a", "b"):
        path = tmp_path / state / "q.jsonl"
        writer = QueryLogWriter(path, clients="hash", state_dir=tmp_path / state,
                                interval=NEVER)
        writer.submit(raw(1, client="2001:db8:1:2::99"))
        writer.close()
        tokens.append(read_lines([path])[-1]["client"])
    assert tokens[0] == tokens[1] != tokens[2]
    assert stat.S_IMODE((tmp_path / "a" / KEY_FILE).stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="state directory"):
        QueryLogWriter(tmp_path / "q.jsonl", clients="hash")


def _append(path: str, worker: int, count: int) -> None:
    writer = QueryLogWriter(Path(path), rotate_bytes=256 << 10, keep=1000, interval=0.005)
    for n in range(count):
        writer.submit(raw(n, name=f"w{worker}-{n}.example"))
        if n % 2000 == 0:
            time.sleep(0.002)  # let the batches of the two processes alternate
    writer.close(timeout=60)
    assert (writer.written, writer.dropped) == (count, 0)


def test_two_processes_share_one_log_and_every_record_arrives_whole(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    count = 20_000
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append, args=(str(path), w, count)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    files = LogFiles(path, keep=1000, retention_days=90)
    assert len(files.rotated_indexes()) >= 10  # rotated often
    mixed = [path for path in files.all_paths()
             if {n.split("-")[0] for n in names(read_lines([path]))} == {"w1", "w2"}]
    assert len(mixed) >= 2, "the two processes did not write at the same time"
    logged = names(read_lines(files.all_paths()))
    expected = [f"w{w}-{n}.example" for w in (1, 2) for n in range(count)]
    assert len(logged) == len(expected)
    assert sorted(logged) == sorted(expected)


def _append_to_pipe(fd: int, worker: int) -> None:
    writer = QueryLogWriter(fd, interval=NEVER)
    for n in range(3000):
        writer.submit(raw(n, name=f"w{worker}-{n}." + "x" * 50))
    writer.close(timeout=60)


def test_writes_to_a_pipe_stay_whole_between_processes(tmp_path: Path) -> None:
    """Standard output is often a pipe that several workers share."""
    read_end, write_end = os.pipe()
    received = bytearray()
    reader = threading.Thread(target=lambda: _drain(read_end, received))
    reader.start()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_to_pipe, args=(write_end, w)) for w in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    os.close(write_end)
    reader.join(10)
    lines = [json.loads(line) for line in bytes(received).splitlines()]
    assert sorted(names(lines)) == sorted(f"w{w}-{n}." + "x" * 50
                                          for w in (1, 2) for n in range(3000))
    assert PIPE_CHUNK <= 4096


def _drain(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65_536):
        into.extend(chunk)
    os.close(fd)
