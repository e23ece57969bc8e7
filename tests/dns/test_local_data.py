"""resolver.dns.local_data: which names exist, what each (name, type) is answered with,
zones static and transparent, CNAME chains and generated PTRs; read back with dnspython."""

from __future__ import annotations

import ipaddress

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest
from message_builders import make_query

from resolver.dns.local_data import _MEMO_MAX, MAX_CHAIN, LocalData, LocalRR
from resolver.dns.message import Rcode
from resolver.dns.query import parse_query
from resolver.dns.rdata import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_MX,
    TYPE_PTR,
    TYPE_SRV,
    TYPE_TXT,
    address,
    domain_name,
    mx,
    srv,
    txt,
)

TTL = 300
NEGATIVE_TTL = 60


def a(name: str, text: str) -> LocalRR:
    ip = ipaddress.ip_address(text)
    return LocalRR(name, TYPE_A if ip.version == 4 else TYPE_AAAA, address(ip))


def cname(name: str, target: str) -> LocalRR:
    return LocalRR(name, TYPE_CNAME, domain_name(target), target)


OFFICE = (
    a("intranet.corp.example.eu", "10.0.0.80"),
    a("printer.corp.example.eu", "10.0.0.90"),
    a("printer.corp.example.eu", "fd00::90"),
    cname("wiki.corp.example.eu", "intranet.corp.example.eu"),
    cname("docs.corp.example.eu", "wiki.corp.example.eu"),
    cname("www.corp.example.eu", "www.example.com"),
    LocalRR("corp.example.eu", TYPE_MX, mx(10, "mail.corp.example.eu")),
    LocalRR("corp.example.eu", TYPE_TXT, txt("v=spf1 -all")),
    LocalRR("_ldap._tcp.corp.example.eu", TYPE_SRV, srv(0, 100, 389, "dc1.corp.example.eu")),
    a("a.b.lab.corp.example.eu", "10.1.1.1"),
)


def office(zones: dict[str, bool] | None = None, *, ptr: bool = True,
           records: tuple[LocalRR, ...] = OFFICE) -> LocalData:
    return LocalData(records, zones if zones is not None else {"lab.corp.example.eu": True},
                     ttl=TTL, negative_ttl=NEGATIVE_TTL, ptr=ptr)


def ask(data: LocalData, name: str, rdtype: str = "A") -> dns.message.Message | None:
    """The answer as a client would get it, or None when the name is not answered here."""
    wire = make_query(name, dns.rdatatype.from_text(rdtype), edns=0)
    query = parse_query(wire)
    assert query is not None
    if query.qname in data.names:
        answer = data.answer(query.qname, query.qtype)
    else:
        found = data.below_static(query.qname)
        if found is None:
            return None
        answer = found
    return dns.message.from_wire(answer.render(query, 1232, False))


def records_of(reply: dns.message.Message | None) -> list[str]:
    assert reply is not None
    return [f"{rrset.name.to_text(omit_final_dot=True)} {rrset.ttl} "
            f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text()}"
            for rrset in reply.answer for rd in rrset]


def soa_owner(reply: dns.message.Message | None) -> str | None:
    assert reply is not None
    if not reply.authority:
        return None
    [soa] = reply.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl == soa[0].minimum == NEGATIVE_TTL
    return str(soa.name.to_text(omit_final_dot=True))


@pytest.mark.parametrize(("name", "rdtype", "expected"), [
    ("intranet.corp.example.eu", "A", ["intranet.corp.example.eu 300 A 10.0.0.80"]),
    ("printer.corp.example.eu", "A", ["printer.corp.example.eu 300 A 10.0.0.90"]),
    ("printer.corp.example.eu", "AAAA", ["printer.corp.example.eu 300 AAAA fd00::90"]),
    ("corp.example.eu", "MX", ["corp.example.eu 300 MX 10 mail.corp.example.eu."]),
    ("corp.example.eu", "TXT", ['corp.example.eu 300 TXT "v=spf1 -all"']),
    ("_ldap._tcp.corp.example.eu", "SRV",
     ["_ldap._tcp.corp.example.eu 300 SRV 0 100 389 dc1.corp.example.eu."]),
    ("printer.corp.example.eu", "ANY", ["printer.corp.example.eu 300 A 10.0.0.90",
                                        "printer.corp.example.eu 300 AAAA fd00::90"]),
    ("80.0.0.10.in-addr.arpa", "PTR", ["80.0.0.10.in-addr.arpa 300 PTR "
                                       "intranet.corp.example.eu."]),
])
def test_each_type_is_answered_with_its_records(name: str, rdtype: str,
                                                expected: list[str]) -> None:
    reply = ask(office(), name, rdtype)
    assert reply is not None and reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert records_of(reply) == expected
    assert soa_owner(reply) is None


