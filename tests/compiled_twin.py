"""Two processes with the same chain, one on the compiled hot modules and one on their Python
source, so a test can compare their answers byte for byte (tests/test_compiled_answers.py).

Run as `python -m tests.compiled_twin`, this is one twin: it says on its first line whether
it runs compiled, then reads JSON lines, each a batch of queries, and writes one JSON line of
answers (hex, or null for no answer) for each. `Twin` starts one and talks to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from resolver.compiled_modules import PURE_PYTHON_ENV

REPO = Path(__file__).resolve().parent.parent
FIXED_NOW = 1_700_000_000.0
"""The fuzz chain's inputs are answered at this instant in both twins (the chain would take
the clock's, which differs between two processes)."""


class Twin:
    """One twin process: `compiled` says which build it runs."""

    def __init__(self, *, pure: bool) -> None:
        env = {key: value for key, value in os.environ.items() if key != PURE_PYTHON_ENV}
        if pure:
            env[PURE_PYTHON_ENV] = "1"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.compiled_twin"], cwd=REPO, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.description = self._read()["hot_modules"]
        self.compiled = self.description.startswith("compiled")

    def _read(self) -> Any:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the twin exited ({self._process.wait()})")
        return json.loads(line)

    def answers(self, batch: dict[str, Any]) -> list[Any]:
        """Send one batch (see `answer`) and return the twin's answers."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(batch) + "\n")
        self._process.stdin.flush()
        found = self._read()
        assert isinstance(found, list)
        return found

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)


def _hex(answer: bytes | None) -> str | None:
    return answer.hex() if answer else None


def answer(batch: dict[str, Any]) -> list[Any]:
    """The answers to one batch, in this process.

    `{"chain": [input hex, ...]}`: each fuzz-chain input (control byte, query, upstream
    message; fuzz/chain.py) asked three times from a fresh chain state, as the fuzzer does.
    `{"traffic": "office" | "grouped", "stream": [[query hex, now, client, tcp], ...]}`: a
    stream of tests/test_pipeline.py's strategies through a fresh pipeline whose tail
    answers every forwarded query at once.
    """
    if "chain" in batch:
        return [_chain_answers(bytes.fromhex(data)) for data in batch["chain"]]
    return _traffic_answers(batch["traffic"], batch["stream"])


def _chain_answers(data: bytes) -> list[str | None]:
    from fuzz.chain import CLIENTS, SHAPED, TCP, prepare, split
    from resolver.stages.contract import Request

    chain = prepare()
    control, query, upstream = split(data)
    tcp = bool(control & TCP)
    client = CLIENTS[(control >> 1) & 3]
    chain.upstream.message = upstream
    chain.upstream.shape = bool(control & SHAPED)
    chain.reset(FIXED_NOW)
    found: list[str | None] = []
    for index in range(3):
        now = FIXED_NOW + index * (control >> 4)
        result = chain.pipeline.handle(query, client, now, tcp)
        if isinstance(result, Request):
            replies: list[bytes] = []
            chain.pipeline.forward(result, replies.append)
            result = replies[0] if len(replies) == 1 else b"replies: %d" % len(replies)
        found.append(_hex(result))
    chain.errors.raise_if_any()
    return found


def _traffic_answers(kind: str, stream: list[list[Any]]) -> list[str | None]:
    from resolver.stages.contract import Request
    from resolver.stages.upstream import UpstreamStage
    from tests.stages.fakes import grouped_config, grouped_policy
    from tests.test_pipeline import (
        CHAIN,
        GROUPED_CACHED,
        AnsweringUpstreamWithMessage,
        build,
        office_policy,
    )

    chain = tuple(AnsweringUpstreamWithMessage if stage is UpstreamStage else stage
                  for stage in CHAIN)
    if kind == "grouped":
        pipeline = build(grouped_policy(), repeat=True, chain=chain, config=grouped_config(),
                         cached=GROUPED_CACHED)
    else:
        pipeline = build(office_policy(), repeat=True, chain=chain)
    found: list[str | None] = []
    for data, now, client, tcp in stream:
        result = pipeline.handle(bytes.fromhex(data), client, now, tcp)
        if isinstance(result, Request):
            replies: list[bytes] = []
            pipeline.forward(result, replies.append)
            result = replies[0] if len(replies) == 1 else b"replies: %d" % len(replies)
        found.append(_hex(result))
    return found


def main() -> int:
    import resolver

    print(json.dumps({"hot_modules": resolver.HOT_MODULES.description}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
