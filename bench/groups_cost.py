"""What client groups cost: a server whose lists apply per client group against one with
no groups, interleaved (the workloads of `bench.setting_cost`).

    python -m bench.groups_cost [--rounds 4] [--seconds 3] [--work DIR]

The grouped server has 3 groups of 200 networks in all (`groups:`); the benchmark's
client, 127.0.0.1, is in one of them (staff), so every decision takes the grouped path:
the client's groups are looked up per query, every memo is kept per set of groups, and
every rule of the shipped lists carries an audience (`except_clients: [press-office]`,
which spares 70 networks the client is not in), so each candidate rule is checked against
the client's groups. The figures are the paired ratios grouped ÷ none. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bench import interleaved, setting_cost


def groups_setting() -> str:
    """3 groups, 200 networks: press-office 70, guests 65 (5 of them IPv6), staff 65 (the
    benchmark's loopback client among them)."""
    press = [f"10.1.{n}.0/24" for n in range(70)]
    guests = [f"10.9.{n}.0/24" for n in range(60)] + [f"fd00:9:{n:x}::/48" for n in range(5)]
    staff = ["127.0.0.0/8"] + [f"10.2.{n}.0/24" for n in range(64)]
    assert len(press) + len(guests) + len(staff) == 200
    lines = ["groups:"]
    for name, networks in (("press-office", press), ("guests", guests), ("staff", staff)):
        lines.append(f"  {name}: [{', '.join(repr(n) for n in networks)}]")
    return "\n".join(lines) + "\n"


def grouped_lists(shipped: Path, target: Path) -> Path:
    """The shipped lists, each exempting the press office."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(shipped, target)
    for path in sorted(target.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.rstrip("\n") + "\nexcept_clients: [press-office]\n",
                        encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.groups_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 21))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a new one)")
    args = parser.parse_args(argv)
    variants = {"none": "", "grouped": groups_setting()}
    return interleaved.measured(
        "groups", args.work,
        lambda work: setting_cost.compare(variants, args.rounds, args.seconds, work,
                                          lists={"grouped": grouped_lists}),
        lambda results: setting_cost.summary(results, "client groups"))


if __name__ == "__main__":
    sys.exit(main())
