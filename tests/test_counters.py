"""Shared worker counters: published by each worker, summed by whichever answers status."""

from __future__ import annotations

import os

import pytest

from resolver.counters import Departed, SharedCounters, WorkerCounters, totals
from resolver.pipeline import counter_names

COUNTER_NAMES = counter_names()


def test_a_slot_reads_back_what_was_published() -> None:
    shared = SharedCounters(3, COUNTER_NAMES)
    assert shared.read() == []  # nothing published yet
    shared.publish(1, 4242, 1000.5, {"blocked": 7, "forwarded": 3})
    [worker] = shared.read()
    assert worker.pid == 4242 and worker.published_at == 1000.5
    assert worker.counters["blocked"] == 7 and worker.counters["forwarded"] == 3
    assert set(worker.counters) == set(COUNTER_NAMES)
    assert worker.counters["refused"] == 0


def test_what_a_forked_worker_publishes_is_seen_by_the_others() -> None:
    shared = SharedCounters(2, COUNTER_NAMES)
    pid = os.fork()
    if pid == 0:  # the child: publish and leave at once
        try:
            shared.publish(1, os.getpid(), 5.0, {"blocked": 11})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [(w.pid, w.counters["blocked"]) for w in shared.read()] == [(pid, 11)]


def test_totals_add_the_others_to_this_workers_live_counters() -> None:
    own = {name: 1 for name in COUNTER_NAMES}
    others = [WorkerCounters(10, 0.0, {name: 5 for name in COUNTER_NAMES}),
              WorkerCounters(11, 0.0, {name: 100 for name in COUNTER_NAMES})]
    # worker 11's own slot is older than its live values
    summed = totals(11, own, others, COUNTER_NAMES)
    assert summed == {name: 6 for name in COUNTER_NAMES}


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError):
        SharedCounters(0, COUNTER_NAMES)


def test_a_cleared_slot_reads_as_empty_and_can_be_used_again() -> None:
    shared = SharedCounters(1, COUNTER_NAMES, slots=2)
    shared.publish(1, 4242, 1.0, {"blocked": 1})
    shared.clear(1)
    assert shared.read() == [] and shared.read_slot(1) is None
    shared.publish(1, 4343, 2.0, {"blocked": 2})
    assert [(w.pid, w.counters["blocked"]) for w in shared.read()] == [(4343, 2)]


def test_fewer_slots_than_workers_is_refused() -> None:
    with pytest.raises(ValueError):
        SharedCounters(2, COUNTER_NAMES, slots=1)


def test_an_absorbed_copy_is_counted_once_whichever_moment_it_is_read() -> None:
    """The supervisor adds an exited worker's copy to its own report, then clears the
    worker's slot: a reader between the two steps must not count the copy twice."""
    shared = SharedCounters(1, COUNTER_NAMES, slots=3)
    shared.publish(0, 10, 1.0, {"blocked": 5}, {"blocked": {("ads",): 5.0}})
    shared.publish(2, 99, 1.0, {}, serving=False)  # the supervisor, nothing departed yet
    copy = shared.read_slot(0)
    assert copy is not None
    departed = Departed()
    departed.add(0, copy.sequence, copy.report)

    def blocked() -> int:
        return sum(report.counters["blocked"] for report in shared.read())

    assert blocked() == 5  # before: in the worker's slot
    shared.publish(2, 99, 2.0, departed.counters, departed.series, serving=False,
                   absorbed=tuple(departed.absorbed))
    assert blocked() == 5  # between: the supervisor says it has it
    shared.clear(0)
    assert blocked() == 5  # after: only the supervisor has it
    shared.publish(0, 11, 3.0, {"blocked": 1})  # a successor in the same slot counts
    assert blocked() == 6
    [supervisor] = [report for report in shared.read() if not report.serving]
    assert supervisor.series == {"blocked": {("ads",): 5.0}}


def test_departed_totals_add_up_but_levels_go_with_their_worker() -> None:
    departed = Departed()
    for slot, pid in ((0, 10), (1, 11)):
        departed.add(slot, 2, WorkerCounters(pid, 0.0, {"blocked": 3, "cache_entries": 50},
                                             {"blocked": {("ads",): 3.0}}),
                     levels=frozenset({"cache_entries"}))
    assert departed.counters == {"blocked": 6}
    assert departed.series == {"blocked": {("ads",): 6.0}}
    assert list(departed.absorbed) == [(0, 2), (1, 2)]


def test_the_supervisors_report_is_not_this_workers_own() -> None:
    own = {name: 1 for name in COUNTER_NAMES}
    supervisor = WorkerCounters(11, 0.0, {name: 7 for name in COUNTER_NAMES}, serving=False)
    assert totals(11, own, [supervisor], COUNTER_NAMES) == {name: 8 for name in COUNTER_NAMES}


def test_a_torn_document_is_read_as_not_there_never_as_an_error() -> None:
    shared = SharedCounters(1, COUNTER_NAMES, slot_bytes=4096)
    shared.publish(0, 4242, 1.0, {"blocked": 1})
    # The sequence says "complete" but the bytes are not a document (the stores of another
    # process seen out of order): the reader gives up on the slot, as for a half-written one.
    shared._map[32:40] = b"\x00" * 8
    assert shared.read_slot(0) is None
    assert shared.read() == []


def test_reads_while_another_process_publishes_never_fail() -> None:
    shared = SharedCounters(1, COUNTER_NAMES, slot_bytes=1 << 16)
    pid = os.fork()
    if pid == 0:  # the child: publish reports of changing length, bounded in count
        try:
            for n in range(20_000):
                shared.publish(0, os.getpid(), float(n), {"blocked": n},
                               {"blocked": {(f"list-{i}",): float(n) for i in range(n % 50)}})
        finally:
            os._exit(0)
    seen = 0
    try:
        for _ in range(20_000):
            found = shared.read()  # raises nothing, whatever moment it reads
            seen += len(found)
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                pid = 0
                break
    finally:
        if pid:
            os.waitpid(pid, 0)
    assert seen > 0
    [last] = shared.read()
    assert last.counters["blocked"] >= 0
