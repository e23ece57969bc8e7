"""Tests for resolver.dns.answers: each answer is read back with dnspython and judged by meaning."""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.dns.answers import (
    SOA_MNAME,
    SOA_RNAME,
    BlockedTemplate,
    EdeCode,
    badvers,
    blocked,
    ede_option,
    local_negative,
    refused,
    servfail,
)
from resolver.dns.query import Query, Rejection, classify, parse_query
from resolver.dns.rewrite import truncate

# ---------------------------------------------------------------- helpers


def make_query(
    name: str | dns.name.Name,
    rdtype: int = dns.rdatatype.A,
    *,
    flags: int = dns.flags.RD,
    edns: int = -1,
    do: bool = False,
    qid: int = 0xBEEF,
) -> bytes:
    qname = dns.name.from_text(name) if isinstance(name, str) else name
    msg = dns.message.Message(id=qid)
    msg.flags = flags
    msg.find_rrset(
        msg.question,
        qname,
        dns.rdataclass.IN,
        dns.rdatatype.RdataType.make(rdtype),
        create=True,
        force_unique=True,
    )
    if edns >= 0:
        msg.use_edns(edns, dns.flags.DO if do else 0, 4096)
    return msg.to_wire()


def query_of(wire: bytes) -> Query:
    query = parse_query(wire)
    if query is None:
        careful = classify(wire)
        assert isinstance(careful, Query), careful
        query = careful
    return query


def parsed(answer: bytes | None) -> dns.message.Message:
    assert answer is not None
    return dns.message.from_wire(answer)


def assert_reply_to(reply: dns.message.Message, wire: bytes, rcode: int) -> None:
    """The parts every answer to a query shares: ID, flags copied or set, question echoed."""
    asked = dns.message.from_wire(wire)
    assert reply.id == asked.id
    assert reply.rcode() == rcode
    assert reply.opcode() == dns.opcode.QUERY
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RA
    assert not reply.flags & (dns.flags.AA | dns.flags.TC)
    for bit in (dns.flags.RD, dns.flags.CD):
        assert reply.flags & bit == asked.flags & bit
    assert reply.question == asked.question
    assert [q.name.to_wire() for q in reply.question] == [q.name.to_wire() for q in asked.question]


def ede_of(reply: dns.message.Message) -> list[tuple[int, str | None]]:
    return [(o.code, o.text) for o in reply.options if isinstance(o, dns.edns.EDEOption)]


def assert_blocked(
    reply: dns.message.Message, wire: bytes, *, zone: str, ttl: int, text: str | None
) -> None:
    assert_reply_to(reply, wire, dns.rcode.NXDOMAIN)
    assert reply.answer == [] and reply.additional == []
    (soa_set,) = reply.authority
    assert soa_set.rdtype == dns.rdatatype.SOA and soa_set.rdclass == dns.rdataclass.IN
    assert soa_set.name == dns.name.from_text(zone or ".")
    assert soa_set.ttl == ttl
    (soa,) = soa_set
    assert soa.minimum == ttl
    assert soa.mname == dns.name.from_text(SOA_MNAME)
    assert soa.rname == dns.name.from_text(SOA_RNAME)
    asked = dns.message.from_wire(wire)
    if asked.edns < 0:
        assert reply.edns == -1
    else:
        assert ede_of(reply) == [(EdeCode.BLOCKED, text)]


# ---------------------------------------------------------------- blocked


def test_blocked_with_edns() -> None:
    wire = make_query("ads.tracker.example.com", flags=dns.flags.RD | dns.flags.CD, edns=0, do=True)
    reply = parsed(blocked(query_of(wire), "tracker.example.com", 300, "list ads, rule 12", 1232))
    assert_blocked(reply, wire, zone="tracker.example.com", ttl=300, text="list ads, rule 12")
    assert reply.edns == 0 and reply.payload == 1232
    assert reply.ednsflags & dns.flags.DO


def test_blocked_without_do_does_not_set_do() -> None:
    wire = make_query("tracker.example.com", edns=0)
    reply = parsed(blocked(query_of(wire), "tracker.example.com", 60, "x", 1400))
    assert_blocked(reply, wire, zone="tracker.example.com", ttl=60, text="x")
    assert reply.payload == 1400 and not reply.ednsflags & dns.flags.DO


