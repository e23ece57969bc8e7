"""/metrics from the workers' reports: each series once, summed over workers, in the
Prometheus text format as prometheus-client's own parser reads it."""

from __future__ import annotations

import math
import os

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from resolver import __version__
from resolver.counters import WorkerCounters
from resolver.metrics import registry

STATE = {
    "policy": {"loaded_at": 100.0, "lists": {"tiktok": 12, "press": 3}, "entries": 15,
               "active_entries": 15, "next_change": 5000.0},
    "reload": {"ok": 2, "failed": 1, "last_success": 100.0, "last": None},
}


def worker(pid: int, blocked: float, *, state: dict[str, object] | None = None,
           next_change: float | None = 5000.0, loaded_at: float = 100.0) -> WorkerCounters:
    own = {**STATE, "policy": {**STATE["policy"], "next_change": next_change},
           "reload": {**STATE["reload"], "last_success": loaded_at}}
    return WorkerCounters(
        pid, 0.0, {"cache_hits": 10, "cache_entries": 40, "querylog_dropped": 1,
                   "querylog_written": 4, "querylog_errors": 3},
        {"queries": {("blocked", "udp"): blocked, ("forwarded", "tcp"): 2.0},
         "blocked": {("tiktok",): blocked}, "observed": {("press",): 2.0},
         "upstream_responses": {("127.0.0.1:53", "NOERROR"): 5.0},
         "upstream_duration_bucket": {("0.001",): 1.0, ("0.01",): 3.0, ("+Inf",): 1.0},
         "upstream_duration_sum": {(): 0.25}},
        own if state is None else state)


def scrape(*workers: WorkerCounters) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = generate_latest(registry(lambda: workers, lambda: [os.getpid()])).decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return found


def test_counters_and_series_are_summed_over_the_workers() -> None:
    found = scrape(worker(1, 7.0), worker(2, 5.0))
    queries = found["dnsfence_queries_total"]
    assert queries[(("proto", "udp"), ("verdict", "blocked"))] == 12
    assert queries[(("proto", "tcp"), ("verdict", "forwarded"))] == 4
    assert found["dnsfence_blocked_total"] == {(("list", "tiktok"),): 12}
    assert found["dnsfence_observed_total"] == {(("list", "press"),): 4}
    assert found["dnsfence_upstream_responses_total"] == {
        (("rcode", "NOERROR"), ("upstream", "127.0.0.1:53")): 10}
    assert found["dnsfence_cache_hits_total"] == {(): 20}
    assert found["dnsfence_cache_entries"] == {(): 80}
    assert found["dnsfence_querylog_dropped_total"] == {(): 2}
    assert found["dnsfence_querylog_written_total"] == {(): 8}
    assert found["dnsfence_querylog_errors_total"] == {(): 6}
    assert found["dnsfence_workers"] == {(): 2}
    assert found["dnsfence_build_info"] == {(("version", __version__),): 1}


def test_the_upstream_histogram_is_cumulative() -> None:
    found = scrape(worker(1, 0.0), worker(2, 0.0))
    buckets = found["dnsfence_upstream_duration_seconds_bucket"]
    assert buckets[(("le", "0.001"),)] == 2
    assert buckets[(("le", "0.01"),)] == 2 + 6
    assert buckets[(("le", "+Inf"),)] == 2 + 6 + 2
    assert found["dnsfence_upstream_duration_seconds_count"] == {(): 10}
    assert found["dnsfence_upstream_duration_seconds_sum"] == {(): 0.5}


def test_policy_state_is_taken_once_not_per_worker() -> None:
    found = scrape(worker(1, 0.0, loaded_at=100.0, next_change=None),
                   worker(2, 0.0, loaded_at=160.0, next_change=7000.0))
    assert found["dnsfence_policy_reloads_total"] == {(("result", "ok"),): 2,
                                                      (("result", "failed"),): 1}
    assert found["dnsfence_policy_last_reload_success_timestamp_seconds"] == {(): 160.0}
    assert found["dnsfence_policy_next_change_timestamp_seconds"] == {(): 7000.0}
    assert found["dnsfence_list_rules"] == {(("list", "press"),): 3,
                                            (("list", "tiktok"),): 12}


