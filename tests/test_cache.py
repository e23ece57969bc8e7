"""Tests for resolver.cache.AnswerCache: lifetimes, TTL countdown, LRU and wire patching."""

from __future__ import annotations

import math
import struct

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from resolver.cache import AnswerCache, CacheKey
from resolver.dns.aliases import UNREAD

T0 = 1_000.0


def make_query(qname: str = "www.example.com.", rdtype: str = "A") -> dns.message.Message:
    return dns.message.make_query(qname, rdtype, use_edns=False)


def question_wire(qname: str, rdtype: int = 1, rdclass: int = 1) -> bytes:
    """The question section a client would send, keeping `qname`'s case."""
    name_wire = dns.name.from_text(qname).to_wire()
    assert name_wire is not None
    return name_wire + struct.pack("!HH", rdtype, rdclass)


def key_for(
    qname: str = "www.example.com.",
    rdtype: int = 1,
    rdclass: int = 1,
    do: bool = False,
    cd: bool = False,
) -> CacheKey:
    return (qname.lower(), rdtype, rdclass, do, cd)


def positive(ttl: int = 60, qname: str = "www.example.com.") -> bytes:
    response = dns.message.make_response(make_query(qname))
    response.answer.append(dns.rrset.from_text(qname, ttl, "IN", "A", "192.0.2.1", "192.0.2.2"))
    return response.to_wire()


def negative(
    soa_ttl: int, minimum: int, *, nxdomain: bool = True, qname: str = "nx.example.com."
) -> bytes:
    response = dns.message.make_response(make_query(qname))
    if nxdomain:
        response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(
        dns.rrset.from_text(
            "example.com.",
            soa_ttl,
            "IN",
            "SOA",
            f"ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 {minimum}",
        )
    )
    return response.to_wire()


def with_rcode(wire: bytes, rcode: int) -> bytes:
    return wire[:3] + bytes([wire[3] & 0xF0 | rcode]) + wire[4:]


def hit(
    cache: AnswerCache,
    now: float,
    *,
    qname: str = "www.example.com.",
    rdtype: int = 1,
    query_id: int = 0x4242,
) -> dns.message.Message | None:
    """Look the answer up as a client asking `qname` would, and parse what comes back."""
    reply = cache.get(key_for(qname, rdtype), query_id, question_wire(qname, rdtype), now)
    return None if reply is None else dns.message.from_wire(reply)


def ttls(message: dns.message.Message) -> list[int]:
    sections = (message.answer, message.authority, message.additional)
    return [rrset.ttl for section in sections for rrset in section]


def assert_served_with_ttls(
    cache: AnswerCache, now: float, expected: list[int], qname: str = "www.example.com."
) -> None:
    reply = hit(cache, now, qname=qname)
    assert reply is not None, f"expected a cache hit at t={now}"
    assert ttls(reply) == expected


def assert_miss(cache: AnswerCache, now: float, qname: str = "www.example.com.") -> None:
    assert hit(cache, now, qname=qname) is None, f"expected a miss at t={now}"


# --- positive answers -----------------------------------------------------------------


def test_positive_ttl_counts_down_in_whole_seconds_then_expires() -> None:
    cache = AnswerCache()
    cache.put(key_for(), positive(ttl=60), T0)
    assert_served_with_ttls(cache, T0, [60])
    assert_served_with_ttls(cache, T0 + 0.9, [60])
    assert_served_with_ttls(cache, T0 + 1.0, [59])
    assert_served_with_ttls(cache, T0 + 30.5, [30])
    assert_served_with_ttls(cache, T0 + 59.99, [1])
    assert len(cache) == 1
    assert_miss(cache, T0 + 60)
    assert len(cache) == 0, "an expired entry is removed when met"


def test_clock_going_backwards_never_raises_ttls() -> None:
    cache = AnswerCache()
    cache.put(key_for(), positive(ttl=60), T0)
    assert_served_with_ttls(cache, T0 - 5.5, [60])