def test_blocked_without_edns_has_no_opt() -> None:
    wire = make_query("ads.example", flags=0)
    reply = parsed(blocked(query_of(wire), "ads.example", 3600, "ignored", 1232))
    assert_blocked(reply, wire, zone="ads.example", ttl=3600, text=None)


def test_blocked_upper_case_query_keeps_its_case_in_the_question() -> None:
    wire = make_query("AdS.TrAcKeR.ExAmPlE", edns=0)
    answer = blocked(query_of(wire), "tracker.example", 300, "", 1232)
    reply = parsed(answer)
    assert_blocked(reply, wire, zone="tracker.example", ttl=300, text=None)
    assert b"AdS\x07TrAcKeR" in answer


def test_blocked_unicode_ede_text_round_trips() -> None:
    wire = make_query("ads.example", edns=0)
    text = "bloqué: liste « pub » (2024-06-01 → 2024-12-31)"
    reply = parsed(blocked(query_of(wire), "ads.example", 300, text, 1232))
    assert ede_of(reply) == [(EdeCode.BLOCKED, text)]


@pytest.mark.parametrize(
    ("qname", "zone"),
    [
        ("tracker.example", "other.example"),  # not an ancestor: written out in full
        ("tracker.example", ""),  # root zone
        (r"a\.b.ads.example", "ads.example"),  # escaped query name
        (r"x\003ads.example", "ads.example"),  # suffix bytes that are not a label boundary
        (r"weird\.label.example", r"weird\.label.example"),
    ],
)
def test_blocked_soa_owner_is_the_zone(qname: str, zone: str) -> None:
    wire = make_query(qname, edns=0)
    query = query_of(wire)
    reply = parsed(BlockedTemplate(zone, 30, "t").render(query, 1232))
    assert_blocked(reply, wire, zone=zone, ttl=30, text="t")


def test_blocked_answer_to_a_longest_name_fits_512_without_edns() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    wire = make_query(name, flags=0)
    answer = blocked(query_of(wire), "d" * 61, 300, "", 1232)
    assert len(answer) <= 512
    assert truncate(answer, 512) == answer
    assert_blocked(parsed(answer), wire, zone="d" * 61, ttl=300, text=None)


def test_template_is_reused_across_queries() -> None:
    template = BlockedTemplate("example.net", 120, "rule 7")
    for name, edns, flags in [
        ("example.net", 0, dns.flags.RD),
        ("WWW.example.NET", -1, 0),
        ("a.b.c.example.net", 0, dns.flags.CD),
    ]:
        wire = make_query(name, dns.rdatatype.AAAA, flags=flags, edns=edns, do=True)
        reply = parsed(template.render(query_of(wire), 1232))
        assert_blocked(
            reply, wire, zone="example.net", ttl=120, text="rule 7" if edns >= 0 else None
        )


def test_template_rejects_bad_ttl_and_zone() -> None:
    with pytest.raises(ValueError):
        BlockedTemplate("example.net", -1, "")
    with pytest.raises(ValueError):
        BlockedTemplate("bad..zone", 300, "")


labels = st.one_of(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
        min_size=1,
        max_size=20,
    ).map(str.encode),
    st.binary(min_size=1, max_size=20),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(labels, min_size=1, max_size=6),
    st.integers(0, 6),
    st.booleans(),
    st.booleans(),
    st.integers(0, 0x7FFFFFFF),
    st.text(max_size=30),
)
def test_blocked_for_random_names_and_ancestors(
    parts: list[bytes], cut: int, edns: bool, do: bool, ttl: int, text: str
) -> None:
    name = dns.name.Name([*parts, b""])
    wire = make_query(name, edns=0 if edns else -1, do=do)
    query = query_of(wire)
    zone_labels = query.qname.split(".")[min(cut, len(parts)) :] if query.qname else []
    zone = ".".join(zone_labels)
    reply = parsed(blocked(query, zone, ttl, text, 1232))
    sent = text.rstrip("\x00")  # RFC 8914: EXTRA-TEXT is not NUL-terminated
    assert_blocked(reply, wire, zone=zone, ttl=ttl, text=(sent or None) if edns else None)
    assert bool(reply.ednsflags & dns.flags.DO) == (edns and do)


