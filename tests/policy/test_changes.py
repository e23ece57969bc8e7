"""A transition in `dnsfence schedule`'s words and JSON values."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.load import load_policy
from resolver.policy.changes import describe, transition_fields
from resolver.policy.timeline import transitions

LIST = ("name: tiktok\neffective: 2023-03-20\nexpires: 2024-01-01\ntimezone: Europe/Brussels\n"
        "domains:\n  - tiktok.com\n  - domain: later.example\n    effective: 2023-04-01\n")


def test_words_and_fields(tmp_path: Path) -> None:
    (tmp_path / "tiktok.yaml").write_text(LIST, encoding="utf-8")
    policy = load_policy(tmp_path, "UTC").policy
    assert policy is not None
    found = transitions(policy)
    assert [describe(t) for t in found] == [
        "tiktok: blocking starts (1 name)",
        f"tiktok: block later.example starts ({tmp_path / 'tiktok.yaml'}:7:13)",
        "tiktok: blocking ends (2 names)"]
    assert transition_fields(found[0]) == {
        "instant": "2023-03-20T00:00:00+01:00", "utc": "2023-03-19T23:00:00+00:00",
        "list": "tiktok", "rule": None, "action": None, "change": "starts", "names": 1}
    assert transition_fields(found[1])["rule"] == "later.example"
