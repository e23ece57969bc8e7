"""Short fuzz runs, as `make fuzz` runs them but 20,000 inputs each: any finding fails.

Each run is `python -m fuzz TARGET` in a subprocess (libFuzzer exits the process on a
finding) with a fixed seed, a fresh corpus directory filled with the target's seeds, and a
time bound. A run with an impossible CPU budget shows that a finding does fail a run and
leaves its input behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNS = 20_000
SECONDS = 240
"""At most this long per run: about 3 s for the reader and 30 s for the chain on 2 cores."""


def fuzz(target: str, tmp_path: Path, replay: Path | None = None, runs: int = RUNS,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A run on a corpus in `tmp_path`, or on the one input `replay`."""
    command = [sys.executable, "-m", "fuzz", target, f"-runs={runs}", "-seed=1",
               f"-max_total_time={SECONDS}", f"-artifact_prefix={tmp_path}/",
               str(replay or tmp_path / "corpus")]
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    # one stream: libFuzzer reports on stderr, atheris prints the exception on stdout
    return subprocess.run(command, cwd=REPO, env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=SECONDS + 60,
                          check=False)


def assert_clean_run(result: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    tail = result.stdout[-4000:]
    assert result.returncode == 0, f"the fuzzer found something:\n{tail}"
    assert re.search(rf"fuzz: {RUNS:,} inputs in .* no finding", result.stdout), tail
    assert not list(tmp_path.glob("crash-*")), tail
    assert len(list((tmp_path / "corpus").iterdir())) > 100  # the seeds were written


@pytest.mark.parametrize("target", ["parser", "chain"])
def test_a_short_run_finds_nothing(target: str, tmp_path: Path) -> None:
    assert_clean_run(fuzz(target, tmp_path), tmp_path)


def test_a_finding_fails_the_run_and_keeps_its_input(tmp_path: Path) -> None:
    result = fuzz("chain", tmp_path, runs=50, env={"FUZZ_BUDGET_MS": "0"})
    assert result.returncode != 0
    assert "Finding: input of" in result.stdout and "ms of CPU (budget 0 ms)" in result.stdout
    [crash] = tmp_path.glob("crash-*")
    again = fuzz("chain", tmp_path, crash, runs=1, env={"FUZZ_BUDGET_MS": "0"})
    assert again.returncode != 0 and "Finding: input of" in again.stdout
    within = fuzz("chain", tmp_path, crash, runs=1)  # the usual budget: nothing to find
    assert within.returncode == 0, within.stdout[-2000:]