def test_with_nothing_scheduled_the_next_change_is_infinitely_far() -> None:
    found = scrape(worker(1, 0.0, next_change=None))
    assert math.isinf(found["dnsfence_policy_next_change_timestamp_seconds"][()])


def test_process_metrics_are_summed_over_the_worker_processes() -> None:
    one = generate_latest(registry(lambda: [], lambda: [os.getpid()])).decode()
    two = generate_latest(registry(lambda: [], lambda: [os.getpid(), os.getpid()])).decode()

    def value(text: str, name: str) -> float:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
        raise AssertionError(f"{name} missing")

    assert value(two, "process_max_fds") == value(one, "process_max_fds")
    assert value(two, "process_start_time_seconds") == value(one, "process_start_time_seconds")
    resident = value(one, "process_resident_memory_bytes")
    assert 1.8 * resident < value(two, "process_resident_memory_bytes") < 2.2 * resident


def test_no_worker_yet_still_scrapes() -> None:
    found = scrape()
    assert found["dnsfence_workers"] == {(): 0}
    assert "dnsfence_policy_last_reload_success_timestamp_seconds" not in found


def test_rate_limits_and_tcp_caps_are_counted_by_what_happened() -> None:
    counters = {"rate_limited": 9, "rate_limit_slips": 4, "tcp_refused": 2,
                "tcp_client_refused": 5}
    found = scrape(*(WorkerCounters(pid, 0.0, counters, {}, STATE) for pid in (1, 2)))
    assert found["dnsfence_rate_limited_total"] == {(("action", "drop"),): 10,
                                                    (("action", "slip"),): 8}
    assert found["dnsfence_tcp_connections_refused_total"] == {(("cap", "total"),): 4,
                                                               (("cap", "client"),): 10}


def test_sources_never_downloaded_are_counted_from_the_newest_policy() -> None:
    assert scrape(worker(1, 0.0))["dnsfence_sources_missing"] == {(): 0}
    lacking = {**STATE, "policy": {**STATE["policy"], "missing_sources": [
        {"list": "tiktok", "url": "https://lists.example/a.txt"},
        {"list": "tiktok", "url": "https://lists.example/b.txt"}]},
        "reload": {**STATE["reload"], "last_success": 50.0}}
    found = scrape(worker(1, 0.0, state=lacking))
    assert found["dnsfence_sources_missing"] == {(): 2}
    # a newer policy (the source arrived and was loaded) counts, not the older one
    assert scrape(worker(1, 0.0, state=lacking), worker(2, 0.0, loaded_at=100.0))[
        "dnsfence_sources_missing"] == {(): 0}


def test_the_supervisors_report_adds_departed_counts_and_restarts_but_no_worker() -> None:
    departed = WorkerCounters(
        9, 0.0, {"cache_hits": 5}, {"blocked": {("tiktok",): 4.0}},
        {**STATE, "supervisor": {"restarts": 3, "generation": 2}}, serving=False)
    live = worker(1, 6.0, state={})  # a supervised worker reports no state of its own
    found = scrape(live, departed)
    assert found["dnsfence_workers"] == {(): 1}
    assert found["dnsfence_worker_restarts_total"] == {(): 3}
    assert found["dnsfence_blocked_total"] == {(("list", "tiktok"),): 10.0}
    assert found["dnsfence_cache_hits_total"] == {(): 15}
    assert found["dnsfence_policy_reloads_total"][(("result", "ok"),)] == 2


def test_a_single_process_server_has_no_restarts() -> None:
    assert scrape(worker(1, 1.0))["dnsfence_worker_restarts_total"] == {(): 0}
