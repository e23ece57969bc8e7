"""The real server says which build of the hot modules runs (start-up log, `dnsfence
status`): the one this checkout imports, and the source under DNSFENCE_PURE_PYTHON=1."""

from __future__ import annotations

import re

import dns.rcode
import pytest

import resolver
from resolver.compiled_modules import PURE_PYTHON_ENV

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, run_dnsfence


@pytest.fixture
def tiktok(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def hot_modules(server: Dnsfence) -> str:
    description: str = server.status_json()["hot_modules"]
    return description


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_build_in_use_is_told_in_the_log_and_by_status(
        dnsfence_factory: DnsfenceFactory, tiktok: BlocklistDir, workers: str) -> None:
    expected = resolver.HOT_MODULES.description  # same checkout, same environment
    server = dnsfence_factory(workers=workers)
    assert server.query("www.tiktok.com").rcode() == dns.rcode.NXDOMAIN
    assert hot_modules(server) == expected
    server.wait_for_stderr(r"INFO dnsfence: hot modules " + re.escape(expected), timeout=5)
    human = run_dnsfence("status", "--server", server.address, timeout=10).stdout
    assert f"hot modules: {expected}" in human.splitlines()


def test_the_environment_runs_the_source(dnsfence_factory: DnsfenceFactory,
                                         tiktok: BlocklistDir) -> None:
    server = dnsfence_factory(env={PURE_PYTHON_ENV: "1"})
    assert server.query("www.tiktok.com").rcode() == dns.rcode.NXDOMAIN
    assert server.query("www.example.com").rcode() == dns.rcode.NOERROR
    assert hot_modules(server) == f"python ({PURE_PYTHON_ENV} is set)"
