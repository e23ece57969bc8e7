"""resolver.policy.weekly: windows as instants, overnight windows, and the DST days.

The DST cases are Europe/Brussels in 2026: clocks jump 02:00 CET -> 03:00 CEST on
29 March (01:00 UTC) and fall back 03:00 CEST -> 02:00 CET on 25 October (01:00 UTC).
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from resolver.policy.weekly import DAYS, DailyWindow, WeeklyPattern, WeeklySchedule, edge
from tests.policy.assertions import utc

BRUSSELS = ZoneInfo("Europe/Brussels")
SPRING = date(2026, 3, 29)  # a Sunday
AUTUMN = date(2026, 10, 25)  # a Sunday


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def schedule(*windows: tuple[str, str, str], timezone: str = "Europe/Brussels"
             ) -> WeeklySchedule:
    """schedule(("fri", "22:00", "06:00"), ...)"""
    made = tuple(DailyWindow(DAYS.index(d), hm(s), hm(e) if e != "24:00" else 86_400)
                 for d, s, e in windows)
    return WeeklySchedule((WeeklyPattern(timezone, made, "test"),))


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
       second: int = 0) -> float:
    return utc(year, month, day, hour, minute, second).timestamp()


def test_an_edge_on_an_ordinary_day_is_that_wall_clock_time() -> None:
    assert edge(date(2026, 1, 5), hm("09:00"), BRUSSELS) == ts(2026, 1, 5, 8)
    assert edge(date(2026, 7, 6), hm("09:00"), BRUSSELS) == ts(2026, 7, 6, 7)
    assert edge(date(2026, 1, 5), 86_400, BRUSSELS) == ts(2026, 1, 5, 23)  # 24:00


def test_spring_forward_a_skipped_time_is_the_instant_of_the_jump() -> None:
    jump = ts(2026, 3, 29, 1)  # 02:00 CET becomes 03:00 CEST
    assert edge(SPRING, hm("02:00"), BRUSSELS) == jump
    assert edge(SPRING, hm("02:30"), BRUSSELS) == jump
    assert edge(SPRING, hm("02:59"), BRUSSELS) == jump
    assert edge(SPRING, hm("03:00"), BRUSSELS) == jump
    assert edge(SPRING, hm("01:59"), BRUSSELS) == ts(2026, 3, 29, 0, 59)
    assert edge(SPRING, hm("03:01"), BRUSSELS) == ts(2026, 3, 29, 1, 1)


def test_fall_back_a_repeated_time_is_its_first_occurrence() -> None:
    assert edge(AUTUMN, hm("02:00"), BRUSSELS) == ts(2026, 10, 25, 0)   # 02:00 CEST
    assert edge(AUTUMN, hm("02:30"), BRUSSELS) == ts(2026, 10, 25, 0, 30)
    assert edge(AUTUMN, hm("03:00"), BRUSSELS) == ts(2026, 10, 25, 2)   # 03:00 CET, once


def test_windows_on_the_spring_forward_day() -> None:
    # a window inside the skipped hour does not happen that day; one across it is shorter
    inside = schedule(("sun", "02:10", "02:50"))
    assert inside.edges(ts(2026, 3, 28), ts(2026, 3, 30)) == []
    assert inside.edges(ts(2026, 4, 4), ts(2026, 4, 6)) == [
        (ts(2026, 4, 5, 0, 10), True), (ts(2026, 4, 5, 0, 50), False)]
    across = schedule(("sun", "01:30", "03:30"))
    assert across.edges(ts(2026, 3, 28), ts(2026, 3, 30)) == [
        (ts(2026, 3, 29, 0, 30), True), (ts(2026, 3, 29, 1, 30), False)]  # one real hour
    ending = schedule(("sat", "22:00", "02:30"))  # overnight, ends in the gap: at the jump
    assert ending.edges(ts(2026, 3, 28), ts(2026, 3, 30)) == [
        (ts(2026, 3, 28, 21), True), (ts(2026, 3, 29, 1), False)]
    assert ending.active(ts(2026, 3, 29, 0, 59, 59))
    assert not ending.active(ts(2026, 3, 29, 1))


def test_windows_on_the_fall_back_day() -> None:
    repeated = schedule(("sun", "02:15", "02:45"))  # the first 02:15-02:45, CEST
    assert repeated.edges(ts(2026, 10, 24), ts(2026, 10, 26)) == [
        (ts(2026, 10, 25, 0, 15), True), (ts(2026, 10, 25, 0, 45), False)]
    assert not repeated.active(ts(2026, 10, 25, 1, 30))  # 02:30 CET, the second time round
    across = schedule(("sun", "01:00", "04:00"))  # three hours on the wall, four in real time
    assert across.edges(ts(2026, 10, 24), ts(2026, 10, 26)) == [
        (ts(2026, 10, 24, 23), True), (ts(2026, 10, 25, 3), False)]


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    night = schedule(("fri", "22:00", "06:00"), timezone="UTC")
    friday = date(2026, 1, 9)
    assert friday.weekday() == DAYS.index("fri")
    assert not night.active(ts(2026, 1, 9, 21, 59, 59))
    assert night.active(ts(2026, 1, 9, 22))
    assert night.active(ts(2026, 1, 10, 5, 59, 59))   # Saturday morning
    assert not night.active(ts(2026, 1, 10, 6))
    assert not night.active(ts(2026, 1, 9, 5))        # Friday morning: Thursday has none
    assert night.next_edge(ts(2026, 1, 10, 6)) == ts(2026, 1, 16, 22)


def test_touching_windows_make_one_and_every_instant_means_no_edge() -> None:
    joined = schedule(("mon", "09:00", "12:00"), ("mon", "12:00", "17:00"), timezone="UTC")
    assert joined.edges(ts(2026, 1, 5), ts(2026, 1, 6)) == [
        (ts(2026, 1, 5, 9), True), (ts(2026, 1, 5, 17), False)]
    always = schedule(*((d, "00:00", "24:00") for d in DAYS))
    assert always.active(ts(2026, 3, 29, 1))
    assert always.next_edge(ts(2026, 3, 29)) is None
    assert always.state(ts(2026, 6, 1))[1] == math.inf


def test_narrowed_schedules_are_in_force_only_where_both_are() -> None:
    office = schedule(("mon", "09:00", "17:00"), timezone="UTC")
    morning = schedule(("mon", "06:00", "12:00"), timezone="UTC")
    both = office.narrowed(morning)
    assert both.edges(ts(2026, 1, 5), ts(2026, 1, 6)) == [
        (ts(2026, 1, 5, 9), True), (ts(2026, 1, 5, 12), False)]
    assert both.patterns == office.patterns + morning.patterns
    assert both.text == "test and test"
    assert office.narrowed(office) == office


def test_active_agrees_with_the_wall_clock_on_ordinary_days() -> None:
    """Against a reference that reads the local weekday and time directly (valid away from
    DST days), at random instants, in order and out of order (the memo must not leak)."""
    week = schedule(("mon", "09:00", "12:30"), ("mon", "13:30", "17:30"),
                    ("tue", "09:00", "12:30"), ("fri", "22:00", "06:00"),
                    ("sat", "10:00", "12:00"), ("sun", "23:00", "24:00"))
    windows = week.patterns[0].windows

    def reference(moment: float) -> bool:
        local = datetime.fromtimestamp(moment, BRUSSELS)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        today, yesterday = local.weekday(), (local.weekday() - 1) % 7
        for w in windows:
            if w.day == today and (w.start <= seconds < w.end if not w.overnight
                                   else seconds >= w.start):
                return True
            if w.day == yesterday and w.overnight and seconds < w.end:
                return True
        return False

    rng = random.Random(12)
    start = ts(2026, 4, 6)
    moments = sorted(start + rng.uniform(0, 150 * 86_400) for _ in range(3_000))
    moments += [start + rng.uniform(0, 150 * 86_400) for _ in range(1_000)]
    for moment in moments:
        day = datetime.fromtimestamp(moment, BRUSSELS).date()
        if any(d in (SPRING, AUTUMN) for d in (day, day - timedelta(days=1))):
            continue
        assert week.active(moment) == reference(moment), datetime.fromtimestamp(moment,
                                                                                 BRUSSELS)


def test_next_edge_is_the_next_change_of_active() -> None:
    week = schedule(("mon", "09:00", "12:30"), ("wed", "22:00", "02:00"))
    moment = ts(2026, 3, 23)
    for _ in range(40):
        following = week.next_edge(moment)
        assert following is not None and following > moment
        before = week.active(following - 1)
        assert week.active(following) != before
        assert week.active(moment) == before  # nothing changed in between
        moment = following
