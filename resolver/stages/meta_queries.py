"""Zone transfers and meta-classes, answered here as Unbound answers them.

A recursive service does not transfer zones: AXFR and IXFR (over UDP or TCP) get REFUSED
with RA clear. Questions in class 0 or NONE are not questions at all (REFUSED), and one in
class ANY gets NOERROR with no data. Forwarded, an upstream's REFUSED for a transfer
counted as that upstream failing, so three `dig AXFR` put it in hold-down for everyone;
and a class-ANY question waited for the deadline. One comparison per query otherwise.
"""

from __future__ import annotations

from resolver.config.settings import Config
from resolver.dns import answers
from resolver.stages.contract import LOCAL, Request, Stage, StageSetup

CLASS_IN = 1
CLASS_NONE = 254
CLASS_ANY = 255
TRANSFERS = frozenset((251, 252))  # IXFR, AXFR


class MetaQueryStage(Stage):
    """REFUSED for zone transfers and classes 0 and NONE; NOERROR for class ANY."""

    __slots__ = ("_answered", "_udp_size")

    COUNTERS = (LOCAL.counter,)

    def __init__(self, setup: StageSetup) -> None:
        self._answered = 0
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        query = request.query
        if query.qtype < 251 and query.qclass == 1:  # IN, below IXFR: nearly every query
            return None
        qclass = query.qclass
        size = self._udp_size
        if query.qtype in TRANSFERS:
            answer = answers.refused(query, None, udp_size=size, recursion=False)
        elif qclass == CLASS_ANY:
            answer = answers.no_data(query, size)
        elif qclass == 0 or qclass == CLASS_NONE:
            answer = answers.refused(query, None, udp_size=size)
        else:
            return None  # CHAOS, HESIOD, private classes: the upstream's to answer
        self._answered += 1
        request.kind = LOCAL
        request.same_until = request.period.until  # follows from the question alone
        return answer

    def counters(self) -> dict[str, int]:
        return {LOCAL.counter: self._answered}

    def reconfigure(self, config: Config) -> None:
        self._udp_size = config.server.edns_udp_size
