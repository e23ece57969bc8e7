"""Upstream health against the real server and a real unbound that refuses one zone: a
client's refused queries are that query's answer, passed on at once, and never put the
upstream in hold-down for everyone else."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.rcode
import pytest

from .harness import DnsfenceFactory, Unbound


@pytest.fixture
def refusing_unbound(tmp_path: Path) -> Iterator[Unbound]:
    server = Unbound(tmp_path / "unbound", extra_server_lines=[
        'local-zone: "refused.test." refuse'])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_refused_queries_are_passed_on_and_never_hold_the_upstream_down(
        dnsfence_factory: DnsfenceFactory, refusing_unbound: Unbound) -> None:
    server = dnsfence_factory(upstream=refusing_unbound.address)
    for number in range(6):
        started = time.monotonic()
        reply = server.query(f"q{number}.refused.test")
        assert dns.rcode.to_text(reply.rcode()) == "REFUSED"
        assert [(int(o.code), o.text) for o in reply.options
                if isinstance(o, dns.edns.EDEOption)] == [
            (0, f"upstream {refusing_unbound.address} answered REFUSED")]
        assert time.monotonic() - started < 0.5, "passed on at once, not after the deadline"
    started = time.monotonic()
    reply = server.query("www.example.test")
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR" and reply.answer
    assert time.monotonic() - started < 0.5
    log = "\n".join(server.stderr_lines())
    assert "skipping it" not in log and "failed" not in log, log