# ---------------------------------------------------------------- refused, servfail, badvers


def test_refused_with_prohibited_ede() -> None:
    wire = make_query("example.com", edns=0, do=True)
    reply = parsed(refused(query_of(wire)))
    assert_reply_to(reply, wire, dns.rcode.REFUSED)
    assert (reply.answer, reply.authority, reply.additional) == ([], [], [])
    assert ede_of(reply) == [(EdeCode.PROHIBITED, None)]
    assert reply.ednsflags & dns.flags.DO and reply.payload == 1232


def test_refused_custom_ede_text_and_none() -> None:
    wire = make_query("example.com", edns=0)
    reply = parsed(refused(query_of(wire), EdeCode.FILTERED, "not for you", udp_size=1400))
    assert ede_of(reply) == [(EdeCode.FILTERED, "not for you")]
    assert reply.payload == 1400
    bare = parsed(refused(query_of(wire), None))
    assert bare.edns == 0 and bare.options == ()


def test_refused_without_edns_has_no_opt() -> None:
    wire = make_query("example.com")
    reply = parsed(refused(query_of(wire)))
    assert_reply_to(reply, wire, dns.rcode.REFUSED)
    assert reply.edns == -1


def test_servfail_with_no_reachable_authority() -> None:
    wire = make_query("example.com", dns.rdatatype.MX, flags=dns.flags.RD | dns.flags.CD, edns=0)
    reply = parsed(servfail(query_of(wire), EdeCode.NO_REACHABLE_AUTHORITY, "upstreams timed out"))
    assert_reply_to(reply, wire, dns.rcode.SERVFAIL)
    assert ede_of(reply) == [(22, "upstreams timed out")]


def test_servfail_defaults_to_no_ede() -> None:
    wire = make_query("example.com", edns=0)
    reply = parsed(servfail(query_of(wire)))
    assert_reply_to(reply, wire, dns.rcode.SERVFAIL)
    assert reply.edns == 0 and reply.options == ()


def test_badvers_answer() -> None:
    wire = make_query("example.com", edns=1, do=True)
    verdict = classify(wire)
    assert isinstance(verdict, Rejection) and verdict.query is not None
    answer = badvers(verdict.query, 1232)
    assert struct.unpack_from(">H", answer, 2)[0] & 0x000F == 0  # header RCODE 0
    reply = parsed(answer)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0 and reply.payload == 1232
    assert reply.question == dns.message.from_wire(wire).question
    assert reply.ednsflags & dns.flags.DO


def test_ede_option_layout() -> None:
    option = ede_option(EdeCode.BLOCKED, "é")
    assert option == b"\x00\x0f\x00\x04\x00\x0f\xc3\xa9"


@pytest.mark.parametrize("edns", [False, True])
@pytest.mark.parametrize("ttl_cap", [None, 7, 0])
@pytest.mark.parametrize("qname", ["ads.example.com", "A.B.Ads.Example.COM",
                                   "a\\.b.x.ads.example.com", "ads\\.example.com.ads.example.com"])
def test_named_template_answers_like_a_template_per_name(edns: bool, ttl_cap: int | None,
                                                         qname: str) -> None:
    from resolver.dns.answers import BlockedTemplate, NamedBlockedTemplate
    from resolver.dns.query import Query, classify

    query = classify(dns.message.make_query(qname, "AAAA", use_edns=0 if edns else False)
                     .to_wire())
    assert isinstance(query, Query)
    before, after = "blocked by list ads (", ", from vendor/x.txt) since 2024-01-01"
    one = BlockedTemplate("ads.example.com", 60, f"{before}ads.example.com{after}")
    shared = NamedBlockedTemplate(60, before, after)
    expected = dns.message.from_wire(one.render(query, 1232, ttl_cap))
    got = dns.message.from_wire(shared.render(query, 1232, ttl_cap, "ads.example.com"))
    assert got.rcode() == expected.rcode() == dns.rcode.NXDOMAIN
    assert got.flags == expected.flags and got.id == expected.id
    assert got.authority == expected.authority
    assert got.authority[0].name == dns.name.from_text("ads.example.com")
    assert got.authority[0].ttl == (60 if ttl_cap is None else ttl_cap)
    assert got.authority[0][0].minimum == (60 if ttl_cap is None else ttl_cap)
    assert got.edns == expected.edns and got.options == expected.options


