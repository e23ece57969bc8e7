"""The "Now" section from a status document: a supervised server with a failed reload, a
dead worker, missing sources and the upstreams' answers."""

from __future__ import annotations

from datetime import UTC, datetime

from resolver.dashboard.now import RECENT, UpstreamRates, now_section
from resolver.health import Health

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC).timestamp()


def status() -> dict[str, object]:
    return {
        "version": "0.1.0", "pid": 10, "started": AT - 3600,
        "policy": {"loaded_at": AT - 600, "lists": ["tiktok"], "entries": 3,
                   "active_entries": 2, "next_change": AT + 86_400,
                   "missing_sources": [{"list": "ads", "url": "https://lists.example/a",
                                        "location": "b/ads.yaml:5:7", "failures": 2,
                                        "last_error": "timed out", "next_attempt": None}]},
        "last_reload": {"at": AT - 60, "ok": False, "reason": "files changed",
                        "problems": ["blocklists/tiktok.yaml:4:3: not a name"],
                        "restart_needed": []},
        "reloads": 1, "failed_reloads": 1,
        "counters": {"forwarded": 7, "upstream_failures": 2, "cache_hits": 4,
                     "cache_entries": 3, "querylog_written": 9, "querylog_dropped": 1},
        "blocked_by_list": {"tiktok": 5},
        "workers": [{"pid": 11, "counters": {}}, {"pid": 12, "counters": {}}],
        "supervisor": {"pid": 10, "workers": 2, "generation": 3, "restarts": 1,
                       "last_death": {"worker": 2, "pid": 9, "status": "killed by SIGKILL",
                                      "at": AT - 120, "lived": 5.0}},
        "upstreams": ["192.0.2.1:53", "192.0.2.2:53"], "forward_zones": {},
    }


def test_the_status_document_becomes_the_section() -> None:
    series = {"queries": {("blocked", "udp"): 4.0, ("blocked", "tcp"): 1.0,
                          ("forwarded", "udp"): 7.0},
              "upstream_responses": {("192.0.2.1:53", "NOERROR"): 6.0,
                                     ("192.0.2.1:53", "SERVFAIL"): 1.0}}
    now = now_section(status(), series, Health(False, "unhealthy: reload failed"),
                      ["ads: blocking starts (1 name)"], None, UTC)
    assert now["started"] == "2026-12-05T09:00:00+00:00"
    assert now["workers"] == {"count": 2, "pids": [11, 12], "supervisor": 10,
                              "generation": 3, "restarts": 1,
                              "last_death": {"worker": 2, "pid": 9,
                                             "status": "killed by SIGKILL",
                                             "at": "2026-12-05T09:58:00+00:00", "lived": 5.0}}
    assert now["health"] == {"ok": False, "reason": "unhealthy: reload failed"}
    assert now["policy"]["next_change"] == "2026-12-06T10:00:00+00:00"
    assert now["policy"]["next_change_does"] == ["ads: blocking starts (1 name)"]
    assert now["policy"]["missing_sources"][0]["url"] == "https://lists.example/a"
    assert now["last_reload"]["problems"] == ["blocklists/tiktok.yaml:4:3: not a name"]
    assert now["answers"] == {"blocked": 5, "forwarded": 7}
    assert now["upstream"]["servers"] == [
        {"server": "192.0.2.1:53", "responses": {"NOERROR": 6, "SERVFAIL": 1}, "answered": 7},
        {"server": "192.0.2.2:53", "responses": {}, "answered": 0}]
    assert now["querylog"] == {"written": 9, "dropped": 1}


def test_the_last_minute_compares_with_the_oldest_sample_within_it() -> None:
    rates = UpstreamRates()
    assert rates.add(AT, 100, 1) is None
    assert rates.add(AT + 0.5, 101, 1) is None  # under a second: nothing to say yet
    assert rates.add(AT + 30, 130, 4) == {"seconds": 30.0, "forwarded": 30, "failures": 3}
    later = rates.add(AT + RECENT + 20, 200, 4)
    assert later == {"seconds": RECENT - 10, "forwarded": 70, "failures": 0}
