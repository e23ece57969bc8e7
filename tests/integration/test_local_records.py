"""Local records against the real server, a real unbound as the upstream, dig and
dnspython: every type answered with AA, NODATA, static zones, the block first, names
without records forwarded, and edits of the config in force at once."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, Unbound, require_tool, wait_until

CONFIG = """
    local:
      ttl: 300
      zones: {lab.example.test: static}
      records:
        intranet.example.test: 10.0.0.80
        printer.example.test: [10.0.0.90, "fd00::90"]
        wiki.example.test: {CNAME: intranet.example.test}
        mail.example.test: {MX: "10 mx.example.test", TXT: "v=spf1 -all"}
        _ldap._tcp.example.test: {SRV: "0 100 389 dc1.example.test"}
        tiktok.com: 10.0.0.66
        host.lab.example.test: 10.0.1.1
"""
"""Local names in example.test, which the upstream serves too (mail.example.test has an
MX there): a local answer must never come from it."""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, blocklists_dir: BlocklistDir) -> Path:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return write(tmp_path / "dnsfence.yaml", CONFIG)


@pytest.fixture
def server(dnsfence_factory: DnsfenceFactory, config: Path) -> Dnsfence:
    return dnsfence_factory("--config", str(config))


def answer_text(reply: dns.message.Message) -> list[str]:
    return [f"{rrset.name.to_text(omit_final_dot=True)} {rrset.ttl} "
            f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text()}"
            for rrset in reply.answer for rd in rrset]


def assert_local(reply: dns.message.Message, rcode: str = "NOERROR") -> None:
    assert dns.rcode.to_text(reply.rcode()) == rcode, reply
    assert reply.flags & dns.flags.AA, "a local answer is authoritative"
    assert reply.flags & dns.flags.RA


V6_REVERSE = dns.reversename.from_address("fd00::90").to_text(omit_final_dot=True)


@pytest.mark.parametrize(("name", "rdtype", "expected"), [
    ("intranet.example.test", "A", ["intranet.example.test 300 A 10.0.0.80"]),
    ("printer.example.test", "AAAA", ["printer.example.test 300 AAAA fd00::90"]),
    ("wiki.example.test", "A", ["wiki.example.test 300 CNAME intranet.example.test.",
                                "intranet.example.test 300 A 10.0.0.80"]),
    ("wiki.example.test", "CNAME", ["wiki.example.test 300 CNAME intranet.example.test."]),
    ("mail.example.test", "MX", ["mail.example.test 300 MX 10 mx.example.test."]),
    ("mail.example.test", "TXT", ['mail.example.test 300 TXT "v=spf1 -all"']),
    ("_ldap._tcp.example.test", "SRV",
     ["_ldap._tcp.example.test 300 SRV 0 100 389 dc1.example.test."]),
    ("80.0.0.10.in-addr.arpa", "PTR", ["80.0.0.10.in-addr.arpa 300 PTR intranet.example.test."]),
    (V6_REVERSE, "PTR", [f"{V6_REVERSE} 300 PTR printer.example.test."]),
])
def test_each_type_is_answered_locally_with_aa(server: Dnsfence, unbound: Unbound, name: str,
                                               rdtype: str, expected: list[str]) -> None:
    before = unbound.query_count(name)
    for tcp in (False, True, False):
        reply = server.query(name, rdtype, tcp=tcp)
        assert_local(reply)
        assert answer_text(reply) == expected
    assert unbound.query_count(name) == before  # never asked upstream


def test_dig_shows_the_aa_flag_and_the_reverse_name(server: Dnsfence) -> None:
    require_tool("dig")
    result = server.dig("printer.example.test", "A")
    assert result.returncode == 0, result.stderr
    assert "status: NOERROR" in result.stdout and "flags: qr aa rd ra;" in result.stdout
    assert "printer.example.test.\t300\tIN\tA\t10.0.0.90" in result.stdout
    reverse = server.dig("-x", "10.0.0.90")
    assert "90.0.0.10.in-addr.arpa.\t300\tIN\tPTR\tprinter.example.test." in reverse.stdout


def test_other_types_get_nodata_with_a_soa(server: Dnsfence, unbound: Unbound) -> None:
    before = unbound.query_count("intranet.example.test")
    reply = server.query("intranet.example.test", "AAAA")
    assert_local(reply)
    assert reply.answer == []
    [soa] = reply.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text() == "intranet.example.test."
    assert soa.ttl == soa[0].minimum == 60  # blocking.negative_ttl
    # mail.example.test has A records upstream; locally it has none: NODATA, not those
    assert_local(reply := server.query("mail.example.test", "A"))
    assert reply.answer == []
    assert unbound.query_count("intranet.example.test") == before


def test_a_static_zone_answers_nxdomain_and_its_apex_nodata(server: Dnsfence,
                                                            unbound: Unbound) -> None:
    before = unbound.query_count("lab.example.test")
    reply = server.query("nothing.lab.example.test")
    assert_local(reply, "NXDOMAIN")
    assert reply.authority[0].name.to_text() == "lab.example.test."
    assert_local(apex := server.query("lab.example.test"))
    assert apex.answer == [] and apex.authority[0].rdtype == dns.rdatatype.SOA
    assert unbound.query_count("lab.example.test") == before


def test_a_blocked_name_with_a_local_record_is_blocked(server: Dnsfence) -> None:
    for _ in range(2):
        reply = server.query("tiktok.com")
        assert dns.rcode.to_text(reply.rcode()) == "NXDOMAIN"
        assert not reply.flags & dns.flags.AA
        assert [(int(o.code), o.text) for o in reply.options
                if isinstance(o, dns.edns.EDEOption)] == \
            [(15, "blocked by list tiktok (tiktok.com) since 2023-03-20")]


def test_names_without_records_in_a_transparent_zone_are_forwarded(
        server: Dnsfence, unbound: Unbound) -> None:
    before = unbound.query_count("www.example.test")
    reply = server.query("www.example.test")
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
    assert answer_text(reply) == ["www.example.test 300 A 192.0.2.10"]
    assert not reply.flags & dns.flags.AA  # relayed, not ours
    assert unbound.wait_for_query_count("www.example.test", before + 1) == before + 1
    # below a local name too: the upstream says it does not exist
    below = unbound.query_count("x.intranet.example.test")
    reply = server.query("x.intranet.example.test")
    assert dns.rcode.to_text(reply.rcode()) == "NXDOMAIN" and not reply.flags & dns.flags.AA
    assert unbound.wait_for_query_count("x.intranet.example.test", below + 1) == below + 1


def test_an_edit_of_the_config_changes_the_answers_at_once(server: Dnsfence, config: Path
                                                           ) -> None:
    assert answer_text(server.query("intranet.example.test")) == [
        "intranet.example.test 300 A 10.0.0.80"]
    write(config, CONFIG.replace("intranet.example.test: 10.0.0.80",
                                 "intranet.example.test: 10.0.0.81\n"
                                 "        new.example.test: 10.0.0.82"))
    wait_until(lambda: answer_text(server.query("intranet.example.test")) ==
               ["intranet.example.test 300 A 10.0.0.81"], timeout=3.0,
               what="the edited record to be answered")
    assert answer_text(server.query("new.example.test")) == ["new.example.test 300 A 10.0.0.82"]
    assert answer_text(server.query("81.0.0.10.in-addr.arpa", "PTR")) == [
        "81.0.0.10.in-addr.arpa 300 PTR intranet.example.test."]
    # a broken edit is reported at its line and the records in force stay
    write(config, CONFIG.replace("intranet.example.test: 10.0.0.80",
                                 "intranet.example.test: 10.0.0.999"))
    server.wait_for_stderr(r"dnsfence\.yaml:5:28: error: `local\.records`: "
                           r"intranet\.example\.test: '10\.0\.0\.999' is not an IPv4", timeout=3)
    assert answer_text(server.query("intranet.example.test")) == [
        "intranet.example.test 300 A 10.0.0.81"]


def test_sighup_applies_new_records(dnsfence_factory: DnsfenceFactory, config: Path) -> None:
    write(config, "reload:\n  watch: false\n" + textwrap.dedent(CONFIG).lstrip("\n"))
    server = dnsfence_factory("--config", str(config))
    assert answer_text(server.query("printer.example.test")) == [
        "printer.example.test 300 A 10.0.0.90"]
    write(config, "reload:\n  watch: false\nlocal:\n  ttl: 30\n  records:\n"
                  "    printer.example.test: 10.0.0.91\n")
    server.send_signal(signal.SIGHUP)
    server.wait_for_stderr(r"reloaded \(SIGHUP\)")
    assert answer_text(server.query("printer.example.test")) == [
        "printer.example.test 30 A 10.0.0.91"]
    # the records no longer written are no longer answered here
    reply = server.query("wiki.example.test")
    assert not reply.flags & dns.flags.AA
