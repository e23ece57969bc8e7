"""The HTTP service of a running server: the dashboard reads the reloader's policy in force
(a reload shows at once, no worker asked) and the shared reports; the token guards it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from resolver.commands.http_service import Served, serve_http
from resolver.config.endpoints import Endpoint
from resolver.counters import SharedCounters
from resolver.http_server import HttpListener
from resolver.lists.load import load_policy
from resolver.pipeline import counter_names
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from tests.commands.test_worker_report import staged_config

TOKEN = "a-token-of-twenty-chars"


def fetch(http: HttpListener, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{http.endpoint.port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_dashboard_follows_the_reloaders_policy(tmp_path: Path) -> None:
    config = staged_config(tmp_path)
    policy = load_policy(config.blocklists, config.timezone).policy
    assert policy is not None
    live = PolicyReloader(config, PolicyHolder(policy), lambda: config, lambda _o, _n: None,
                          downloads=False)
    shared = SharedCounters(1, counter_names())
    shared.publish(0, 4242, time.time(), {"blocked": 2}, {}, live.state())
    http = HttpListener(Endpoint("127.0.0.1", 0))
    try:
        serve_http(http, shared.read, lambda: [4242], 1, Endpoint("127.0.0.1", 9),
                   Served(live, shared, time.time(), TOKEN))
        assert fetch(http, "/api/check?name=www.tiktok.com", token=None)[0] == 401
        status, body = fetch(http, "/api/check?name=www.tiktok.com")
        assert status == 200 and json.loads(body)["list"] == "social"
        status, body = fetch(http, "/api/dashboard")
        document = json.loads(body)
        assert document["now"]["answers"] == {} and document["now"]["workers"]["pids"] == [4242]
        assert [entry["name"] for entry in document["lists"]] == ["social"]
        assert document["now"]["health"]["ok"] is False  # nothing answers DNS on port 9
        (config.blocklists / "social.yaml").write_text(
            "name: other\neffective: 2023-01-01\ndomains:\n  - other.example\n")
        reloaded = load_policy(config.blocklists, config.timezone).policy
        assert reloaded is not None
        live.active.replace(reloaded, time.time())  # what a reload does
        status, body = fetch(http, "/api/check?name=other.example")
        assert status == 200 and json.loads(body)["list"] == "other"
        assert fetch(http, "/healthz", token=None)[0] == 503
    finally:
        http.close()
