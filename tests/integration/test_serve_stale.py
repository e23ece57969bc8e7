"""Serve-stale against the real server and a real unbound that the test stops and starts
again: answers seen before keep coming (TTL 30, EDE 3, or 19 for an NXDOMAIN) while the
upstream is gone, at once once it is held down; fresh answers return when it is back; a
name blocked meanwhile is blocked, never stale; `cache.serve_stale: 0` gives SERVFAIL."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from .harness import (
    LOOPBACK,
    BlocklistDir,
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    UnboundFactory,
    addresses_in,
    wait_until,
)
from .test_metrics import queries, scrape

DEADLINE = 1.0
STALE_TEXT = "no upstream answered; an answer kept past its TTL"


def ede(reply: dns.message.Message) -> list[tuple[int, str]]:
    return [(int(o.code), o.text or "") for o in reply.options
            if isinstance(o, dns.edns.EDEOption)]


def config(tmp_path: Path, *lines: str) -> Path:
    """Answers cached for 1 s at most (so they expire in the test), a short deadline."""
    path = tmp_path / "dnsfence.yaml"
    path.write_text("\n".join(["upstream:", "  timeout: 0.3", f"  deadline: {DEADLINE}",
                               "cache:", "  max_ttl: 1", "  max_negative_ttl: 1", *lines])
                    + "\n")
    return path


@contextlib.contextmanager
def silent_in_place_of(upstream: Unbound) -> Iterator[None]:
    """A UDP socket on the stopped upstream's port that reads nothing: queries time out as
    over a dead link (a closed port would refuse them at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, upstream.port))
        yield


def timed(server: Dnsfence, name: str) -> tuple[dns.message.Message, float]:
    started = time.monotonic()
    reply = server.query(name, timeout=5)
    return reply, time.monotonic() - started


def assert_stale(reply: dns.message.Message, address: str) -> None:
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR", reply
    assert addresses_in(reply) == [address]
    assert [rrset.ttl for rrset in reply.answer] == [30]
    assert ede(reply) == [(3, STALE_TEXT)]


def log_records(server: Dnsfence) -> list[dict[str, Any]]:
    assert server.stop() == 0 and server.state_dir is not None
    path = server.state_dir / "querylog.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def office(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("office", domains=["ads.example.test"], effective="2023-03-20")
    return blocklists_dir


def test_stale_answers_flow_while_the_upstream_is_down_and_fresh_ones_return(
        dnsfence_factory: DnsfenceFactory, unbound_factory: UnboundFactory,
        office: BlocklistDir, tmp_path: Path) -> None:
    upstream = unbound_factory()
    server = dnsfence_factory("--config", str(config(tmp_path, "querylog:", "  mode: all")),
                              upstream=upstream.address)
    names = ("www.example.test", "cloaked.example.test", "www.tiktok.com",
             "missing.example.test")
    for name in names:  # seen once, while the upstream answers
        server.query(name)
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    assert dns.rcode.to_text(server.query("missing.example.test").rcode()) == "NXDOMAIN"

    upstream.stop()
    with silent_in_place_of(upstream):
        # the first question after expiry waits out the deadline (and holds the server
        # down); then the answer kept past its TTL comes back
        wait_until(lambda: ede(server.query("www.example.test", timeout=5)) != [],
                   timeout=5 * DEADLINE, what="a stale answer")
        slowest = 0.0
        for _ in range(20):  # the server is held down: no waiting at all
            reply, seconds = timed(server, "www.example.test")
            assert_stale(reply, "192.0.2.10")
            slowest = max(slowest, seconds)
        assert slowest < DEADLINE / 2, f"a stale answer took {slowest:.3f}s"

        nx = server.query("missing.example.test", timeout=5)
        assert dns.rcode.to_text(nx.rcode()) == "NXDOMAIN"
        assert ede(nx) == [(19, STALE_TEXT)]
        assert [(rrset.ttl, rrset[0].minimum) for rrset in nx.authority] == [(30, 30)]
        cloaked = server.query("cloaked.example.test", timeout=5)  # a CNAME alone, as stored
        assert [(rrset.rdtype, rrset.ttl) for rrset in cloaked.answer] == \
            [(dns.rdatatype.CNAME, 30)]
        assert ede(cloaked) == [(3, STALE_TEXT)]

        office.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
        server.wait_for_stderr(r"reloaded \(files changed\)", timeout=10)
        for name in ("www.tiktok.com", "cloaked.example.test"):  # the latter by its CNAME
            blocked = server.query(name, timeout=5)
            assert dns.rcode.to_text(blocked.rcode()) == "NXDOMAIN", name
            assert [code for code, _ in ede(blocked)] == [15], name
            assert not blocked.answer

    upstream.restart()

    def fresh() -> bool:
        reply = server.query("www.example.test", timeout=5)
        return not ede(reply) and addresses_in(reply) == ["192.0.2.10"]

    wait_until(fresh, timeout=10, interval=0.2, what="a fresh answer once unbound is back")
    reply = server.query("www.example.test")
    assert [rrset.ttl for rrset in reply.answer] in ([0], [1]) and not ede(reply)

    wait_until(lambda: queries(scrape(server), "stale", "udp") >= 22, timeout=8,
               interval=0.2, what="the stale answers in /metrics")
    logged = [r for r in log_records(server) if r["verdict"] == "stale"]
    assert {r["name"] for r in logged} >= {"www.example.test", "missing.example.test"}
    assert {r["rcode"] for r in logged} == {"NOERROR", "NXDOMAIN"}


def test_with_serve_stale_0_a_dead_upstream_gives_servfail(
        dnsfence_factory: DnsfenceFactory, unbound_factory: UnboundFactory,
        office: BlocklistDir, tmp_path: Path) -> None:
    upstream = unbound_factory()
    server = dnsfence_factory("--config", str(config(tmp_path, "  serve_stale: 0")),
                              upstream=upstream.address)
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    cached = server.query("www.example.test")
    assert addresses_in(cached) == ["192.0.2.10"] and not ede(cached)
    upstream.stop()
    replies: list[dns.message.Message] = []

    def failed() -> bool:
        replies.append(server.query("www.example.test", timeout=5))
        return replies[-1].rcode() != dns.rcode.NOERROR

    with silent_in_place_of(upstream):
        # cached for 1 s (max_ttl): then the question goes to the dead upstream
        wait_until(failed, timeout=5 * DEADLINE, interval=0.1, what="the answer to fail")
    reply = replies[-1]
    assert dns.rcode.to_text(reply.rcode()) == "SERVFAIL"
    assert [code for code, _ in ede(reply)] == [22]
    assert reply.answer == []
    assert all(not ede(earlier) and earlier.answer[0].ttl <= 1 for earlier in replies[:-1]), \
        "only fresh answers before the SERVFAIL, never a stale one"