def test_ede_text_is_never_nul_terminated() -> None:
    from resolver.dns.answers import ede_option

    assert ede_option(15, "blocked\x00\x00") == ede_option(15, "blocked")
    assert ede_option(15, "a\x00b").endswith(b"a\x00b")  # only trailing NULs go


# ---------------------------------------------------------------- local negative answers


@pytest.mark.parametrize("rcode", [dns.rcode.NOERROR, dns.rcode.NXDOMAIN])
@pytest.mark.parametrize("edns", [-1, 0])
def test_a_local_negative_answer_carries_the_zones_soa(rcode: dns.rcode.Rcode,
                                                       edns: int) -> None:
    wire = make_query("_dns.resolver.arpa", dns.rdatatype.SVCB, edns=edns, do=True)
    answer = parsed(local_negative(query_of(wire), "resolver.arpa", rcode, 300, 1232))
    assert answer.id == 0xBEEF and answer.rcode() == rcode
    assert answer.flags & dns.flags.QR and answer.flags & dns.flags.RA
    assert answer.flags & dns.flags.RD  # copied from the query
    assert answer.answer == [] and answer.additional == []
    [soa] = answer.authority
    assert soa.name == dns.name.from_text("resolver.arpa")
    assert (soa.ttl, soa[0].minimum) == (300, 300)
    assert (soa[0].mname.to_text(True), soa[0].rname.to_text(True)) == (SOA_MNAME, SOA_RNAME)
    assert answer.edns == edns
    if edns == 0:
        assert answer.payload == 1232 and answer.ednsflags & dns.flags.DO
        assert not answer.options


LONGEST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


@pytest.mark.parametrize("payload", [512, 700, 1232, 4096])
def test_a_long_blocked_answer_keeps_within_the_clients_size(payload: int) -> None:
    """A long name and a long EDE text (an alias chain spelled out) are cut to the size the
    client takes, capped by ours (RFC 6891 6.2.5): the text first, at a character boundary,
    then the option; whatever fits of the text is kept."""
    from resolver.dns.answers import NamedBlockedTemplate

    text = "blocked via CNAME " + "é→" * 400  # 1,218 octets of text, multi-byte characters
    wire = dns.message.make_query(LONGEST, "A", use_edns=0, payload=payload).to_wire()
    query = query_of(wire)
    limit = max(512, min(payload, 1232))
    for answer in (BlockedTemplate(LONGEST, 60, text).render(query, 1232),
                   NamedBlockedTemplate(60, text, "").render(query, 1232, None, LONGEST)):
        reply = parsed(answer)
        assert limit - 3 <= len(answer) <= limit, len(answer)  # 3: one character cut whole
        [(code, kept)] = ede_of(reply)
        assert code == EdeCode.BLOCKED and kept and text.startswith(kept)
        assert reply.rcode() == dns.rcode.NXDOMAIN and len(reply.authority) == 1
    short = BlockedTemplate(LONGEST, 60, "blocked").render(query, 1232)
    assert ede_of(parsed(short)) == [(EdeCode.BLOCKED, "blocked")]


def test_when_no_text_fits_the_option_goes_and_then_the_soa() -> None:
    wire = dns.message.make_query(LONGEST, "A", use_edns=0, payload=512).to_wire()
    query = query_of(wire)
    # a zone that is not the question's suffix: its SOA owner is written out, 255 octets
    zone = ".".join(["x" * 63, "y" * 63, "z" * 63, "w" * 61])
    answer = BlockedTemplate(zone, 60, "some text").render(query, 1232)
    reply = parsed(answer)
    assert len(answer) <= 512
    assert reply.flags & dns.flags.TC and reply.authority == [] and not reply.options
    assert reply.edns == 0 and reply.question == dns.message.from_wire(wire).question
