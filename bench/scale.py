"""Scale of the policy engine: load time, memory and lookup cost as lists grow.

Run: .venv/bin/python bench/scale.py [--quick]
Each case runs in a fresh subprocess so that RSS is the case's own. Prints a
Markdown table for docs/BENCHMARKS.md. Not a test: it asserts nothing.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LARGE = REPO.parent / "shared" / "corpora" / "blocklists" / "large" / "hagezi-union-onlydomains.txt"
TOPLIST = REPO.parent / "shared" / "corpora" / "toplists" / "umbrella-top-100k.txt"

CASE = r'''
import gc, json, random, sys, time, timeit
from pathlib import Path
started = time.perf_counter()
from resolver.lists.load import load_policy
imported = time.perf_counter()
result = load_policy(Path(sys.argv[1]))
loaded = time.perf_counter()
assert result.policy is not None, [str(p) for p in result.errors][:5]
gc.collect()
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
hwm = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
index = result.policy.index
names = [l.strip() for l in open(sys.argv[2]) if l.strip()]
rng = random.Random(7)
sample = [rng.choice(names) for _ in range(20000)]
now = time.time()
lookup = index.lookup
def run():
    for n in sample:
        lookup(n, now)
per = min(timeit.repeat(run, number=1, repeat=5)) / len(sample) * 1e6
blocked = sum(1 for n in sample if lookup(n, now) is not None)
print(json.dumps({"import_s": imported - started, "load_s": loaded - imported, "rss_mb": rss,
                  "hwm_mb": hwm, "lookup_us": per, "entries": result.policy.size,
                  "sample_blocked": blocked}))
'''


def synthetic(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    label = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?\Z")
    words = [w for w in (line.strip().split(".")[0] for line in TOPLIST.open())
             if label.match(w)][:20000]
    tlds = ["com", "net", "org", "io", "de", "fr", "co.uk", "info", "xyz", "app"]
    seen: set[str] = set()
    with path.open("w") as out:
        while len(seen) < count:
            name = (f"{rng.choice(words)}{rng.randrange(100000)}."
                    f"{rng.choice(words)}.{rng.choice(tlds)}")
            if name not in seen:
                seen.add(name)
                out.write(name + "\n")


def case(label: str, source: Path, lookups: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        lists = Path(tmp) / "blocklists"
        lists.mkdir()
        (lists / "big.yaml").write_text(
            f"name: big\nreference: scale benchmark\neffective: 2024-01-01\n"
            f"sources:\n  - path: {source}\n    format: domains\n    match: subtree\n")
        done = subprocess.run([sys.executable, "-c", CASE, str(lists), str(lookups)],
                              capture_output=True, text=True, cwd=REPO, check=True)
    figures: dict[str, object] = json.loads(done.stdout)
    figures["case"] = label
    return figures


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # lookups: half names that are on the big lists' shape, half popular real names
        lookups = work / "lookups.txt"
        top = [line.strip() for line in TOPLIST.open() if line.strip()][:20000]
        lookups.write_text("\n".join(top) + "\n")
        sizes = [1_000, 100_000, 1_000_000] + ([] if quick else [3_000_000])
        for size in sizes:
            path = work / f"synthetic-{size}.txt"
            synthetic(path, size)
            rows.append(case(f"synthetic {size:,}", path, lookups))
        if LARGE.exists():
            rows.append(case("hagezi union (real, 609k)", LARGE, lookups))
    print("| list | entries | load s | RSS after load MB | peak RSS MB | lookup µs/name |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['case']} | {r['entries']:,} | {r['load_s']:.2f} | {r['rss_mb']:.0f} | "
              f"{r['hwm_mb']:.0f} | {r['lookup_us']:.2f} |")
    base = next(r for r in rows if r["case"] == "synthetic 1,000")["lookup_us"]
    for r in rows:
        print(f"- {r['case']}: lookup {float(r['lookup_us']) / float(base):.2f}× the 1k figure")


if __name__ == "__main__":
    main()