def test_lifetime_is_smallest_answer_ttl_and_longer_ttls_are_capped_to_it() -> None:
    response = dns.message.make_response(make_query())
    response.answer.append(
        dns.rrset.from_text("www.example.com.", 3600, "IN", "CNAME", "web.example.com.")
    )
    response.answer.append(dns.rrset.from_text("web.example.com.", 100, "IN", "A", "192.0.2.1"))
    response.authority.append(
        dns.rrset.from_text("example.com.", 20, "IN", "NS", "ns1.example.com.")
    )
    cache = AnswerCache()
    cache.put(key_for(), response.to_wire(), T0)
    assert_served_with_ttls(cache, T0 + 10, [90, 90, 10])
    assert_served_with_ttls(cache, T0 + 50, [50, 50, 0])  # short authority TTL stops at 0
    assert_miss(cache, T0 + 100)


def test_ttl_with_top_bit_set_counts_as_zero_and_is_not_cached() -> None:
    wire = bytearray(positive(ttl=60))
    offset = len(wire) - 16 + 2 + 4  # last A record: pointer, TYPE, CLASS, then TTL
    struct.pack_into("!I", wire, offset, 0x8000_0001)
    cache = AnswerCache()
    cache.put(key_for(), bytes(wire), T0)
    assert len(cache) == 0


def test_zero_ttl_is_not_cached() -> None:
    cache = AnswerCache()
    cache.put(key_for(), positive(ttl=0), T0)
    assert len(cache) == 0


# --- negative answers (RFC 2308) ------------------------------------------------------


@pytest.mark.parametrize(
    ("soa_ttl", "minimum", "lifetime"),
    [(900, 300, 300), (120, 600, 120), (450, 450, 450)],
    ids=["minimum-smaller", "soa-ttl-smaller", "equal"],
)
@pytest.mark.parametrize("nxdomain", [True, False], ids=["nxdomain", "nodata"])
def test_negative_lifetime_is_min_of_soa_ttl_and_minimum(
    soa_ttl: int, minimum: int, lifetime: int, nxdomain: bool
) -> None:
    qname = "nx.example.com."
    cache = AnswerCache()
    cache.put(key_for(qname), negative(soa_ttl, minimum, nxdomain=nxdomain), T0)
    reply = hit(cache, T0 + 10, qname=qname)
    assert reply is not None
    assert reply.rcode() == (dns.rcode.NXDOMAIN if nxdomain else dns.rcode.NOERROR)
    assert ttls(reply) == [lifetime - 10], "the SOA is served with the decrementing negative TTL"
    assert hit(cache, T0 + lifetime - 0.01, qname=qname) is not None
    assert_miss(cache, T0 + lifetime, qname=qname)


def test_negative_answer_without_soa_is_not_cached() -> None:
    response = dns.message.make_response(make_query("nx.example.com."))
    response.set_rcode(dns.rcode.NXDOMAIN)
    cache = AnswerCache()
    cache.put(key_for("nx.example.com."), response.to_wire(), T0)
    assert len(cache) == 0


def test_cname_chain_ending_in_nxdomain_is_bounded_by_soa_and_cname() -> None:
    response = dns.message.make_response(make_query())
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.answer.append(
        dns.rrset.from_text("www.example.com.", 50, "IN", "CNAME", "gone.example.net.")
    )
    response.authority.append(
        dns.rrset.from_text(
            "example.net.", 900, "IN", "SOA", "ns.example.net. h.example.net. 1 2 3 4 300"
        )
    )
    cache = AnswerCache()
    cache.put(key_for(), response.to_wire(), T0)
    assert_served_with_ttls(cache, T0, [50, 50])
    assert_miss(cache, T0 + 50)


# --- clamping -------------------------------------------------------------------------


def test_max_ttl_clamps_lifetime_and_served_ttls() -> None:
    cache = AnswerCache(max_ttl=100)
    cache.put(key_for(), positive(ttl=604_800), T0)
    assert_served_with_ttls(cache, T0 + 1, [99])
    assert_miss(cache, T0 + 100)


def test_min_ttl_keeps_short_answers_longer_but_never_raises_their_ttl() -> None:
    cache = AnswerCache(min_ttl=30)
    cache.put(key_for(), positive(ttl=5), T0)
    assert_served_with_ttls(cache, T0 + 2, [3])
    assert_served_with_ttls(cache, T0 + 20, [0])
    assert_miss(cache, T0 + 30)


