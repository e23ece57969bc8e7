"""Tests for resolver.dns.wire: the fast and careful query readers and the message edits.

Messages are built with dnspython and results checked by meaning; the fast path is held to
"None or exactly what the careful path says" everywhere, including on fuzz corpora.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Sequence
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from resolver.dns.wire import (
    TC,
    Edns,
    MalformedMessage,
    Query,
    Reject,
    Rejection,
    classify,
    edns_option,
    name_to_wire,
    parse_query,
    read_question,
    strip_opt,
    truncate,
    with_opt,
)

CORPORA = Path("/work/shared/corpora/packets")


# ---------------------------------------------------------------- helpers


def make_query(
    name: str | dns.name.Name,
    rdtype: int = dns.rdatatype.A,
    rdclass: int = dns.rdataclass.IN,
    *,
    qid: int = 0x1234,
    flags: int = dns.flags.RD,
    edns: int = -1,
    do: bool = False,
    payload: int = 1232,
    options: Sequence[dns.edns.Option] = (),
) -> bytes:
    qname = dns.name.from_text(name) if isinstance(name, str) else name
    msg = dns.message.Message(id=qid)
    msg.flags = flags
    msg.find_rrset(
        msg.question,
        qname,
        dns.rdataclass.RdataClass.make(rdclass),
        dns.rdatatype.RdataType.make(rdtype),
        create=True,
        force_unique=True,
    )
    if edns >= 0:
        msg.use_edns(edns, dns.flags.DO if do else 0, payload, options=list(options))
    return msg.to_wire()


def wire_of(name: dns.name.Name) -> bytes:
    wire = name.to_wire()
    assert wire is not None
    return wire


def read(data: bytes) -> Query | Rejection:
    """classify(data), after checking that the fast path agrees wherever it answers."""
    careful = classify(data)
    fast = parse_query(data)
    if fast is not None:
        assert fast == careful
    return careful


def accepted(data: bytes) -> Query:
    result = read(data)
    assert isinstance(result, Query), result
    return result


def rejected(data: bytes, action: Reject) -> Rejection:
    assert parse_query(data) is None
    result = classify(data)
    assert isinstance(result, Rejection), result
    assert result.action is action, result
    return result


def expected_qname(name: dns.name.Name) -> str:
    """Query.qname's spelling, written independently of the code under test."""
    allowed = b"abcdefghijklmnopqrstuvwxyz0123456789-_"
    out = []
    for label in name.labels:
        if not label:
            continue
        text = ""
        for byte in label.lower():
            text += chr(byte) if byte in allowed else f"\\{byte:03d}"
        out.append(text)
    return ".".join(out)


def header(
    qid: int = 1, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
) -> bytes:
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


def opt_rr(
    udp: int = 1232, version: int = 0, flags: int = 0, rdata: bytes = b"", owner: bytes = b"\0"
) -> bytes:
    return owner + struct.pack(">HHBBHH", 41, udp, 0, version, flags, len(rdata)) + rdata


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 300) -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


WWW_EXAMPLE = b"\x03www\x07example\x03com\x00"
A_IN = b"\x00\x01\x00\x01"


# ---------------------------------------------------------------- accepted queries


def test_plain_query_is_read_by_the_fast_path() -> None:
    wire = make_query("www.example.com", dns.rdatatype.AAAA, qid=4321)
    query = parse_query(wire)
    assert query == Query(4321, 0x0100, "www.example.com", 28, 1, wire[12:], None)
    assert query.rd and not query.cd and not query.do
    assert classify(wire) == query


def test_upper_case_name_is_lowered_but_question_keeps_case() -> None:
    wire = make_query("WwW.ExAmPlE.CoM")
    query = parse_query(wire)
    assert query is not None
    assert query.qname == "www.example.com"
    assert query.question == b"\x03WwW\x07ExAmPlE\x03CoM\x00" + A_IN
    assert classify(wire) == query


