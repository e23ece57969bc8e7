"""Shared worker counters: published by each worker, summed by whichever answers status."""

from __future__ import annotations

import os

import pytest

from resolver.counters import SharedCounters, WorkerCounters, totals
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