def test_min_ttl_also_keeps_zero_ttl_answers() -> None:
    cache = AnswerCache(min_ttl=10)
    cache.put(key_for(), positive(ttl=0), T0)
    assert_served_with_ttls(cache, T0 + 5, [0])


def test_max_negative_ttl_clamps_negative_answers_only() -> None:
    cache = AnswerCache(max_negative_ttl=60)
    cache.put(key_for("nx.example.com."), negative(3600, 3600), T0)
    cache.put(key_for(), positive(ttl=3600), T0)
    assert_served_with_ttls(cache, T0 + 1, [59], qname="nx.example.com.")
    assert_miss(cache, T0 + 60, qname="nx.example.com.")
    assert_served_with_ttls(cache, T0 + 60, [3540])


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        AnswerCache(max_entries=0)
    with pytest.raises(ValueError, match="min_ttl"):
        AnswerCache(min_ttl=10, max_ttl=5)
    with pytest.raises(ValueError, match="max_negative_ttl"):
        AnswerCache(max_negative_ttl=-1)


# --- what is not cached ---------------------------------------------------------------


@pytest.mark.parametrize(
    "rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.FORMERR, dns.rcode.NOTIMP]
)
def test_error_rcodes_are_not_cached(rcode: int) -> None:
    cache = AnswerCache()
    cache.put(key_for(), with_rcode(positive(), rcode), T0)
    assert len(cache) == 0


def test_truncated_answers_are_not_cached() -> None:
    wire = bytearray(positive())
    wire[2] |= 0x02  # TC
    cache = AnswerCache()
    cache.put(key_for(), bytes(wire), T0)
    assert len(cache) == 0


@pytest.mark.parametrize(
    "mangle",
    [lambda w: w[:-1], lambda w: w + b"\x00", lambda w: w[:11], lambda w: w[:20]],
    ids=["cut-rdata", "trailing-byte", "short-header", "cut-question"],
)
def test_malformed_answers_are_not_cached(mangle: object) -> None:
    assert callable(mangle)
    cache = AnswerCache()
    cache.put(key_for(), mangle(positive()), T0)
    assert len(cache) == 0


# --- keys, LRU, counters --------------------------------------------------------------


def test_keys_separate_do_cd_type_and_class() -> None:
    cache = AnswerCache()
    base = key_for()
    variants = [
        base,
        (*base[:3], True, False),
        (*base[:4], True),
        (base[0], 28, 1, False, False),
        (base[0], 1, 3, False, False),
    ]
    for index, key in enumerate(variants):
        cache.put(key, positive(ttl=100 + index), T0)
    assert len(cache) == len(variants)
    question = question_wire("www.example.com.")
    for index, key in enumerate(variants):
        reply = cache.get(key, 1, question, T0)
        assert reply is not None
        assert ttls(dns.message.from_wire(reply)) == [100 + index]


def test_least_recently_used_entry_is_evicted_first() -> None:
    cache = AnswerCache(max_entries=2)
    names = ["a.example.", "b.example.", "c.example."]
    cache.put(key_for(names[0]), positive(qname=names[0]), T0)
    cache.put(key_for(names[1]), positive(qname=names[1]), T0)
    assert hit(cache, T0, qname=names[0]) is not None  # a is now more recent than b
    cache.put(key_for(names[2]), positive(qname=names[2]), T0)
    assert len(cache) == 2
    assert_miss(cache, T0, qname=names[1])
    assert hit(cache, T0, qname=names[0]) is not None
    assert hit(cache, T0, qname=names[2]) is not None


def test_put_again_replaces_and_refreshes() -> None:
    cache = AnswerCache(max_entries=2)
    cache.put(key_for("a.example."), positive(ttl=10, qname="a.example."), T0)
    cache.put(key_for("b.example."), positive(qname="b.example."), T0)
    cache.put(key_for("a.example."), positive(ttl=99, qname="a.example."), T0 + 5)
    cache.put(key_for("c.example."), positive(qname="c.example."), T0 + 5)
    assert_miss(cache, T0 + 5, qname="b.example.")
    assert_served_with_ttls(cache, T0 + 6, [98], qname="a.example.")


