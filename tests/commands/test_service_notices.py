"""When READY=1 is due: at start once the first generation serves, after a SIGHUP once the
reload's generation serves (or at once when it failed or applies in place), never for an
earlier reload that finishes after a later SIGHUP. Sent to a real unix datagram socket."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from resolver.commands.service_notices import (
    ReloadAnswer,
    ServiceNotices,
    SighupReloads,
    reload_status,
)
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.lists.load import load_policy
from resolver.policy.period import PolicyHolder
from resolver.reload import SIGHUP, PolicyReloader, ReloadReport
from resolver.service_manager import ServiceManager
from tests.commands.cli_runner import STAGED, write_tree

SERVING = "serving DNS on 127.0.0.1:53 with 2 workers"


class Manager:
    """A service manager's socket and the notices that send to it."""

    def __init__(self, directory: Path) -> None:
        path = str(directory / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.notices = ServiceNotices(ServiceManager(path), SERVING)

    def received(self) -> list[dict[str, str]]:
        """Every message sent since the last call, as dicts."""
        found = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return found
            found.append(dict(line.split("=", 1) for line in data.decode().split("\n")))

    def states(self) -> list[str]:
        return [next(iter(message)) for message in self.received()]


@pytest.fixture
def manager() -> Iterator[Manager]:
    with tempfile.TemporaryDirectory(prefix="notify.") as found:
        yield Manager(Path(found))


def ok(at: float = 1.0) -> ReloadReport:
    return ReloadReport(at, True, SIGHUP)


def failed(at: float = 1.0) -> ReloadReport:
    return ReloadReport(at, False, SIGHUP, ("a.yaml:2:1: error: bad", "b.yaml:3:1: error: bad"))


def test_ready_once_the_first_generation_serves(manager: Manager) -> None:
    assert manager.received() == []
    manager.notices.settled(1)
    [ready] = manager.received()
    assert ready["READY"] == "1" and ready["STATUS"] == SERVING and "MAINPID" in ready
    manager.notices.settled(1)  # the supervisor says so on every round: sent once
    assert manager.received() == []


def test_a_reload_is_ready_when_its_generation_serves(manager: Manager) -> None:
    notices = manager.notices
    notices.settled(1)
    manager.received()
    notices.sighup()
    [reloading] = manager.received()
    assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
    notices.answered(ReloadAnswer(1, ok(), 2), loaded_at=1.0)
    notices.settled(1)  # the old generation still serves: not yet
    assert manager.received() == []
    notices.settled(2)
    [ready] = manager.received()
    assert ready["READY"] == "1" and ready["STATUS"].startswith(f"{SERVING}; reloaded at ")


def test_a_failed_reload_is_ready_at_once_and_says_so(manager: Manager) -> None:
    notices = manager.notices
    notices.settled(1)
    notices.sighup()
    assert manager.states() == ["READY", "RELOADING"]
    notices.answered(ReloadAnswer(1, failed(), None), loaded_at=0.0)
    [ready] = manager.received()
    assert ready["READY"] == "1"
    assert "failed with 2 error(s)" in ready["STATUS"]
    assert "still serving the policy loaded at" in ready["STATUS"]


def test_an_answer_to_an_earlier_sighup_is_not_the_ready(manager: Manager) -> None:
    notices = manager.notices
    notices.settled(1)
    notices.sighup()
    notices.sighup()
    assert manager.states() == ["READY", "RELOADING", "RELOADING"]
    notices.answered(ReloadAnswer(1, ok(), 2), loaded_at=1.0)
    notices.settled(2)
    assert manager.received() == []
    notices.answered(ReloadAnswer(2, ok(), 3), loaded_at=1.0)
    notices.settled(2)
    assert manager.received() == []
    notices.settled(3)
    assert manager.states() == ["READY"]


def test_a_failure_after_a_good_reload_waits_for_its_generation(manager: Manager) -> None:
    notices = manager.notices
    notices.settled(1)
    notices.sighup()
    notices.answered(ReloadAnswer(1, ok(), 2), loaded_at=1.0)
    notices.sighup()
    notices.answered(ReloadAnswer(2, failed(), None), loaded_at=1.0)
    assert manager.states() == ["READY", "RELOADING", "RELOADING"]
    notices.settled(2)  # the last good policy is generation 2's: ready once it serves
    [ready] = manager.received()
    assert "failed with 2 error(s)" in ready["STATUS"]


def test_a_single_process_is_ready_as_soon_as_the_reload_applies(manager: Manager) -> None:
    manager.notices.settled(1)
    manager.notices.sighup()
    manager.notices.answered(ReloadAnswer(1, ok(), None), loaded_at=1.0)
    assert manager.states() == ["READY", "RELOADING", "READY"]


def test_no_ready_before_the_start_whatever_reloads_do(manager: Manager) -> None:
    manager.notices.sighup()
    manager.notices.answered(ReloadAnswer(1, failed(), None), loaded_at=1.0)
    assert manager.states() == ["RELOADING"]
    manager.notices.settled(1)
    assert manager.states() == ["READY"]


def test_a_worker_death_is_a_status_until_it_serves_again(manager: Manager) -> None:
    notices = manager.notices
    notices.settled(1)
    manager.received()
    notices.worker_died("worker 2/2 (pid 7) was killed by signal 9 (SIGKILL); starting it "
                        "again in 0.5s")
    [died] = manager.received()
    assert died == {"STATUS": "worker 2/2 (pid 7) was killed by signal 9 (SIGKILL); "
                              "starting it again in 0.5s"}
    notices.settled(1)
    assert manager.received() == [{"STATUS": SERVING}]
    notices.settled(1)
    assert manager.received() == []


def test_stopping(manager: Manager) -> None:
    manager.notices.stopping("stopping: finishing the queries in flight")
    assert manager.received() == [{"STOPPING": "1",
                                   "STATUS": "stopping: finishing the queries in flight"}]


def test_reload_status_texts() -> None:
    at = time.mktime((2026, 3, 20, 8, 0, 0, 0, 0, -1))
    assert reload_status(ok(at), 0.0) == "reloaded at 2026-03-20 08:00:00"
    assert reload_status(failed(at), at - 3600) == (
        "reload at 2026-03-20 08:00:00 failed with 2 error(s) (see the log); still serving "
        "the policy loaded at 2026-03-20 07:00:00")


def reloader(root: Path) -> PolicyReloader:
    write_tree(root, {"blocklists/social.yaml": STAGED})
    base = defaults().with_overrides(blocklists=root / "blocklists", state_dir=root / "state",
                                     **{"upstream.servers": (Endpoint("192.0.2.1", 53),)})
    config = replace(base, reload=replace(base.reload, watch=False))
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    return PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                          lambda _old, _new: None, downloads=False)


