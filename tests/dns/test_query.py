"""Tests for resolver.dns.query: the fast and careful query readers.

Messages are built with dnspython and results checked by meaning; the fast path is held to
"None or exactly what the careful path says" everywhere, including on fuzz corpora.
"""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.name
import dns.opcode
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from message_builders import (
    A_IN,
    WWW_EXAMPLE,
    accepted,
    corpus_messages,
    expected_qname,
    fast_reads,
    header,
    make_query,
    needs_corpora,
    opt_rr,
    read,
    rejected,
    rr,
    wire_of,
)

from resolver.dns.names import name_to_wire
from resolver.dns.query import Edns, Query, Reject, Rejection, classify, parse_query, read_question


def test_plain_query_is_read_by_the_fast_path() -> None:
    wire = make_query("www.example.com", dns.rdatatype.AAAA, qid=4321)
    query = parse_query(wire)
    assert query == Query(4321, 0x0100, "www.example.com", 28, 1, wire[12:], None)
    assert query.rd and not query.cd and not query.do
    assert classify(wire) == query
    assert all(fast == query for fast in fast_reads(wire))


def test_upper_case_name_is_lowered_but_question_keeps_case() -> None:
    wire = make_query("WwW.ExAmPlE.CoM")
    query = parse_query(wire)
    assert query is not None
    assert query.qname == "www.example.com"
    assert query.question == b"\x03WwW\x07ExAmPlE\x03CoM\x00" + A_IN
    assert classify(wire) == query
    assert all(fast == query for fast in fast_reads(wire))


def test_edns_do_cd_and_raw_payload_size_are_reported() -> None:
    wire = make_query(
        "example.org", flags=dns.flags.RD | dns.flags.CD, edns=0, do=True, payload=100
    )
    query = accepted(wire)
    assert all(fast_reads(wire))
    assert query.edns == Edns(udp_size=100, version=0, do=True)
    assert query.edns.max_payload == 512
    assert query.do and query.cd and query.rd


def test_opt_with_cookie_and_unknown_option_is_accepted_by_the_fast_path() -> None:
    options = [
        dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"\x01" * 8),
        dns.edns.GenericOption(dns.edns.OptionType.make(65001), b"anything at all"),
        dns.edns.GenericOption(dns.edns.OptionType.make(65002), b""),
    ]
    wire = make_query("example.org", edns=0, options=options)
    query = parse_query(wire)
    assert query is not None and query.edns == Edns(1232, 0, False)
    assert classify(wire) == query
    assert all(fast == query for fast in fast_reads(wire))


def test_root_query() -> None:
    wire = make_query(".", dns.rdatatype.NS)
    query = parse_query(wire)
    assert query is not None
    assert (query.qname, query.qtype, query.question) == ("", 2, b"\x00\x00\x02\x00\x01")
    assert classify(wire) == query
    assert all(fast == query for fast in fast_reads(wire))


@pytest.mark.parametrize(
    ("text", "qname"),
    [
        (r"a\.b.example.com", r"a\046b.example.com"),
        (r"\000.example.com", r"\000.example.com"),
        (r"*.example.com", r"\042.example.com"),
        (r"sp\032ace.example.com", r"sp\032ace.example.com"),
        (r"back\\slash.example.com", r"back\092slash.example.com"),
        (r"\200\201.example.com", r"\200\201.example.com"),
        (r"UP\.Case.example.com", r"up\046case.example.com"),
    ],
)
def test_odd_bytes_are_escaped_by_the_careful_path(text: str, qname: str) -> None:
    wire = make_query(text)
    assert not any(fast_reads(wire))
    query = accepted(wire)
    assert query.qname == qname
    assert query.question == wire[12:]
    assert name_to_wire(qname) == wire_of(dns.name.from_text(text)).lower()


def test_blocklist_key_cannot_be_spoofed_by_a_dot_inside_a_label() -> None:
    query = accepted(make_query(r"ads\.example.com"))
    assert query.qname != "ads.example.com"
    assert query.qname.split(".")[0] == r"ads\046example"