def test_counters_and_clear() -> None:
    cache = AnswerCache()
    assert_miss(cache, T0)
    cache.put(key_for(), positive(ttl=5), T0)
    assert hit(cache, T0) is not None
    assert hit(cache, T0 + 1) is not None
    assert_miss(cache, T0 + 5)  # expired
    assert (cache.hits, cache.misses) == (2, 2)
    cache.put(key_for(), positive(ttl=5), T0)
    cache.clear()
    assert len(cache) == 0
    assert_miss(cache, T0)


# --- wire patching --------------------------------------------------------------------


def test_id_and_question_are_the_clients_own_including_0x20_case() -> None:
    cache = AnswerCache()
    cache.put(key_for(), positive(), T0)
    client_name = "wWw.ExAmPlE.cOm."
    reply_wire = cache.get(key_for(), 0xBEEF, question_wire(client_name), T0)
    assert reply_wire is not None
    reply = dns.message.from_wire(reply_wire)
    assert reply.id == 0xBEEF
    assert reply.question[0].name.labels == (b"wWw", b"ExAmPlE", b"cOm", b"")
    # The answer's owner name is a compression pointer to the question: it follows too.
    assert reply.answer[0].name.labels == (b"wWw", b"ExAmPlE", b"cOm", b"")


def test_question_of_another_length_is_a_miss() -> None:
    cache = AnswerCache()
    cache.put(key_for(), positive(), T0)
    assert cache.get(key_for(), 1, question_wire("www.example.org.x."), T0) is None
    assert len(cache) == 1


def test_opt_left_in_by_the_caller_keeps_its_flags() -> None:
    query = dns.message.make_query("www.example.com.", "A", want_dnssec=True)
    response = dns.message.make_response(query)
    response.use_edns(0, dns.flags.DO, 1232)
    response.answer.append(dns.rrset.from_text("www.example.com.", 60, "IN", "A", "192.0.2.1"))
    cache = AnswerCache()
    cache.put(key_for(do=True), response.to_wire(), T0)
    reply_wire = cache.get(key_for(do=True), 7, question_wire("www.example.com."), T0 + 10)
    assert reply_wire is not None
    reply = dns.message.from_wire(reply_wire)
    assert reply.ednsflags & dns.flags.DO
    assert ttls(reply) == [50]


def name(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def test_compression_pointers_in_owner_names_and_rdata_are_walked() -> None:
    """A hand-built message whose names are pointers, pointers to pointers and partly
    compressed names inside MX and SOA RDATA: every TTL must still be found."""
    header = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 2, 1, 1)
    question = name(b"mail", b"example", b"com") + struct.pack("!HH", 15, 1)
    msg = bytearray(header + question)
    # answer 1: owner = pointer to question name (12); MX 10 "mx1" + pointer to "example.com"
    example_com = 12 + 5
    mx_rdata = struct.pack("!H", 10) + b"\x03mx1" + pointer(example_com)
    msg += pointer(12) + struct.pack("!HHIH", 15, 1, 300, len(mx_rdata)) + mx_rdata
    mx1_offset = len(msg) - 2 - 4
    # answer 2: owner = pointer to answer 1's owner (a pointer to a pointer)
    mx_rdata2 = struct.pack("!H", 20) + pointer(mx1_offset)
    msg += (
        pointer(len(header) + len(question))
        + struct.pack("!HHIH", 15, 1, 200, len(mx_rdata2))
        + mx_rdata2
    )
    # authority: SOA for example.com with compressed MNAME and RNAME
    soa_rdata = (
        pointer(mx1_offset)
        + b"\x0ahostmaster"
        + pointer(example_com)
        + struct.pack("!IIIII", 1, 7200, 900, 1209600, 3600)
    )
    msg += pointer(example_com) + struct.pack("!HHIH", 6, 1, 250, len(soa_rdata)) + soa_rdata
    # additional: A for mx1.example.com, owner a pointer into the MX RDATA
    msg += pointer(mx1_offset) + struct.pack("!HHIH", 1, 1, 500, 4) + bytes([192, 0, 2, 25])
    wire = bytes(msg)
    original = dns.message.from_wire(wire)
    assert [rrset.rdtype for rrset in original.answer] == [15]

    cache = AnswerCache()
    key = key_for("mail.example.com.", 15)
    cache.put(key, wire, T0)
    reply_wire = cache.get(key, 1, question_wire("MAIL.example.com.", 15), T0 + 7)
    assert reply_wire is not None
    reply = dns.message.from_wire(reply_wire)
    assert ttls(reply) == [193, 193, 193]  # lifetime 200 (smallest answer TTL), age 7
    mx = {(rd.preference, rd.exchange.to_text()) for rd in reply.answer[0]}
    assert mx == {(10, "mx1.example.com."), (20, "mx1.example.com.")}
    assert reply.authority[0][0].mname.to_text() == "mx1.example.com."
    assert reply.authority[0][0].rname.to_text() == "hostmaster.example.com."
    assert reply.additional[0][0].address == "192.0.2.25"