def test_edns_do_cd_and_raw_payload_size_are_reported() -> None:
    wire = make_query(
        "example.org", flags=dns.flags.RD | dns.flags.CD, edns=0, do=True, payload=100
    )
    query = accepted(wire)
    assert parse_query(wire) is not None
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


def test_root_query() -> None:
    wire = make_query(".", dns.rdatatype.NS)
    query = parse_query(wire)
    assert query is not None
    assert (query.qname, query.qtype, query.question) == ("", 2, b"\x00\x00\x02\x00\x01")
    assert classify(wire) == query


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
    assert parse_query(wire) is None
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
    assert parse_query(wire) is None
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
    assert parse_query(wire) is None


def test_answer_records_in_a_query_are_tolerated() -> None:
    wire = header(an=1) + WWW_EXAMPLE + A_IN + rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    assert accepted(wire).qname == "www.example.com"


# ---------------------------------------------------------------- rejected packets


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
        assert parse_query(wire[:size]) is None


def test_response_is_dropped() -> None:
    wire = make_query("example.com", flags=dns.flags.QR | dns.flags.RD)
    rejected(wire, Reject.DROP)


@pytest.mark.parametrize(
    "opcode",
    [dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.NOTIFY, dns.opcode.UPDATE, 15],
)
def test_opcode_other_than_query_is_notimp(opcode: int) -> None:
    wire = make_query("example.com", flags=dns.opcode.to_flags(dns.opcode.Opcode.make(opcode)))
    rejected(wire, Reject.NOTIMP)


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


def test_huge_label_chain_is_cut_off_quickly() -> None:
    data = header() + b"\x01a" * 30000
    assert parse_query(data) is None
    rejected(data, Reject.FORMERR)


# ---------------------------------------------------------------- property tests

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
    fast = parse_query(wire)
    if version > 0:
        assert isinstance(careful, Rejection) and careful.action is Reject.BADVERS
        assert fast is None
        assert careful.query is not None
        careful = careful.query
    assert isinstance(careful, Query)
    assert fast is None or fast == careful
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


# ---------------------------------------------------------------- corpora


