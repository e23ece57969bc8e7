"""The value parsers every setting is declared with."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config.setting import (
    Setting,
    boolean,
    directory_path,
    duration,
    number,
    timezone_name,
)


def test_number_keeps_its_kind_and_bounds() -> None:
    whole = number(int, 0, 10)
    assert whole(0) == 0 and whole(10) == 10
    assert isinstance(number(float, 0, 1)(1), float)
    for bad, said in [(11, "between 0 and 10"), (-1, "between 0 and 10"),
                      (2.5, "whole number"), (True, "must be a number"), ("3", "must be a number")]:
        with pytest.raises(ValueError, match=said):
            whole(bad)


def test_duration_is_seconds_or_text_with_a_unit() -> None:
    week = duration(604_800)
    for given, seconds in [(0, 0), ("0", 0), (90, 90), (1.5, 2), ("90", 90), ("45s", 45),
                           ("30m", 1_800), ("12h", 43_200), ("1d", 86_400), (" 2D ", 172_800),
                           ("1.5h", 5_400), ("1w", 604_800)]:
        assert week(given) == seconds, given
        assert isinstance(week(given), int)
    for bad, said in [("8d", "between 0 and 604800"), (-1, "between 0 and 604800"),
                      ("1 day", "duration such as"), ("d", "duration such as"),
                      ("-5m", "duration such as"), (True, "duration such as"),
                      (None, "duration such as"), ([1], "duration such as")]:
        with pytest.raises(ValueError, match=said):
            week(bad)


def test_boolean_is_only_true_or_false() -> None:
    assert boolean(True) is True and boolean(False) is False
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match="true or false"):
            boolean(bad)


def test_timezone_name_is_an_iana_zone() -> None:
    assert timezone_name("Europe/Brussels") == "Europe/Brussels"
    with pytest.raises(ValueError, match="unknown time zone"):
        timezone_name("Mars/Olympus")


def test_directory_path_is_a_non_empty_string() -> None:
    assert directory_path("/srv/lists") == Path("/srv/lists")
    for bad in ("", ["a"], 3):
        with pytest.raises(ValueError, match="directory path"):
            directory_path(bad)


def test_a_setting_without_an_example_shows_its_default() -> None:
    row = Setting("cache", "max_entries", 5, "help", number(int, 0, 9))
    assert row.example is None
    assert row.parse(7) == 7
