"""The README's development example is real: its stage runs in a real chain."""

from __future__ import annotations

import re
import types
from pathlib import Path

import dns.message
import dns.rcode

from resolver.pipeline import CHAIN, Pipeline
from resolver.policy.period import PolicyHolder
from resolver.stages.access import AccessStage
from resolver.stages.contract import Request, Stage
from tests.policy.assertions import policy_of
from tests.stages.fakes import LISTS, T0, office_config

REPO = Path(__file__).resolve().parent.parent
PYTHON_BLOCK = re.compile(r"^```python\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def readme_stage() -> type[Stage]:
    blocks = [m["body"] for m in PYTHON_BLOCK.finditer((REPO / "README.md").read_text())]
    [example] = [b for b in blocks if b.startswith("# resolver/stages/")]
    module = types.ModuleType("readme_example")
    exec(compile(example, "README.md", "exec"), module.__dict__)
    [stage] = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, Stage) and value is not Stage]
    return stage


def test_the_readme_stage_joins_the_chain_with_one_line(tmp_path: Path) -> None:
    stage = readme_stage()
    at = CHAIN.index(AccessStage) + 1
    chain = (*CHAIN[:at], stage, *CHAIN[at:])
    pipeline = Pipeline.from_config(office_config(), PolicyHolder(policy_of(tmp_path, LISTS)),
                                    chain=chain)
    refused = pipeline.handle(dns.message.make_query("example.com", "ANY").to_wire(),
                              "127.0.0.1", T0)
    assert isinstance(refused, bytes)
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED
    blocked = pipeline.handle(dns.message.make_query("tiktok.com", "A").to_wire(),
                              "127.0.0.1", T0)
    assert isinstance(blocked, bytes)
    assert dns.message.from_wire(blocked).rcode() == dns.rcode.NXDOMAIN
    forwarded = pipeline.handle(dns.message.make_query("example.com", "A").to_wire(),
                                "127.0.0.1", T0)
    assert isinstance(forwarded, Request)
    assert pipeline.counters()["any_refused"] == 1
    assert "any_refused" in stage.COUNTERS
