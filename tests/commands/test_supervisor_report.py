"""The supervisor's slot: reload state, restarts, and what exited workers counted."""

from __future__ import annotations

import os
import threading

from resolver.commands.supervisor_report import SupervisorReport
from resolver.counters import SharedCounters
from resolver.pipeline import counter_names, level_names

NAMES = counter_names()


def test_state_and_supervisor_facts_are_published_together() -> None:
    shared = SharedCounters(1, NAMES, slots=3)
    report = SupervisorReport(shared, 2, level_names())
    report.set_state({"reload": {"ok": 1}})
    report.set_supervisor({"restarts": 2})
    [found] = shared.read()
    assert not found.serving and found.pid == os.getpid()
    assert found.state == {"reload": {"ok": 1}, "supervisor": {"restarts": 2}}


def test_an_exited_workers_totals_are_kept_and_its_slot_freed() -> None:
    shared = SharedCounters(1, NAMES, slots=3)
    report = SupervisorReport(shared, 2, level_names())
    report.publish()
    shared.publish(0, 12345, 1.0, {"blocked": 4, "cache_entries": 9},
                   {"queries": {("blocked", "udp"): 4.0}})
    report.absorb(0)
    assert shared.read_slot(0) is None
    [found] = shared.read()
    assert found.counters["blocked"] == 4
    assert found.counters["cache_entries"] == 0  # a level: gone with its worker
    assert found.series == {"queries": {("blocked", "udp"): 4.0}}
    report.absorb(1)  # a worker that died before its first copy: nothing to keep
    assert shared.read()[0].counters["blocked"] == 4


def test_two_threads_writing_never_tear_the_report() -> None:
    shared = SharedCounters(1, NAMES, slots=3)
    report = SupervisorReport(shared, 2, level_names())
    stop = threading.Event()

    def states() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            report.set_state({"n": number})

    writer = threading.Thread(target=states)
    writer.start()
    try:
        for number in range(300):
            report.set_supervisor({"restarts": number})
            found = shared.read()
            assert len(found) == 1 and "supervisor" in found[0].state
    finally:
        stop.set()
        writer.join()
    [found] = shared.read()
    assert found.state["supervisor"] == {"restarts": 299} and found.state["n"] > 0