def test_compression_pointer_in_question_is_followed() -> None:
    # Question "www" + pointer to "example.com", which is the owner of an additional record.
    owner_at = 12 + 4 + 2 + 4
    question = b"\x03www" + struct.pack(">H", 0xC000 | owner_at) + A_IN
    extra = rr(b"\x07example\x03com\x00", 1, b"\xc0\x00\x02\x01")
    wire = header(ar=1) + question + extra
    assert not any(fast_reads(wire))
    query = accepted(wire)
    assert query.qname == "www.example.com"
    assert query.question == WWW_EXAMPLE + A_IN
    assert query.edns is None


def test_compression_pointer_to_header_bytes_reads_them_as_a_name() -> None:
    # Offset 4 holds QDCOUNT's high octet, 0: the root name.
    wire = header() + b"\xc0\x04" + A_IN
    query = accepted(wire)
    assert query.qname == "" and query.question == b"\x00" + A_IN


@pytest.mark.parametrize(
    "name",
    [
        b"\xc0\x0c",  # points at itself
        b"\x01a\xc0\x0c",  # label then back to the start
        b"\xc0\x0e\xc0\x0c",  # two pointers to each other
    ],
)
def test_pointer_loop_is_formerr(name: bytes) -> None:
    rejection = rejected(header() + name + A_IN, Reject.FORMERR)
    assert "loop" in rejection.reason or "255" in rejection.reason


def test_other_additional_records_are_ignored() -> None:
    tsig_like = rr(b"\x03key\x00", 250, b"\x00" * 20)
    wire = header(ar=2) + WWW_EXAMPLE + A_IN + opt_rr(flags=0x8000) + tsig_like
    query = accepted(wire)
    assert query.edns == Edns(1232, 0, True)
    assert not any(fast_reads(wire))


def test_answer_records_in_a_query_are_tolerated() -> None:
    wire = header(an=1) + WWW_EXAMPLE + A_IN + rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    assert accepted(wire).qname == "www.example.com"


@pytest.mark.parametrize("size", range(12))
def test_shorter_than_a_header_is_dropped(size: int) -> None:
    rejected(make_query("example.com")[:size], Reject.DROP)


def test_truncated_packets_are_formerr_or_dropped() -> None:
    wire = make_query(
        "www.example.com",
        edns=0,
        options=[dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"x" * 8)],
    )
    for size in range(len(wire)):
        result = classify(wire[:size])
        assert isinstance(result, Rejection)
        assert result.action is (Reject.DROP if size < 12 else Reject.FORMERR)
        assert not any(fast_reads(wire[:size]))


def test_response_is_dropped() -> None:
    wire = make_query("example.com", flags=dns.flags.QR | dns.flags.RD)
    rejected(wire, Reject.DROP)


@pytest.mark.parametrize(
    "opcode",
    [dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.UPDATE, 3, 15],
)
def test_opcode_other_than_query_is_notimp(opcode: int) -> None:
    wire = make_query("example.com", flags=dns.opcode.to_flags(dns.opcode.Opcode.make(opcode)))
    rejected(wire, Reject.NOTIMP)


def test_notify_is_refused() -> None:
    wire = make_query("example.com", flags=dns.opcode.to_flags(dns.opcode.NOTIFY))
    rejected(wire, Reject.REFUSED)


def test_update_message_is_notimp() -> None:
    import dns.update

    update = dns.update.UpdateMessage("example.com")
    update.add("www", 300, "A", "192.0.2.1")
    rejected(update.to_wire(), Reject.NOTIMP)


@pytest.mark.parametrize("qdcount", [0, 2, 65535])
def test_qdcount_other_than_one_is_formerr(qdcount: int) -> None:
    body = (WWW_EXAMPLE + A_IN) * min(qdcount, 2)
    rejected(header(qd=qdcount) + body, Reject.FORMERR)


def test_edns_version_1_is_badvers_with_the_query() -> None:
    wire = make_query("example.com", edns=1, do=True)
    rejection = rejected(wire, Reject.BADVERS)
    assert rejection.query is not None
    assert rejection.query.qname == "example.com"
    assert rejection.query.edns == Edns(1232, 1, True)


def test_two_opt_records_are_formerr() -> None:
    wire = header(ar=2) + WWW_EXAMPLE + A_IN + opt_rr() + opt_rr()
    assert "more than one OPT" in rejected(wire, Reject.FORMERR).reason


