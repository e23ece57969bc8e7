"""`dnsfence report` over a large query log: wall time and peak memory.

Run: .venv/bin/python bench/report_bench.py [--lines N] [--days D] [--keep DIR]
Writes N log lines (default 1,000,000) in the query log's exact format into a temporary
directory: 60 days, four lists, ~2,000 clients (anonymised /24s), ~5,000 names with a
Zipf-like popularity, split like a rotated log (100,000 lines a file, plus a torn last
line), with blocklists whose bans start in the middle. Then runs `dnsfence report --json`
on it as a child process and reports its wall time and peak RSS (target: < 10 s and
< 200 MB for 1,000,000 lines), and checks the report counted every record.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LISTS = (("tiktok", 0.45, "2023-03-20"), ("ads", 0.30, "2023-01-01"),
         ("malware", 0.15, "2023-02-01"), ("gambling", 0.10, "2023-03-01"))
START = datetime(2023, 2, 1, tzinfo=UTC)
PER_FILE = 100_000


def write_blocklists(directory: Path) -> None:
    directory.mkdir()
    for name, _, effective in LISTS:
        (directory / f"{name}.yaml").write_text(
            f"name: {name}\nreference: bench\neffective: {effective}\n"
            f"timezone: Europe/Brussels\ndomains:\n  - {name}.example\n", encoding="utf-8")


def write_log(live: Path, lines: int, days: int, clients: int, names: int,
              seed: int = 11) -> None:
    """`lines` records in time order over `days`, the oldest in the highest-numbered file."""
    rng = random.Random(seed)
    hosts = [f"10.{i // 250}.{i % 250}.0" for i in range(clients)]
    by_list = {name: [f"h{k}.{name}.example" for k in range(names // len(LISTS))]
               for name, _, _ in LISTS}
    weights = [1 / (k + 1) for k in range(names // len(LISTS))]
    list_names = [name for name, _, _ in LISTS]
    list_picks = rng.choices(list_names, [share for _, share, _ in LISTS], k=lines)
    step = timedelta(days=days) / lines
    files = (lines + PER_FILE - 1) // PER_FILE
    for index in range(files):
        number = files - 1 - index
        path = live if number == 0 else Path(f"{live}.{number}")
        first, last = index * PER_FILE, min(lines, (index + 1) * PER_FILE)
        picks = {name: iter(rng.choices(by_list[name], weights, k=last - first))
                 for name in list_names}
        with path.open("w", encoding="utf-8") as out:
            for n in range(first, last):
                moment = START + step * n
                ts = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
                list_name = list_picks[n]
                name = next(picks[list_name])
                out.write(f'{{"ts": "{ts}", "client": "{rng.choice(hosts)}", "group": "", '
                          f'"name": "{name}", "type": "{"A" if n % 3 else "AAAA"}", '
                          f'"verdict": "blocked", "rcode": "NXDOMAIN", "list": "{list_name}", '
                          f'"rule": "{list_name}.example", "upstream": "", "ms": null, '
                          f'"proto": "udp"}}\n')
            if number == 0:
                out.write('{"ts": "2023-04-02T00:00:00.0')  # a torn last line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--names", type=int, default=5_000)
    parser.add_argument("--keep", type=Path, help="write the log here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="dnsfence-report-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_blocklists(root / "blocklists")
    (root / "dnsfence.yaml").write_text("timezone: Europe/Brussels\nstate_dir: state\n",
                                        encoding="utf-8")
    (root / "state").mkdir()
    live = root / "state" / "querylog.jsonl"
    write_log(live, args.lines, args.days, args.clients, args.names)
    size = sum(f.stat().st_size for f in live.parent.iterdir())
    print(f"wrote {args.lines:,} lines ({size / 2**20:.0f} MiB, "
          f"{len(list(live.parent.iterdir()))} files) in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "resolver", "report", "--config",
                           str(root / "dnsfence.yaml"), "--json"],
                          capture_output=True, text=True, env=env, check=False, timeout=600)
    wall = time.perf_counter() - before
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    doc = json.loads(done.stdout)
    counted = doc["blocked"] == args.lines and doc["log"]["skipped_lines"] == 1
    days = len(doc["lists"][0]["days"])
    print(f"| report over {args.lines:,} lines ({size / 2**20:.0f} MiB, {days} days, "
          f"{len(doc['lists'])} lists) | {wall:.2f} s | {peak_mib:.0f} MiB peak RSS | "
          f"{'all records counted' if counted else 'COUNTS WRONG'} |")
    if args.keep is None:
        for path in sorted(root.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        root.rmdir()
    return 0 if counted else 1


if __name__ == "__main__":
    sys.exit(main())
