"""The report as one JSON document: stable keys, the same numbers as the text."""

from __future__ import annotations

import json
from pathlib import Path

from resolver.report.json_document import document, render
from tests.report.ban_log import FIRST_DAY, LAST_DAY, ban_records, ban_report, planned

LIST_KEYS = ["name", "in_policy", "timezone", "effective", "expires", "attempts", "clients",
             "observed", "first_seen", "last_seen", "approximate", "days", "top_names",
             "top_clients"]


def test_the_document_keys_and_figures(tmp_path: Path) -> None:
    doc = json.loads(render(ban_report(tmp_path)))
    assert list(doc) == ["generated", "timezone", "since", "until", "first_day", "last_day",
                         "log", "blocked", "lists"]
    assert doc["generated"] == "2023-04-01T09:30:00+00:00"
    assert (doc["timezone"], doc["since"], doc["until"]) == ("Europe/Brussels", None, None)
    assert (doc["first_day"], doc["last_day"]) == (FIRST_DAY, LAST_DAY)
    log = doc["log"]
    assert list(log) == ["path", "files", "lines", "records", "skipped_lines",
                         "outside_period"]
    assert [Path(f).name for f in log["files"]] == ["querylog.jsonl.2", "querylog.jsonl.1",
                                                    "querylog.jsonl"]
    assert (log["lines"], log["records"], log["skipped_lines"], log["outside_period"]) == \
        (len(ban_records()) + 2, len(ban_records()), 2, 0)
    assert doc["blocked"] == sum(1 for r in ban_records() if r["verdict"] == "blocked")
    assert [entry["name"] for entry in doc["lists"]] == ["ads", "gone", "quiet", "tiktok"]
    for entry in doc["lists"]:
        assert list(entry) == LIST_KEYS
        plan = planned(entry["name"])
        assert {d["day"]: (d["attempts"], d["clients"]) for d in entry["days"]
                if d["attempts"]} == plan
        assert entry["attempts"] == sum(a for a, _ in plan.values())
        assert entry["observed"] == 0 and all(d["observed"] == 0 for d in entry["days"])


def test_instants_in_the_lists_zone_and_logged_stamps_as_logged(tmp_path: Path) -> None:
    lists = {e["name"]: e for e in document(ban_report(tmp_path))["lists"]}
    tiktok, ads, gone = lists["tiktok"], lists["ads"], lists["gone"]
    assert (tiktok["effective"], tiktok["expires"]) == ("2023-03-20T00:00:00+01:00", None)
    assert (ads["timezone"], ads["expires"]) == ("UTC", "2023-03-23T00:00:00+00:00")
    assert (gone["in_policy"], gone["timezone"], gone["effective"]) == (False, None, None)
    assert (tiktok["first_seen"], tiktok["last_seen"]) == ("2023-03-19T23:05:00.000Z",
                                                          "2023-03-23T00:39:00.000Z")
    assert tiktok["top_names"] == [{"name": "tiktok.com", "attempts": 12},
                                   {"name": "www.tiktok.com", "attempts": 10}]
    assert tiktok["top_clients"][0] == {"client": "198.51.100.0", "attempts": 9}
    assert tiktok["clients"] == 4 and tiktok["approximate"] is False