def test_formerr_beats_badvers_when_the_message_is_also_malformed() -> None:
    wire = header(ar=2) + WWW_EXAMPLE + A_IN + opt_rr(version=1) + opt_rr(version=1)
    rejected(wire, Reject.FORMERR)


def test_opt_not_owned_by_root_is_formerr() -> None:
    wire = header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr(owner=b"\x01x\x00")
    assert "root" in rejected(wire, Reject.FORMERR).reason


def test_opt_owner_pointing_at_a_root_octet_is_the_root() -> None:
    wire = header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr(owner=b"\xc0\x04")
    assert accepted(wire).edns == Edns(1232, 0, False)


@pytest.mark.parametrize("section", ["an", "ns"])
def test_opt_outside_additional_section_is_formerr(section: str) -> None:
    wire = header(**{section: 1}) + WWW_EXAMPLE + A_IN + opt_rr()
    rejected(wire, Reject.FORMERR)


@pytest.mark.parametrize(
    "rdata",
    [
        b"\x00\x0a\x00\x08abc",  # option longer than the record
        b"\x00\x0a\x00",  # option header cut short
    ],
)
def test_badly_framed_options_are_formerr(rdata: bytes) -> None:
    wire = header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr(rdata=rdata)
    rejected(wire, Reject.FORMERR)


def test_trailing_bytes_are_formerr() -> None:
    rejected(make_query("example.com") + b"\x00", Reject.FORMERR)
    rejected(make_query("example.com", edns=0) + b"junk", Reject.FORMERR)


def test_label_types_and_lengths_are_checked() -> None:
    rejected(header() + b"\x41" + b"a" * 65 + b"\x00" + A_IN, Reject.FORMERR)  # 0x40 type
    rejected(header() + b"\x81" + b"a" * 1 + b"\x00" + A_IN, Reject.FORMERR)  # 0x80 type
    long_name = b"\x3f" + b"a" * 63
    rejected(header() + long_name * 4 + b"\x00" + A_IN, Reject.FORMERR)  # 257 octets
    ok = header() + long_name * 3 + b"\x3d" + b"a" * 61 + b"\x00" + A_IN  # exactly 255
    assert accepted(ok).qname.count(".") == 3
    assert parse_query(ok) is not None


def test_query_with_many_records_is_formerr_without_walking_them() -> None:
    record = rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    wire = header(ar=17) + WWW_EXAMPLE + A_IN + record * 17
    assert "17 records" in rejected(wire, Reject.FORMERR).reason
    sixteen = header(ar=16) + WWW_EXAMPLE + A_IN + record * 16
    assert accepted(sixteen).qname == "www.example.com"


@pytest.mark.parametrize("length", range(1, 64))
def test_every_label_length_reads_the_same_on_both_paths(length: int) -> None:
    """The fast path walks length octets only and turns the name into text by table, so a
    length octet that reads as a hostname byte ('-', a digit: 45-57) goes to `classify`."""
    label = ("Ab-_9" * 13)[:length]
    wire = make_query(f"x.{label}.{label[::-1]}.COM", edns=0)
    careful = classify(wire)
    assert isinstance(careful, Query)
    assert careful.qname == f"x.{label}.{label[::-1]}.com".lower()
    for fast in fast_reads(wire):
        assert fast == careful if not 45 <= length <= 57 else fast is None


@pytest.mark.parametrize("odd", [b"a.b", b"a\x01b", b"\x00", b"\x3f", b"*", b"A\xc3\xa9", b"a b"])
def test_a_label_with_any_other_byte_goes_to_the_careful_path(odd: bytes) -> None:
    wire = header() + b"\x03www" + bytes((len(odd),)) + odd + b"\x03com\x00" + A_IN
    assert not any(fast_reads(wire))
    careful = classify(wire)
    assert isinstance(careful, Query) and "\\" in careful.qname


def test_huge_label_chain_is_cut_off_quickly() -> None:
    data = header() + b"\x01a" * 30000
    assert parse_query(data) is None
    rejected(data, Reject.FORMERR)

LDH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

labels = st.one_of(
    st.text(alphabet=LDH, min_size=1, max_size=63).map(str.encode),
    st.binary(min_size=1, max_size=63),
    st.sampled_from([b"*", b"a.b", b"\x00", b"\\", b" ", b"A\xc3\xa9", b"_tcp", b"xn--bcher-kva"]),
)


