"""`/metrics`: every worker's report as Prometheus metrics, each series once.

The numbers come from the shared reports (`resolver.counters`), never from a second
bookkeeping: counters and labelled series are added up over the reports (the
supervisor's holds what exited workers counted, so nothing goes backwards when a worker
is replaced); the policy and reload state is taken once (the newest report, or the
extreme that answers the question: the last successful reload, the next change).
prometheus-client renders the text format.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from resolver import __version__
from resolver.counters import WorkerCounters, series_totals

Reports = Callable[[], Sequence[WorkerCounters]]
"""Every running worker's latest report, and the supervisor's when there is one."""


class DnsfenceCollector(Collector):
    """The dnsfence_* metrics, made at each scrape from the workers' reports."""

    def __init__(self, reports: Reports) -> None:
        self._reports = reports

    def collect(self) -> Iterable[Metric]:
        workers = list(self._reports())
        counters: dict[str, int] = {}
        for worker in workers:
            for name, value in worker.counters.items():
                counters[name] = counters.get(name, 0) + value
        series = series_totals(workers)
        yield from _answers(series)
        yield from _upstream(series)
        yield from _cache_and_log(counters)
        yield from _client_limits(counters)
        yield from _policy([worker.state for worker in workers if worker.state])
        info = GaugeMetricFamily("dnsfence_build_info", "Always 1; the version as a label.",
                                 labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily("dnsfence_workers", "Worker processes that report.",
                                value=sum(1 for worker in workers if worker.serving))
        yield CounterMetricFamily(
            "dnsfence_worker_restarts",
            "Workers the supervisor started again after one died (a reload's are not counted).",
            value=max((s.get("supervisor", {}).get("restarts", 0)
                       for s in (worker.state for worker in workers)), default=0))


def _labelled(family: CounterMetricFamily | GaugeMetricFamily,
              values: dict[tuple[str, ...], float]) -> CounterMetricFamily | GaugeMetricFamily:
    for labels, value in sorted(values.items()):
        family.add_metric(list(labels), value)
    return family


def _answers(series: dict[str, dict[tuple[str, ...], float]]) -> Iterable[Metric]:
    yield _labelled(CounterMetricFamily(
        "dnsfence_queries", "Answers by verdict (the query log's) and transport.",
        labels=["verdict", "proto"]), series.get("queries", {}))
    yield _labelled(CounterMetricFamily(
        "dnsfence_blocked", "Blocked answers by the list whose rule decided.",
        labels=["list"]), series.get("blocked", {}))
    yield _labelled(CounterMetricFamily(
        "dnsfence_observed",
        "Answers in a list's warning period (observe_from) that its ban will block.",
        labels=["list"]), series.get("observed", {}))


def _upstream(series: dict[str, dict[tuple[str, ...], float]]) -> Iterable[Metric]:
    yield _labelled(CounterMetricFamily(
        "dnsfence_upstream_responses", "Replies from upstream resolvers, by server and RCODE.",
        labels=["upstream", "rcode"]), series.get("upstream_responses", {}))
    buckets = series.get("upstream_duration_bucket", {})
    cumulative, running = [], 0.0
    for (bound,), count in sorted(buckets.items(), key=lambda item: float(item[0][0])):
        running += count
        cumulative.append((bound, running))
    if not cumulative or cumulative[-1][0] != "+Inf":
        cumulative.append(("+Inf", running))
    total = series.get("upstream_duration_sum", {}).get((), 0.0)
    yield HistogramMetricFamily(
        "dnsfence_upstream_duration_seconds",
        "Time from sending a question upstream to its answer, for answered questions.",
        buckets=cumulative, sum_value=total)


def _cache_and_log(counters: dict[str, int]) -> Iterable[Metric]:
    yield GaugeMetricFamily("dnsfence_cache_entries", "Answers held in the workers' caches.",
                            value=counters.get("cache_entries", 0))
    yield CounterMetricFamily("dnsfence_cache_hits", "Answers served from a cache.",
                              value=counters.get("cache_hits", 0))
    yield CounterMetricFamily(
        "dnsfence_querylog_dropped",
        "Query log records dropped (queue full or log file not writable); answers never wait.",
        value=counters.get("querylog_dropped", 0))
    yield CounterMetricFamily("dnsfence_querylog_written", "Query log records written.",
                              value=counters.get("querylog_written", 0))
    yield CounterMetricFamily(
        "dnsfence_querylog_errors",
        "Failed attempts to write the query log (logged once until it works again).",
        value=counters.get("querylog_errors", 0))


def _client_limits(counters: dict[str, int]) -> Iterable[Metric]:
    limited = CounterMetricFamily(
        "dnsfence_rate_limited", "UDP queries over their client's rate limit, by what they got "
        "(drop: nothing; slip: an empty answer with TC set).", labels=["action"])
    slips = counters.get("rate_limit_slips", 0)
    limited.add_metric(["drop"], counters.get("rate_limited", 0) - slips)
    limited.add_metric(["slip"], slips)
    yield limited
    refused = CounterMetricFamily(
        "dnsfence_tcp_connections_refused", "TCP connections closed at once, by the cap they "
        "hit (total: server.tcp_max_connections; client: ..._per_client).", labels=["cap"])
    refused.add_metric(["total"], counters.get("tcp_refused", 0))
    refused.add_metric(["client"], counters.get("tcp_client_refused", 0))
    yield refused


def _policy(states: list[dict[str, Any]]) -> Iterable[Metric]:
    reloads = CounterMetricFamily("dnsfence_policy_reloads", "Policy reloads by result.",
                                  labels=["result"])
    rules = GaugeMetricFamily("dnsfence_list_rules", "Entries of each loaded list.",
                              labels=["list"])
    if not states:
        yield reloads
        yield rules
        return
    # the same files and reloads, whoever reports them: each figure once, not per worker
    reloads.add_metric(["ok"], max(s["reload"]["ok"] for s in states))
    reloads.add_metric(["failed"], max(s["reload"]["failed"] for s in states))
    yield reloads
    yield GaugeMetricFamily(
        "dnsfence_policy_last_reload_success_timestamp_seconds",
        "When the policy in force was loaded (start-up or the last successful reload).",
        value=max(s["reload"]["last_success"] for s in states))
    upcoming = [s["policy"]["next_change"] for s in states
                if s["policy"]["next_change"] is not None]
    yield GaugeMetricFamily(
        "dnsfence_policy_next_change_timestamp_seconds",
        "When the policy next changes by itself (an entry starts or expires); +Inf: never.",
        value=min(upcoming) if upcoming else math.inf)
    newest = max(states, key=lambda s: s["reload"]["last_success"])
    for name, size in sorted(newest["policy"]["lists"].items()):
        rules.add_metric([name], size)
    yield rules
    yield GaugeMetricFamily(
        "dnsfence_sources_missing",
        "`url:` sources never downloaded yet: their lists are served without them.",
        value=len(newest["policy"].get("missing_sources", [])))


class WorkersProcessCollector(Collector):
    """The standard process_* metrics, added up over the server's processes.

    prometheus-client reads one process; a server with several workers is several (the
    supervisor and its workers), so each one's figures are read by the library and summed
    here (start time: the earliest; the fd limit: the first process's).
    """

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for pid in self._pids():
            reader = ProcessCollector(pid=functools.partial(int, pid), registry=None)
            for metric in reader.collect():
                known = merged.get(metric.name)
                if known is None:
                    merged[metric.name] = metric
                    continue
                sample, other = known.samples[0], metric.samples[0]
                if metric.name == "process_start_time_seconds":
                    value = min(sample.value, other.value)
                elif metric.name == "process_max_fds":
                    value = sample.value
                else:
                    value = sample.value + other.value
                known.samples[0] = sample._replace(value=value)
        yield from merged.values()


def registry(reports: Reports, pids: Callable[[], Sequence[int]]) -> CollectorRegistry:
    """What `/metrics` shows: dnsfence's metrics, the processes', and Python's."""
    found = CollectorRegistry(auto_describe=False)
    found.register(DnsfenceCollector(reports))
    found.register(WorkersProcessCollector(pids))
    PlatformCollector(registry=found)
    return found
