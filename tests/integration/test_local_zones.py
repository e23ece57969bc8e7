"""Locally served zones against the real server and a real unbound: a PTR for a private
address, localhost and .invalid are answered by dnsfence and never reach the upstream."""

from __future__ import annotations

from pathlib import Path

import dns.flags
import dns.rcode

from .harness import DnsfenceFactory, Unbound, require_tool

PTR_NAME = "3.2.1.10.in-addr.arpa"
MARKER = "www.example.test"  # forwarded after the others: once unbound logs it, it has
# logged everything dnsfence sent before it


def test_a_private_ptr_and_localhost_are_answered_here_and_never_forwarded(
        dnsfence_factory: DnsfenceFactory, unbound: Unbound) -> None:
    server = dnsfence_factory()
    before = {name: unbound.query_count(name) for name in (PTR_NAME, MARKER, "x.invalid",
                                                          "localhost")}
    for tcp in (False, True):
        ptr = server.query(PTR_NAME, "PTR", tcp=tcp)
        assert dns.rcode.to_text(ptr.rcode()) == "NXDOMAIN" and ptr.flags & dns.flags.AA
        assert ptr.authority[0].name.to_text() == "10.in-addr.arpa."
        loopback = server.query("localhost", "AAAA", tcp=tcp)
        assert [r.address for r in loopback.answer[0]] == ["::1"]
        assert dns.rcode.to_text(server.query("x.invalid").rcode()) == "NXDOMAIN"
    assert server.query(MARKER).answer  # forwarded, as any other name
    unbound.wait_for_query_count(MARKER, before[MARKER] + 1)
    for name in (PTR_NAME, "x.invalid", "localhost"):
        assert unbound.query_count(name) == before[name], f"{name} reached the upstream"


def test_dig_shows_the_authoritative_answer(dnsfence_factory: DnsfenceFactory) -> None:
    require_tool("dig")
    result = dnsfence_factory().dig("-x", "192.168.1.20")
    assert result.returncode == 0, result.stderr
    assert "status: NXDOMAIN" in result.stdout
    assert "flags: qr aa rd ra" in result.stdout
    assert "168.192.in-addr.arpa." in result.stdout


def test_local_zones_none_forwards_them(dnsfence_factory: DnsfenceFactory, unbound: Unbound,
                                        tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("server:\n  local_zones: none\n")
    server = dnsfence_factory("--config", str(config))
    before = unbound.query_count(PTR_NAME)
    reply = server.query(PTR_NAME, "PTR")
    assert not reply.flags & dns.flags.AA  # the upstream's answer, passed on
    unbound.wait_for_query_count(PTR_NAME, before + 1)


def test_a_forward_zone_over_a_served_zone_takes_its_names(
        dnsfence_factory: DnsfenceFactory, unbound: Unbound, tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text(f"forward_zones:\n  10.in-addr.arpa: [{unbound.address}]\n")
    server = dnsfence_factory("--config", str(config))
    before = unbound.query_count(PTR_NAME)
    reply = server.query(PTR_NAME, "PTR")
    assert not reply.flags & dns.flags.AA  # the zone's servers answered, not dnsfence
    unbound.wait_for_query_count(PTR_NAME, before + 1)
    local = server.query("1.1.168.192.in-addr.arpa", "PTR")  # another served zone: here
    assert local.flags & dns.flags.AA
