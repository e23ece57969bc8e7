"""The real server says which UDP I/O serves (start-up log, `dnsfence status`), obeys the
switch (`server.batch_io`, `DNSFENCE_PURE_PYTHON`), answers alike either way, and asks for a
restart when the setting changes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import dns.rcode
import pytest

from resolver.udp_batch import PURE_PYTHON_ENV, choose

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory


@pytest.fixture
def tiktok(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def udp_io(server: Dnsfence) -> str:
    description: str = server.status_json()["udp_io"]
    return description


def served_alike(server: Dnsfence) -> None:
    for _ in range(3):  # a repeat too
        assert server.query("www.tiktok.com").rcode() == dns.rcode.NXDOMAIN
    assert server.query("www.example.com").rcode() == dns.rcode.NOERROR  # forwarded


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_default_is_told_in_the_log_and_by_status(
        dnsfence_factory: DnsfenceFactory, tiktok: BlocklistDir, workers: str) -> None:
    """auto: the batch where it is built (in CI it is, except in the pure-Python run)."""
    expected = choose("auto").description
    server = dnsfence_factory(workers=workers)
    served_alike(server)
    assert udp_io(server) == expected
    server.wait_for_stderr(r"INFO dnsfence: UDP I/O " + re.escape(expected), timeout=5)


def test_off_serves_on_the_python_path(dnsfence_factory: DnsfenceFactory,
                                       tiktok: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  batch_io: off\n")
    server = dnsfence_factory("--config", str(config))
    served_alike(server)
    expected = "python (server.batch_io: off)"
    if os.environ.get(PURE_PYTHON_ENV):
        expected = choose("off").description  # the environment says so first
    assert udp_io(server) == expected


def test_the_environment_forces_the_python_path(dnsfence_factory: DnsfenceFactory,
                                                tiktok: BlocklistDir) -> None:
    server = dnsfence_factory(env={PURE_PYTHON_ENV: "1"})
    served_alike(server)
    assert udp_io(server) == f"python ({PURE_PYTHON_ENV} is set)"


def test_changing_the_setting_asks_for_a_restart(dnsfence_factory: DnsfenceFactory,
                                                 tiktok: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  batch_io: auto\n")
    server = dnsfence_factory("--config", str(config))
    before = udp_io(server)
    config.write_text("server:\n  batch_io: off\n")
    server.wait_for_stderr(r"server\.batch_io changed in .*c\.yaml; it takes effect after a "
                           r"restart", timeout=5)
    assert udp_io(server) == before  # what serves, as chosen at start
    served_alike(server)
