"""Reloads with several workers cost no memory per worker: the policy is built once per
reload and every worker shares it (measured with the 600k list, as bench/reload_memory.py
does for docs/BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import LARGE_LIST
from bench.reload_memory import measure, table

from .harness import Unbound

RELOADS = 5
MOST = 1.3  # Pss after the reloads, at most this many times Pss after start-up


@pytest.mark.slow
def test_pss_after_five_reloads_stays_near_pss_after_start_up(unbound: Unbound,
                                                               tmp_path: Path) -> None:
    if not LARGE_LIST.exists():
        pytest.skip(f"the 600k-name corpus is not there ({LARGE_LIST})")
    phases = measure(tmp_path, unbound.address, workers=2, reloads=RELOADS)
    assert len(phases) == RELOADS + 1
    assert all(len(phase.processes) == 3 for phase in phases), table(phases)  # none left over
    assert phases[-1].pss_mb <= MOST * phases[0].pss_mb, table(phases)
