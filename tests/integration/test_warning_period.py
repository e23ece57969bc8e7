"""A ban announced with `observe_from`: answered as usual and counted as observed until its
effective instant, blocked from that instant on (the real server, unbound, dnspython)."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, rcode_name, wait_until


def observed_total(server: Dnsfence) -> float:
    assert server.http_address is not None
    host, port = server.http_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "dnsfence_observed_total" and s.labels.get("list") == "tiktok")


def test_observed_until_the_ban_then_blocked(dnsfence_factory: DnsfenceFactory,
                                            blocklists_dir: BlocklistDir) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    blocklists_dir.write_text("tiktok.yaml", (
        "name: tiktok\nreference: announced ban\nobserve_from: 2020-01-01\n"
        f"effective: {start.isoformat()}\ntimezone: UTC\ndomains: [tiktok.com]\n"))
    server = dnsfence_factory()
    reply = server.query("www.tiktok.com")
    assert rcode_name(reply) == "NOERROR"  # answered by unbound, as before the ban
    assert 0 < reply.answer[0].ttl <= 5  # capped: no answer outlives the ban's start
    assert observed_total(server) == 1
    wait_until(lambda: datetime.now(UTC) >= start + timedelta(seconds=0.2), timeout=10,
               what="the ban's start")
    assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
    assert observed_total(server) == 1
    time.sleep(0.1)
    assert server.stop() == 0
    assert server.state_dir is not None
    records = [json.loads(line) for line in
               (server.state_dir / "querylog.jsonl").read_text().splitlines()]
    assert [(r["verdict"], r["name"], r["list"], r["rcode"]) for r in records] == [
        ("observed", "www.tiktok.com", "tiktok", "NOERROR"),
        ("blocked", "www.tiktok.com", "tiktok", "NXDOMAIN")]