def corpus_messages() -> list[tuple[str, bytes]]:
    """Every packet in the shared corpora: raw files, TCP streams split, hex lines decoded."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(p for p in CORPORA.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = str(path.relative_to(CORPORA))
        found.append((name, data))
        if path.suffix == ".blob":  # dnsperf: 2-octet length, message, repeated
            pos = 0
            while pos + 2 <= len(data):
                (length,) = struct.unpack_from(">H", data, pos)
                found.append((f"{name}@{pos}", data[pos + 2 : pos + 2 + length]))
                pos += 2 + length
        if path.parent.name == "unbound-test_packets":  # hex text, one packet a line
            for number, line in enumerate(data.decode("ascii", "replace").splitlines()):
                line = line.strip()
                if line and all(c in "0123456789abcdefABCDEF" for c in line) and len(line) % 2 == 0:
                    found.append((f"{name}:{number + 1}", bytes.fromhex(line)))
    return found


needs_corpora = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"{CORPORA} is absent")


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


@needs_corpora
def test_corpora_responses_survive_strip_opt_and_truncate() -> None:
    checked = 0
    for _name, data in corpus_messages():
        try:
            original = dns.message.from_wire(data)
        except Exception:  # dnspython refuses most fuzz input: then only "no surprise" is required
            for edit in (strip_opt, lambda d: truncate(d, 100)):
                with contextlib.suppress(ValueError):
                    edit(data)
            continue
        after = dns.message.from_wire(strip_opt(data))
        assert after.edns == -1
        assert after.answer == original.answer
        assert after.authority == original.authority
        assert after.additional == original.additional
        cut = dns.message.from_wire(truncate(data, 100))
        assert cut.question == original.question
        if len(data) > 100:
            assert cut.flags & dns.flags.TC and not cut.answer
        checked += 1
    assert checked > 3


# ---------------------------------------------------------------- strip_opt, with_opt, truncate


def response_with(*, edns: bool, extra: int = 2) -> dns.message.Message:
    query = dns.message.from_wire(make_query("www.example.com", edns=0 if edns else -1))
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text("www.example.com.", 300, "IN", "CNAME", "web.example.net.")
    )
    response.answer.append(
        dns.rrset.from_text("web.example.net.", 60, "IN", "A", "192.0.2.1", "192.0.2.2")
    )
    response.authority.append(
        dns.rrset.from_text("example.net.", 300, "IN", "NS", "ns1.example.net.")
    )
    if extra:
        response.additional.append(
            dns.rrset.from_text(
                "ns1.example.net.", 300, "IN", "A", *[f"192.0.2.{i}" for i in range(extra)]
            )
        )
    return response


def test_strip_opt_removes_the_opt_and_keeps_every_record() -> None:
    original = response_with(edns=True)
    wire = original.to_wire()
    stripped = strip_opt(wire)
    assert len(stripped) == len(wire) - 11
    after = dns.message.from_wire(stripped)
    assert after.edns == -1
    assert (after.answer, after.authority, after.additional) == (
        original.answer,
        original.authority,
        original.additional,
    )


def test_strip_opt_returns_message_without_opt_unchanged() -> None:
    wire = response_with(edns=False).to_wire()
    assert strip_opt(wire) is wire
    bare = make_query("example.com")
    assert strip_opt(bare) is bare


def test_strip_opt_repoints_compression_after_a_mid_section_opt() -> None:
    # Additional: OPT, A x.foo.test, AAAA (owner -> the A's owner), MX (exchange -> same).
    head = header(flags=0x8180, ar=4) + WWW_EXAMPLE + A_IN
    opt = opt_rr(rdata=edns_option(10, b"c" * 8))
    a_at = len(head) + len(opt)
    a = rr(b"\x01x\x03foo\x04test\x00", 1, b"\xc0\x00\x02\x01")
    pointer = struct.pack(">H", 0xC000 | a_at)
    aaaa = rr(pointer, 28, b"\x20\x01\x0d\xb8" + b"\x00" * 12)
    mx = rr(b"\x03foo\x04test\x00", 15, b"\x00\x0a" + pointer)
    wire = head + opt + a + aaaa + mx
    assert dns.message.from_wire(wire).edns == 0
    after = dns.message.from_wire(strip_opt(wire))
    assert after.edns == -1
    texts = sorted(rrset.to_text() for rrset in after.additional)
    assert texts == [
        "foo.test. 300 IN MX 10 x.foo.test.",
        "x.foo.test. 300 IN A 192.0.2.1",
        "x.foo.test. 300 IN AAAA 2001:db8::",
    ]


def test_strip_opt_removes_every_opt() -> None:
    wire = header(flags=0x8180, ar=3) + WWW_EXAMPLE + A_IN + opt_rr() + opt_rr(udp=512)
    wire += rr(b"\xc0\x0c", 1, b"\x01\x02\x03\x04")
    # Count fixed up: only the A record is left.
    stripped = strip_opt(wire)
    assert struct.unpack_from(">H", stripped, 10)[0] == 1
    after = dns.message.from_wire(stripped)
    assert after.edns == -1 and len(after.additional) == 1


@pytest.mark.parametrize(
    "wire",
    [
        b"\x00" * 5,
        header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr()[:-1],
        header(ar=1) + WWW_EXAMPLE + A_IN + opt_rr() + b"x",
        header(ar=1, qd=2) + WWW_EXAMPLE + A_IN,
    ],
)
def test_strip_opt_raises_value_error_on_malformed_input(wire: bytes) -> None:
    with pytest.raises(ValueError):
        strip_opt(wire)


def test_strip_opt_refuses_a_pointer_into_the_opt() -> None:
    head = header(flags=0x8180, ar=2) + WWW_EXAMPLE + A_IN
    opt_at = len(head)
    wire = head + opt_rr() + rr(struct.pack(">H", 0xC000 | opt_at), 1, b"\x01\x02\x03\x04")
    with pytest.raises(MalformedMessage):
        strip_opt(wire)


def test_with_opt_adds_our_opt() -> None:
    wire = strip_opt(response_with(edns=True).to_wire())
    cookie = edns_option(10, b"\x01" * 8)
    after = dns.message.from_wire(with_opt(wire, 1400, True, cookie))
    assert after.edns == 0 and after.payload == 1400
    assert after.ednsflags & dns.flags.DO
    assert [(o.otype, o.to_wire()) for o in after.options] == [(10, b"\x01" * 8)]
    assert len(after.answer) == 2 and len(after.additional) == 1


def test_with_opt_extended_rcode_makes_badvers() -> None:
    wire = header(flags=0x8180, qd=0)
    after = dns.message.from_wire(with_opt(wire, 1232, False, ext_rcode=1))
    assert after.rcode() == dns.rcode.BADVERS


def test_with_opt_rejects_overflow_and_short_input() -> None:
    with pytest.raises(ValueError):
        with_opt(header(qd=0, ar=0xFFFF), 1232, False)
    with pytest.raises(ValueError):
        with_opt(b"\x00" * 3, 1232, False)


def test_truncate_leaves_a_message_that_fits_alone() -> None:
    wire = response_with(edns=False).to_wire()
    assert truncate(wire, len(wire)) is wire


def test_truncate_keeps_header_question_and_opt() -> None:
    original = response_with(edns=False, extra=40)
    wire = with_opt(original.to_wire(), 1232, True, edns_option(15, b"\x00\x0fblocked"))
    assert len(wire) > 512
    cut = truncate(wire, 512)
    assert len(cut) <= 512
    after = dns.message.from_wire(cut)
    assert after.flags & dns.flags.TC and after.flags & dns.flags.QR
    assert after.id == original.id and after.question == original.question
    assert (after.answer, after.authority, after.additional) == ([], [], [])
    assert after.edns == 0 and after.payload == 1232 and after.ednsflags & dns.flags.DO
    assert [o.otype for o in after.options] == [15]


def test_truncate_without_opt_has_none() -> None:
    wire = response_with(edns=False, extra=40).to_wire()
    cut = truncate(wire, 512)
    after = dns.message.from_wire(cut)
    assert after.edns == -1 and after.flags & dns.flags.TC
    assert struct.unpack_from(">H", cut, 2)[0] & TC
    assert len(cut) == 12 + len(WWW_EXAMPLE) + 4


@settings(max_examples=200)
@given(
    st.integers(1, 60),
    st.booleans(),
    st.integers(12, 2000),
)
def test_truncate_then_strip_opt_round_trip(extra: int, edns: bool, limit: int) -> None:
    original = response_with(edns=edns, extra=extra)
    wire = original.to_wire()
    cut = truncate(wire, limit)
    after = dns.message.from_wire(cut)
    assert after.question == original.question
    assert after.edns == original.edns
    if len(wire) <= limit:
        assert cut == wire
    else:
        assert after.flags & dns.flags.TC and not after.answer
    assert dns.message.from_wire(strip_opt(cut)).edns == -1


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", b"\x00"),
        (".", b"\x00"),
        ("example.com", b"\x07example\x03com\x00"),
        ("example.com.", b"\x07example\x03com\x00"),
        (r"a\046b.c", b"\x03a.b\x01c\x00"),
        (r"a\.b.c.", b"\x03a.b\x01c\x00"),
        (r"\000", b"\x01\x00\x00"),
    ],
)
def test_name_to_wire(text: str, wire: bytes) -> None:
    assert name_to_wire(text) == wire


@pytest.mark.parametrize(
    "text", ["a..b", ".a", "a" * 64, ".".join(["a" * 63] * 4), "ä.com", "a\\", r"\256"]
)
def test_name_to_wire_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        name_to_wire(text)


def test_read_question() -> None:
    assert read_question(make_query("Example.COM")) == b"\x07Example\x03COM\x00" + A_IN
    assert read_question(header(qd=2) + (WWW_EXAMPLE + A_IN) * 2) is None
    assert read_question(header() + b"\xc0\x0c" + A_IN) is None
    assert read_question(header() + WWW_EXAMPLE + b"\x00") is None
