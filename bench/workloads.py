"""Generated inputs: the bench-only 600k blocklist and the dnsperf query files.

Everything is derived from the corpora with a fixed seed, so two runs (and two machines)
send the same queries in the same order.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import (
    LARGE_LIST,
    SHIPPED_LISTS,
    TOPLIST,
    BlockedNames,
    allowed_names,
    read_domains_file,
    shipped_entries,
)

SEED = 20230320
HOT_SET = 1_000
UPSTREAM_ZONES = 50_000

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def write_large_blocklist(directory: Path, source: Path, names: Sequence[str],
                          style: str | None = None) -> Path:
    """The 600k list as dnsfence reads it.

    style "sources" (the default) writes a list whose `sources:` points at the file, as an
    admin would; "inline" writes every name under `domains:` (BENCH_LIST_STYLE=inline), to
    measure YAML at that size. Both mean: each name and everything below it.
    """
    style = style or os.environ.get("BENCH_LIST_STYLE", "sources")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hagezi-union.yaml"
    header = ("name: hagezi-union\n"
              f"description: bench only; the {len(names)} names of {source.name}\n"
              "reference: dnsfence bench (bench/workloads.py)\n"
              "effective: 2000-01-01\n"
              "timezone: UTC\n")
    with path.open("w", encoding="utf-8") as out:
        out.write(header)
        if style == "sources":
            out.write(f"sources:\n  - path: {source}\n    format: domains\n"
                      "    match: subtree\n")
        elif style == "inline":
            out.write("domains:\n")
            out.writelines(f"  - {name}\n" for name in names)
        else:
            raise ValueError(f"BENCH_LIST_STYLE must be inline or sources, not {style!r}")
    return directory


def blocklist_variants(workdir: Path) -> list[BlockedNames]:
    """(1) the shipped lists as they are; (2) the 600k-name union list, bench-only."""
    plain, globs = shipped_entries(SHIPPED_LISTS)
    large = read_domains_file(LARGE_LIST)
    large_dir = write_large_blocklist(workdir / "blocklists-600k", LARGE_LIST, large)
    return [
        BlockedNames("shipped", SHIPPED_LISTS, tuple(plain), tuple(globs)),
        BlockedNames("600k", large_dir, tuple(large), ()),
    ]


def _label(rng: random.Random, low: int = 4, high: int = 12) -> str:
    return "".join(rng.choices(_ALPHABET, k=rng.randint(low, high)))


def blocked_name(rng: random.Random, blocked: Sequence[str]) -> str:
    """A random name one or two labels below a random blocked name."""
    base = rng.choice(blocked)
    if rng.random() < 0.25:
        return f"{_label(rng)}.{_label(rng, 2, 6)}.{base}"
    return f"{_label(rng)}.{base}"


@dataclass(frozen=True, slots=True)
class QueryFiles:
    """dnsperf input files ("name TYPE" per line) for one blocklist variant."""

    blocked: Path
    hot: Path          # the hot set once each: the warm-up
    cached: Path       # the hot set, shuffled, repeated (dnsperf loops over it)
    forwarded: Path    # distinct names under the upstream's zones, each asked once
    mixed: Path        # 85 % hot, 10 % blocked, 5 % distinct misses, asked once
    mixed_latency: Path  # the same mix with other miss names, for the fixed-rate run


def _write(path: Path, names: Sequence[str]) -> Path:
    with path.open("w", encoding="ascii") as out:
        out.writelines(f"{name} A\n" for name in names)
    return path


@dataclass(frozen=True, slots=True)
class Names:
    """The allowed names: the upstream's zones, and the hot set clients ask all day."""

    zones: tuple[str, ...]
    hot: tuple[str, ...]


def allowed(variants: Sequence[BlockedNames]) -> Names:
    candidates = read_domains_file(TOPLIST)
    zones = allowed_names(candidates, variants)[:UPSTREAM_ZONES]
    return Names(tuple(zones), tuple(zones[:HOT_SET]))


def distinct(prefix: str, zones: Sequence[str], count: int, rng: random.Random) -> list[str]:
    """`count` names never asked before: `<prefix><n>.<zone>`, zones in random order."""
    order = list(zones)
    rng.shuffle(order)
    return [f"{prefix}{n}.{order[n % len(order)]}" for n in range(count)]


def mixed_names(rng: random.Random, hot: Sequence[str], blocked: Sequence[str],
                misses: list[str], count: int) -> list[str]:
    out = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.85:
            out.append(rng.choice(hot))
        elif draw < 0.95:
            out.append(blocked_name(rng, blocked))
        else:
            out.append(misses.pop() if misses else f"{_label(rng, 16, 20)}.{rng.choice(hot)}")
    return out


def query_files(directory: Path, variant: BlockedNames, names: Names, *,
                size: int) -> QueryFiles:
    """The workloads for one variant; `size` is the length of the once-only files.

    Each file has its own seeded generator, so changing one workload leaves the others'
    queries unchanged. Forwarded, miss and latency-miss names use distinct prefixes
    (f, m, l) so no workload warms the cache for another.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tag = variant.label

    def rng(kind: str) -> random.Random:
        return random.Random(f"{SEED}-{kind}-{tag}")

    hot = list(names.hot)
    blocked_rng = rng("blocked")
    blocked = [blocked_name(blocked_rng, variant.plain) for _ in range(200_000)]
    cached_rng = rng("cached")
    cached = [cached_rng.choice(hot) for _ in range(100_000)]
    forwarded = distinct("f", names.zones, size, rng("forwarded"))
    mixed_rng = rng("mixed")
    misses = distinct("m", names.zones, size // 10, mixed_rng)
    mixed = mixed_names(mixed_rng, hot, variant.plain, misses, size)
    latency_rng = rng("latency")
    latency_misses = distinct("l", names.zones, 2_000, latency_rng)
    mixed_latency = mixed_names(latency_rng, hot, variant.plain, latency_misses, 30_000)
    return QueryFiles(
        blocked=_write(directory / f"blocked-{tag}.txt", blocked),
        hot=_write(directory / f"hot-{tag}.txt", hot),
        cached=_write(directory / f"cached-{tag}.txt", cached),
        forwarded=_write(directory / f"forwarded-{tag}.txt", forwarded),
        mixed=_write(directory / f"mixed-{tag}.txt", mixed),
        mixed_latency=_write(directory / f"mixed-latency-{tag}.txt", mixed_latency),
    )