# --- property: get after put is the same message with aged TTLs -----------------------

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
TTL = st.one_of(
    st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=200_000)
)


@st.composite
def rrsets(draw: st.DrawFn, owners: list[str]) -> dns.rrset.RRset:
    owner = draw(st.sampled_from(owners))
    rdtype = draw(st.sampled_from(["A", "AAAA", "TXT", "MX", "NS"]))
    count = draw(st.integers(min_value=1, max_value=3))
    values = []
    for index in range(count):
        if rdtype == "A":
            values.append(f"192.0.2.{index + 1}")
        elif rdtype == "AAAA":
            values.append(f"2001:db8::{index + 1}")
        elif rdtype == "TXT":
            values.append(f'"{draw(LABEL)}"')
        elif rdtype == "MX":
            values.append(f"{index} {draw(st.sampled_from(owners))}")
        else:
            values.append(draw(st.sampled_from(owners)))
    return dns.rrset.from_text(owner, draw(TTL), "IN", rdtype, *values)


def section(draw: st.DrawFn, owners: list[str], max_size: int) -> list[dns.rrset.RRset]:
    return draw(st.lists(rrsets(owners), max_size=max_size, unique_by=lambda r: (r.name, r.rdtype)))


@st.composite
def responses(draw: st.DrawFn) -> tuple[str, dns.message.Message]:
    zone = ".".join(draw(st.lists(LABEL, min_size=1, max_size=2))) + "."
    qname = ".".join(draw(st.lists(LABEL, min_size=1, max_size=3))) + "." + zone
    owners = [qname, zone, "x." + qname, "ns." + zone]
    qtype = draw(st.sampled_from(["A", "AAAA", "TXT", "MX", "NS"]))
    response = dns.message.make_response(make_query(qname, qtype))
    response.set_rcode(draw(st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN])))
    response.answer.extend(section(draw, owners, 3))
    response.authority.extend(section(draw, owners, 1))
    if draw(st.integers(min_value=0, max_value=3)):  # mostly with an SOA
        response.authority.append(
            dns.rrset.from_text(
                zone,
                draw(TTL),
                "IN",
                "SOA",
                f"ns.{zone} hostmaster.{zone} 1 7200 900 1209600 {draw(TTL)}",
            )
        )
    response.additional.extend(section(draw, owners, 2))
    return qname, response


def reference_lifetime(response: dns.message.Message) -> int:
    """RFC 2308 lifetime for the default limits, computed from the parsed message."""
    answer_min = min((rrset.ttl for rrset in response.answer), default=None)
    negatives = [
        min(rrset.ttl, int(rrset[0].minimum))
        for rrset in response.authority
        if rrset.rdtype == dns.rdatatype.SOA
    ]
    negative_ttl = min(negatives, default=None)
    if response.rcode() == dns.rcode.NXDOMAIN or answer_min is None:
        if negative_ttl is None:
            return 0
        return min(negative_ttl, answer_min if answer_min is not None else negative_ttl, 3_600)
    bound = min(answer_min, negative_ttl if negative_ttl is not None else answer_min)
    return min(bound, 86_400)


