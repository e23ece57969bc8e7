"""The text of a new list file: keys in the documented order, text folded when long."""

from __future__ import annotations

import yaml

from resolver.edit.new_list import new_list_text


def test_a_new_list_has_its_keys_in_order_and_no_entries() -> None:
    text = new_list_text("video", effective="2023-06-01", reference="Ticket 42",
                         timezone="Europe/Brussels", expires="2024-01-01T00:00",
                         description="Video sites")
    assert text == ("name: video\ndescription: Video sites\nreference: Ticket 42\n"
                    "effective: 2023-06-01\nexpires: 2024-01-01T00:00\n"
                    "timezone: Europe/Brussels\ndomains:\n")


def test_optional_keys_are_left_out() -> None:
    text = new_list_text("v", effective="2023-06-01", reference="r", timezone="UTC")
    assert text == "name: v\nreference: r\neffective: 2023-06-01\ntimezone: UTC\ndomains:\n"


def test_text_that_would_not_read_back_is_quoted_and_long_text_folded() -> None:
    quoted = new_list_text("v", effective="2023-06-01", reference="Decision: no",
                           timezone="UTC")
    assert 'reference: "Decision: no"\n' in quoted
    long = " ".join(["word"] * 40)
    folded = new_list_text("v", effective="2023-06-01", reference=long, timezone="UTC")
    lines = folded.splitlines()
    assert lines[1] == "reference: >-"
    assert all(len(line) <= 92 for line in lines)
    assert yaml.safe_load(folded)["reference"] == long
    assert yaml.safe_load(quoted)["reference"] == "Decision: no"


def test_a_warning_period_comes_before_the_effective_date() -> None:
    text = new_list_text("v", effective="2023-06-01", reference="r", timezone="UTC",
                         observe_from="2023-05-15")
    assert text == ("name: v\nreference: r\nobserve_from: 2023-05-15\neffective: 2023-06-01\n"
                    "timezone: UTC\ndomains:\n")
