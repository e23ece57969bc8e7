"""The stage contract: the request, what a stage does by default, and that every stage of
the chain declares what it counts."""

from __future__ import annotations

import pytest

from resolver.pipeline import CHAIN, counter_names
from resolver.stages.contract import DROP, ResponseKind, Stage, StageSetup
from resolver.stages.repeat import RepeatStage
from tests.stages.fakes import T0, office_config, query_wire, request_for, setup_of


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
    finally:
        stage.close()


def test_the_kinds_a_repeat_counts_are_declared_by_the_chain() -> None:
    """The repeat stage counts each repeated kind under that kind's counter, which the
    stage that makes that kind declares (so the workers' shared slots include it)."""
    repeatable = (ResponseKind.BLOCKED, ResponseKind.CACHED)  # the answers marked lasting
    assert {kind.counter for kind in repeatable} <= set(counter_names())
    assert "repeats" in RepeatStage.COUNTERS
