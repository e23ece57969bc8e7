"""`server.rate_limit`: off by default, a mapping when on, every mistake at its line."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from resolver.config.load import defaults, load_config
from resolver.config.rate_limit import RateLimit, rate_limit
from tests.config.config_files import assert_config_error, write_config


def test_off_by_default_and_when_written_off() -> None:
    assert defaults().server.rate_limit is None
    for off in (None, False, "off", {}):
        assert rate_limit(off) is None


def test_a_limit_with_its_defaults_and_exemptions(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        server:
          rate_limit: {qps: 50, burst: 200, exempt: [10.0.0.53/32]}
    """))
    assert config.server.rate_limit == RateLimit(
        50.0, 200.0, 32, 56, (ipaddress.ip_network("10.0.0.53/32"),))
    assert rate_limit({"qps": 20}) == RateLimit(20.0, 20.0)


@pytest.mark.parametrize(("text", "words"), [
    ("{burst: 10}", ["needs `qps`"]),
    ("{qps: 0}", ["`qps` must be a number from 0.1"]),
    ("{qps: 10, brust: 5}", ["unknown key 'brust'"]),
    ("{qps: 10, ipv6_prefix: 200}", ["`ipv6_prefix` must be a whole number from 8 to 128"]),
    ("{qps: 10, exempt: [10.0.0.0/33]}", ["not a network"]),
    ("fast", ["must be a mapping like {qps: 50, burst: 200}"]),
])
def test_mistakes_are_reported_at_their_line(tmp_path: Path, text: str, words: list[str]
                                             ) -> None:
    path = write_config(tmp_path, f"server:\n  rate_limit: {text}\n")
    assert_config_error(path, "dnsfence.yaml:2:15", "`server.rate_limit`", *words)
