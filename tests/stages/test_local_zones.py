"""The locally served zones alone: private reverse zones, localhost, invalid, onion,
home.arpa and local are answered here with AA set; other names pass on."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from resolver.config.forward_zones import forward_zones
from resolver.stages.contract import Request, ResponseKind
from resolver.stages.local_zones import SERVED, LocalZonesStage
from tests.stages.fakes import (
    T0,
    assert_kind,
    assert_rcode,
    message_of,
    office_config,
    query_wire,
    request_for,
    setup_of,
)

SETUP = setup_of()


def ask(stage: LocalZonesStage, name: str, rdtype: str = "A", *, edns: int | bool = 0
        ) -> tuple[bytes | None, Request]:
    request = request_for(SETUP, query_wire(name, rdtype, qid=77, edns=edns), now=T0)
    return stage.handle(request), request


def negative(answer: bytes | None, rcode: dns.rcode.Rcode, zone: str) -> dns.message.Message:
    message = assert_rcode(answer, rcode, qid=77)
    assert message.flags & dns.flags.AA, "a zone served here is answered authoritatively"
    assert message.answer == []
    [soa] = message.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == f"{zone}."
    assert soa.ttl == 60 and soa[0].minimum == 60
    return message


@pytest.mark.parametrize(("name", "zone"), [
    ("3.2.1.10.in-addr.arpa", "10.in-addr.arpa"),
    ("1.0.0.127.in-addr.arpa", "127.in-addr.arpa"),
    ("5.4.16.172.in-addr.arpa", "16.172.in-addr.arpa"),
    ("5.4.31.172.in-addr.arpa", "31.172.in-addr.arpa"),
    ("1.1.168.192.in-addr.arpa", "168.192.in-addr.arpa"),
    ("7.7.254.169.in-addr.arpa", "254.169.in-addr.arpa"),
    ("1.0.64.100.in-addr.arpa", "64.100.in-addr.arpa"),
    ("1.0.127.100.in-addr.arpa", "127.100.in-addr.arpa"),
    ("1.0.0.0.in-addr.arpa", "0.in-addr.arpa"),
    ("255.255.255.255.in-addr.arpa", None),  # the apex itself: NODATA, below
    ("1." + "0." * 31 + "ip6.arpa", None),  # ::1 is a zone of its own (RFC 6303 4.4)
    ("4.3.2.1." + "0." * 12 + "0.0.d.f.ip6.arpa", "d.f.ip6.arpa"),
    ("1." + "0." * 19 + "8.e.f.ip6.arpa", "8.e.f.ip6.arpa"),
    ("1." + "0." * 23 + "8.b.d.0.1.0.0.2.ip6.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"),
    ("x.invalid", "invalid"), ("www.example.onion", "onion"),
    ("printer.home.arpa", "home.arpa"), ("laptop.local", "local"),
])
def test_names_below_a_served_zone_get_nxdomain_with_its_soa(name: str, zone: str | None
                                                              ) -> None:
    stage = LocalZonesStage(SETUP)
    answer, request = ask(stage, name, "PTR")
    if zone is None:  # the name is a zone apex: it exists, without PTR data
        negative(answer, dns.rcode.NOERROR, name)
    else:
        negative(answer, dns.rcode.NXDOMAIN, zone)
    assert_kind(request, ResponseKind.LOCAL)
    assert request.same_until == request.period.until
    assert stage.counters() == {"local": 1}


@pytest.mark.parametrize("name", [
    "8.8.8.8.in-addr.arpa", "1.0.15.172.in-addr.arpa", "1.0.32.172.in-addr.arpa",
    "1.0.63.100.in-addr.arpa", "1.0.128.100.in-addr.arpa", "1.0.168.193.in-addr.arpa",
    "in-addr.arpa", "arpa", "www.example.test", "www.example.com", "example.localnet",
    "notinvalid", "resolver.arpa", "1." + "0." * 23 + "8.b.d.0.1.0.0.3.ip6.arpa",
])
def test_other_names_pass_on(name: str) -> None:
    stage = LocalZonesStage(SETUP)
    answer, request = ask(stage, name, "PTR")
    assert answer is None
    assert_kind(request, None)
    assert stage.counters() == {"local": 0}


def test_a_zones_apex_has_its_soa_and_ns_and_no_other_data() -> None:
    stage = LocalZonesStage(SETUP)
    soa = message_of(ask(stage, "10.in-addr.arpa", "SOA")[0])
    assert soa.flags & dns.flags.AA and soa.rcode() == dns.rcode.NOERROR
    [record] = soa.answer
    assert record.rdtype == dns.rdatatype.SOA and record.name.to_text() == "10.in-addr.arpa."
    ns = message_of(ask(stage, "10.in-addr.arpa", "NS")[0])
    assert [r.to_text() for r in ns.answer[0]] == ["localhost."]
    negative(ask(stage, "10.in-addr.arpa", "A")[0], dns.rcode.NOERROR, "10.in-addr.arpa")


@pytest.mark.parametrize("name", ["localhost", "LocalHost", "app.localhost"])
def test_localhost_and_below_are_the_loopback_addresses(name: str) -> None:
    stage = LocalZonesStage(SETUP)
    for rdtype, address in (("A", "127.0.0.1"), ("AAAA", "::1")):
        message = message_of(ask(stage, name, rdtype)[0])
        assert message.rcode() == dns.rcode.NOERROR and message.flags & dns.flags.AA
        [rrset] = message.answer
        assert rrset.name.to_text().lower() == f"{name.lower()}."
        assert [r.address for r in rrset] == [address] and rrset.ttl == 60
    negative(ask(stage, name, "MX")[0], dns.rcode.NOERROR, "localhost")


def test_answers_without_edns_have_no_opt_and_with_edns_do_one() -> None:
    stage = LocalZonesStage(SETUP)
    assert message_of(ask(stage, "x.invalid", edns=False)[0]).edns == -1
    assert message_of(ask(stage, "x.invalid")[0]).edns == 0


def test_local_zones_none_forwards_them_like_any_name() -> None:
    stage = LocalZonesStage(setup_of(office_config(**{"server.local_zones": "none"})))
    for name in ("3.2.1.10.in-addr.arpa", "localhost", "x.invalid"):
        assert ask(stage, name, "PTR")[0] is None


def test_reconfigure_turns_the_set_on_and_off() -> None:
    stage = LocalZonesStage(SETUP)
    stage.reconfigure(office_config(**{"server.local_zones": "none"}))
    assert ask(stage, "x.invalid")[0] is None
    stage.reconfigure(office_config())
    assert ask(stage, "x.invalid")[0] is not None


def test_every_served_zone_is_a_normalised_name() -> None:
    assert len(SERVED) == len(set(SERVED)) == 16 + 64 + 9 + 8 + 5
    assert all(zone == zone.lower() and not zone.endswith(".") for zone in SERVED)


def test_a_forward_zone_takes_the_names_it_covers() -> None:
    config = office_config(forward_zones=forward_zones({"1.10.in-addr.arpa": ["127.0.0.1"],
                                                        "home.arpa": ["127.0.0.1"]}))
    stage = LocalZonesStage(setup_of(config))
    assert ask(stage, "3.2.1.10.in-addr.arpa", "PTR")[0] is None  # the zone's to answer
    assert ask(stage, "1.10.in-addr.arpa", "SOA")[0] is None
    assert ask(stage, "printer.home.arpa", "A")[0] is None
    negative(ask(stage, "3.2.2.10.in-addr.arpa", "PTR")[0], dns.rcode.NXDOMAIN,
             "10.in-addr.arpa")  # the rest of 10/8 is still served here
