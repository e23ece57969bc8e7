"""The Lists and Timeline sections from a loaded policy: states, dates in each list's zone,
url sources with their last download, and the next change in schedule's words."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from resolver.dashboard.policy_view import (
    lists_section,
    next_change_does,
    state_of,
    timeline_section,
)
from resolver.lists.load import load_policy
from resolver.lists.remote_cache import RemoteCache
from resolver.policy.changes import describe
from resolver.policy.timeline import transitions
from tests.dashboard.live_site import EXTRA_LISTS, NOW
from tests.report.ban_log import BLOCKLISTS

URL = "https://lists.example/ads.txt"


def policy_of(root: Path, extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    directory = root / "blocklists"
    directory.mkdir(parents=True)
    for name, text in {**BLOCKLISTS, **EXTRA_LISTS, **(extra or {})}.items():
        (directory / name).write_text(text, encoding="utf-8")
    result = load_policy(directory, "UTC", root / "cache", allow_missing=True)
    assert result.policy is not None, result.errors
    return result.policy


def test_each_state_at_its_moment(tmp_path: Path) -> None:
    policy = policy_of(tmp_path)
    soon = policy.list_named("soon")
    assert soon is not None
    assert state_of(soon, datetime(2023, 3, 1, tzinfo=UTC)) == "scheduled"
    assert state_of(soon, NOW) == "observing"
    assert state_of(soon, datetime(2023, 4, 1, tzinfo=UTC)) == "in force"
    old = policy.list_named("old")
    assert old is not None and state_of(old, NOW) == "expired"


def test_url_sources_show_their_last_download(tmp_path: Path) -> None:
    extra = {"remote.yaml": f"name: remote\neffective: 2023-01-01\nsources:\n  - url: {URL}\n"
                            "    format: domains\n"}
    policy = policy_of(tmp_path, extra)
    listed = {e["name"]: e for e in lists_section(policy, NOW, tmp_path / "cache")}
    assert listed["remote"]["sources"] == [{"source": URL, "names": 0, "url": True,
                                            "action": None, "downloaded": None,
                                            "missing": True}]
    fetched = datetime(2023, 3, 22, 6, 0, tzinfo=UTC)
    RemoteCache(tmp_path / "cache").store(URL, "ads.example\nmore.example\n", etag=None,
                                          last_modified=None, fetched_at=fetched.timestamp(),
                                          entry_count=2)
    policy = load_policy(tmp_path / "blocklists", "UTC", tmp_path / "cache").policy
    assert policy is not None
    listed = {e["name"]: e for e in lists_section(policy, NOW, tmp_path / "cache")}
    [source] = listed["remote"]["sources"]
    assert source["names"] == 2 and source["downloaded"] == "2023-03-22T06:00:00+00:00"
    assert not source["missing"] and source["action"] == "block"


def test_the_timeline_and_the_next_change(tmp_path: Path) -> None:
    policy = policy_of(tmp_path)
    timeline = timeline_section(policy, NOW)
    every = transitions(policy)
    assert [t["text"] for t in timeline["past"]] == \
        [describe(t) for t in every if t.instant <= NOW][-8:]
    assert [t["text"] for t in timeline["coming"]] == \
        [describe(t) for t in every if t.instant > NOW][:12]
    first = datetime.fromisoformat(timeline["coming"][0]["utc"])
    assert next_change_does(policy, first.timestamp()) == [
        describe(t) for t in every if t.instant == first]
    assert next_change_does(policy, None) == []