def randomly_cased(text: str, flips: list[bool]) -> str:
    assert len(flips) >= len(text)
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=False))


@settings(max_examples=500, deadline=None)
@given(
    generated=responses(),
    elapsed=st.one_of(
        st.floats(min_value=0, max_value=300), st.floats(min_value=0, max_value=250_000)
    ),
    flips=st.lists(st.booleans(), min_size=64, max_size=64),  # names here are < 64 chars
    query_id=st.integers(min_value=0, max_value=0xFFFF),
)
def test_get_after_put_is_the_same_answer_with_aged_ttls(
    generated: tuple[str, dns.message.Message], elapsed: float, flips: list[bool], query_id: int
) -> None:
    qname, response = generated
    wire = response.to_wire()
    original = dns.message.from_wire(wire)
    rdtype = original.question[0].rdtype
    key = key_for(qname, rdtype)
    cache = AnswerCache()
    cache.put(key, wire, T0)

    client_name = randomly_cased(qname, flips)
    now = T0 + elapsed
    reply_wire = cache.get(key, query_id, question_wire(client_name, rdtype), now)

    lifetime = reference_lifetime(original)
    age = math.floor(now - T0)
    if lifetime == 0 or now - T0 >= lifetime:
        event("not cacheable" if lifetime == 0 else "expired")
        assert reply_wire is None
        return
    event("served")
    assert reply_wire is not None
    reply = dns.message.from_wire(reply_wire)
    assert reply.id == query_id
    assert reply.rcode() == original.rcode()
    assert reply.question[0].name.to_text() == client_name
    for got_section, sent_section in zip(reply.sections, original.sections, strict=True):
        assert len(got_section) == len(sent_section)
        for got, sent in zip(got_section, sent_section, strict=True):
            assert (got.name, got.rdtype, got.rdclass) == (sent.name, sent.rdtype, sent.rdclass)
            assert set(got) == set(sent)
            if got.rdtype != dns.rdatatype.OPT:
                assert got.ttl == max(0, min(sent.ttl, lifetime) - age)


def test_memory_is_counted_and_returned_on_eviction_and_expiry() -> None:
    def answer(name: str, ttl: int) -> bytes:
        query = dns.message.make_query(name, "A", use_edns=False)
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(name, ttl, "IN", "A", "192.0.2.1"))
        return response.to_wire()

    cache = AnswerCache(max_entries=2)
    assert cache.bytes == 0
    cache.put(("a.example", 1, 1, False, False), answer("a.example.", 60), 0.0)
    one = cache.bytes
    assert one > len(answer("a.example.", 60))
    cache.put(("a.example", 1, 1, False, False), answer("a.example.", 60), 1.0)
    assert cache.bytes == one  # replacing an entry does not double-count it
    cache.put(("b.example", 1, 1, False, False), answer("b.example.", 5), 0.0)
    cache.put(("c.example", 1, 1, False, False), answer("c.example.", 60), 0.0)
    assert len(cache) == 2 and cache.bytes == 2 * one  # a.example was evicted
    assert cache.get(("b.example", 1, 1, False, False), 1, b"", 10.0) is None  # expired
    assert cache.bytes == one
    cache.clear()
    assert cache.bytes == 0


# --- alias chains, read once when stored --------------------------------------------------


def aliased(qname: str = "www.example.com.", ttl: int = 60) -> bytes:
    response = dns.message.make_response(make_query(qname))
    response.answer.append(dns.rrset.from_text(qname, ttl, "IN", "CNAME", "v16.tiktokcdn.com."))
    response.answer.append(dns.rrset.from_text("v16.tiktokcdn.com.", ttl, "IN", "A",
                                               "192.0.2.9"))
    return response.to_wire()


def test_the_chain_read_when_stored_comes_back_with_every_hit() -> None:
    cache = AnswerCache()
    chain = cache.put(key_for(), aliased(), T0)
    assert chain is not None and chain is not UNREAD
    assert chain.names == ("www.example.com", "v16.tiktokcdn.com")
    question = len(question_wire("www.example.com."))
    for now in (T0, T0 + 1.5, T0 + 59.9):
        parts = cache.parts(key_for(), question, now)
        assert parts is not None and parts[2] is chain  # the same object: nothing re-read
    assert cache.parts(key_for(), question, T0 + 60) is None


