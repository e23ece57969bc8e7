"""A second dnsfence from another checkout, measured in the same run: before ÷ after.

`bash bench/run.sh --baseline DIR` (or `BENCH_BASELINE=DIR`): DIR is a checkout (a git
worktree, say) of an earlier commit. Its server runs as `python -m resolver serve` with the
main dnsfence's flags and config, but with `PYTHONPATH=DIR` and DIR as working directory,
so that it imports DIR's `resolver` package; `inspect()` checks that before anything runs.
Only the four throughput workloads with the shipped list are measured for it: a speed
change shows there, and the latency, 600k and `--workers` cases would add minutes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.figures import BASELINE, WORKLOADS, mean_of, number, per_cpu, table, times

# the redesign's rule: per-CPU-second figures within 5 % of the earlier commit
KEEP = 0.95


@dataclass(frozen=True, slots=True)
class Checkout:
    directory: Path
    commit: str
    tree: str           # "clean", or what is modified in its resolver/
    resolver_file: str  # where `import resolver` found the package, from the checkout

    @property
    def label(self) -> str:
        return f"dnsfence @{self.commit}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.directory)}

    def as_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "commit": self.commit, "tree": self.tree,
                "resolver_file": self.resolver_file, "label": self.label}


def _git(directory: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                          text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {directory}: {done.stderr.strip()}")
    return done.stdout.strip()


def inspect(directory: Path, python: str) -> Checkout:
    """The checkout at `directory`, after checking its server would import its own code."""
    directory = directory.resolve()
    if not (directory / "resolver" / "__main__.py").is_file():
        raise RuntimeError(f"{directory} is not a dnsfence checkout (no resolver/__main__.py)")
    commit = _git(directory, "rev-parse", "--short", "HEAD")
    dirty = _git(directory, "status", "--porcelain", "--", "resolver")
    checkout = Checkout(directory, commit, "modified" if dirty else "clean", "")
    # the same interpreter, environment and working directory the server will get
    done = subprocess.run([python, "-c", "import resolver; print(resolver.__file__)"],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=directory, env=checkout.env())
    found = done.stdout.strip()
    if done.returncode != 0 or not Path(found).resolve().is_relative_to(directory):
        raise RuntimeError(f"python in {directory} with PYTHONPATH={directory} imports "
                           f"resolver from {found or done.stderr.strip()!r}, not from there")
    return Checkout(directory, commit, checkout.tree, found)


def comparison(results: dict[str, Any]) -> list[str]:
    """This checkout ÷ the baseline, per workload and run, shipped list; [] without one."""
    info = results.get("baseline")
    runs = results["runs"]
    if not info or not runs:
        return []
    label, this = info["label"], results["machine"]["commit"]
    rows = []
    for workload in WORKLOADS:
        ours = [per_cpu(r, "dnsfence", "shipped", workload) for r in runs]
        theirs = [per_cpu(r, BASELINE, "shipped", workload) for r in runs]
        ratios = [a / b if a and b else None for a, b in zip(ours, theirs, strict=True)]
        both = mean_of(ours), mean_of(theirs)
        overall = both[0] / both[1] if both[0] and both[1] else None
        verdict = "–" if overall is None else ("within 5 %" if overall >= KEEP else "slower")
        rows.append([workload, " / ".join(number(v) for v in ours),
                     " / ".join(number(v) for v in theirs),
                     " / ".join(times(v) for v in ratios), times(overall), verdict])
    runs_label = " / ".join(f"run {r['run']}" for r in runs)
    return [f"### This checkout ({this}) ÷ {label}, same run, shipped list", "",
            f"Queries per server CPU-second, {runs_label}; the ratio of the means decides "
            f"(≥ {KEEP:.2f}× keeps the rule). Baseline: `{info['directory']}` "
            f"(resolver/ {info['tree']}), imported from `{info['resolver_file']}`.", "",
            *table(["workload", f"dnsfence {this}", label, "this ÷ baseline",
                    "ratio of means", "verdict"], rows), ""]
