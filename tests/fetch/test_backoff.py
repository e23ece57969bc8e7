"""The retry schedule of failing downloads: doubling waits with jitter, a cap, Retry-After."""

from __future__ import annotations

import random

import pytest

from resolver.fetch.backoff import RETRY_AFTER_CAP, RetryPolicy, RetrySchedule

URL = "https://lists.example/ban.txt"
T0 = 1_795_000_000.0


class Fixed(random.Random):
    """A random source that always gives the same share (0: no jitter, ~1: the most)."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    def random(self) -> float:
        return self.share


def waits(schedule: RetrySchedule, policy: RetryPolicy, failures: int) -> list[float]:
    found: list[float] = []
    for _ in range(failures):
        now = T0 + sum(found)
        found.append(schedule.failed(URL, now, "down", policy).next_at - now)
    return found


def test_without_jitter_waits_double_from_30_s_up_to_an_hour() -> None:
    got = waits(RetrySchedule(Fixed(0.0)), RetryPolicy(), 10)
    assert got == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_jitter_only_shortens_a_wait_and_by_at_most_its_share() -> None:
    policy = RetryPolicy(initial=30, maximum=3600, jitter=0.2)
    most = waits(RetrySchedule(Fixed(0.999999)), policy, 8)
    assert most == pytest.approx([24, 48, 96, 192, 384, 768, 1536, 2880], rel=1e-5)
    spread = [RetrySchedule(random.Random(seed)) for seed in range(200)]
    firsts = [s.failed(URL, T0, "down", policy).next_at - T0 for s in spread]
    assert all(24 <= wait <= 30 for wait in firsts)
    assert max(firsts) - min(firsts) > 4  # servers started together do not retry in step


def test_a_long_run_of_failures_stays_at_the_maximum() -> None:
    policy = RetryPolicy(initial=1, maximum=50, jitter=0)
    assert policy.delay(1, random.Random()) == 1
    assert policy.delay(7, random.Random()) == 50
    assert policy.delay(10_000, random.Random()) == 50  # no overflow


def test_retry_after_is_honoured_when_longer_than_the_backoff_and_capped_at_a_day() -> None:
    policy = RetryPolicy(initial=30, maximum=3600, jitter=0)
    schedule = RetrySchedule()
    assert schedule.failed(URL, T0, "503", policy, retry_after=600).next_at == T0 + 600
    assert schedule.failed(URL, T0, "503", policy, retry_after=5).next_at == T0 + 60  # backoff
    far = schedule.failed(URL, T0, "503", policy, retry_after=10 * RETRY_AFTER_CAP)
    assert far.next_at == T0 + RETRY_AFTER_CAP
    assert (far.failures, far.last_error) == (3, "503")


def test_due_only_after_the_wait_and_a_success_forgets_the_failures() -> None:
    policy = RetryPolicy(initial=30, maximum=3600, jitter=0)
    schedule = RetrySchedule()
    assert schedule.due(URL, T0) and schedule.next_due() is None
    schedule.failed(URL, T0, "down", policy)
    assert not schedule.due(URL, T0 + 29.9) and schedule.due(URL, T0 + 30)
    assert schedule.next_due() == T0 + 30
    schedule.failed(URL, T0 + 30, "down", policy)
    schedule.succeeded(URL)
    assert schedule.attempts(URL) is None and schedule.due(URL, T0)
    assert schedule.failed(URL, T0, "down", policy).failures == 1  # a new run of failures


def test_soon_schedules_an_untried_source_but_never_moves_a_failing_one() -> None:
    policy = RetryPolicy(initial=30, maximum=3600, jitter=0)
    schedule = RetrySchedule()
    schedule.soon(URL, T0)
    found = schedule.attempts(URL)
    assert found is not None and (found.failures, found.next_at, found.last_error) == (
        0, T0, None)
    schedule.failed(URL, T0, "down", policy)
    schedule.soon(URL, T0)
    assert not schedule.due(URL, T0 + 1)
    assert schedule.failed(URL, T0 + 30, "down", policy).failures == 2


def test_urls_no_list_names_are_forgotten() -> None:
    policy = RetryPolicy(jitter=0)
    schedule = RetrySchedule()
    schedule.failed(URL, T0, "down", policy)
    schedule.failed("https://other.example/x.txt", T0, "down", policy)
    schedule.keep_only({URL})
    assert schedule.attempts("https://other.example/x.txt") is None
    assert schedule.attempts(URL) is not None


@pytest.mark.parametrize(("initial", "maximum", "jitter"), [
    (0, 10, 0.1), (20, 10, 0.1), (1, 10, 1.0), (1, 10, -0.1)])
def test_a_policy_that_makes_no_sense_is_refused(initial: float, maximum: float,
                                                 jitter: float) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(initial=initial, maximum=maximum, jitter=jitter)
