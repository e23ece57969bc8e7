"""Special-use names answered here and never forwarded: `resolver.arpa` (RFC 9462).

Discovery of Designated Resolvers (DDR) lets a client ask its resolver for
`_dns.resolver.arpa` SVCB and switch to the encrypted resolver named in the answer. A
forwarder that passed the question on would hand clients the upstream's encrypted
resolver, around every block here. RFC 9462 section 6.4 has a resolver that does not
offer DDR answer locally: `_dns.resolver.arpa` (and the zone apex) exist with no data
(NODATA, NOERROR with the zone's SOA), every other name below it does not (NXDOMAIN).
The answers follow from the question alone, so they are made here, after access control
(a refused client learns nothing) and before the policy (no list can change them).
"""

from __future__ import annotations

from typing import Final

from resolver.config.settings import Config
from resolver.dns import answers
from resolver.dns.message import Rcode
from resolver.stages.contract import LOCAL, Request, Stage, StageSetup

# Final: the compiled build reads these as constants, not from the module's dict per query.
RESOLVER_ARPA: Final = "resolver.arpa"
DDR_NAME: Final = "_dns.resolver.arpa"
_SUFFIX: Final = "." + RESOLVER_ARPA


class SpecialUseStage(Stage):
    """NODATA for `resolver.arpa` and `_dns.resolver.arpa`, NXDOMAIN below; others pass."""

    __slots__ = ("_answered", "_negative_ttl", "_udp_size")

    COUNTERS = (LOCAL.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._answered = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        query = request.query
        qname = query.qname
        if not qname.endswith(_SUFFIX) and qname != RESOLVER_ARPA:
            return None
        self._answered += 1
        request.kind = LOCAL
        if qname in (DDR_NAME, RESOLVER_ARPA):
            # the name clients ask on every network change: worth repeating by bytes
            request.same_until = request.period.until
            rcode = Rcode.NOERROR
        else:
            rcode = Rcode.NXDOMAIN
        return answers.local_negative(query, RESOLVER_ARPA, rcode, self._negative_ttl,
                                      self._udp_size)

    def counters(self) -> dict[str, int]:
        return {LOCAL.counter: self._answered}

    def reconfigure(self, config: Config) -> None:
        self._negative_ttl = config.blocking.negative_ttl
        self._udp_size = config.server.edns_udp_size
