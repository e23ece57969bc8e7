"""Where a query's Python time goes, in process: `Pipeline.handle` (and `forward`) per case,
this checkout against another, interleaved, and a breakdown by stage and step.

    python -m bench.handle_cost [--baseline DIR] [--rounds 6] [--queries 20000]
    python -m bench.handle_cost --breakdown [--queries 20000]
    python -m bench.handle_cost --instructions [--baseline DIR]   # valgrind's callgrind

Every feature at its default, as `bench.groups_cost` sets them: the query log in mode
`blocked` (writing to a scratch file), CNAME inspection on, 3 client groups of 200
networks with the client (127.0.0.1) in one of them, every list exempting another group,
the shipped lists. The cases:

- blocked-new: a fresh random label below a blocked name per query (no memo has it), as
  dnsperf asks (no EDNS); blocked-new-edns: the same with an OPT record, as dig asks;
- blocked-repeat, cached-repeat: the same query bytes again (the repeat stage answers);
- cached: a cached name with its letter case varied per query (not a repeat: the chain
  down to the cache stage);
- forwarded: a new name per query, `handle` then `forward` through the real upstream
  stage and forwarder, whose socket send is replaced by the upstream's reply at once
  (OPT included), so the figure is the reply's way back in Python: the forwarder's
  checks, the cache's store, CNAME inspection, fitting it to the client, the counts.

Each checkout runs in its own process (`PYTHONPATH` = its root), the order swapped every
round (ABBA); a round times each case over `--queries` queries with the thread's CPU
clock (the query log's writer thread is not counted; its per-record cost is measured on
its own in the breakdown). Reports the median µs per query and the spread over rounds.
`--instructions` counts instructions per query instead (callgrind; the difference
between two query counts, so start-up cancels out): noise does not reach that figure.
Only 127.0.0.1 is ever named, and nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if sys.path and sys.path[0] == str(REPO / "bench"):
    sys.path.pop(0)  # run as a script (a worker): bench/profile.py must not shadow `profile`
CASES = ("blocked-new", "blocked-new-edns", "blocked-repeat", "cached-repeat", "cached",
         "forwarded")
CLIENT = "127.0.0.1"


def _groups_setting() -> str:
    """The 3 groups of `bench.groups_cost` (kept in step with it; not imported, so that the
    worker runs the same code against any checkout)."""
    press = [f"10.1.{n}.0/24" for n in range(70)]
    guests = [f"10.9.{n}.0/24" for n in range(60)] + [f"fd00:9:{n:x}::/48" for n in range(5)]
    staff = ["127.0.0.0/8"] + [f"10.2.{n}.0/24" for n in range(64)]
    lines = ["groups:"]
    for name, networks in (("press-office", press), ("guests", guests), ("staff", staff)):
        lines.append(f"  {name}: [{', '.join(repr(n) for n in networks)}]")
    return "\n".join(lines) + "\n"


def _config_text(work: Path) -> str:
    return (f"timezone: Europe/Brussels\nblocklists: {work / 'lists'}\n"
            f"state_dir: {work / 'state'}\n"
            "server:\n  allow_clients: ['127.0.0.0/8', '::1/128', '10.0.0.0/8',"
            " '192.168.0.0/16', 'fc00::/7']\n"
            "upstream:\n  servers: ['127.0.0.1:9']\n" + _groups_setting())


def _lists(work: Path) -> list[str]:
    """The shipped lists, each exempting the press office; the plain names they block."""
    import yaml

    target = work / "lists"
    target.mkdir(parents=True)
    plain = []
    for path in sorted((REPO / "blocklists").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        (target / path.name).write_text(text.rstrip("\n") + "\nexcept_clients: [press-office]\n",
                                        encoding="utf-8")
        plain += [n for n in yaml.safe_load(text).get("domains", []) if "*" not in n]
    return plain


def wire(name: str, edns: bool, qid: int = 0x1234, qtype: int = 1) -> bytes:
    """A query as dnsperf (no EDNS) or dig (OPT, 1232 bytes) sends it."""
    question = b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\x00"
    header = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00" \
        + (b"\x01" if edns else b"\x00")
    opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00" if edns else b""
    return header + question + qtype.to_bytes(2, "big") + b"\x00\x01" + opt


def reply_for(query: bytes) -> bytes:
    """The upstream's answer to one of our upstream queries: A 192.0.2.1 for 300 s, and an
    OPT, as the bench's Unbound answers."""
    qd_end = 12
    while query[qd_end]:
        qd_end += query[qd_end] + 1
    question = query[12:qd_end + 5]
    header = query[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x01"
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"
    return header + question + answer + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


def _label(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                   for _ in range(rng.randint(5, 12)))


class Setup:
    """One pipeline as a worker builds it, and the packets of every case."""

    def __init__(self, work: Path, queries: int, rounds: int, pool: int = 0,
                 cases: tuple[str, ...] = CASES) -> None:
        from resolver.config.load import load_config
        from resolver.lists.load import load_policy
        from resolver.pipeline import Pipeline
        from resolver.policy.period import PolicyHolder

        plain = _lists(work)
        path = work / "dnsfence.yaml"
        path.write_text(_config_text(work), encoding="utf-8")
        self.config = load_config(path)
        group_names = [g.name for g in self.config.groups]
        policy = load_policy(self.config.blocklists, self.config.timezone,
                             groups=group_names).policy
        assert policy is not None
        self.holder = PolicyHolder(policy)
        self.pipeline = Pipeline.from_config(self.config, self.holder)
        rng = random.Random(17)
        self.queries = queries
        count = max(pool, queries * (rounds + 2))
        counts = {case: count if case in cases else 0 for case in CASES}
        self.blocked = [wire(f"{_label(rng)}.{rng.choice(plain)}", False)
                        for _ in range(counts["blocked-new"])]
        self.blocked_edns = [wire(f"{_label(rng)}.{rng.choice(plain)}", True)
                             for _ in range(counts["blocked-new-edns"])]
        self.blocked_repeat = [wire(f"x{n}.{plain[n % len(plain)]}", False) for n in range(64)]
        self.hot = [f"www.hot{n}.example" for n in range(64)]
        self.forwarded = [wire(f"f{n}.{_label(rng)}.example", False)
                          for n in range(counts["forwarded"])]
        self.cached = [wire("".join(c.upper() if rng.random() < 0.5 else c
                                    for c in self.hot[n % len(self.hot)]), False)
                       for n in range(counts["cached"])]
        self.cached_repeat = [wire(name, False) for name in self.hot]
        self._patch_upstream()
        self._warm()

    def _patch_upstream(self) -> None:
        """The forwarder's send answers at once with the upstream's reply (nothing is sent):
        patched on the instance, or, where the forwarder is compiled (no instance to patch),
        a subclass of it in its place."""
        from resolver.stages import upstream
        from resolver.upstream.forwarder import Forwarder

        stage = self.pipeline.stage(upstream.UpstreamStage)

        def send(forwarder: Any, exchange: Any, server: Any, timeout: float) -> bool:
            exchange.server = server
            exchange.query_id = 0x4242
            forwarder._accept(exchange, reply_for(
                b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01" + exchange.question
                + exchange.opt))
            return True

        forwarder = stage._forwarder
        try:
            forwarder._send = lambda *args: send(forwarder, *args)
        except AttributeError:
            instant = type("InstantForwarder", (Forwarder,), {"_send": send})
            stage._forwarder = upstream.forwarder_for(
                self.config.upstream.servers, self.config, forwarder_class=instant)

    def _warm(self) -> None:
        import time

        now = time.time()
        for packets in (self.blocked_repeat, self.blocked_repeat, self.blocked_repeat):
            for data in packets:
                assert isinstance(self.pipeline.handle(data, CLIENT, now), bytes)
        for name in self.hot:
            self.forward(wire(name, False), now)
        for packets in (self.cached_repeat, self.cached_repeat):
            for data in packets:
                assert isinstance(self.pipeline.handle(data, CLIENT, now), bytes)

    def forward(self, data: bytes, now: float) -> None:
        from resolver.stages.contract import Request

        request = self.pipeline.handle(data, CLIENT, now)
        assert isinstance(request, Request), request
        got: list[bytes] = []
        self.pipeline.forward(request, got.append)
        assert got and got[0][3] & 0x0F == 0, got

    def packets(self, case: str, round_number: int) -> list[bytes]:
        n = self.queries
        fresh = slice(n * round_number, n * (round_number + 1))
        if case == "blocked-new":
            return self.blocked[fresh]
        if case == "blocked-new-edns":
            return self.blocked_edns[fresh]
        if case == "forwarded":
            return self.forwarded[fresh]
        if case == "cached":
            return self.cached[fresh]
        cycle = {"blocked-repeat": self.blocked_repeat, "cached-repeat": self.cached_repeat}[case]
        return [cycle[i % len(cycle)] for i in range(n)]

    def run(self, case: str, packets: list[bytes]) -> float:
        """CPU seconds of this thread for the packets of one case, per query, in µs."""
        import time

        handle = self.pipeline.handle
        now = time.time()
        if case == "forwarded":
            forward = self.forward
            started = time.thread_time()
            for data in packets:
                forward(data, now)
        else:
            started = time.thread_time()
            for data in packets:
                handle(data, CLIENT, now)
        return (time.thread_time() - started) / len(packets) * 1e6


def worker(args: argparse.Namespace) -> int:
    """Runs inside the measured checkout: prints {case: [µs per round]} as JSON."""
    import asyncio
    import gc

    async def measure() -> dict[str, list[float]]:
        with tempfile.TemporaryDirectory(prefix="dnsfence-handle.") as scratch:
            cases = tuple(args.case or CASES)
            setup = Setup(Path(scratch), args.queries, args.rounds, args.pool, cases)
            gc.collect()
            gc.freeze()  # as the server does before serving
            for case in cases:  # once through, untimed
                setup.run(case, setup.packets(case, args.rounds + 1))
            timed: dict[str, list[float]] = {case: [] for case in cases}
            for number in range(args.rounds):
                for case in cases:
                    timed[case].append(setup.run(case, setup.packets(case, number)))
            setup.pipeline.close()
            return timed

    print(json.dumps(asyncio.run(measure())))
    return 0


def _run_worker(root: Path, extra: list[str]) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONHASHSEED="17")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", *extra],
                         env=env, cwd=root, check=True, capture_output=True, text=True,
                         timeout=900)
    result: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _where(root: Path) -> str:
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "resolver"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return f"{commit}{'+' if dirty else ''}"