@pytest.mark.parametrize(("name", "rdtype", "zone"), [
    ("corp.example.eu", "A", "corp.example.eu"),
    # a name below a local name belongs to it (as Unbound's implicit zones)
    ("intranet.corp.example.eu", "AAAA", "corp.example.eu"),
    ("_ldap._tcp.corp.example.eu", "A", "corp.example.eu"),
    # a configured zone is closer than any name
    ("a.b.lab.corp.example.eu", "TXT", "lab.corp.example.eu"),
    # no local name above it: its own zone
    ("80.0.0.10.in-addr.arpa", "A", "80.0.0.10.in-addr.arpa"),
])
def test_other_types_get_nodata_with_the_soa_of_the_names_zone(name: str, rdtype: str,
                                                               zone: str) -> None:
    reply = ask(office(), name, rdtype)
    assert reply is not None and reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == [] and reply.flags & dns.flags.AA
    assert soa_owner(reply) == zone


def test_a_cname_brings_its_local_targets_records() -> None:
    data = office()
    assert records_of(ask(data, "wiki.corp.example.eu")) == [
        "wiki.corp.example.eu 300 CNAME intranet.corp.example.eu.",
        "intranet.corp.example.eu 300 A 10.0.0.80"]
    assert records_of(ask(data, "docs.corp.example.eu")) == [
        "docs.corp.example.eu 300 CNAME wiki.corp.example.eu.",
        "wiki.corp.example.eu 300 CNAME intranet.corp.example.eu.",
        "intranet.corp.example.eu 300 A 10.0.0.80"]
    assert data.answer("docs.corp.example.eu", TYPE_A).targets == (
        "wiki.corp.example.eu", "intranet.corp.example.eu")
    # asked for the CNAME itself (or ANY): the CNAME alone
    for rdtype in ("CNAME", "ANY"):
        assert records_of(ask(data, "docs.corp.example.eu", rdtype)) == [
            "docs.corp.example.eu 300 CNAME wiki.corp.example.eu."]
    # the target has no AAAA: the chain, then NODATA for the target, in its zone
    reply = ask(data, "wiki.corp.example.eu", "AAAA")
    assert records_of(reply) == ["wiki.corp.example.eu 300 CNAME intranet.corp.example.eu."]
    assert soa_owner(reply) == "corp.example.eu"
    assert reply is not None and reply.rcode() == dns.rcode.NOERROR


def test_a_cname_out_of_the_local_names_is_answered_alone() -> None:
    reply = ask(office(), "www.corp.example.eu")
    assert records_of(reply) == ["www.corp.example.eu 300 CNAME www.example.com."]
    assert reply is not None and reply.rcode() == dns.rcode.NOERROR
    assert soa_owner(reply) is None


def test_a_cname_into_a_static_zone_without_the_name_is_nxdomain() -> None:
    data = office(records=(*OFFICE, cname("old.corp.example.eu", "gone.lab.corp.example.eu")))
    reply = ask(data, "old.corp.example.eu")
    assert reply is not None and reply.rcode() == dns.rcode.NXDOMAIN  # of the last name
    assert records_of(reply) == ["old.corp.example.eu 300 CNAME gone.lab.corp.example.eu."]
    assert soa_owner(reply) == "lab.corp.example.eu"


def test_a_cname_loop_and_a_long_chain_end() -> None:
    loop = office(records=(cname("a.example", "b.example"), cname("b.example", "a.example")))
    assert records_of(ask(loop, "a.example")) == ["a.example 300 CNAME b.example.",
                                                  "b.example 300 CNAME a.example."]
    long_chain = tuple(cname(f"n{i}.example", f"n{i + 1}.example") for i in range(20))
    reply = ask(office(records=long_chain), "n0.example")
    assert len(records_of(reply)) == MAX_CHAIN + 1


