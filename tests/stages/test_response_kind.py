"""What each response kind stands for: its Extended DNS Error, verdict and counter."""

from __future__ import annotations

from resolver.dns.answers import EdeCode
from resolver.stages.response_kind import ResponseKind


def test_each_kinds_ede_is_the_code_its_answers_carry() -> None:
    codes: dict[ResponseKind, int | None] = {kind: kind.ede for kind in ResponseKind}
    assert codes == {
        ResponseKind.BLOCKED: 15, ResponseKind.REFUSED: 18, ResponseKind.SERVFAIL: 22,
        ResponseKind.STALE: 3, ResponseKind.CACHED: None, ResponseKind.FORWARDED: None,
        ResponseKind.LOCAL: None, ResponseKind.REJECTED: None, ResponseKind.RATE_LIMITED: None}
    assert ResponseKind.BLOCKED.ede is EdeCode.BLOCKED
    assert ResponseKind.REFUSED.ede is EdeCode.PROHIBITED
    assert ResponseKind.SERVFAIL.ede is EdeCode.NO_REACHABLE_AUTHORITY
    assert ResponseKind.STALE.ede is EdeCode.STALE_ANSWER


def test_the_verdicts_are_exactly_these() -> None:
    assert sorted(kind.verdict for kind in ResponseKind) == sorted(
        ["blocked", "cached", "forwarded", "refused", "local", "stale", "servfail",
         "rejected", "rate_limited"])


def test_each_kind_counts_under_its_counter() -> None:
    assert {kind.verdict: kind.counter for kind in ResponseKind} == {
        "blocked": "blocked", "cached": "cache_hits", "forwarded": "forwarded",
        "refused": "refused", "local": "local", "stale": "stale", "servfail": "servfail",
        "rejected": "rejected", "rate_limited": "rate_limited"}