@st.composite
def names(draw: st.DrawFn) -> dns.name.Name:
    parts = draw(st.lists(labels, max_size=8))
    try:
        return dns.name.Name([*parts, b""])
    except dns.name.NameTooLong:
        assume(False)
        raise


@st.composite
def queries(draw: st.DrawFn) -> tuple[bytes, dns.name.Name, int, int, int]:
    name = draw(names())
    rdtype = draw(
        st.one_of(st.sampled_from([1, 28, 5, 15, 16, 33, 65, 255, 43]), st.integers(0, 65535))
    )
    rdclass = draw(st.one_of(st.just(1), st.integers(0, 65535)))
    flags = draw(st.integers(0, 0xFFFF)) & ~0xF800
    version = draw(st.sampled_from([-1, -1, 0, 0, 0, 1, 255]))
    options = draw(
        st.lists(
            st.builds(
                dns.edns.GenericOption,
                st.integers(0, 65535).map(dns.edns.OptionType.make),
                st.binary(max_size=40),
            ),
            max_size=3,
        )
    )
    wire = make_query(
        name,
        rdtype,
        rdclass,
        qid=draw(st.integers(0, 0xFFFF)),
        flags=flags,
        edns=version,
        do=draw(st.booleans()),
        payload=draw(st.integers(0, 65535)),
        options=options,
    )
    return wire, name, rdtype, rdclass, version


@settings(max_examples=600, suppress_health_check=[HealthCheck.filter_too_much])
@given(queries())
def test_fast_path_is_none_or_exactly_the_careful_answer(
    case: tuple[bytes, dns.name.Name, int, int, int],
) -> None:
    wire, name, rdtype, rdclass, version = case
    careful = classify(wire)
    fast = fast_reads(wire)
    if version > 0:
        assert isinstance(careful, Rejection) and careful.action is Reject.BADVERS
        assert not any(fast)
        assert careful.query is not None
        careful = careful.query
    assert isinstance(careful, Query)
    assert all(each is None or each == careful for each in fast)
    assert fast[0] == fast[-1]
    assert careful.qname == expected_qname(name)
    assert (careful.qtype, careful.qclass) == (rdtype, rdclass)
    assert careful.question == wire[12 : 12 + len(careful.question)]
    assert name_to_wire(careful.qname) == wire_of(name).lower()
    assert (careful.edns is None) == (version < 0)


@settings(max_examples=1500)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    read(data)
    read_question(data)


@settings(max_examples=1500)
@given(queries(), st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), max_size=6))
def test_mutated_queries_never_raise(
    case: tuple[bytes, dns.name.Name, int, int, int], edits: list[tuple[int, int]]
) -> None:
    data = bytearray(case[0])
    for at, value in edits:
        if at < len(data):
            data[at] = value
        else:
            data.append(value)
    read(bytes(data))


@needs_corpora
def test_corpora_never_raise_and_fast_agrees_with_careful() -> None:
    messages = corpus_messages()
    assert len(messages) > 100
    verdicts: dict[str, Query | Rejection] = {}
    for name, data in messages:
        verdicts[name] = read(data)
    cookie = verdicts["dnsperf-testdata/querywithcookie.blob@0"]
    assert isinstance(cookie, Query) and cookie.qname == "" and cookie.qtype == 2
    basic = verdicts["pdns-raw-dns-packets/basic.raw"]
    assert isinstance(basic, Query) and basic.qname == "powerdns.com"
    ecs = verdicts["pdns-raw-dns-packets/ecs.raw"]
    assert isinstance(ecs, Query) and ecs.edns == Edns(4096, 0, True)
    response = verdicts["pdns-raw-dns-packets/root-ns-answer.raw"]
    assert isinstance(response, Rejection) and response.action is Reject.DROP


def test_read_question() -> None:
    assert read_question(make_query("Example.COM")) == b"\x07Example\x03COM\x00" + A_IN
    assert read_question(header(qd=2) + (WWW_EXAMPLE + A_IN) * 2) is None
    assert read_question(header() + b"\xc0\x0c" + A_IN) is None
    assert read_question(header() + WWW_EXAMPLE + b"\x00") is None
