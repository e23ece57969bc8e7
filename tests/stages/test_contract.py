"""The stage contract: what a response kind stands for, what a stage does by default, and
that every stage of the chain keeps the contract."""

from __future__ import annotations

import pytest

from resolver.dns.answers import EdeCode
from resolver.pipeline import CHAIN, counter_names
from resolver.stages.contract import (
    DROP,
    AnswersLater,
    AnswersNow,
    ObservesAnswers,
    ResponseKind,
    Stage,
    StageSetup,
)
from resolver.stages.repeat import RepeatStage
from tests.stages.fakes import T0, office_config, query_wire, request_for, setup_of


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


def test_drop_is_an_empty_answer_not_none() -> None:
    assert DROP == b"" and DROP is not None and not DROP


def test_a_request_starts_with_no_kind_and_nothing_lasting() -> None:
    setup = setup_of()
    request = request_for(setup, query_wire("www.example.com"), now=T0, tcp=True)
    assert request.kind is None and request.same_until == 0.0
    assert request.now == T0 and request.tcp and request.client == "127.0.0.1"
    assert request.period is setup.policy.current(T0)


def test_a_stage_by_default_counts_nothing_and_ignores_reconfigure_and_close() -> None:
    stage = Stage(setup_of())
    assert Stage.COUNTERS == ()
    assert stage.counters() == {}
    stage.reconfigure(office_config(**{"server.edns_udp_size": 4096}))
    stage.close()
    assert stage.counters() == {}
    assert not isinstance(stage, AnswersNow) and not isinstance(stage, AnswersLater)


@pytest.mark.parametrize("stage_class", CHAIN, ids=lambda cls: cls.__name__)
def test_every_chain_stage_is_a_stage_and_declares_its_counters(
        stage_class: type[Stage]) -> None:
    assert issubclass(stage_class, Stage)
    stage = stage_class(StageSetup(office_config(), setup_of().policy))
    try:
        reported = set(stage.counters())
        assert reported <= set(stage_class.COUNTERS), \
            f"{stage_class.__name__} reports {sorted(reported - set(stage_class.COUNTERS))}" \
            " without declaring them"
        assert set(stage.series()) <= set(stage_class.SERIES), \
            f"{stage_class.__name__} reports series it does not declare"
        assert isinstance(stage, AnswersNow | AnswersLater | ObservesAnswers)
    finally:
        stage.close()


def test_the_chains_last_stage_answers_later_and_only_later() -> None:
    stages = [cls(setup_of()) for cls in CHAIN]
    try:
        later = [s for s in stages if isinstance(s, AnswersLater)]
        answering = [s for s in stages if isinstance(s, AnswersNow | AnswersLater)]
        assert later and later[-1] is answering[-1]
        assert not isinstance(answering[-1], AnswersNow)
        # what follows the tail only observes
        for stage in stages[stages.index(later[-1]) + 1:]:
            assert isinstance(stage, ObservesAnswers)
    finally:
        for stage in stages:
            stage.close()


def test_the_kinds_a_repeat_counts_are_declared_by_the_chain() -> None:
    """The repeat stage counts each repeated kind under that kind's counter, which the
    stage that makes that kind declares (so the workers' shared slots include it)."""
    repeatable = (ResponseKind.BLOCKED, ResponseKind.CACHED)  # the answers marked lasting
    assert {kind.counter for kind in repeatable} <= set(counter_names())
    assert "repeats" in RepeatStage.COUNTERS
