"""Forward zones against real processes: the session unbound as the public upstream and
unbounds of the test's own as the office's domain controllers, each serving the Active
Directory domain and the 10/8 reverse zone on its own loopback port."""

from __future__ import annotations

import re
from pathlib import Path

import dns.edns
import pytest

from .harness import (
    BlocklistDir,
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    UnboundFactory,
    addresses_in,
    rcode_name,
    require_tool,
    unused_address,
)
from .test_metrics import eventually, scrape

DOMAIN = "corp.example.eu"
SOA = f"{DOMAIN}. 300 IN SOA dc1.{DOMAIN}. hostmaster.{DOMAIN}. 1 3600 600 86400 60"
DC_LINES = (
    f'local-zone: "{DOMAIN}." static',
    f"local-data: '{SOA}'",
    f"local-data: 'dc1.{DOMAIN}. 300 IN A 10.0.0.10'",
    f"local-data: 'intranet.{DOMAIN}. 300 IN A 10.0.0.80'",
    f"local-data: 'wiki.{DOMAIN}. 300 IN A 10.0.0.81'",
    f"local-data: 'printer.{DOMAIN}. 300 IN A 10.0.0.90'",
    f"local-data: 'games.{DOMAIN}. 300 IN A 10.0.0.66'",
    f"local-data: '_ldap._tcp.{DOMAIN}. 300 IN SRV 0 100 389 dc1.{DOMAIN}.'",
    'local-zone: "10.in-addr.arpa." static',
    f'local-data-ptr: "10.1.2.3 fileserver.{DOMAIN}"',
    f'local-data-ptr: "10.0.0.10 dc1.{DOMAIN}"',
)
"""What a domain controller answers beyond the harness's own data: the AD domain and
the reverse zone of 10/8. The public upstream has neither (NXDOMAIN there)."""
PTR_NAME = "3.2.1.10.in-addr.arpa"


@pytest.fixture
def dc(unbound_factory: UnboundFactory) -> Unbound:
    return unbound_factory(extra_server_lines=DC_LINES)


def zones_config(tmp_path: Path, *servers: str, reverse: tuple[str, ...] = ()) -> Path:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("forward_zones:\n"
                      f"  {DOMAIN}: [{', '.join(servers)}]\n"
                      f"  10.in-addr.arpa: [{', '.join(reverse or servers)}]\n")
    return config


def office_server(dnsfence_factory: DnsfenceFactory, tmp_path: Path, *servers: str) -> Dnsfence:
    return dnsfence_factory("--config", str(zones_config(tmp_path, *servers)))


def test_the_zones_names_are_answered_by_the_domain_controller_others_by_the_upstream(
        dnsfence_factory: DnsfenceFactory, dc: Unbound, unbound: Unbound,
        tmp_path: Path) -> None:
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    public_before = unbound.query_count(f"intranet.{DOMAIN}")
    assert rcode_name(unbound.query(f"intranet.{DOMAIN}")) == "NXDOMAIN", \
        "the public upstream does not know the office's domain"
    for _ in range(2):  # forwarded, then from the cache
        reply = server.query(f"intranet.{DOMAIN}")
        assert rcode_name(reply) == "NOERROR" and addresses_in(reply) == ["10.0.0.80"]
    srv = server.query(f"_ldap._tcp.{DOMAIN}", "SRV")
    assert addresses_in(srv, "SRV") == [f"0 100 389 dc1.{DOMAIN}."]
    apex = server.query(DOMAIN, "SOA")
    assert [rrset.to_text() for rrset in apex.answer] == [SOA.replace("'", "")]
    missing = server.query(f"nothing.{DOMAIN}")
    assert rcode_name(missing) == "NXDOMAIN" and missing.authority[0].name.to_text() \
        == f"{DOMAIN}."
    public = server.query("www.example.com")
    assert addresses_in(public) == ["192.0.2.31"]
    assert dc.wait_for_query_count(f"intranet.{DOMAIN}", 1) == 1, "asked once: then cached"
    assert dc.query_count("www.example.com") == 0, "other names never reach the DC"
    assert unbound.query_count(f"intranet.{DOMAIN}") == public_before + 1, \
        "only our own check above asked the public upstream"
    assert unbound.query_count(f"_ldap._tcp.{DOMAIN}") == 0
    assert unbound.query_count(f"nothing.{DOMAIN}") == 0


def test_dig_gets_the_zones_answers(dnsfence_factory: DnsfenceFactory, dc: Unbound,
                                    tmp_path: Path) -> None:
    require_tool("dig")
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    name = server.dig("+short", f"printer.{DOMAIN}", "A")
    assert name.returncode == 0 and name.stdout.split() == ["10.0.0.90"], name
    reverse = server.dig("+short", "-x", "10.0.0.10")
    assert reverse.returncode == 0 and reverse.stdout.split() == [f"dc1.{DOMAIN}."], reverse
    public = server.dig("+short", "www.example.test", "A")
    assert public.returncode == 0 and public.stdout.split() == ["192.0.2.10"], public


