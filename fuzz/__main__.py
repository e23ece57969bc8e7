"""python -m fuzz TARGET [libFuzzer options] [corpus directories or crash files]

TARGET is `parser` or `chain`. The `resolver` package is instrumented for coverage as it
is imported, then libFuzzer (through atheris) runs the target on inputs it mutates from the
corpus. The first corpus directory (by default `build/fuzz/TARGET/corpus`) is filled with
the target's seeds when it is empty; a crash file given instead is run once, to replay it.
Crash files (the input that broke a property) go to `build/fuzz/TARGET/` unless
`-artifact_prefix=` says otherwise. Every `REPORT_EVERY` inputs, and after the last of
`-runs=N`, one line reports the inputs run and the most CPU the code under test took for
one. A finding exits non-zero, like any exception the target lets out.

Common options: -runs=N (inputs, then stop), -max_total_time=S, -seed=N, -dict=FILE.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import atheris

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("parser", "chain")
REPORT_EVERY = 100_000
DICTIONARY = Path(__file__).resolve().parent / "dns.dict"


def _usage() -> str:
    return (__doc__ or "").strip()


def _load(target: str) -> ModuleType:
    """The target module, with `resolver` instrumented as it is imported (and only it)."""
    with atheris.instrument_imports(include=["resolver"]):
        return importlib.import_module(f"fuzz.{target}")


def _fill(corpus: Path, seeds: Iterator[bytes]) -> int:
    """Write each distinct seed to `corpus`, named by its hash as libFuzzer names them."""
    corpus.mkdir(parents=True, exist_ok=True)
    written = 0
    for seed in seeds:
        path = corpus / hashlib.sha1(seed).hexdigest()  # a file name, as libFuzzer's
        if not path.exists():
            path.write_bytes(seed)
            written += 1
    return written


def _option(args: list[str], name: str) -> str | None:
    for arg in args:
        if arg.startswith(f"-{name}="):
            return arg.split("=", 1)[1]
    return None


def _counting(one: Callable[[bytes], float], runs: int | None) -> Callable[[bytes], None]:
    """`one`, reporting progress: inputs run, their rate, and the most CPU the code under
    test took for one input (`one` returns it; the budget is enforced inside)."""
    count = 0
    most = 0.0
    started = time.monotonic()

    def counted(data: bytes) -> None:
        nonlocal count, most
        most = max(most, one(data))
        count += 1
        if count % REPORT_EVERY == 0 or count == runs:
            elapsed = time.monotonic() - started
            print(f"fuzz: {count:,} inputs in {elapsed:.0f} s ({count / elapsed:,.0f}/s), "
                  f"at most {most * 1000:.2f} ms of CPU in the code under test for one, "
                  "no finding", file=sys.stderr, flush=True)

    return counted


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(_usage())
    target = argv[1]
    args = argv[2:]
    module = _load(target)
    work = REPO / "build" / "fuzz" / target
    directories = [a for a in args if not a.startswith("-")]
    if not directories:
        directories.append(str(work / "corpus"))
        args.append(directories[0])
    corpus = Path(directories[0])
    if not corpus.is_file():  # a file is one input to run again, not a corpus
        added = 0 if corpus.is_dir() and any(corpus.iterdir()) else _fill(corpus, module.seeds())
        print(f"fuzz: corpus {corpus} ({added} seeds added)", file=sys.stderr)
    if _option(args, "artifact_prefix") is None:
        work.mkdir(parents=True, exist_ok=True)
        args.insert(0, f"-artifact_prefix={work}/")
    if _option(args, "dict") is None and DICTIONARY.is_file():
        args.insert(0, f"-dict={DICTIONARY}")
    module.prepare()  # builds what the target keeps between inputs, before counting starts
    gc.freeze()  # and keeps it out of every later collection
    runs = _option(args, "runs")
    atheris.Setup([argv[0], *args], _counting(module.one, int(runs) if runs else None))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
