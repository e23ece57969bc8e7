"""Cache of upstream answers, kept as wire bytes and served with their remaining TTL.

The cache sits below policy in the pipeline and stores only upstream answers, so a
policy change applies at once without a flush. Entries are wire bytes (OPT already
removed by the caller) pre-split at every TTL field: serving a hit is a join of
stored segments with freshly packed TTLs, never a parse. The body rendered for a
given whole-second age is memoised on the entry, so repeated hits within the same
second are one concatenation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from resolver.dns import message
from resolver.dns.aliases import UNREAD, AliasChain, Unread
from resolver.dns.message import RCODE_MASK, TC, Framed, MalformedMessage, Rcode
from resolver.dns.ttl_fields import split_at_ttls

# Bound here, not imported by name: CPython 3.11 compiles a method call on an imported
# name as a module attribute load, which makes a bound method per call (~30 ns).
HEADER = message.HEADER
U16 = message.U16
U32 = message.U32

STALE_TTL = 30
"""The TTL of every record in a stale answer (RFC 8767 section 4 recommends 30 seconds):
long enough that clients do not ask again at once, short enough that they soon get the
fresh answer once an upstream is back."""
_STALE_TTL_FIELD = U32.pack(STALE_TTL)

CacheKey = tuple[str, int, int, bool, bool]
"""(qname in lower case, qtype, qclass, DO, CD): answers differ along each of these."""

_CACHED_RCODES = frozenset((int(Rcode.NOERROR), int(Rcode.NXDOMAIN)))
_NXDOMAIN = int(Rcode.NXDOMAIN)


class _Entry:
    """One cached answer: fixed segments between TTL fields plus a per-age memo of the body."""

    __slots__ = (
        "chain",
        "flags_counts",
        "footprint",
        "lifetime",
        "memo_age",
        "memo_body",
        "question_len",
        "segments",
        "stored_at",
        "ttls",
    )

    def __init__(
        self,
        flags_counts: bytes,
        question_len: int,
        segments: tuple[bytes, ...],
        ttls: tuple[int, ...],
        stored_at: float,
        lifetime: int,
        chain: AliasChain | None,
    ) -> None:
        self.chain = chain  # what a hit's check looks up, read once when stored
        self.flags_counts = flags_counts  # header bytes 2..12
        self.question_len = question_len
        self.segments = segments  # len(ttls) + 1 pieces of everything after the question
        self.ttls = ttls
        self.stored_at = stored_at
        self.lifetime = lifetime
        self.memo_age = -1
        self.memo_body = b""
        # the stored bytes twice (segments + the memoised body) plus object overheads
        self.footprint = 2 * sum(map(len, segments)) + 64 * len(segments) + 400

    def body(self, age: int) -> bytes:
        """Everything after the question, with each TTL lowered by `age` seconds (not below 0)."""
        if age != self.memo_age:
            segments = self.segments
            parts = [segments[0]]
            pack = U32.pack
            for ttl, segment in zip(self.ttls, segments[1:], strict=True):
                parts.append(pack(ttl - age if ttl > age else 0))
                parts.append(segment)
            self.memo_body = b"".join(parts)
            self.memo_age = age
        return self.memo_body


class AnswerCache:
    """LRU cache of upstream answers keyed by question and the DO/CD bits.

    Lifetime of an entry: for a positive answer the smallest answer TTL; for a negative
    one (NXDOMAIN, or NOERROR with an empty answer section = NODATA) min(SOA TTL, SOA
    MINIMUM) of the authority SOA (RFC 2308 section 5). Negative answers without an SOA
    are not cached at all: RFC 2308 section 5 says they SHOULD NOT be, since nothing
    bounds them and they can loop between caches. A positive answer that also carries
    an authority SOA (a CNAME chain ending in NXDOMAIN/NODATA) is bounded by both.
    The lifetime is clamped to [min_ttl, max_ttl] (max_negative_ttl for negative
    answers); a lifetime of 0 is not cached, nor is any rcode other than NOERROR and
    NXDOMAIN (SERVFAIL is a transient upstream state; the forwarder deals with it), nor
    TC=1 answers, nor messages that do not parse or have other than one question.

    Every TTL in a stored answer is capped at the entry's lifetime, so no record is
    served with a TTL longer than the cache itself trusts it: this makes max_ttl visible
    to clients and gives the negative-answer SOA the decrementing TTL RFC 2308 section 5
    asks for. A record whose own TTL is shorter than the lifetime (a short authority
    record, or a lifetime raised by min_ttl) counts down to 0 and is then served at 0.

    Serve-stale (RFC 8767): an entry is kept for `serve_stale` seconds after it expires,
    for `stale` to hand out when no upstream answers. A lookup that finds an entry expired
    moves it to the least recently used end, so expired entries are the first to go when
    the cache is full; while the upstreams are down nothing is stored, so nothing pushes
    them out then.

    `now` is a clock in seconds chosen by the caller and used for both put and get;
    time.monotonic() is best. With a wall clock, a step back never raises a served TTL
    (age is floored at 0) and a step forward only expires entries early.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        min_ttl: int = 0,
        max_ttl: int = 86_400,
        max_negative_ttl: int = 3_600,
        chains: bool = True,
        serve_stale: int = 0,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        if not 0 <= min_ttl <= max_ttl:
            raise ValueError(f"need 0 <= min_ttl <= max_ttl, got {min_ttl} and {max_ttl}")
        if max_negative_ttl < 0:
            raise ValueError(f"max_negative_ttl must not be negative, got {max_negative_ttl}")
        self.max_entries = max_entries
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        if serve_stale < 0:
            raise ValueError(f"serve_stale must not be negative, got {serve_stale}")
        self.serve_stale = serve_stale
        """Seconds after expiry an entry is kept for `stale`; 0 drops it at expiry."""
        self.on_due: Callable[[CacheKey], None] | None = None
        """Called by `parts` with the key of an entry asked for in the last tenth of its
        lifetime, at most once per whole second of its age (prefetch); None: never."""
        self.chains = chains
        """Whether answers' alias chains are read (for CNAME inspection) or left unread."""
        self.hits = 0
        self.misses = 0
        self.bytes = 0
        """Approximate memory held by entries: wire bytes plus per-entry overhead."""
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every entry; the hit and miss counters are kept."""
        self._entries.clear()
        self.bytes = 0

    def _forget(self, entry: _Entry) -> None:
        self.bytes -= entry.footprint

    def put(self, key: CacheKey, response: bytes, now: float, qname: str | None = None,
            framed: Framed | None = None) -> AliasChain | Unread | None:
        """Store `response` (wire, OPT removed) under `key` if it is cacheable.

        `qname`, the question's name as `Query.qname` spells it, saves reading it again;
        `framed`, the records of `response` as a walk already found them, saves that walk.
        Returns the answer's alias chain, read in the same walk, whether or not the answer
        was stored (the forward path checks it too), or UNREAD if the message was turned
        away before that walk.
        """
        if len(response) < 12:
            return UNREAD
        _id, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(response)
        rcode = flags & RCODE_MASK
        if flags & TC or qdcount != 1 or rcode not in _CACHED_RCODES:
            return UNREAD
        try:
            question_end, segments, ttls, answer_min, negative_ttl, chain = split_at_ttls(
                response, qdcount, ancount, nscount, arcount, self.chains, qname, framed)
        except MalformedMessage:
            return UNREAD
        # comparisons rather than min() and max(): a builtin call each, once per answer
        if rcode == _NXDOMAIN or ancount == 0:
            if negative_ttl is None:
                return chain
            ttl = negative_ttl
            if answer_min is not None and answer_min < ttl:
                ttl = answer_min
            if self.max_negative_ttl < ttl:
                ttl = self.max_negative_ttl
        else:
            assert answer_min is not None  # ancount > 0 and OPT never sits in the answer
            ttl = answer_min
            if negative_ttl is not None and negative_ttl < ttl:
                ttl = negative_ttl
            if self.max_ttl < ttl:
                ttl = self.max_ttl
        lifetime = ttl if ttl > self.min_ttl else self.min_ttl
        if lifetime <= 0:
            return chain
        entry = _Entry(response[2:12], question_end - 12, tuple(segments),
                       tuple([ttl if ttl < lifetime else lifetime for ttl in ttls]),
                       now, lifetime, chain)
        entries = self._entries
        old = entries.pop(key, None)  # then the new entry goes in at the recent end
        if old is not None:
            self._forget(old)
        entries[key] = entry
        self.bytes += entry.footprint
        if len(entries) > self.max_entries:
            self._forget(entries.popitem(last=False)[1])
        return chain

    def same_until(self, key: CacheKey, now: float) -> float:
        """Until when `parts` gives the same bytes for `key`: its TTLs drop by whole seconds
        of age, and the entry expires. `now` if there is no live entry."""
        entry = self._entries.get(key)
        if entry is None:
            return now
        age = now - entry.stored_at
        if age >= entry.lifetime:
            return now
        return entry.stored_at + min(entry.lifetime, (int(age) if age > 0 else 0) + 1)

    def get(self, key: CacheKey, query_id: int, question: bytes, now: float) -> bytes | None:
        """The cached answer for `key` re-addressed to this query, or None.

        `question` is the client's question section (name, type, class) as sent: it
        replaces the stored one so the client sees its own 0x20 case. Its length must
        equal the stored one's, which holds whenever the key's name matches; otherwise
        this is a miss, because splicing another length would break compression pointers.
        """
        parts = self.parts(key, len(question), now)
        if parts is None:
            return None
        flags_counts, body, _chain = parts
        return b"".join((U16.pack(query_id), flags_counts, question, body))

    def parts(self, key: CacheKey, question_len: int, now: float
              ) -> tuple[bytes, bytes, AliasChain | None] | None:
        """(header bytes 2..12, everything after the question with TTLs aged, the answer's
        alias chain), or None.

        The pieces `get` joins, for a caller that builds the client's answer itself (the
        pipeline fits ID, flags, question and OPT in one join) and checks the chain.
        """
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        age = now - entry.stored_at
        if age >= entry.lifetime:
            if age < entry.lifetime + self.serve_stale:
                self._entries.move_to_end(key, last=False)  # kept, but first to go
            else:
                del self._entries[key]
                self._forget(entry)
            self.misses += 1
            return None
        if question_len != entry.question_len:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        whole = int(age) if age > 0 else 0
        if whole == entry.memo_age:  # the same second as the entry's last hit: most hits
            return entry.flags_counts, entry.memo_body, entry.chain
        # a new second of age: render the TTLs anew, and see whether it is due for prefetch
        on_due = self.on_due
        if on_due is not None and whole * 10 >= entry.lifetime * 9:
            on_due(key)
        return entry.flags_counts, entry.body(whole), entry.chain

    def stale_until(self, key: CacheKey) -> float:
        """Until when `stale` has an answer for `key` (0 without an entry): a dict lookup,
        for the forward path to know whether the upstream may be skipped."""
        entry = self._entries.get(key)
        return 0.0 if entry is None else entry.stored_at + entry.lifetime + self.serve_stale

    def stale(self, key: CacheKey, question_len: int, now: float
              ) -> tuple[bytes, bytes, AliasChain | None, float] | None:
        """What `parts` gives, for an entry that expired less than `serve_stale` seconds
        ago, with every TTL at STALE_TTL; and the seconds since it expired. None if there is
        no such entry (or `serve_stale` is 0).

        An entry still live (stored while this query waited for the upstreams) is given the
        same way, 0 seconds after expiry: the query got no answer of its own either way.
        Neither hits nor misses are counted: the caller counts stale answers.
        """
        entry = self._entries.get(key)
        if entry is None or question_len != entry.question_len or not self.serve_stale:
            return None
        expired_for = now - entry.stored_at - entry.lifetime
        if expired_for >= self.serve_stale:
            return None
        return (entry.flags_counts, _STALE_TTL_FIELD.join(entry.segments), entry.chain,
                max(expired_for, 0.0))