def test_a_ptr_for_a_10_address_reaches_the_dc_and_never_the_public_upstream(
        dnsfence_factory: DnsfenceFactory, dc: Unbound, unbound: Unbound,
        tmp_path: Path) -> None:
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    public_before = unbound.query_count(PTR_NAME)
    for tcp in (False, True):
        reply = server.query(PTR_NAME, "PTR", tcp=tcp)
        assert rcode_name(reply) == "NOERROR"
        assert addresses_in(reply, "PTR") == [f"fileserver.{DOMAIN}."]
    # a name of the reverse zone the DC does not hold: still the DC's NXDOMAIN
    assert rcode_name(server.query("9.9.9.10.in-addr.arpa", "PTR")) == "NXDOMAIN"
    assert dc.wait_for_query_count(PTR_NAME, 1, "PTR") >= 1
    assert dc.wait_for_query_count("9.9.9.10.in-addr.arpa", 1) == 1
    assert unbound.query_count(PTR_NAME) == public_before
    assert unbound.query_count("9.9.9.10.in-addr.arpa") == 0


def test_a_blocked_name_inside_a_forward_zone_is_still_blocked(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir, dc: Unbound,
        tmp_path: Path) -> None:
    blocklists_dir.write("office", domains=[f"games.{DOMAIN}"], effective="2023-03-20")
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    for _ in range(2):
        reply = server.query(f"games.{DOMAIN}")
        assert rcode_name(reply) == "NXDOMAIN" and reply.answer == []
        assert [o.code for o in reply.options if isinstance(o, dns.edns.EDEOption)] == [15]
    assert addresses_in(server.query(f"wiki.{DOMAIN}")) == ["10.0.0.81"]
    assert dc.wait_for_query_count(f"wiki.{DOMAIN}", 1) == 1
    assert dc.query_count(f"games.{DOMAIN}") == 0, "blocking comes before any forwarding"


def test_a_zone_fails_over_to_its_second_dc_when_the_first_is_down(
        dnsfence_factory: DnsfenceFactory, unbound_factory: UnboundFactory,
        unbound: Unbound, tmp_path: Path) -> None:
    first = unbound_factory(extra_server_lines=DC_LINES)
    second = unbound_factory(extra_server_lines=DC_LINES)
    server = office_server(dnsfence_factory, tmp_path, first.address, second.address)
    assert addresses_in(server.query(f"intranet.{DOMAIN}")) == ["10.0.0.80"]
    assert first.wait_for_query_count(f"intranet.{DOMAIN}", 1) == 1
    first.stop()
    for name, address in ((f"wiki.{DOMAIN}", "10.0.0.81"), (f"printer.{DOMAIN}", "10.0.0.90")):
        reply = server.query(name, timeout=5.0)
        assert rcode_name(reply) == "NOERROR" and addresses_in(reply) == [address]
        assert second.wait_for_query_count(name, 1) == 1
        assert unbound.query_count(name) == 0, "never to the public upstream"
    assert second.query_count(f"intranet.{DOMAIN}") == 0


def test_no_dc_answering_is_servfail_not_the_public_upstream(
        dnsfence_factory: DnsfenceFactory, unbound: Unbound, tmp_path: Path) -> None:
    server = office_server(dnsfence_factory, tmp_path, unused_address())
    before = unbound.query_count(f"printer.{DOMAIN}")
    reply = server.query(f"printer.{DOMAIN}", timeout=6.0)
    assert rcode_name(reply) == "SERVFAIL"
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    assert unbound.wait_for_query_count("www.example.test", 1) >= 1
    assert unbound.query_count(f"printer.{DOMAIN}") == before


def test_the_dcs_show_in_the_upstream_metrics(dnsfence_factory: DnsfenceFactory, dc: Unbound,
                                              unbound: Unbound, tmp_path: Path) -> None:
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    server.query(f"intranet.{DOMAIN}")
    server.query(PTR_NAME, "PTR")
    server.query("www.example.test")

    def counted() -> bool:
        responses = scrape(server).get("dnsfence_upstream_responses_total", {})
        return responses == {(("rcode", "NOERROR"), ("upstream", dc.address)): 2,
                             (("rcode", "NOERROR"), ("upstream", unbound.address)): 1}

    eventually(counted, "the DC's and the upstream's answers in /metrics")


def test_a_zone_added_on_reload_applies_at_once(dnsfence_factory: DnsfenceFactory,
                                                dc: Unbound, unbound: Unbound,
                                                tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("blocking:\n  negative_ttl: 60\n")
    server = dnsfence_factory("--config", str(config))
    before = unbound.query_count(f"wiki.{DOMAIN}")
    assert rcode_name(server.query(f"wiki.{DOMAIN}")) == "NXDOMAIN"  # the public answer
    assert unbound.wait_for_query_count(f"wiki.{DOMAIN}", before + 1) == before + 1
    zones_config(tmp_path, dc.address)
    server.wait_for_stderr(r"reloaded \(", timeout=5)
    reply = server.query(f"wiki.{DOMAIN}")  # the cached public NXDOMAIN is gone
    assert rcode_name(reply) == "NOERROR" and addresses_in(reply) == ["10.0.0.81"]
    assert dc.wait_for_query_count(f"wiki.{DOMAIN}", 1) == 1
    assert unbound.query_count(f"wiki.{DOMAIN}") == before + 1


def test_the_zones_are_announced_at_start(dnsfence_factory: DnsfenceFactory, dc: Unbound,
                                          tmp_path: Path) -> None:
    server = office_server(dnsfence_factory, tmp_path, dc.address)
    for zone in (DOMAIN, "10.in-addr.arpa"):
        server.wait_for_stderr(rf"forward zone {re.escape(zone)} to {re.escape(dc.address)}$",
                               timeout=2, since_start=True)
