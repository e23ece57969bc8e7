"""resolver.dns.rdata: each local record type's RDATA, checked against dnspython's own."""

from __future__ import annotations

import ipaddress

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import pytest

from resolver.dns import rdata


def wire_of(rdtype: str, text: str) -> bytes:
    """What dnspython writes for this record's RDATA (uncompressed)."""
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text).to_digestable()


def test_the_type_numbers_are_the_registered_ones() -> None:
    for name, number in rdata.TYPES.items():
        assert dns.rdatatype.from_text(name) == number
        assert rdata.TYPE_NAMES[number] == name
    assert rdata.TYPE_ANY == dns.rdatatype.ANY


@pytest.mark.parametrize("text", ["10.0.0.80", "fd00::90", "2001:db8::1:0:0:1"])
def test_addresses(text: str) -> None:
    ip = ipaddress.ip_address(text)
    assert rdata.address(ip) == wire_of("A" if ip.version == 4 else "AAAA", text)


def test_names_mx_and_srv() -> None:
    assert rdata.domain_name("intranet.corp.example.eu") == \
        wire_of("CNAME", "intranet.corp.example.eu.")
    assert rdata.mx(10, "mail.corp.example.eu") == wire_of("MX", "10 mail.corp.example.eu.")
    assert rdata.mx(0, "") == wire_of("MX", "0 .")  # a null MX (RFC 7505)
    assert rdata.srv(0, 100, 389, "dc1.corp.example.eu") == \
        wire_of("SRV", "0 100 389 dc1.corp.example.eu.")
    assert rdata.srv(65535, 0, 0, "") == wire_of("SRV", "65535 0 0 .")


@pytest.mark.parametrize("text", ["v=spf1 -all", "", "é ünïcode", "x" * 255, "y" * 256,
                                  "z" * 1000])
def test_txt_is_cut_into_strings_of_255_octets(text: str) -> None:
    encoded = rdata.txt(text)
    chunks = [text.encode()[i:i + 255] for i in range(0, len(text.encode()), 255)] or [b""]
    parsed = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.TXT, encoded, 0,
                                 len(encoded))
    assert b"".join(parsed.strings) == text.encode()  # type: ignore[attr-defined]
    assert list(parsed.strings) == chunks  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["10.0.0.80", "192.0.2.1", "fd00::90", "2001:db8::1"])
def test_reverse_names(text: str) -> None:
    expected = dns.reversename.from_address(text).to_text(omit_final_dot=True)
    assert rdata.reverse_name(ipaddress.ip_address(text)) == expected
