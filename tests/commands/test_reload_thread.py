"""The supervisor's reloader thread: one reload for every worker; a good one becomes a new
generation (and rings the main thread), a bad one only changes the reported state, and a
SIGHUP's reload, good or bad, is handed over as its answer (for the service manager)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from resolver.commands.reload_thread import ReloadThread
from resolver.commands.supervisor_report import SupervisorReport
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.counters import SharedCounters
from resolver.lists.load import load_policy
from resolver.pipeline import counter_names, level_names
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from tests.commands.cli_runner import STAGED, write_tree

BROKEN = "name: social\neffective: not a date\ndomains: [tiktok.com]\n"


class Running:
    def __init__(self, root: Path) -> None:
        write_tree(root, {"blocklists/social.yaml": STAGED})
        base = defaults().with_overrides(
            blocklists=root / "blocklists", state_dir=root / "state",
            **{"upstream.servers": (Endpoint("192.0.2.1", 53),)})
        config = replace(base, reload=replace(base.reload, watch=False))
        loaded = load_policy(config.blocklists, config.timezone)
        assert loaded.policy is not None
        self.list_file = root / "blocklists" / "social.yaml"
        self.live = PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                                   lambda _old, _new: None, downloads=False)
        self.shared = SharedCounters(1, counter_names(), slots=3)
        self.rung = threading.Event()
        self.thread = ReloadThread(self.live, SupervisorReport(self.shared, 2, level_names()),
                                   self.rung.set)

    def state(self) -> dict[str, Any]:
        [report] = self.shared.read()
        return report.state

    def reload(self) -> None:
        self.rung.clear()
        self.thread.request_reload()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    found = Running(tmp_path)
    first = found.thread.first()
    assert first.number == 1 and first.policy is found.live.active.policy
    found.thread.start()
    try:
        yield found
    finally:
        found.thread.stop()
    assert not found.thread.alive


def wait_for(check: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_good_reload_is_a_new_generation_and_rings(running: Running) -> None:
    assert running.state()["reload"]["ok"] == 0  # published before the first worker starts
    running.list_file.write_text(running.list_file.read_text().replace(
        "  - tiktok.com\n", "  - tiktok.com\n  - example.org\n"))
    running.reload()
    assert running.rung.wait(5)
    generation = running.thread.take()
    assert generation is not None and generation.number == 2
    assert generation.policy is running.live.active.policy
    assert generation.policy.size == 4
    assert running.thread.take() is None  # handed over once
    assert running.state()["reload"]["ok"] == 1
    answer = running.thread.take_answer()
    assert answer is not None and answer.covers == 1 and answer.generation == 2
    assert answer.report.ok and answer.report.reason == "SIGHUP"
    assert running.thread.take_answer() is None


def test_only_the_newest_generation_is_handed_over(running: Running) -> None:
    for _ in range(2):
        running.reload()
        assert running.rung.wait(5)
    generation = running.thread.take()
    assert generation is not None and generation.number == 3
    assert running.thread.take() is None
    answer = running.thread.take_answer()
    assert answer is not None and answer.covers == 2 and answer.generation == 3


def test_a_failed_reload_is_reported_and_starts_nothing(running: Running) -> None:
    running.list_file.write_text(BROKEN)
    running.reload()
    wait_for(lambda: running.state()["reload"]["failed"] == 1, "the failure reported")
    last = running.state()["reload"]["last"]
    assert last["ok"] is False and any("social.yaml:2" in p for p in last["problems"])
    assert running.thread.take() is None
    # rung only for the answer: READY=1 is due although no worker starts
    assert running.rung.wait(5)
    answer = running.thread.take_answer()
    assert answer is not None and answer.covers == 1 and answer.generation is None
    assert not answer.report.ok and running.thread.take() is None
