"""When a dead worker starts again, and when deaths are a crash loop."""

from __future__ import annotations

import os

import pytest

from resolver.commands.restarts import RestartSchedule, describe_exit


def test_the_delay_doubles_per_worker_up_to_the_cap() -> None:
    schedule = RestartSchedule(first=0.5, most=3.0, loop_deaths=100)
    delays = [schedule.death(0, lived=0.1, now=float(t)) for t in range(6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert schedule.death(1, lived=0.1, now=6.0) == 0.5  # another worker has its own


def test_a_worker_that_lived_a_while_starts_the_backoff_again() -> None:
    schedule = RestartSchedule(first=0.5, stable_after=60.0, loop_deaths=100)
    for now in (0.0, 1.0, 2.0):
        schedule.death(0, lived=0.1, now=now)
    assert schedule.death(0, lived=60.0, now=100.0) == 0.5
    assert schedule.death(0, lived=0.1, now=101.0) == 1.0


def test_five_deaths_within_a_minute_are_a_crash_loop_whichever_workers() -> None:
    schedule = RestartSchedule()
    for index, now in enumerate((0.0, 10.0, 20.0, 30.0)):
        assert schedule.death(index % 2, lived=5.0, now=now) is not None
    assert schedule.recent_deaths == 4
    assert schedule.death(0, lived=5.0, now=59.0) is None


def test_deaths_older_than_the_window_do_not_count() -> None:
    schedule = RestartSchedule()
    for now in (0.0, 10.0, 20.0, 30.0):
        schedule.death(0, lived=5.0, now=now)
    assert schedule.death(0, lived=5.0, now=61.0) is not None  # the first one has expired
    assert schedule.recent_deaths == 4


def test_restarts_are_counted_when_they_happen() -> None:
    schedule = RestartSchedule()
    schedule.death(0, lived=1.0, now=0.0)
    assert schedule.restarts == 0
    schedule.restarted()
    assert schedule.restarts == 1


@pytest.mark.parametrize(("how", "said"), [
    ("exit 3", "exited with status 3"),
    ("exit 0", "exited with status 0"),
    ("kill 9", "was killed by signal 9 (SIGKILL)"),
    ("kill 15", "was killed by signal 15 (SIGTERM)"),
])
def test_an_exit_status_is_said_in_words(how: str, said: str) -> None:
    action, number = how.split()
    pid = os.fork()
    if pid == 0:
        if action == "kill":
            os.kill(os.getpid(), int(number))
        os._exit(int(number))
    _, status = os.waitpid(pid, 0)
    assert describe_exit(status) == said
