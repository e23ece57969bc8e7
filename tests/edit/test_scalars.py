"""Values written as YAML scalars that read back as the same value."""

from __future__ import annotations

import pytest

from resolver.edit.scalars import STR_TAGS, WHEN_TAGS, reads_back, scalar


@pytest.mark.parametrize(("value", "written"), [
    ("tiktok.com", "tiktok.com"),
    ("*.example.com", '"*.example.com"'),
    ("null", '"null"'),
    ("yes", '"yes"'),
    ("123", '"123"'),
    ("a: b", '"a: b"'),
    ("# note", '"# note"'),
    ("Bücher", "Bücher"),
])
def test_names_and_text(value: str, written: str) -> None:
    assert scalar(value) == written


def test_dates_stay_plain_when_asked_for() -> None:
    assert scalar("2023-03-20", when=True) == "2023-03-20"
    assert scalar("2023-03-20") == '"2023-03-20"'
    assert scalar("2023-03-20T08:00:00+01:00", when=True) == "2023-03-20T08:00:00+01:00"


def test_flow_context_quotes_what_a_sequence_would_split() -> None:
    assert scalar("a,b") == "a,b"
    assert scalar("a,b", flow=True) == '"a,b"'
    assert scalar("[x]", flow=True) == '"[x]"'


def test_reads_back() -> None:
    assert reads_back("social", STR_TAGS)
    assert not reads_back("2023-03-20", STR_TAGS) and reads_back("2023-03-20", WHEN_TAGS)
    assert not reads_back("'quoted'", STR_TAGS)  # quoted is not plain
    assert not reads_back("a\nb: c", STR_TAGS)
