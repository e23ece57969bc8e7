"""`local:`: the office's own records and zones, read with each problem at its file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resolver.config.load import defaults, load_config
from resolver.config.local import LocalZone, local_zones, parse_records
from resolver.config.setting import KeyedValueError
from resolver.dns.rdata import TYPES
from tests.config.config_files import assert_config_error, config_errors, write_config

ISSUE_EXAMPLE = """
    local:
      ttl: 300
      records:
        intranet.corp.example.eu: 10.0.0.80                     # A, or AAAA by the address's form
        printer.corp.example.eu: [10.0.0.90, "fd00::90"]
        wiki.corp.example.eu: {CNAME: intranet.corp.example.eu}
        corp.example.eu: {MX: "10 mail.corp.example.eu", TXT: "v=spf1 -all"}
        _ldap._tcp.corp.example.eu: {SRV: "0 100 389 dc1.corp.example.eu"}
"""


def test_the_example_of_the_documentation_reads_in_order_with_lines(tmp_path: Path) -> None:
    path = write_config(tmp_path, ISSUE_EXAMPLE)
    local = load_config(path).local
    assert (local.ttl, local.ptr, local.zones) == (300, True, ())
    found = [(r.name, r.type_name, r.value, r.location.line) for r in local.records]
    assert found == [
        ("intranet.corp.example.eu", "A", "10.0.0.80", 4),
        ("printer.corp.example.eu", "A", "10.0.0.90", 5),
        ("printer.corp.example.eu", "AAAA", "fd00::90", 5),
        ("wiki.corp.example.eu", "CNAME", "intranet.corp.example.eu", 6),
        ("corp.example.eu", "MX", "10 mail.corp.example.eu", 7),
        ("corp.example.eu", "TXT", "v=spf1 -all", 7),
        ("_ldap._tcp.corp.example.eu", "SRV", "0 100 389 dc1.corp.example.eu", 8),
    ]
    assert {r.location.file for r in local.records} == {str(path)}
    assert local.records[3].target == "intranet.corp.example.eu"
    # the same records given as Python data (the documented example, tests) are equal
    assert parse_records({
        "intranet.corp.example.eu": "10.0.0.80",
        "printer.corp.example.eu": ["10.0.0.90", "fd00::90"],
        "wiki.corp.example.eu": {"CNAME": "intranet.corp.example.eu"},
        "corp.example.eu": {"MX": "10 mail.corp.example.eu", "TXT": "v=spf1 -all"},
        "_ldap._tcp.corp.example.eu": {"SRV": "0 100 389 dc1.corp.example.eu"},
    }) == local.records


def test_values_are_read_as_written_not_as_yaml_types(tmp_path: Path) -> None:
    local = load_config(write_config(tmp_path, """
        local:
          ptr: false
          records:
            v6.example: 1:2:3:4:5:6:7:8
            flag.example:
              txt: yes
              a: [192.0.2.1, 192.0.2.1]
    """)).local
    assert local.ptr is False
    assert [(r.name, r.type_name, r.value, r.location.line) for r in local.records] == [
        ("v6.example", "AAAA", "1:2:3:4:5:6:7:8", 4),  # YAML 1.1 would read a number
        ("flag.example", "TXT", "yes", 6),  # not True
        ("flag.example", "A", "192.0.2.1", 7),  # a record set holds each record once
    ]


def test_nothing_local_by_default(tmp_path: Path) -> None:
    local = defaults().local
    assert (local.ttl, local.ptr, local.zones, local.records) == (300, True, (), ())
    empty = load_config(write_config(tmp_path, "local:\n  records:\n  zones:\n")).local
    assert (empty.records, empty.zones) == ((), ())


@pytest.mark.parametrize(("records", "at", "words"), [
    ("    bad.example: 10.0.0.x\n", "5:18", ["bad.example: '10.0.0.x' is not an IPv4 or IPv6"]),
    ("    host.example: {A: fd00::1}\n", "5:23", ["write it under AAAA"]),
    ("    host.example: {HINFO: x}\n", "5:20", ["'HINFO' is not a record type", "known: A,"]),
    ("    host.example: {SRV: 0 100 dc1.example}\n", "5:25",
     ["host.example SRV", "PRIORITY WEIGHT PORT TARGET"]),
    ("    host.example: {MX: mail.example}\n", "5:24", ["host.example MX",
                                                        "PREFERENCE NAME"]),
    ("    alias.example:\n      CNAME: target.example\n      TXT: hello\n", "6:14",
     ["alias.example has a CNAME beside other records (TXT)", "RFC 1034"]),
    ("    alias.example: {CNAME: [a.example, b.example]}\n", "5:40",
     ["more than one CNAME"]),
    ("    not a name: 10.0.0.1\n", "5:5", ["'not a name' contains ' '"]),
    ("    '*.corp.example.eu': 10.0.0.1\n", "5:5", ["wildcards are not supported"]),
    ("    host.example:\n", "5:5", ["host.example has no value"]),
    ("    host.example: {}\n", "5:5", ["host.example has no records"]),
    ("    host.example: {A: }\n", "5:20", ["host.example A has no value"]),
    ("    host.example: [[10.0.0.1]]\n", "5:20", ["a nested list or mapping is not a record"]),
    ("    host.example: 10.0.0.1\n    HOST.example.: 10.0.0.2\n", "6:5",
     ["host.example is given twice (first on line 5)"]),
])
def test_each_bad_record_is_reported_at_its_line(tmp_path: Path, records: str, at: str,
                                                 words: list[str]) -> None:
    text = "# office\nlocal:\n  ttl: 60\n  records:\n" + records
    assert_config_error(write_config(tmp_path, text), f"dnsfence.yaml:{at}",
                        "`local.records`", *words)


def test_every_bad_record_is_reported_at_once(tmp_path: Path) -> None:
    errors = config_errors(write_config(tmp_path, """
        local:
          records:
            good.example: 10.0.0.1
            one.example: nonsense
            two.example: {MX: "10"}
            three.example: {TXT: ok, SOA: x}
    """))
    assert [e.split(": ")[0] for e in errors] == [
        "dnsfence.yaml:4:18", "dnsfence.yaml:5:23", "dnsfence.yaml:6:30"]


def test_records_must_be_a_mapping(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "local:\n  records: [10.0.0.1]\n"),
                        "dnsfence.yaml:2:12", "must be a mapping of names")


def test_zones_say_static_or_transparent() -> None:
    assert local_zones({"Lab.Corp.Example.EU.": "static", "corp.example.eu": "transparent"}
                       ) == (LocalZone("lab.corp.example.eu", True),
                             LocalZone("corp.example.eu", False))
    assert local_zones(None) == ()


@pytest.mark.parametrize(("text", "at", "words"), [
    ("local:\n  zones:\n    lab.example: private\n", "dnsfence.yaml:3:18",
     ["'private' is neither static", "nor transparent"]),
    ("local:\n  zones:\n    bad_name!: static\n", "dnsfence.yaml:3:16", ["contains '!'"]),
    ("local:\n  zones:\n    .: static\n", "dnsfence.yaml:3:8", ["the root cannot be"]),
    ("local:\n  zones: [lab.example]\n", "dnsfence.yaml:2:10", ["must be a mapping of zone"]),
    ("local:\n  ttl: -1\n", "dnsfence.yaml:2:8", ["`local.ttl`", "between 0 and 604800"]),
])
def test_bad_zones_and_settings_are_reported_at_their_line(tmp_path: Path, text: str, at: str,
                                                           words: list[str]) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_a_zone_given_twice_names_its_key() -> None:
    with pytest.raises(KeyedValueError) as failed:
        local_zones({"lab.example": "static", "LAB.example": "transparent"})
    assert failed.value.key == "LAB.example" and "given twice" in str(failed.value)


def test_every_type_has_a_reader() -> None:
    records = parse_records({"all.example": {
        "A": "192.0.2.1", "AAAA": "2001:db8::1", "TXT": ["one", "two"],
        "MX": "10 mail.example", "SRV": "1 2 3 srv.example", "PTR": "host.example"}})
    assert sorted({r.type_name for r in records}) == sorted(set(TYPES) - {"CNAME"})
    assert len(records) == 7
    with pytest.raises(ValueError, match="not a record type"):
        parse_records({"x.example": {"NS": "ns.example"}})


def test_the_readme_example_is_a_config_that_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"^```yaml\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
               if b.startswith("local:")]
    local = load_config(write_config(tmp_path, block)).local
    assert local.zones == (LocalZone("lab.corp.example.eu", True),)
    example = load_config(write_config(tmp_path, ISSUE_EXAMPLE, "issue.yaml")).local
    assert local.records == example.records
