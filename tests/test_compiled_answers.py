"""The compiled hot modules answer exactly as their Python source does, byte for byte: the
fuzzer's seeds (the packet corpora of ../shared/corpora/packets, made queries and upstream
shapes, from each client, over UDP and TCP) and the pipeline's hypothesis strategies go to
two processes, one compiled and one on the source (tests/compiled_twin.py).

Needs the compiled build (`make build`): a failure under CI, a skip elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz import chain as chain_target
from tests.compiled_twin import Twin
from tests.integration.harness import in_ci
from tests.test_pipeline import grouped_traffic, traffic

BATCH = 200


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[Twin, Twin]]:
    compiled, pure = Twin(pure=False), Twin(pure=True)
    try:
        assert not pure.compiled, pure.description
        if not compiled.compiled:
            message = f"the hot modules are not compiled here ({compiled.description})"
            if in_ci():
                pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
            pytest.skip(message)
        yield compiled, pure
    finally:
        compiled.close()
        pure.close()


def same(twins: tuple[Twin, Twin], batch: dict[str, object]) -> int:
    compiled, pure = twins
    expected, got = pure.answers(batch), compiled.answers(batch)
    assert len(got) == len(expected)
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
        assert mine == theirs, f"answers to input {index} of the batch differ"
    return sum(1 for answers in expected for a in (answers if isinstance(answers, list)
                                                   else [answers]) if a)


def test_every_fuzz_seed_gets_the_same_answers(twins: tuple[Twin, Twin]) -> None:
    seeds = [seed.hex() for seed in chain_target.seeds()]
    assert len(seeds) > 1000
    answered = 0
    for start in range(0, len(seeds), BATCH):
        answered += same(twins, {"chain": seeds[start:start + BATCH]})
    assert answered > len(seeds)  # most inputs are answered, three times each


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=traffic())
def test_the_pipelines_traffic_gets_the_same_answers(
        twins: tuple[Twin, Twin], stream: list[tuple[bytes, float, str, bool]]) -> None:
    same(twins, {"traffic": "office",
                 "stream": [[data.hex(), now, client, tcp] for data, now, client, tcp in stream]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=grouped_traffic())
def test_grouped_traffic_gets_the_same_answers(
        twins: tuple[Twin, Twin], stream: list[tuple[bytes, float, str]]) -> None:
    same(twins, {"traffic": "grouped",
                 "stream": [[data.hex(), now, client, False] for data, now, client in stream]})