def compare(args: argparse.Namespace) -> int:
    roots = {"this": REPO}
    if args.baseline:
        roots["base"] = args.baseline.resolve()
    labels = {name: _where(root) for name, root in roots.items()}
    per: dict[str, dict[str, list[float]]] = {name: {} for name in roots}
    extra = ["--queries", str(args.queries), "--rounds", str(args.inner)]
    for case in args.case or ():
        extra += ["--case", case]
    for number in range(args.rounds):
        order = list(roots) if number % 4 in (0, 3) else list(reversed(roots))
        for name in order:
            for case, values in _run_worker(roots[name], extra).items():
                per[name].setdefault(case, []).extend(values)
        print(f"round {number + 1} done", file=sys.stderr, flush=True)
    print(f"µs per query: median (best–worst) of {args.rounds} x {args.inner} passes")
    head = f"{'case':<18}" + "".join(f"{name + ' @' + labels[name]:>26}" for name in roots)
    if "base" in roots:
        head += f"{'÷ base: median':>16}{'best':>6}"
    print(head)
    for case in per["this"]:
        line = f"{case:<18}"
        medians, best = {}, {}
        for name in roots:
            values = per[name][case]
            medians[name], best[name] = statistics.median(values), min(values)
            line += f"{medians[name]:>11.3f} ({best[name]:.2f}–{max(values):.2f})"
        if "base" in roots:
            line += f"{medians['this'] / medians['base']:>16.3f}" \
                    f"{best['this'] / best['base']:>6.3f}"
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handle_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=6, choices=range(1, 41),
                        help="worker processes per checkout, order swapped (ABBA)")
    parser.add_argument("--inner", type=int, default=3, choices=range(1, 21),
                        help="timed passes over the cases within each worker")
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--case", action="append", choices=CASES)
    parser.add_argument("--breakdown", action="store_true",
                        help="µs per stage and step of this checkout")
    parser.add_argument("--instructions", action="store_true",
                        help="instructions per query, counted by callgrind")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.breakdown:
        from bench.handle_breakdown import breakdown
        return breakdown(args.queries)
    if args.instructions:
        from bench.handle_breakdown import instructions
        return instructions(args, REPO)
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