def test_a_chain_can_be_cut_before_a_name() -> None:
    data = office()
    cut = data.answer("docs.corp.example.eu", TYPE_A, stop_at="intranet.corp.example.eu")
    assert (cut.ancount, cut.nscount, cut.rcode) == (2, 0, Rcode.NOERROR)
    # a cut answer is not remembered in place of the whole one
    assert data.answer("docs.corp.example.eu", TYPE_A).ancount == 3


def test_static_zone_names_without_records_do_not_exist() -> None:
    data = office()
    for name in ("x.lab.corp.example.eu", "deep.x.lab.corp.example.eu", "b.b.lab.corp.example.eu"):
        reply = ask(data, name)
        assert reply is not None and reply.rcode() == dns.rcode.NXDOMAIN, name
        assert reply.flags & dns.flags.AA and reply.answer == []
        assert soa_owner(reply) == "lab.corp.example.eu"
    # the apex and the names between it and a record exist (RFC 8020): NODATA
    for name in ("lab.corp.example.eu", "b.lab.corp.example.eu"):
        reply = ask(data, name)
        assert reply is not None and reply.rcode() == dns.rcode.NOERROR, name
        assert reply.answer == [] and soa_owner(reply) == "lab.corp.example.eu"


def test_a_static_zone_without_records_has_an_apex_and_nothing_below() -> None:
    data = office({"lan": True})
    reply = ask(data, "lan", "A")
    assert reply is not None and reply.rcode() == dns.rcode.NOERROR
    assert soa_owner(reply) == "lan"
    reply = ask(data, "printer.lan", "A")
    assert reply is not None and reply.rcode() == dns.rcode.NXDOMAIN
    assert soa_owner(reply) == "lan"


def test_transparent_names_without_records_are_not_ours() -> None:
    data = office({"lab.corp.example.eu": True, "open.lab.corp.example.eu": False,
                   "corp.example.eu": False})
    assert ask(data, "x.open.lab.corp.example.eu") is None  # the closest zone decides
    assert ask(data, "other.corp.example.eu") is None
    assert ask(data, "x.intranet.corp.example.eu") is None
    assert ask(data, "_tcp.corp.example.eu") is None  # no static zone: forwarded
    assert ask(data, "www.example.com") is None
    assert ask(data, "x.lab.corp.example.eu") is not None
    assert office({}).has_static is False and data.has_static is True


def test_ptrs_are_made_for_ipv4_and_ipv6_pointing_at_the_first_name() -> None:
    records = (*OFFICE, a("alias-host.corp.example.eu", "10.0.0.80"))
    data = office(records=records)
    v6 = dns.reversename.from_address("fd00::90").to_text(omit_final_dot=True)
    assert records_of(ask(data, v6, "PTR")) == [f"{v6} 300 PTR printer.corp.example.eu."]
    assert records_of(ask(data, "90.0.0.10.in-addr.arpa", "PTR")) == [
        "90.0.0.10.in-addr.arpa 300 PTR printer.corp.example.eu."]
    assert records_of(ask(data, "80.0.0.10.in-addr.arpa", "PTR")) == [
        "80.0.0.10.in-addr.arpa 300 PTR intranet.corp.example.eu."]
    assert ask(data, "81.0.0.10.in-addr.arpa", "PTR") is None  # no such address here


def test_a_written_ptr_replaces_the_made_one_and_ptr_false_makes_none() -> None:
    written = LocalRR("80.0.0.10.in-addr.arpa", TYPE_PTR, domain_name("web.corp.example.eu"))
    data = office(records=(*OFFICE, written))
    assert records_of(ask(data, "80.0.0.10.in-addr.arpa", "PTR")) == [
        "80.0.0.10.in-addr.arpa 300 PTR web.corp.example.eu."]
    assert ask(office(ptr=False), "80.0.0.10.in-addr.arpa", "PTR") is None


def test_answers_are_made_once_per_name_and_type_and_the_memo_is_bounded() -> None:
    data = office()
    first = data.answer("intranet.corp.example.eu", TYPE_A)
    assert data.answer("intranet.corp.example.eu", TYPE_A) is first
    for qtype in range(1000, 1000 + _MEMO_MAX + 5):
        data.answer("intranet.corp.example.eu", qtype)
    assert len(data.names["intranet.corp.example.eu"]) <= _MEMO_MAX
