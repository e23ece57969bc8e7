"""What a query got (its kind and the query log's verdict), as enums.

Kept apart from `resolver.stages.contract` because the optional compiled build leaves this
module interpreted: an Enum whose members carry attributes set in `__init__` is not
something the compiler supports, and reading a member's attributes costs the same either
way. `contract` re-exports every name here, so stages import them from there.
"""

from __future__ import annotations

import enum

from resolver.dns.answers import EdeCode


class ResponseKind(enum.Enum):
    """What a query got, with the counter it adds to and the Extended DNS Error it carries.

    The lower-case name is the verdict a query log writes ("blocked", "cached" ...).
    """

    BLOCKED = ("blocked", EdeCode.BLOCKED)
    CACHED = ("cache_hits", None)
    FORWARDED = ("forwarded", None)
    REFUSED = ("refused", EdeCode.PROHIBITED)
    LOCAL = ("local", None)
    STALE = ("stale", EdeCode.STALE_ANSWER)
    SERVFAIL = ("servfail", EdeCode.NO_REACHABLE_AUTHORITY)
    REJECTED = ("rejected", None)
    RATE_LIMITED = ("rate_limited", None)
    """Over its client's rate limit: dropped, or answered truncated (the slip)."""

    def __init__(self, counter: str, ede: EdeCode | None) -> None:
        self.counter = counter
        self.ede = ede
        self.index = len(self.__class__.__members__)
        """0, 1, ... in declaration order: a list index, where an enum key would cost a
        Python-level hash per query."""

    @property
    def verdict(self) -> str:
        return self.name.lower()


# The kinds as module globals, for the stages to import: reading a member from the enum
# class costs more than a global, once per query.
BLOCKED = ResponseKind.BLOCKED
CACHED = ResponseKind.CACHED
FORWARDED = ResponseKind.FORWARDED
REFUSED = ResponseKind.REFUSED
LOCAL = ResponseKind.LOCAL
STALE = ResponseKind.STALE
SERVFAIL = ResponseKind.SERVFAIL
REJECTED = ResponseKind.REJECTED
RATE_LIMITED = ResponseKind.RATE_LIMITED


class LogVerdict(enum.Enum):
    """What the query log and the metrics say of an answer beside its kind."""

    OBSERVED = "observed"
    """Answered as usual in a list's warning period, though the ban will block it."""


OBSERVED = LogVerdict.OBSERVED