def test_an_answer_without_aliases_has_no_chain() -> None:
    cache = AnswerCache()
    assert cache.put(key_for(), positive(), T0) is None
    parts = cache.parts(key_for(), len(question_wire("www.example.com.")), T0)
    assert parts is not None and parts[2] is None


def test_put_reports_the_chain_of_answers_it_does_not_keep() -> None:
    cache = AnswerCache()
    chain = cache.put(key_for(), aliased(ttl=0), T0)  # lifetime 0: read, not kept
    assert chain is not None and chain is not UNREAD and chain.names[1] == "v16.tiktokcdn.com"
    assert len(cache) == 0
    # turned away before the walk: the caller must read the chain itself
    assert cache.put(key_for(), with_rcode(aliased(), dns.rcode.SERVFAIL), T0) is UNREAD
    truncated = bytearray(aliased())
    truncated[2] |= dns.flags.TC >> 8
    assert cache.put(key_for(), bytes(truncated), T0) is UNREAD
    assert cache.put(key_for(), aliased()[:-2], T0) is UNREAD


def test_a_cache_told_not_to_read_chains_keeps_none() -> None:
    cache = AnswerCache(chains=False)
    assert cache.put(key_for(), aliased(), T0) is None
    parts = cache.parts(key_for(), len(question_wire("www.example.com.")), T0)
    assert parts is not None and parts[2] is None


# --- serve-stale: expired entries kept for `serve_stale` seconds ----------------------------


def stale_message(cache: AnswerCache, now: float, qname: str = "www.example.com."
                  ) -> tuple[dns.message.Message, float] | None:
    """`stale` for a client asking `qname`, parsed, with the seconds since expiry."""
    question = question_wire(qname)
    found = cache.stale(key_for(qname), len(question), now)
    if found is None:
        return None
    flags_counts, body, _chain, expired_for = found
    return dns.message.from_wire(b"\x12\x34" + flags_counts + question + body), expired_for


def test_without_serve_stale_an_expired_entry_is_gone() -> None:
    cache = AnswerCache()
    assert cache.serve_stale == 0
    cache.put(key_for(), positive(ttl=60), T0)
    assert stale_message(cache, T0 + 61) is None
    assert_miss(cache, T0 + 61)
    assert len(cache) == 0


def test_an_expired_entry_is_a_miss_but_is_kept_for_serve_stale_seconds() -> None:
    cache = AnswerCache(serve_stale=100)
    cache.put(key_for(), positive(ttl=60), T0)
    assert cache.stale_until(key_for()) == T0 + 160
    assert cache.stale_until(key_for("other.example.")) == 0.0
    for now in (T0 + 60, T0 + 100, T0 + 159.9):
        assert_miss(cache, now)
        assert len(cache) == 1, f"kept at t={now}"
        found = stale_message(cache, now)
        assert found is not None
        message, expired_for = found
        assert ttls(message) == [30]
        assert sorted(rd.address for rd in message.answer[0]) == ["192.0.2.1", "192.0.2.2"]
        assert expired_for == pytest.approx(now - T0 - 60)
    assert cache.misses == 3 and cache.hits == 0, "stale answers count as neither"
    assert stale_message(cache, T0 + 160) is None
    assert_miss(cache, T0 + 160)
    assert len(cache) == 0 and cache.bytes == 0, "gone once past serve_stale"


def test_every_ttl_of_a_stale_answer_is_30_longer_and_shorter_ones_alike() -> None:
    cache = AnswerCache(serve_stale=3_600)
    response = dns.message.make_response(make_query())
    response.answer.append(dns.rrset.from_text("www.example.com.", 5, "IN", "A", "192.0.2.1"))
    response.authority.append(dns.rrset.from_text("example.com.", 3_000, "IN", "NS",
                                                  "ns1.example.com."))
    response.additional.append(dns.rrset.from_text("ns1.example.com.", 2, "IN", "A",
                                                   "192.0.2.53"))
    cache.put(key_for(), response.to_wire(), T0)
    found = stale_message(cache, T0 + 6)
    assert found is not None and ttls(found[0]) == [30, 30, 30]