def test_sighup_reloads_answer_once_per_reload_on_the_real_loop(tmp_path: Path) -> None:
    live = reloader(tmp_path)
    sighups = SighupReloads(live)
    answers: list[tuple[int, ReloadReport]] = []

    def changed() -> None:
        report = sighups.answer()
        if report is not None:
            answers.append((sighups.received, report))

    live.on_change = changed

    async def scenario() -> None:
        task = asyncio.create_task(live.run())
        sighups.request()
        sighups.request()  # before the loop wakes: one reload answers both
        while not answers:
            await asyncio.sleep(0.01)
        sighups.request()
        while len(answers) < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [(covers, report.ok, report.reason) for covers, report in answers] == [
        (2, True, SIGHUP), (3, True, SIGHUP)]
    assert live.reloads == 2
    assert sighups.answer() is None  # each report answers once


def test_a_reload_that_a_later_sighup_overtook_answers_nothing(tmp_path: Path) -> None:
    live = reloader(tmp_path)
    sighups = SighupReloads(live)
    sighups.request()  # a SIGHUP no reload has begun to answer
    live.last = ok()  # an earlier SIGHUP's reload finishes meanwhile
    assert live.reload_pending and sighups.answer() is None
    live.last = ReloadReport(2.0, True, "files changed")
    assert sighups.answer() is None
