"""The decision `dnsfence check` explains, as JSON values and text: one function for the
command and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from resolver.lists.load import load_policy
from resolver.policy.audience import NO_GROUPS
from resolver.policy.explain import Client, explain, explanation_text
from resolver.policy.period import index_of

LIST = ("name: tiktok\nreference: Board 7\neffective: 2023-03-20\ntimezone: Europe/Brussels\n"
        "domains:\n  - tiktok.com\nallow:\n  - newsroom.tiktok.com\n")


def policy(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "tiktok.yaml").write_text(LIST, encoding="utf-8")
    found = load_policy(tmp_path, "UTC").policy
    assert found is not None
    return found


def test_blocked_allowed_and_upcoming(tmp_path: Path) -> None:
    loaded = policy(tmp_path)
    index = index_of(loaded)
    after = datetime(2023, 4, 1, tzinfo=UTC)
    blocked = explain(loaded, index, "WWW.TikTok.com.", after)
    assert (blocked["name"], blocked["blocked"], blocked["rule"]) == (
        "www.tiktok.com", True, "tiktok.com")
    assert blocked["location"] == f"{tmp_path / 'tiktok.yaml'}:6:5"
    text = explanation_text(loaded, blocked)
    assert text.splitlines()[0] == "www.tiktok.com: BLOCKED by list tiktok, rule tiktok.com"
    assert "in force:  from 2023-03-20 00:00 CET, no expiry" in text
    allowed = explain(loaded, index, "newsroom.tiktok.com", after)
    assert allowed["action"] == "allow" and not allowed["blocked"]
    before = explain(loaded, index, "tiktok.com", datetime(2023, 3, 1, tzinfo=UTC))
    assert not before["blocked"]
    assert before["upcoming"]["instant"] == "2023-03-20T00:00:00+01:00"
    assert "upcoming:  blocked from 2023-03-20 00:00 CET" in explanation_text(loaded, before)


def test_a_client_and_a_bad_name(tmp_path: Path) -> None:
    loaded = policy(tmp_path)
    outside = Client("203.0.113.9", NO_GROUPS, allowed=False)
    answer = explain(loaded, index_of(loaded), "tiktok.com", datetime.now(UTC), outside)
    assert answer["refused"] and answer["client"] == "203.0.113.9"
    assert "REFUSED for client 203.0.113.9" in explanation_text(loaded, answer)
    bad = explain(loaded, index_of(loaded), "a..b", datetime.now(UTC))
    assert "error" in bad and explanation_text(loaded, bad).startswith("a..b: error:")
