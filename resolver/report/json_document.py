"""The report as one JSON document: the same content as the text, with stable keys (the
README's "The compliance report" lists them) for scripts and dashboards."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from resolver.policy.instants import iso, zone
from resolver.report.summary import ListSummary, Report


def document(report: Report) -> dict[str, Any]:
    tz = zone(report.timezone)
    read = report.read
    return {
        "generated": iso(report.generated, UTC),
        "timezone": report.timezone,
        "since": iso(report.since, tz),
        "until": iso(report.until, tz),
        "first_day": report.first_day,
        "last_day": report.last_day,
        "log": {"path": read.log, "files": list(read.files), "lines": read.lines,
                "records": read.records, "skipped_lines": read.skipped,
                "outside_period": read.outside},
        "blocked": report.blocked,
        "lists": [_list(entry) for entry in report.lists],
    }


def _list(entry: ListSummary) -> dict[str, Any]:
    tz = zone(entry.timezone) if entry.timezone else UTC
    return {
        "name": entry.name,
        "in_policy": entry.in_policy,
        "timezone": entry.timezone,
        "effective": iso(entry.effective, tz),
        "expires": iso(entry.expires, tz),
        "attempts": entry.attempts,
        "clients": entry.clients,
        "observed": entry.observed,
        "first_seen": entry.first_seen,
        "last_seen": entry.last_seen,
        "approximate": entry.approximate,
        "days": [{"day": d.day, "attempts": d.attempts, "clients": d.clients,
                  "observed": d.observed} for d in entry.days],
        "top_names": [{"name": key, "attempts": count} for key, count in entry.top_names],
        "top_clients": [{"client": key, "attempts": count}
                        for key, count in entry.top_clients],
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2) + "\n"