def test_a_negative_answer_is_kept_stale_too() -> None:
    cache = AnswerCache(serve_stale=600)
    cache.put(key_for("nx.example.com."), negative(300, 120), T0)
    assert_miss(cache, T0 + 121, qname="nx.example.com.")
    found = stale_message(cache, T0 + 121, qname="nx.example.com.")
    assert found is not None
    message = found[0]
    assert message.rcode() == dns.rcode.NXDOMAIN
    [soa] = message.authority
    assert soa.ttl == 30
    assert soa[0].minimum == 120, "the RDATA is as stored: the caller caps MINIMUM"


def test_a_live_entry_is_given_as_stale_0_seconds_after_expiry() -> None:
    cache = AnswerCache(serve_stale=100)
    cache.put(key_for(), positive(ttl=60), T0)
    found = stale_message(cache, T0 + 10)
    assert found is not None and found[1] == 0.0 and ttls(found[0]) == [30]


def test_stale_needs_a_question_of_the_stored_length() -> None:
    cache = AnswerCache(serve_stale=100)
    cache.put(key_for(), positive(ttl=60), T0)
    assert cache.stale(key_for(), len(question_wire("www.example.com.")) + 1, T0 + 61) is None


def test_an_expired_entry_met_is_the_first_to_go_when_the_cache_is_full() -> None:
    cache = AnswerCache(max_entries=2, serve_stale=3_600)
    cache.put(key_for("a.example."), positive(ttl=10, qname="a.example."), T0)
    cache.put(key_for("b.example."), positive(ttl=300, qname="b.example."), T0)
    assert hit(cache, T0 + 1, qname="a.example.") is not None  # b is now the least recent
    assert_miss(cache, T0 + 20, qname="a.example.")  # a has expired: kept, but moved back
    assert stale_message(cache, T0 + 20, qname="a.example.") is not None
    cache.put(key_for("c.example."), positive(qname="c.example."), T0 + 20)
    assert stale_message(cache, T0 + 20, qname="a.example.") is None, "a went, not b"
    assert hit(cache, T0 + 20, qname="b.example.") is not None
    assert hit(cache, T0 + 20, qname="c.example.") is not None


def test_a_fresh_answer_replaces_the_stale_one() -> None:
    cache = AnswerCache(serve_stale=3_600)
    cache.put(key_for(), positive(ttl=10), T0)
    assert_miss(cache, T0 + 50)
    cache.put(key_for(), positive(ttl=60), T0 + 50)
    assert_served_with_ttls(cache, T0 + 51, [59])
    assert len(cache) == 1


def test_serve_stale_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="serve_stale"):
        AnswerCache(serve_stale=-1)


# --- prefetch: entries asked for in the last tenth of their lifetime -----------------------


def test_a_hit_in_the_last_tenth_of_the_lifetime_is_due_once_per_second() -> None:
    cache = AnswerCache()
    due: list[CacheKey] = []
    cache.on_due = due.append
    cache.put(key_for(), positive(ttl=100), T0)
    for age in (0, 50, 89.9):
        assert_served_with_ttls(cache, T0 + age, [100 - int(age)])
    assert due == [], "not before the last tenth"
    assert_served_with_ttls(cache, T0 + 90, [10])
    assert due == [key_for()]
    assert_served_with_ttls(cache, T0 + 90.7, [10])
    assert due == [key_for()], "not again within the same second"
    assert_served_with_ttls(cache, T0 + 91, [9])
    assert due == [key_for()] * 2
    assert_miss(cache, T0 + 100)
    assert due == [key_for()] * 2, "an expired entry is not due"


def test_without_on_due_nothing_is_called_and_hits_are_as_before() -> None:
    cache = AnswerCache()
    assert cache.on_due is None
    cache.put(key_for(), positive(ttl=10), T0)
    for age, ttl in ((0, 10), (0.5, 10), (9, 1), (9.5, 1)):
        assert_served_with_ttls(cache, T0 + age, [ttl])
