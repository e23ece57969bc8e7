"""A realistic month of query log around a ban, relative to today, for the dashboard's
browser test (and its screenshot): `tiktok` was observed for six days, has blocked for ten
(fewer attempts each day), and was tried in the last hours; `ads` blocks now and then;
`future` starts in five days (the next change). Clients are logged truncated (/24), as
`querylog.clients: truncate` writes them. Records are in the writer's exact shape."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.report.ban_log import record

ZONE = ZoneInfo("Europe/Brussels")
OBSERVED_DAYS = 6
BLOCKED_DAYS = 10
BLOCKED_PER_DAY = (64, 52, 41, 33, 27, 21, 17, 13, 10, 8)   # the ten days before today
OBSERVED_PER_DAY = (38, 41, 36, 44, 39, 42)
RECENT = ((1, 3), (2, 1), (3, 2), (5, 4), (8, 1), (13, 2), (21, 1))  # (hours ago, records)
TIKTOK_NAMES = ("tiktok.com", "www.tiktok.com", "v16-webapp.tiktok.com", "api.tiktok.com")
ADS_NAMES = ("ads.example", "tracker.ads.example")


def today(now: datetime) -> date:
    return now.astimezone(ZONE).date()


def write_lists(directory: Any, now: datetime) -> None:
    """The three lists (`directory`: the harness's BlocklistDir)."""
    first = today(now)
    directory.write("tiktok", domains=["tiktok.com", "tiktokcdn.com", "tiktokv.com"],
                    effective=first - timedelta(days=BLOCKED_DAYS), timezone="Europe/Brussels",
                    observe_from=first - timedelta(days=BLOCKED_DAYS + OBSERVED_DAYS),
                    reference="Board decision 2026-11: TikTok off the corporate network")
    directory.write("ads", domains=["ads.example"], effective="2026-01-01", timezone="UTC",
                    reference="Security policy 4")
    directory.write("future", domains=["future.example"],
                    effective=first + timedelta(days=5), timezone="Europe/Brussels",
                    reference="Board decision 2026-12")


def _at(day: date, index: int) -> datetime:
    """The `index`th record of a local day: from 08:00, every 7 minutes (then wrapping)."""
    minutes = 8 * 60 + (7 * index) % (11 * 60)
    return datetime.combine(day, time(0), tzinfo=ZONE) + timedelta(minutes=minutes)


def records(now: datetime) -> list[dict[str, Any]]:
    first = today(now)
    found = []
    for k, count in enumerate(OBSERVED_PER_DAY):
        day = first - timedelta(days=BLOCKED_DAYS + OBSERVED_DAYS - k)
        for i in range(count):
            entry = record(_at(day, i), client=f"10.1.{i % 12}.0", verdict="forwarded",
                           name=TIKTOK_NAMES[i % 4])
            found.append({**entry, "verdict": "observed", "list": "tiktok",
                          "rule": "tiktok.com"})
    for k, count in enumerate(BLOCKED_PER_DAY):
        day = first - timedelta(days=BLOCKED_DAYS - k)
        found += [record(_at(day, i), list_name="tiktok", client=f"10.1.{i % 9}.0",
                         name=TIKTOK_NAMES[i % 4]) for i in range(count)]
        if k % 3 == 0:
            found += [record(_at(day, i), list_name="ads", client=f"10.2.{i % 3}.0",
                             name=ADS_NAMES[i % 2]) for i in range(5)]
    for hours, count in RECENT:
        moment = now - timedelta(hours=hours)
        found += [record(moment + timedelta(seconds=i), list_name="tiktok",
                         client=f"10.1.{i}.0", name=TIKTOK_NAMES[i % 4]) for i in range(count)]
    found.append(record(now - timedelta(hours=4), list_name="ads", client="10.2.0.0",
                        name="ads.example"))
    found += [record(now - timedelta(hours=h), client="10.1.3.0", verdict="forwarded",
                     name="example.org") for h in range(1, 6)]
    return sorted(found, key=lambda entry: entry["ts"])


def write_log(state_dir: Path, now: datetime) -> list[dict[str, Any]]:
    """The records in `querylog.jsonl.1` (the older half) and `querylog.jsonl`."""
    found = records(now)
    lines = [json.dumps(entry) + "\n" for entry in found]
    half = len(lines) // 2
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "querylog.jsonl.1").write_text("".join(lines[:half]), encoding="utf-8")
    (state_dir / "querylog.jsonl").write_text("".join(lines[half:]), encoding="utf-8")
    return found


def with_data(found: list[dict[str, Any]], list_name: str, verdict: str,
              slots: list[str], slot_of: Any) -> int:
    """How many of `slots` (hour or day keys) hold a `verdict` record of `list_name`."""
    keys = {slot_of(entry["ts"]) for entry in found
            if entry["list"] == list_name and entry["verdict"] == verdict}
    return sum(1 for slot in slots if slot in keys)


def hour_key(ts: str) -> str:
    return ts[:13]


def day_key(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(ZONE).date().isoformat()


def utc_hour_key(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H")
