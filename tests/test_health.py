"""/healthz's verdict: answering DNS (probed for real) with the policy on disk loaded."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from resolver.config.endpoints import Endpoint
from resolver.counters import WorkerCounters
from resolver.health import STALE_AFTER, health, loopback_for, missing_sources, probe_dns

NOW = 1_000_000.0


def state(*, failed: bool = False) -> dict[str, object]:
    last = {"at": NOW - 5, "ok": not failed, "reason": "files changed",
            "problems": ["blocklists/tiktok.yaml:4:3: `effective`: not a date"] if failed
            else []}
    return {"policy": {"loaded_at": NOW - 60, "lists": {"tiktok": 3}, "entries": 3,
                       "active_entries": 3, "next_change": None},
            "reload": {"ok": 1, "failed": int(failed), "last_success": NOW - 60,
                       "last": last}}


def reporting(pid: int = 1, *, age: float = 0.5, failed: bool = False) -> WorkerCounters:
    return WorkerCounters(pid, NOW - age, {}, {}, state(failed=failed))


def answering() -> None:
    return None


def test_healthy_when_every_worker_reports_and_dns_answers() -> None:
    verdict = health([reporting(1), reporting(2)], 2, NOW, answering)
    assert verdict.ok and verdict.status == 200
    assert "2 workers answering DNS" in verdict.reason
    assert "policy of 1 list loaded" in verdict.reason


def test_a_failed_reload_is_unhealthy_and_names_the_file_and_line() -> None:
    verdict = health([reporting(failed=True)], 1, NOW, answering)
    assert verdict.status == 503
    assert "blocklists/tiktok.yaml:4:3" in verdict.reason
    assert "still enforcing the policy loaded at" in verdict.reason


def test_a_failed_reload_left_out_is_healthy_but_still_named() -> None:
    verdict = health([reporting(failed=True)], 1, NOW, answering, frozenset({"reload"}))
    assert verdict.status == 200
    assert verdict.reason.startswith("ok: 1 worker answering DNS")
    assert "not counted (exclude=reload): the policy failed to load" in verdict.reason
    assert "blocklists/tiktok.yaml:4:3" in verdict.reason
    # what is not excluded still counts, and the excluded failure is still named
    silent = health([reporting(failed=True)], 1, NOW, lambda: "no DNS answer from ::1:53",
                    frozenset({"reload"}))
    assert silent.status == 503 and "no DNS answer" in silent.reason
    assert "not counted (exclude=reload)" in silent.reason
    # a good reload has nothing to leave out
    assert health([reporting()], 1, NOW, answering, frozenset({"reload"})).reason == \
        health([reporting()], 1, NOW, answering).reason


def test_a_missing_or_silent_worker_is_unhealthy() -> None:
    assert "1 of 2 workers have not reported" in health([reporting()], 2, NOW, answering).reason
    stale = health([reporting(7, age=STALE_AFTER + 1)], 1, NOW, answering)
    assert stale.status == 503 and "worker pid 7 has not reported" in stale.reason


def test_no_dns_answer_is_unhealthy_with_the_probes_reason() -> None:
    verdict = health([reporting()], 1, NOW, lambda: "no DNS answer from 127.0.0.1:53")
    assert verdict.status == 503 and verdict.reason.endswith("no DNS answer from 127.0.0.1:53")


def test_wildcard_listeners_are_probed_on_loopback() -> None:
    assert loopback_for(Endpoint("0.0.0.0", 53)) == Endpoint("127.0.0.1", 53)
    assert loopback_for(Endpoint("::", 53)) == Endpoint("::1", 53)
    assert loopback_for(Endpoint("10.1.2.3", 53)) == Endpoint("10.1.2.3", 53)


@pytest.fixture
def udp_responder() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A loopback UDP socket that echoes one query's ID in a minimal reply."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    seen: list[bytes] = []

    def answer() -> None:
        data, peer = sock.recvfrom(512)
        seen.append(data)
        sock.sendto(b"\xff\xff" + b"\x80" * 10, peer)  # a stray reply first
        sock.sendto(data[:2] + b"\x80\x00" + b"\x00" * 8, peer)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield sock, seen
    thread.join(timeout=2)
    sock.close()


def test_the_probe_is_a_chaos_query_and_needs_the_matching_id(
        udp_responder: tuple[socket.socket, list[bytes]]) -> None:
    sock, seen = udp_responder
    port = sock.getsockname()[1]
    assert probe_dns(Endpoint("127.0.0.1", port), timeout=2.0) is None
    assert b"\x06status\x08dnsfence\x00\x00\x10\x00\x03" in seen[0]


def test_a_silent_port_fails_the_probe_in_bounded_time() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        reason = probe_dns(Endpoint("127.0.0.1", silent.getsockname()[1]), timeout=0.2)
    assert reason is not None and "within 0.2s" in reason


def missing(failures: int | None) -> dict[str, object]:
    return {"list": "ads", "url": "https://lists.example/ads.txt",
            "location": "blocklists/ads.yaml:6:5", "failures": failures,
            "last_error": None if failures is None else "HTTP 503",
            "next_attempt": None if failures is None else NOW + 30}


def lacking(pid: int, failures: int | None, *, failed: bool = False) -> WorkerCounters:
    with_missing = state(failed=failed)
    with_missing["policy"]["missing_sources"] = [missing(failures)]  # type: ignore[index]
    return WorkerCounters(pid, NOW - 0.5, {}, {}, with_missing)


def test_a_source_never_downloaded_is_named_but_the_server_stays_healthy() -> None:
    verdict = health([lacking(1, 2), lacking(2, None)], 2, NOW, answering)
    assert verdict.status == 200
    assert verdict.reason.endswith(
        "; serving without 1 source never downloaded yet: https://lists.example/ads.txt of "
        "list ads (blocklists/ads.yaml:6:5)")
    unhealthy = health([lacking(1, 2, failed=True)], 1, NOW, answering)
    assert unhealthy.status == 503 and "serving without 1 source" in unhealthy.reason


def test_missing_sources_take_the_downloading_workers_attempts() -> None:
    own = lacking(2, None).state
    merged = missing_sources(own, [lacking(1, 4).state, own])
    assert merged == [missing(4)]
    assert own["policy"]["missing_sources"] == [missing(None)]  # the worker's own is left
    assert missing_sources(own, [own]) == [missing(None)]
    assert missing_sources({}, []) == []


def test_the_supervisors_report_is_the_state_but_no_worker() -> None:
    supervisor = WorkerCounters(1, NOW - 0.5, {}, {}, state(failed=True), serving=False)
    silent = WorkerCounters(2, NOW - 0.5, {}, {}, {})
    verdict = health([silent, supervisor], 2, NOW, answering)
    assert "1 of 2 workers have not reported" in verdict.reason
    assert "blocklists/tiktok.yaml:4:3" in verdict.reason  # its reload state counts
    verdict = health([silent, WorkerCounters(3, NOW, {}, {}, {}),
                      WorkerCounters(1, NOW - 0.5, {}, {}, state(), serving=False)],
                     2, NOW, answering)
    assert verdict.ok and "2 workers answering DNS" in verdict.reason
