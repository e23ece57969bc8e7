"""Per-query cost of regex entries: a naive loop over compiled patterns vs RegexMatcher.

Usage: .venv/bin/python bench/regex_cost.py [--corpora DIR] [--names N] [--repeat R]

Reads the real regex lists in the corpora (Pi-hole regex lists, the aao-fyi
ByteDance `/regex/` list, the regexes and regex-translated rules of the
AdGuard DNS filter) and the Cisco Umbrella top names, checks that both ways
agree on every name, and prints a table of microseconds per query, split into
names some pattern matches and names none does. A script, not a test: the
figures go in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolver.lists.formats import parse_source
from resolver.lists.sources import Format
from resolver.policy.regexes import RegexMatcher, compile_pattern

DEFAULT_CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def patterns_of(path: Path, fmt: Format) -> list[str]:
    parsed = parse_source(path.read_text(encoding="utf-8"), fmt)
    return [pattern for _action, pattern, _line in parsed.regexes]


def naive(patterns: Sequence[str]) -> Callable[[str], int | None]:
    compiled = [compile_pattern(p) for p in patterns]

    def first_match(name: str) -> int | None:
        for index, pattern in enumerate(compiled):
            if pattern.search(name) is not None:
                return index
        return None

    return first_match


def per_query_us(fn: Callable[[str], int | None], names: Sequence[str], repeat: int) -> float:
    """Best-of-`repeat` mean microseconds per call over `names`."""
    if not names:
        return float("nan")
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for name in names:
            fn(name)
        runs.append((time.perf_counter() - started) / len(names) * 1e6)
    return min(runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    lists = args.corpora / "blocklists"
    pihole = lists / "pihole-regex"
    mmotti = patterns_of(pihole / "mmotti-regex.list", Format.REGEX)
    all_pihole = [
        p
        for f in sorted(pihole.glob("*.list"))
        if f.name != "mmotti-whitelist.list"
        for p in patterns_of(f, Format.REGEX)
    ]
    aao = patterns_of(lists / "tiktok" / "aao-fyi-bytedance-block-rgx.txt", Format.ADBLOCK)
    adguard = patterns_of(
        lists / "adguard" / "adguard-dns-filter-without-privacy.txt", Format.ADBLOCK
    )
    sets = {
        "mmotti-regex.list": mmotti,
        "all pihole-regex lists": all_pihole,
        "aao-fyi bytedance /regex/": aao,
        "AdGuard DNS filter regexes": adguard,
        "all of the above": all_pihole + aao + adguard,
    }
    names_file = args.corpora / "toplists" / "umbrella-top-100k.txt"
    names = [n.strip().lower().rstrip(".") for n in names_file.read_text().split("\n")]
    names = [n for n in names if n][: args.names]
    # Names the lists are about, so the "matched" column has enough of them.
    names += [f"{label}.tiktokv.com" for label in ("api", "log", "mon", "v16")] * 50

    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {len(names)} names from {names_file.name}")
    header = ("list", "patterns", "matched", "naive hit", "naive miss", "joined hit",
              "joined miss", "build ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, patterns in sets.items():
        slow = naive(patterns)
        started = time.perf_counter()
        matcher = RegexMatcher(patterns)
        build_ms = (time.perf_counter() - started) * 1e3
        hits: list[str] = []
        misses: list[str] = []
        for name in names:
            expected = slow(name)
            got = matcher.first_match(name)
            if (expected is None) != (got is None):
                raise SystemExit(f"{label}: disagree on {name!r}: naive {expected}, matcher {got}")
            if got is not None and compile_pattern(patterns[got]).search(name) is None:
                raise SystemExit(f"{label}: pattern {got} does not match {name!r}")
            (hits if expected is not None else misses).append(name)
        row = [
            f"{label}",
            str(len(patterns)),
            str(len(hits)),
            f"{per_query_us(slow, hits, args.repeat):.2f}",
            f"{per_query_us(slow, misses, args.repeat):.2f}",
            f"{per_query_us(matcher.first_match, hits, args.repeat):.2f}",
            f"{per_query_us(matcher.first_match, misses, args.repeat):.2f}",
            f"{build_ms:.1f}",
        ]
        print("| " + " | ".join(row) + " |")
    lengths = [len(n) for n in names]
    print(f"# name length: median {statistics.median(lengths)}, max {max(lengths)}; "
          f"re module {re.__name__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
