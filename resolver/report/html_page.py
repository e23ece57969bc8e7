"""The report as one self-contained HTML page, to mail or archive: the chart inline (SVG),
the tables below, and nothing fetched from anywhere (no script, font, style sheet or image).

Names and clients come from the network: every text is escaped, and the page's content
security policy forbids scripts in case one ever is not.
"""

from __future__ import annotations

from html import escape

from resolver.policy.instants import show, zone
from resolver.report.chart import colours, svg
from resolver.report.summary import ListSummary, Report
from resolver.report.text import dates, period, stamp

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 2em 1em 0; display: inline-table;
        vertical-align: top; }
th, td { border: 1px solid #ccc; padding: 2px 8px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.mark td { font-weight: bold; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; }
.chart { overflow-x: auto; }
"""


def page(report: Report) -> str:
    read = report.read
    title = f"dnsfence: blocked queries {period(report)}"
    palette = colours(report)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" '
             "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>",
             f"<p>{report.blocked:,} blocked of {read.records:,} records read from "
             f"<code>{escape(read.log)}</code> ({len(read.files)} files); "
             f"{read.outside:,} outside the period, {read.skipped:,} unreadable "
             f"line{'s' * (read.skipped != 1)} skipped. Days are days in "
             f"{escape(report.timezone)}. Generated "
             f"{escape(show(report.generated, zone(report.timezone)))}.</p>",
             f'<div class="chart">{svg(report)}</div>']
    for entry in report.lists:
        parts.extend(_list(entry, report.timezone, palette[entry.name]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _list(entry: ListSummary, org_zone: str, fill: str) -> list[str]:
    parts = [f'<h2><span class="swatch" style="background:{fill}"></span>'
             f"{escape(entry.name or '(no list)')}</h2>",
             f"<p>{entry.attempts:,} attempt{'s' * (entry.attempts != 1)} from "
             f"{entry.clients:,} client{'s' * (entry.clients != 1)}; "
             f"{escape(dates(entry))}; first {escape(stamp(entry.first_seen, org_zone))}, "
             f"last {escape(stamp(entry.last_seen, org_zone))}"
             + ("; approximate: rare names or clients were dropped" if entry.approximate
                else "") + ".</p>"]
    if not entry.attempts and not entry.observed:
        return parts
    marked = {moment.astimezone(zone(org_zone)).date().isoformat()
              for moment in (entry.effective, entry.expires) if moment is not None}
    # the warning period's answers (observe_from), when there were any: the baseline
    show_observed = entry.observed > 0
    rows = [f'<tr{" class=mark" if d.day in marked else ""}><td>{d.day}</td>'
            f'<td class="n">{d.attempts:,}</td><td class="n">{d.clients:,}</td>'
            + (f'<td class="n">{d.observed:,}</td>' if show_observed else "") + "</tr>"
            for d in entry.days]
    parts.append("<table><tr><th>day</th><th>attempts</th><th>clients</th>"
                 + ("<th>observed</th>" if show_observed else "") + "</tr>"
                 + "".join(rows) + "</table>")
    for title, top in (("name", entry.top_names), ("client", entry.top_clients)):
        rows = [f'<tr><td>{escape(key or "(empty)")}</td><td class="n">{count:,}</td></tr>'
                for key, count in top]
        parts.append(f"<table><tr><th>top {title}s</th><th>attempts</th></tr>"
                     + "".join(rows) + "</table>")
    return parts
