"""Encrypted-DNS bypasses against the real server: DDR's resolver.arpa answered locally
(never forwarded), and the shipped bypass list in force, asked with dig."""

from __future__ import annotations

import time

import pytest

from .harness import REPO_ROOT, BlocklistDir, DnsfenceFactory, Unbound, rcode_name


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def test_ddr_discovery_gets_no_data_and_never_reaches_the_upstream(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, unbound: Unbound) -> None:
    server = dnsfence_factory()
    before = unbound.query_count("_dns.resolver.arpa") + unbound.query_count("x.resolver.arpa")
    dig = server.dig("_dns.resolver.arpa", "TYPE64")  # SVCB
    assert dig.returncode == 0, dig.stderr
    assert "status: NOERROR" in dig.stdout and "ANSWER: 0, AUTHORITY: 1" in dig.stdout
    assert "resolver.arpa.\t\t60\tIN\tSOA\tdnsfence.invalid. hostmaster.dnsfence.invalid." \
        in dig.stdout
    reply = server.query("x.resolver.arpa", "A")
    assert rcode_name(reply) == "NXDOMAIN" and not reply.answer
    assert [rrset.name.to_text() for rrset in reply.authority] == ["resolver.arpa."]
    tcp = server.query("_dns.resolver.arpa", "SVCB", tcp=True)
    assert rcode_name(tcp) == "NOERROR" and not tcp.answer
    time.sleep(0.3)  # unbound logs a query just after answering it; none may come
    after = unbound.query_count("_dns.resolver.arpa") + unbound.query_count("x.resolver.arpa")
    assert after == before


def test_the_shipped_bypass_list_answers_the_vendors_signals(
        dnsfence_factory: DnsfenceFactory) -> None:
    server = dnsfence_factory(blocklists=REPO_ROOT / "blocklists")
    for name, rdtype in (("use-application-dns.net", "A"), ("mask.icloud.com", "AAAA"),
                         ("mask-h2.icloud.com", "A"), ("mozilla.cloudflare-dns.com", "A"),
                         ("dns.google", "HTTPS")):
        dig = server.dig(name, rdtype)
        assert "status: NXDOMAIN" in dig.stdout, (name, dig.stdout)
        assert "blocked by list encrypted-dns-bypass" in dig.stdout, (name, dig.stdout)
