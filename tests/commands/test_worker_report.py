"""What a worker reports: `dnsfence status`'s document, and its shared copy for the other
workers and for /metrics."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from resolver import __version__
from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_report import (
    fresh_reports,
    publisher,
    reported_status,
    status_report,
    supervisor_state,
)
from resolver.config.endpoints import Endpoint
from resolver.config.forward_zones import ForwardZone
from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.counters import SharedCounters
from resolver.fetch.updates import retry_policy
from resolver.lists.load import load_policy
from resolver.pipeline import Pipeline, counter_names, level_names
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from tests.commands.cli_runner import STAGED, write_tree

UPSTREAM = (Endpoint("192.0.2.1", 53),)


def staged_config(root: Path) -> Config:
    write_tree(root, {"blocklists/social.yaml": STAGED})
    return defaults().with_overrides(blocklists=root / "blocklists", state_dir=root / "state",
                                     **{"upstream.servers": UPSTREAM})


def staged(root: Path) -> tuple[Pipeline, PolicyReloader]:
    config = staged_config(root)
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    active = PolicyHolder(loaded.policy)
    live = PolicyReloader(config, active, lambda: config, lambda _old, _new: None,
                          downloads=False)
    return Pipeline.from_config(config, active), live


def test_status_report_shape(tmp_path: Path) -> None:
    config = staged_config(tmp_path)
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    active = PolicyHolder(loaded.policy)
    pipeline = Pipeline.from_config(config, active)
    live = PolicyReloader(config, active, lambda: config, lambda _old, _new: None,
                          downloads=False)
    report = status_report(live.state, lambda: live.config, pipeline, 1234.5,
                           udp_io="python (server.batch_io: off)")
    assert set(report) == {"version", "pid", "started", "policy", "last_reload", "reloads",
                           "failed_reloads", "counters", "blocked_by_list", "workers",
                           "supervisor", "upstreams", "forward_zones", "udp_io",
                           "hot_modules"}
    assert (report["version"], report["pid"], report["started"]) == (__version__, os.getpid(),
                                                                     1234.5)
    assert report["policy"]["lists"] == ["social"]
    assert report["policy"]["entries"] == loaded.policy.size == 3
    assert report["policy"]["loaded_at"] == live.loaded_at
    assert report["last_reload"] is None
    assert (report["reloads"], report["failed_reloads"]) == (0, 0)
    assert list(report["counters"]) == list(counter_names())
    assert report["workers"] == [{"pid": os.getpid(), "counters": pipeline.counters()}]
    assert report["upstreams"] == ["192.0.2.1:53"]
    assert report["forward_zones"] == {}
    assert report["blocked_by_list"] == {}
    assert report["supervisor"] is None  # a single process supervises nothing
    assert report["udp_io"] == "python (server.batch_io: off)"  # as chosen at start


def test_status_report_names_the_forward_zones_and_their_servers(tmp_path: Path) -> None:
    zones = (ForwardZone("corp.example.eu", (Endpoint("10.0.0.10", 53),
                                             Endpoint("fd00::53", 5353))),
             ForwardZone("10.in-addr.arpa", (Endpoint("10.0.0.10", 53),)))
    config = staged_config(tmp_path).with_overrides(forward_zones=zones)
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    active = PolicyHolder(loaded.policy)
    live = PolicyReloader(config, active, lambda: config, lambda _old, _new: None,
                          downloads=False)
    report = status_report(live.state, lambda: live.config, Pipeline.from_config(config, active),
                           0.0)
    assert report["forward_zones"] == {"corp.example.eu": ["10.0.0.10:53", "[fd00::53]:5353"],
                                       "10.in-addr.arpa": ["10.0.0.10:53"]}


def blocked_query(name: str, qid: int) -> bytes:
    flags = (0x0100).to_bytes(2, "big")
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return qid.to_bytes(2, "big") + flags + b"\x00\x01\x00\x00\x00\x00\x00\x00" \
        + labels + b"\x00\x00\x01\x00\x01"


def test_the_shared_copy_carries_counters_series_and_state(tmp_path: Path) -> None:
    pipeline, live = staged(tmp_path)
    shared = SharedCounters(2, counter_names())
    publish = publisher(pipeline, live.state, shared, 1)
    for qid in (1, 2):
        pipeline.handle(blocked_query("www.tiktok.com", qid), "127.0.0.1", time.time())
    publish()
    [copy] = shared.read()
    assert copy.pid == os.getpid()
    assert copy.counters["blocked"] == 2
    assert copy.series["blocked"] == {("social",): 2.0}
    assert copy.series["queries"][("blocked", "udp")] == 2.0
    assert copy.state == live.state()
    assert copy.state["policy"]["lists"] == {"social": 3}
    assert copy.state["reload"] == {"ok": 0, "failed": 0, "last_success": live.loaded_at,
                                    "last": None}
    report = status_report(live.state, lambda: live.config, pipeline, 0.0, shared)
    assert report["blocked_by_list"] == {"social": 2}  # own live counts, not twice


def test_a_scrape_from_another_thread_gets_a_copy_made_on_the_event_loop(
        tmp_path: Path) -> None:
    pipeline, live = staged(tmp_path)
    shared = SharedCounters(1, counter_names())
    copied_on: list[threading.Thread] = []
    publish = publisher(pipeline, live.state, shared, 0)

    def tracked() -> None:
        copied_on.append(threading.current_thread())
        publish()

    async def scrape() -> list[object]:
        reports = fresh_reports(asyncio.get_running_loop(), tracked, shared)
        started = time.monotonic()
        result = await asyncio.to_thread(reports)
        assert time.monotonic() - started < 1.0  # did not wait for the timeout
        return list(result)

    found = asyncio.run(scrape())
    assert len(found) == 1
    assert copied_on == [threading.main_thread()]


def test_any_worker_reports_missing_sources_with_the_downloaders_attempts(
        tmp_path: Path) -> None:
    url = "https://lists.example/ads.txt"
    write_tree(tmp_path, {"blocklists/ads.yaml": "reference: r\neffective: 2024-01-01\n"
                          f"sources:\n  - url: {url}\n"})
    config = defaults().with_overrides(blocklists=tmp_path / "blocklists",
                                       **{"upstream.servers": UPSTREAM})
    loaded = load_policy(config.blocklists, config.timezone, tmp_path / "cache",
                         allow_missing=True)
    assert loaded.policy is not None
    shared = SharedCounters(2, counter_names())
    workers = []
    for index in (0, 1):
        active = PolicyHolder(loaded.policy)
        pipeline = Pipeline.from_config(config, active)
        live = PolicyReloader(config, active, lambda: config, lambda _old, _new: None,
                              downloads=index == 0)
        workers.append((pipeline, live))
    downloader = workers[0][1]
    tried = downloader.retries.failed(url, 1000.0, "HTTP 503",
                                      retry_policy(config.fetch_settings()))
    # the downloading worker is another process: its copy in shared memory is what we see
    shared.publish(0, os.getpid() + 1, time.time(), {}, {}, downloader.state())
    expected = [{"list": "ads", "url": url, "location": f"{config.blocklists / 'ads.yaml'}:4:5",
                 "failures": 1, "last_error": "HTTP 503", "next_attempt": tried.next_at}]
    other_pipeline, other = workers[1]
    assert status_report(other.state, lambda: config, other_pipeline, 0.0,
                         shared)["policy"]["missing_sources"] == expected
    assert status_report(downloader.state, lambda: config, workers[0][0],
                         0.0)["policy"]["missing_sources"] == expected
    # alone, the other worker knows what is missing, not how the downloads go
    alone = status_report(other.state, lambda: config, other_pipeline,
                          0.0)["policy"]["missing_sources"]
    assert [(m["url"], m["failures"]) for m in alone] == [(url, None)]


def test_a_supervised_worker_reports_the_supervisors_state_and_the_departed_counts(
        tmp_path: Path) -> None:
    pipeline, live = staged(tmp_path)
    shared = SharedCounters(1, counter_names(), slots=3)
    supervisor = SupervisorReport(shared, 2, level_names())
    supervisor.set_state(live.state())
    supervisor.set_supervisor({"restarts": 3, "generation": 2})
    # a worker that has exited: its totals stay, its cache level goes with it
    shared.publish(1, 999_999, 1.0, {"blocked": 5, "cache_entries": 7},
                   {"blocked": {("social",): 5.0}})
    supervisor.absorb(1)
    publish = publisher(pipeline, None, shared, 0)  # a supervised worker: no state of its own
    pipeline.handle(blocked_query("www.tiktok.com", 1), "127.0.0.1", time.time())
    publish()
    [own] = [report for report in shared.read() if report.serving]
    assert own.state == {}
    state = supervisor_state(shared)
    report = status_report(state, lambda: live.config, pipeline, 0.0, shared)
    assert report["supervisor"] == {"restarts": 3, "generation": 2}
    assert report["counters"]["blocked"] == 1 + 5
    assert report["counters"]["cache_entries"] == pipeline.counters()["cache_entries"]
    assert report["blocked_by_list"] == {"social": 6}
    assert [worker["pid"] for worker in report["workers"]] == [os.getpid()]  # not the supervisor
    assert report["policy"]["lists"] == ["social"]


def test_without_a_supervisor_report_there_is_no_state_to_show() -> None:
    with pytest.raises(LookupError):
        supervisor_state(SharedCounters(1, counter_names()))()


def test_the_status_from_the_reports_alone_is_what_a_worker_would_say(tmp_path: Path) -> None:
    pipeline, live = staged(tmp_path)
    shared = SharedCounters(1, counter_names(), slots=3)
    supervisor = SupervisorReport(shared, 2, level_names())
    supervisor.set_state(live.state())
    supervisor.set_supervisor({"restarts": 0, "generation": 1})
    shared.publish(1, 999_999, 1.0, {"blocked": 5}, {"blocked": {("social",): 5.0}})
    supervisor.absorb(1)  # an exited worker's counts, kept by the supervisor
    pipeline.handle(blocked_query("www.tiktok.com", 1), "127.0.0.1", time.time())
    publisher(pipeline, None, shared, 0)()
    from_reports = reported_status(shared.read(), live.config, 7.0)
    from_worker = status_report(supervisor_state(shared), lambda: live.config, pipeline, 7.0,
                                shared)
    assert from_reports["counters"] == from_worker["counters"]
    assert from_reports["counters"]["blocked"] == 6
    assert from_reports["blocked_by_list"] == from_worker["blocked_by_list"] == {"social": 6}
    assert from_reports["workers"] == [{"pid": os.getpid(), "counters": pipeline.counters(),
                                        "published_at": shared.read()[0].published_at}]
    assert from_reports["supervisor"] == {"restarts": 0, "generation": 1}
    # a single process: its own report holds the state, and its own counters count
    alone = SharedCounters(1, counter_names())
    publisher(pipeline, live.state, alone, 0)()
    single = reported_status(alone.read(), live.config, 7.0)
    assert single["counters"]["blocked"] == 1 and single["policy"]["lists"] == ["social"]
    with pytest.raises(LookupError):
        reported_status([], live.config, 7.0)
