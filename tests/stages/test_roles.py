"""The roles a stage takes in a query: the base stage has none, every chain stage has one,
and the chain ends with the one stage that answers later."""

from __future__ import annotations

import pytest

from resolver.pipeline import CHAIN
from resolver.stages.contract import Stage
from resolver.stages.roles import AnswersLater, AnswersNow, ObservesAnswers
from tests.stages.fakes import setup_of


def test_the_base_stage_takes_no_role() -> None:
    stage = Stage(setup_of())
    assert not isinstance(stage, AnswersNow) and not isinstance(stage, AnswersLater)
    assert not isinstance(stage, ObservesAnswers)


@pytest.mark.parametrize("stage_class", CHAIN, ids=lambda cls: cls.__name__)
def test_every_chain_stage_answers_or_observes(stage_class: type[Stage]) -> None:
    stage = stage_class(setup_of())
    try:
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
