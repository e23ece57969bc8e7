"""The page's sections as HTML, made from the dashboard's JSON document (the same values a
script reads), so the page reads the same with scripts on or off.

Names, clients, reasons and file names come from the network or from files: every text
is escaped (`html.escape`), and the page's content security policy allows its one
inline script only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from resolver.policy.instants import show, zone


def when(text: str | None, tz_name: str) -> str:
    """An ISO instant of the document, for people, in zone `tz_name`."""
    if text is None:
        return "-"
    return show(datetime.fromisoformat(text), zone(tz_name))


def _n(value: int) -> str:
    return f"{value:,}"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """`rows` are HTML already (escaped by the caller)."""
    heads = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f'<table class="{cls}"><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>'


def now_html(now: dict[str, Any], tz: str) -> str:
    workers = now["workers"]
    policy = now["policy"]
    health = now["health"]
    parts = ["<h2>Now</h2>"]
    if health is not None:
        mark = "ok" if health["ok"] else "bad"
        parts.append(f'<p class="{mark}" id="health">{escape(health["reason"])}</p>')
    who = (f"{workers['count']} worker{'s' * (workers['count'] != 1)} (pid "
           f"{', '.join(str(p) for p in workers['pids'])})")
    if workers["supervisor"] is not None:
        who += (f" under supervisor pid {workers['supervisor']}, policy generation "
                f"{workers['generation']}, {workers['restarts']} restart"
                f"{'s' * (workers['restarts'] != 1)}")
    death = workers["last_death"]
    if death:
        who += f"; last death: worker {death['worker']} {escape(death['status'])} at " \
               f"{when(death['at'], tz)}"
    nxt = policy["next_change"]
    does = "; ".join(policy["next_change_does"])
    rows = [("serving since", f"{when(now['started'], tz)} (dnsfence {escape(now['version'])})"),
            ("workers", escape(who)),
            ("policy", f"{_n(policy['lists'])} lists, {_n(policy['active_entries'])} of "
                       f"{_n(policy['entries'])} entries in force, loaded "
                       f"{when(policy['loaded_at'], tz)}"),
            ("next change", "none ahead" if nxt is None else
             f'<strong id="next-change">{when(nxt, tz)}</strong>: {escape(does)}'),
            ("last reload", _reload(now["last_reload"], now, tz))]
    missing = policy["missing_sources"]
    if missing:
        rows.append(("missing sources", "<br>".join(
            f"{escape(m['url'])} (list {escape(m['list'])}, {escape(m['location'])})"
            + (f": {escape(m['last_error'])}" if m.get("last_error") else "")
            for m in missing)))
    upstream = now["upstream"]
    recent = upstream["last_minute"]
    minute = "" if recent is None else (
        f"; last {recent['seconds']:g} s: {_n(recent['forwarded'])} forwarded, "
        f"{_n(recent['failures'])} failed")
    rows.append(("upstream", f"{_n(upstream['forwarded'])} forwarded, "
                             f"{_n(upstream['failures'])} without an answer{minute}"))
    parts.append(_table(("", ""), ((f"<b>{k}</b>", v) for k, v in rows), "facts"))
    answers = now["answers"]
    parts.append(_table(("answers since start", "count"),
                        ((escape(k), _n(v)) for k, v in answers.items() if v), "n"))
    servers = upstream["servers"]
    rcodes = sorted({rcode for s in servers for rcode in s["responses"]})
    parts.append(_table(("upstream", "answered", *rcodes),
                        ((escape(s["server"]), _n(s["answered"]),
                          *(_n(s["responses"].get(r, 0)) for r in rcodes))
                         for s in servers), "n"))
    return "".join(parts)


def _reload(last: dict[str, Any] | None, now: dict[str, Any], tz: str) -> str:
    if last is None:
        return "none since start-up"
    if last["ok"]:
        return f"ok at {when(last['at'], tz)} ({escape(last['reason'])})"
    problems = "".join(f"<li><code>{escape(p)}</code></li>" for p in last["problems"])
    return (f'<span class="bad">FAILED at {when(last["at"], tz)} ({escape(last["reason"])})'
            f"</span>; still enforcing the policy loaded {when(now['policy']['loaded_at'], tz)}"
            f"<ul>{problems}</ul>")


def lists_html(lists: list[dict[str, Any]]) -> str:
    rows = []
    for entry in lists:
        tz = entry["timezone"]
        sources = "<br>".join(
            f"{escape(s['source'])}: "
            + ("never downloaded" if s["missing"] else f"{_n(s['names'])} names")
            + (f", downloaded {when(s['downloaded'], tz)}" if s["downloaded"] else "")
            for s in entry["sources"])
        dates = f"from {when(entry['effective'], tz)}" if entry["effective"] else "always"
        if entry["expires"]:
            dates += f" until {when(entry['expires'], tz)}"
        if entry["observe_from"]:
            dates += f"; observed from {when(entry['observe_from'], tz)}"
        if entry["schedule"]:
            dates += (f"; {escape(entry['schedule']['text'])} ("
                      f"{'open' if entry['schedule']['open'] else 'closed'} now)")
        state = entry["state"]
        rows.append((f"<b>{escape(entry['name'])}</b>"
                     + ("" if entry["blocks"] else " (exceptions)"),
                     f'<span class="state {state.replace(" ", "-")}">{escape(state)}</span>',
                     escape(entry["reference"] or "-"), dates + f" ({escape(tz)})",
                     _n(entry["entries"]), sources or "-",
                     f"<code>{escape(entry['file'])}</code>"))
    return "<h2>Lists</h2>" + _table(
        ("list", "state", "reference", "in force", "entries", "sources", "file"), rows,
        "lists")


def timeline_html(timeline: dict[str, Any], lists: list[dict[str, Any]], tz: str) -> str:
    zones = {entry["name"]: entry["timezone"] for entry in lists}
    rows = [(when(t["instant"], zones.get(t["list"], "UTC")), escape(t["text"]))
            for t in timeline["past"]]
    marked = [f'<tr class="past"><td>{a}</td><td>{b}</td></tr>' for a, b in rows]
    marked.append(f'<tr class="now"><td>{when(timeline["now"], tz)}</td>'
                  "<td>now</td></tr>")
    marked += [f"<tr><td>{when(t['instant'], zones.get(t['list'], 'UTC'))}</td>"
               f"<td>{escape(t['text'])}</td></tr>" for t in timeline["coming"]]
    return ("<h2>Timeline</h2><table class=\"timeline\"><thead><tr><th>when</th><th>what"
            f"</th></tr></thead><tbody>{''.join(marked)}</tbody></table>"
            f"<p class=\"note\">Weekly windows are shown for the next "
            f"{timeline['weekly_days']} days.</p>")


def attempts_html(attempts: dict[str, Any] | None, charts: tuple[str, str],
                  unavailable: str | None) -> str:
    parts = ["<h2>Attempts</h2>"]
    if attempts is None:
        parts.append(f"<p>{escape(unavailable or 'no query log')}</p>")
        return "".join(parts)
    log = attempts["log"]
    behind = (f"; {log['behind_bytes'] / 1e6:,.1f} MB still to read"
              if log["behind_bytes"] else "")
    error = f' <span class="bad">{escape(log["error"])}</span>' if log["error"] else ""
    parts.append(f'<p class="note">From the query log <code>{escape(log["path"])}</code> '
                 f"({log['files']} file{'s' * (log['files'] != 1)}), "
                 f"{_n(log['records'])} records in the window{behind}.{error}</p>")
    parts += ["<h3>Blocked per hour, last 24 hours</h3>",
              f'<div class="chart" id="hourly">{charts[0]}</div>',
              "<h3>Blocked per day, last 30 days</h3>",
              f'<div class="chart" id="daily">{charts[1]}</div>',
              '<p class="note">Paler bars: answers a list only observed (its warning '
              "period, before it blocks).</p>"]
    parts.append(_table(("list", "last 24 hours", "last 30 days"),
                        ((escape(e["name"] or "(no list)"), _n(e["last_24_hours"]),
                          _n(e["total"])) for e in attempts["lists"]), "n"))
    approx = " (approximate)" if attempts["approximate"] else ""
    parts.append(_table((f"top blocked names, 30 days{approx}", "list", "attempts"),
                        ((escape(t["name"]), escape(t["list"]), _n(t["attempts"]))
                         for t in attempts["top_names"]), "n"))
    parts.append(_table((f"top clients, as logged ({attempts['clients_logged_as']})",
                         "attempts"),
                        ((escape(t["client"] or "(none)"), _n(t["attempts"]))
                         for t in attempts["top_clients"]), "n"))
    return "".join(parts)
