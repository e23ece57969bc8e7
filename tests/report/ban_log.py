"""A query log spanning a ban's effective date, with the lists that decided it.

`tiktok` is effective on 2023-03-20 (Brussels): before, its names were forwarded (not
blocked, so not counted); from that day on they are blocked, fewer each day. `ads` blocks
until 2023-03-23 (UTC); `gone` was in the log but is no longer in the blocklists; `quiet`
blocks nothing anyone asked for. The log is spread over two rotated files and the live
one, with a garbage line and a torn last line. Expected figures are derived from PLAN.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from resolver.lists.load import load_policy
from resolver.querylog.reader import QueryLogReader
from resolver.report.local_days import LocalDays
from resolver.report.summary import ReadFigures, Report, summarise
from resolver.report.tally import tally

ZONE = "Europe/Brussels"

BLOCKLISTS = {
    "tiktok.yaml": "name: tiktok\nreference: Board decision 2023-07\neffective: 2023-03-20\n"
                   "timezone: Europe/Brussels\ndomains:\n  - tiktok.com\n",
    "ads.yaml": "name: ads\nreference: Security policy 4\neffective: 2023-01-01\n"
                "expires: 2023-03-23\ntimezone: UTC\ndomains:\n  - ads.example\n",
    "quiet.yaml": "name: quiet\nreference: Nobody asks\neffective: 2023-01-01\n"
                  "timezone: UTC\ndomains:\n  - quiet.example\n",
}

HOSTILE = "<img src=x onerror=alert(1)>.ads.example"
NAMES = {"tiktok": ("tiktok.com", "www.tiktok.com"), "ads": ("ads.example", HOSTILE),
         "gone": ("gone.example", "gone.example")}

# (list, day in Brussels, blocked attempts, distinct clients)
PLAN = (
    ("ads", "2023-03-17", 5, 2), ("ads", "2023-03-18", 4, 1), ("ads", "2023-03-20", 6, 3),
    ("ads", "2023-03-22", 2, 2),
    ("gone", "2023-03-18", 1, 1),
    ("tiktok", "2023-03-20", 12, 4), ("tiktok", "2023-03-21", 7, 3),
    ("tiktok", "2023-03-23", 3, 1),
)
FORWARDED_DAYS = ("2023-03-17", "2023-03-18", "2023-03-19")  # tiktok.com before the ban
FIRST_DAY, LAST_DAY = "2023-03-17", "2023-03-23"


def stamp(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def record(moment: datetime, *, list_name: str = "", client: str = "192.0.2.0",
           name: str = "tiktok.com", verdict: str = "blocked") -> dict[str, Any]:
    """A record in the writer's exact shape (keys in order, all present)."""
    blocked = verdict == "blocked"
    return {"ts": stamp(moment), "client": client, "group": "", "name": name, "type": "A",
            "verdict": verdict, "rcode": "NXDOMAIN" if blocked else "NOERROR",
            "list": list_name if blocked else "", "rule": name if blocked else "",
            "upstream": "" if blocked else "127.0.0.1:53", "ms": None if blocked else 3.217,
            "proto": "udp"}


def line(entry: dict[str, Any]) -> str:
    return json.dumps(entry) + "\n"


def client(index: int) -> str:
    return f"198.51.100.{index}"


def at(day: str, index: int) -> datetime:
    """The `index`th record of a Brussels day: 00:05 local (still the day before in UTC),
    then every 47 minutes."""
    start = datetime.combine(date.fromisoformat(day), time(0, 5), tzinfo=ZoneInfo(ZONE))
    return start + timedelta(minutes=47 * index)


def ban_records() -> list[dict[str, Any]]:
    found = []
    for list_name, day, attempts, clients in PLAN:
        for i in range(attempts):
            found.append(record(at(day, i), list_name=list_name, client=client(i % clients),
                                name=NAMES[list_name][i % 2]))
    for day in FORWARDED_DAYS:
        found += [record(at(day, i), client=client(i), verdict="forwarded") for i in range(10)]
    return sorted(found, key=lambda entry: entry["ts"])


def write_ban_log(live: Path) -> Path:
    """The records split over `live`.2 (oldest), `live`.1 and `live`, plus a garbage line
    and a torn last line; returns `live`."""
    lines = [line(entry) for entry in ban_records()]
    third = len(lines) // 3
    live.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{live}.2").write_text("".join(lines[:third]), encoding="utf-8")
    Path(f"{live}.1").write_text("".join(lines[third:2 * third]) + "not json at all\n",
                                 encoding="utf-8")
    live.write_text("".join(lines[2 * third:]) + '{"ts": "2023-03-24T10:00:0',
                    encoding="utf-8")
    return live


def stage_ban_site(root: Path) -> Path:
    """root/blocklists, root/dnsfence.yaml (Brussels, state_dir: state) and the log in
    root/state/querylog.jsonl; returns root."""
    for name, text in BLOCKLISTS.items():
        (root / "blocklists").mkdir(parents=True, exist_ok=True)
        (root / "blocklists" / name).write_text(text, encoding="utf-8")
    (root / "dnsfence.yaml").write_text(f"timezone: {ZONE}\nstate_dir: state\n",
                                        encoding="utf-8")
    write_ban_log(root / "state" / "querylog.jsonl")
    return root


def planned(list_name: str) -> dict[str, tuple[int, int]]:
    """{day: (attempts, clients)} the plan gives `list_name`."""
    return {day: (attempts, clients) for name, day, attempts, clients in PLAN
            if name == list_name}


def planned_names(list_name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, _, attempts, _ in PLAN:
        if name == list_name:
            for i in range(attempts):
                counts[NAMES[name][i % 2]] = counts.get(NAMES[name][i % 2], 0) + 1
    return counts


def ban_report(root: Path, *, only: str | None = None, since: datetime | None = None,
               until: datetime | None = None, with_policy: bool = True) -> Report:
    """The report of the ban site staged in `root`, built as the command builds it."""
    stage_ban_site(root)
    policy = load_policy(root / "blocklists", ZONE).policy if with_policy else None
    assert policy is not None or not with_policy
    live = root / "state" / "querylog.jsonl"
    reader = QueryLogReader(live, since, until)
    tallies = tally(reader, LocalDays(ZoneInfo(ZONE)), only)
    read = ReadFigures(str(live), tuple(str(f) for f in reader.files), reader.lines,
                       reader.records, reader.skipped, reader.outside)
    return summarise(tallies, policy, timezone=ZONE, since=since, until=until,
                     generated=GENERATED, read=read, only=only)


GENERATED = datetime(2023, 4, 1, 9, 30, tzinfo=UTC)
