"""The dashboard's one page: server-rendered sections, the "Why?" form, and one small
inline script that polls the JSON and replaces the sections, so it stays current without a
reload; with scripts off the page is complete as served (the form is a plain GET).

Nothing is fetched from anywhere else (no script, font, style sheet or image): the charts
are inline SVG. The content security policy (sent as a header) allows this one script,
by its hash, and requests to this server only. URLs are relative, so the page works
behind a reverse proxy under any path.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any
from urllib.parse import urlencode

STYLE = """
body{font-family:sans-serif;margin:1em 1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em;margin:0}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.4em}
table{border-collapse:collapse;margin:.4em 1.5em .8em 0;display:inline-table;vertical-align:top}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:left;vertical-align:top}
table.n td:last-child{text-align:right;font-variant-numeric:tabular-nums}
h3{font-size:1em;margin:.8em 0 .2em}
table.facts th{display:none}
.ok{color:#0a6b2d}.bad{color:#b00020;font-weight:bold}.note{color:#555;font-size:.9em}
.state{padding:0 5px;border-radius:3px;background:#eee}.state.in-force{background:#d5ecd9}
.state.observing{background:#fbe7c6}.state.expired{color:#777}
tr.past td{color:#666}tr.now td{font-weight:bold;border-top:2px solid #333}
.chart svg{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}
input{font:inherit;padding:2px 4px}
"""

SCRIPT = """(function(){
var ids=["now","lists","timeline","attempts"],note=document.getElementById("updated");
var every=parseInt(document.body.getAttribute("data-refresh"),10)*1000;
function tick(){
if(document.hidden){return;}
fetch("api/dashboard?html=1",{cache:"no-store",credentials:"same-origin"})
.then(function(r){if(!r.ok){throw new Error("HTTP "+r.status);}return r.json();})
.then(function(d){ids.forEach(function(id){var e=document.getElementById(id);
if(e&&typeof d.html[id]==="string"){e.innerHTML=d.html[id];}});
note.textContent="updated "+d.generated_text;note.className="note";})
.catch(function(e){note.textContent="not updated: "+e.message;note.className="bad";});}
setInterval(tick,every);})();"""

SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
          f"script-src 'sha256-{SCRIPT_HASH}'; connect-src 'self'; form-action 'self'; "
          "base-uri 'none'; frame-ancestors 'none'")
"""The Content-Security-Policy header of the page (and of every dashboard answer)."""


def why_html(name: str, client: str, answer: dict[str, Any] | None, text: str | None) -> str:
    """The "Why?" box: the form, and when a name was asked, what `dnsfence check` says."""
    parts = ['<h2>Why?</h2><form method="get" action="#why" id="why-form">',
             f'<label>name <input name="name" id="why-name" value="{escape(name)}" '
             'required size="34" placeholder="www.example.com"></label> ',
             f'<label>client <input name="client" id="why-client" value="{escape(client)}" '
             'size="18" placeholder="optional IP address"></label> ',
             '<button type="submit">check</button></form>']
    if answer is not None:
        verdict = ("error" if "error" in answer else "blocked" if answer["blocked"]
                   else "allowed")
        query = urlencode({"name": name, **({"client": client} if client else {})})
        parts.append(f'<p id="why-verdict" class="{"bad" if verdict != "allowed" else "ok"}">'
                     f"{escape(verdict)}</p><pre id=\"why-answer\">{escape(text or '')}</pre>"
                     f'<p class="note">As JSON: <a href="api/check?{escape(query)}">'
                     f"api/check?{escape(query)}</a> (what <code>dnsfence check --json</code> "
                     "prints)</p>")
    return "".join(parts)


def page(document: dict[str, Any], sections: dict[str, str], why: str) -> str:
    """The whole page: `sections` by id (now, lists, timeline, attempts), then `why`."""
    body = "".join(f'<section id="{key}">{sections[key]}</section>'
                   for key in ("now", "lists", "timeline", "attempts"))
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'  # no /favicon.ico request (a 404 in the console)
            f"<title>dnsfence</title><style>{STYLE}</style></head>"
            f'<body data-refresh="{int(document["refresh"])}">'
            f'<h1>dnsfence</h1><p class="note" id="updated">as of '
            f"{escape(document['generated_text'])}; refreshes every "
            f"{int(document['refresh'])} s while scripts run</p>"
            f'{body}<section id="why">{why}</section>'
            f"<script>{SCRIPT}</script></body></html>\n")
