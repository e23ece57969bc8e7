"""resolver.config.local_values: one record value's text to normalised text and RDATA, and
the messages that say what to write instead."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import pytest

from resolver.config.local_values import MAX_TXT, READERS, address_value, domain_name
from resolver.dns.rdata import TYPES


def read(type_name: str, text: str) -> tuple[str, bytes, str]:
    return READERS[TYPES[type_name]](text)


@pytest.mark.parametrize(("type_name", "text", "value", "presentation"), [
    ("A", "10.0.0.80", "10.0.0.80", "10.0.0.80"),
    ("AAAA", "FD00:0:0::90", "fd00::90", "fd00::90"),
    ("CNAME", "Intranet.Corp.Example.EU.", "intranet.corp.example.eu",
     "intranet.corp.example.eu."),
    ("PTR", "printer.corp.example.eu", "printer.corp.example.eu", "printer.corp.example.eu."),
    ("MX", "10  Mail.corp.example.eu.", "10 mail.corp.example.eu", "10 mail.corp.example.eu."),
    ("MX", "0 .", "0 .", "0 ."),
    ("SRV", "0 100 389 dc1.corp.example.eu", "0 100 389 dc1.corp.example.eu",
     "0 100 389 dc1.corp.example.eu."),
    ("TXT", "v=spf1 -all", "v=spf1 -all", '"v=spf1 -all"'),
    ("CNAME", "bücher.example", "xn--bcher-kva.example", "xn--bcher-kva.example."),
])
def test_values_are_normalised_and_encoded(type_name: str, text: str, value: str,
                                           presentation: str) -> None:
    normalised, rdata, target = read(type_name, text)
    assert normalised == value
    assert rdata == dns.rdata.from_text(dns.rdataclass.IN, type_name, presentation
                                        ).to_digestable()
    assert target == (value if type_name in ("CNAME", "PTR") else "")


@pytest.mark.parametrize(("type_name", "text", "words"), [
    ("A", "fd00::90", "is an IPv6 address: write it under AAAA"),
    ("AAAA", "10.0.0.1", "is an IPv4 address: write it under A"),
    ("A", "10.0.0.256", "is not an IPv4 or IPv6 address"),
    ("AAAA", "fe80::1%eth0", "is not an IPv4 or IPv6 address"),
    ("CNAME", "*.corp.example.eu", "wildcards are not supported"),
    ("CNAME", "https://intranet/", "looks like a URL"),
    ("CNAME", "bad..name", "empty label"),
    ("MX", "mail.corp.example.eu", "is not PREFERENCE NAME"),
    ("MX", "70000 mail.corp.example.eu", "'70000' is not a number from 0 to 65535"),
    ("MX", "-1 mail.corp.example.eu", "'-1' is not a number"),
    ("SRV", "0 100 dc1.corp.example.eu", "is not PRIORITY WEIGHT PORT TARGET"),
    ("SRV", "0 100 ldap dc1.corp.example.eu", "'ldap' is not a number"),
    ("TXT", "x" * (MAX_TXT + 1), f"at most {MAX_TXT}"),
])
def test_bad_values_say_what_to_write(type_name: str, text: str, words: str) -> None:
    with pytest.raises(ValueError, match=None) as failed:
        read(type_name, text)
    assert words in str(failed.value)


def test_an_untyped_value_is_a_or_aaaa_by_its_form() -> None:
    assert address_value("10.0.0.80")[0] == TYPES["A"]
    assert address_value("fd00::90")[0] == TYPES["AAAA"]
    with pytest.raises(ValueError, match=r"for another type, write it as a mapping"):
        address_value("intranet.corp.example.eu")
    with pytest.raises(ValueError, match=r"'10\.0\.0\.999' is not an IPv4 or IPv6 address\Z"):
        address_value("10.0.0.999")  # no hint about types for what is meant as an address


def test_the_root_is_a_name_only_where_it_means_no_host() -> None:
    assert domain_name(".", root=True) == ""
    with pytest.raises(ValueError):
        domain_name(".")
