"""Hot reload against the real server: file edits, SIGHUP, broken edits, status."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import dns.rcode
import pytest

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, run_dnsfence, wait_until


def _rcode(server: Dnsfence, name: str) -> str:
    return dns.rcode.to_text(server.query(name).rcode())


def _status(server: Dnsfence) -> tuple[int, dict[str, object]]:
    result = run_dnsfence("status", "--server", server.address, "--json", timeout=10)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _blocked_within(server: Dnsfence, name: str, seconds: float) -> float:
    started = time.monotonic()
    wait_until(lambda: _rcode(server, name) == "NXDOMAIN", timeout=seconds,
               what=f"{name} to become blocked")
    return time.monotonic() - started


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def test_edit_is_in_force_within_two_seconds(dnsfence_factory: DnsfenceFactory,
                                             lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    assert _rcode(server, "example.com") == "NOERROR"
    lists.write("tiktok", domains=["tiktok.com", "example.com"], effective="2023-03-20")
    assert _blocked_within(server, "example.com", 2.0) <= 2.0
    server.wait_for_stderr(r"reloaded \(files changed\)")
    # a new file counts too, and removing one lifts its block
    lists.write("more", domains=["www.example.test"], effective="2023-01-01")
    _blocked_within(server, "www.example.test", 2.0)
    lists.remove("more")
    wait_until(lambda: _rcode(server, "www.example.test") == "NOERROR", timeout=2.0,
               what="the removed list to stop blocking")


def test_broken_edit_keeps_last_good_policy_and_reports(dnsfence_factory: DnsfenceFactory,
                                                        lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    assert _rcode(server, "tiktok.com") == "NXDOMAIN"
    lists.write_text("tiktok", "name: tiktok\neffective: 2023-03-20\ndomains:\n"
                     "  - tiktok.com\n  - https://example.com/\n")
    server.wait_for_stderr(r"tiktok\.yaml:5:5: error: .*looks like a URL", timeout=3)
    server.wait_for_stderr(r"reload \(files changed\) failed with 1 error\(s\); still serving")
    assert _rcode(server, "tiktok.com") == "NXDOMAIN"  # the old policy still answers
    assert _rcode(server, "example.com") == "NOERROR"
    code, status = _status(server)
    assert code == 1
    last = status["last_reload"]
    assert isinstance(last, dict) and last["ok"] is False
    assert any("tiktok.yaml:5:5" in p for p in last["problems"])
    text = run_dnsfence("status", "--server", server.address, timeout=10).stdout
    assert "FAILED" in text and "still serving" in text
    # the next good edit recovers
    lists.write("tiktok", domains=["tiktok.com", "example.com"], effective="2023-03-20")
    _blocked_within(server, "example.com", 2.0)
    code, status = _status(server)
    assert code == 0 and status["last_reload"]["ok"] is True  # type: ignore[index]


def test_sighup_reloads(dnsfence_factory: DnsfenceFactory, lists: BlocklistDir,
                        tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("reload:\n  watch: false\n")
    server = dnsfence_factory("--config", str(config))
    lists.write("tiktok", domains=["tiktok.com", "example.com"], effective="2023-03-20")
    time.sleep(1.0)
    assert _rcode(server, "example.com") == "NOERROR"  # not watching: nothing happens
    server.send_signal(signal.SIGHUP)
    _blocked_within(server, "example.com", 2.0)
    server.wait_for_stderr(r"reloaded \(SIGHUP\)")


def test_sighup_reloads_once_for_every_worker(dnsfence_factory: DnsfenceFactory,
                                             lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("reload:\n  watch: false\n")
    server = dnsfence_factory("--config", str(config), "--workers", "2")
    lists.write("tiktok", domains=["tiktok.com", "example.com"], effective="2023-03-20")
    server.send_signal(signal.SIGHUP)
    server.wait_for_stderr(r"^\S+Z INFO dnsfence: reloaded \(SIGHUP\)", timeout=5)
    server.wait_for_stderr(r"starting 2 workers on the new policy \(generation 2\)", timeout=5)
    _blocked_within(server, "example.com", 2.0)
    for _ in range(20):  # from many source ports, so both new workers are asked
        assert _rcode(server, "example.com") == "NXDOMAIN"
    # loaded once, by the supervisor: no worker loads the lists for itself
    assert not [line for line in server.stderr_lines() if "[worker" in line and "reload" in line]


def test_config_change_applies_live_or_asks_for_restart(dnsfence_factory: DnsfenceFactory,
                                                        lists: BlocklistDir,
                                                        tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("blocking:\n  negative_ttl: 60\nserver:\n  workers: 1\n")
    server = dnsfence_factory("--config", str(config), workers=None)
    soa = server.query("tiktok.com").authority[0]
    assert soa.ttl == 60
    config.write_text("blocking:\n  negative_ttl: 30\nserver:\n  workers: 3\n")
    server.wait_for_stderr(r"server\.workers changed in .*c\.yaml; it takes effect after a "
                           r"restart", timeout=3)
    assert server.query("tiktok.com").authority[0].ttl == 30
    _code, status = _status(server)
    assert status["last_reload"]["restart_needed"] == ["server.workers"]  # type: ignore[index]


def test_broken_config_edit_keeps_running(dnsfence_factory: DnsfenceFactory,
                                          lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("blocking:\n  negative_ttl: 60\n")
    server = dnsfence_factory("--config", str(config))
    config.write_text("blocking:\n  negativ_ttl: 30\n")
    server.wait_for_stderr(r"c\.yaml:2:3: error: unknown key 'negativ_ttl'.*did you mean "
                           r"'negative_ttl'", timeout=3)
    assert server.query("tiktok.com").authority[0].ttl == 60


def test_status_refused_to_other_clients_and_chaos_names(dnsfence_factory: DnsfenceFactory,
                                                         lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    import dns.message
    import dns.query
    other = dns.message.make_query("version.bind", "TXT", rdclass="CH")
    reply = dns.query.udp(other, server.host, port=server.port, timeout=2)
    assert reply.rcode() == dns.rcode.REFUSED
    code, status = _status(server)
    assert code == 0
    assert status["policy"]["lists"] == ["tiktok"]  # type: ignore[index]
