"""/metrics and /healthz of the real server: scraped over HTTP, parsed with
prometheus-client's parser, and checked against the queries sent with real clients."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, Unbound, rcode_name, wait_until

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com", "*.byteoversea.com"],
                         effective="2023-03-20", timezone="Europe/Brussels")
    blocklists_dir.write("press", domains=["example.com"], effective="2023-03-20")
    return blocklists_dir


def scrape(server: Dnsfence) -> Samples:
    status, text = server.http_get("/metrics")
    assert status == 200
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return found


def queries(found: Samples, verdict: str, proto: str) -> float:
    return found["dnsfence_queries_total"].get((("proto", proto), ("verdict", verdict)), 0.0)


def eventually(check: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
    wait_until(check, timeout=timeout, interval=0.2, what=what)


def test_counters_match_the_queries_sent(dnsfence_factory: DnsfenceFactory, lists: BlocklistDir,
                                         unbound: Unbound) -> None:
    server = dnsfence_factory()
    for _ in range(3):
        assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
    assert rcode_name(server.query("api.byteoversea.com", tcp=True)) == "NXDOMAIN"
    assert rcode_name(server.query("www.example.com")) == "NXDOMAIN"
    assert rcode_name(server.query("www.example.test")) == "NOERROR"  # forwarded
    assert rcode_name(server.query("www.example.test")) == "NOERROR"  # cached
    dig = server.dig("+tcp", "txt.example.test", "TXT")
    assert dig.returncode == 0 and "NOERROR" in dig.stdout
    found = scrape(server)
    assert queries(found, "blocked", "udp") == 4
    assert queries(found, "blocked", "tcp") == 1
    assert queries(found, "forwarded", "udp") == 1
    assert queries(found, "forwarded", "tcp") == 1
    assert queries(found, "cached", "udp") == 1
    assert found["dnsfence_blocked_total"] == {(("list", "press"),): 1,
                                               (("list", "tiktok"),): 4}
    upstream = found["dnsfence_upstream_responses_total"]
    assert upstream == {(("rcode", "NOERROR"), ("upstream", unbound.address)): 2}
    assert found["dnsfence_upstream_duration_seconds_count"] == {(): 2}
    assert found["dnsfence_cache_hits_total"] == {(): 1}
    assert found["dnsfence_cache_entries"][()] == 2
    assert found["dnsfence_list_rules"] == {(("list", "press"),): 1,
                                            (("list", "tiktok"),): 2}
    assert found["dnsfence_policy_reloads_total"][(("result", "failed"),)] == 0
    now = time.time()
    assert now - 60 < found["dnsfence_policy_last_reload_success_timestamp_seconds"][()] <= now
    assert found["dnsfence_querylog_dropped_total"] == {(): 0}
    assert found["dnsfence_workers"] == {(): 1}
    assert len(found["dnsfence_build_info"]) == 1
    assert found["process_resident_memory_bytes"][()] > 10_000_000


def test_several_workers_are_summed_each_series_once(dnsfence_factory: DnsfenceFactory,
                                                      lists: BlocklistDir) -> None:
    server = dnsfence_factory(workers="2")
    sent = 40
    for number in range(sent):  # distinct source ports spread them over both workers
        assert rcode_name(server.query(f"n{number}.tiktok.com")) == "NXDOMAIN"

    def all_counted() -> bool:
        found = scrape(server)
        return queries(found, "blocked", "udp") == sent \
            and found["dnsfence_workers"] == {(): 2}

    eventually(all_counted, "every worker's queries in /metrics")
    found = scrape(server)
    assert found["dnsfence_blocked_total"] == {(("list", "tiktok"),): sent}
    assert found["dnsfence_list_rules"][(("list", "tiktok"),)] == 2  # once, not per worker


def test_healthz_is_503_while_the_lists_on_disk_fail_to_load(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    status, body = server.http_get("/healthz")
    assert (status, body.split(":")[0]) == (200, "ok")
    broken = lists.write_text("tiktok.yaml", "name: tiktok\neffective: not a date\n"
                                             "domains: [tiktok.com]\n")
    server.wait_for_stderr(r"reload \(files changed\) failed", timeout=10)
    status, body = server.http_get("/healthz")
    assert status == 503
    assert f"{broken.name}:2" in body and "still enforcing the policy loaded at" in body
    assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"  # the last good policy
    lists.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    server.wait_for_stderr(r"reloaded \(files changed\)", timeout=10)
    assert server.http_get("/healthz")[0] == 200


def test_healthz_is_503_when_dns_does_not_answer(dnsfence_factory: DnsfenceFactory,
                                                 lists: BlocklistDir) -> None:
    server = dnsfence_factory(workers="2")
    # ready once both forked workers have reported (a readiness probe retries likewise)
    eventually(lambda: server.http_get("/healthz")[0] == 200, "both workers reporting")
    children_file = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    children = [int(pid) for pid in children_file.read_text().split()]
    assert len(children) == 2
    for child in children:
        os.kill(child, signal.SIGSTOP)  # stuck workers: DNS goes unanswered
    try:
        status, body = server.http_get("/healthz")
        assert status == 503 and "no DNS answer from 127.0.0.1" in body
    finally:
        for child in children:
            os.kill(child, signal.SIGCONT)
    eventually(lambda: server.http_get("/healthz")[0] == 200, "/healthz back to 200")


def test_no_http_listener_when_turned_off(dnsfence_factory: DnsfenceFactory,
                                          lists: BlocklistDir) -> None:
    server = dnsfence_factory(http="")
    assert server.http_address is None
    assert not any("http on" in line for line in server.stderr_lines())
