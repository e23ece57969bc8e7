"""The real server's own log lines: JSON lines at debug, nothing below the level asked for,
a reload switching the format live, and start-up errors in the configured shape."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import dns.exception
import pytest

from .harness import (
    DNSFENCE_PROGRAM,
    LOOPBACK,
    SERVING_RE,
    BlocklistDir,
    DnsfenceFactory,
    Unbound,
    child_env,
    free_port,
    parse_serving_line,
    query,
    rcode_name,
    run_dnsfence,
    wait_until,
)

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TEXT_LINE = re.compile(rf"{TS.pattern} (DEBUG|INFO|WARNING|ERROR) (.*)")


def events(lines: list[str]) -> list[dict[str, Any]]:
    """Every line is one JSON object starting ts, level, msg (no stray text lines)."""
    parsed = []
    for line in lines:
        event = json.loads(line)
        assert list(event)[:3] == ["ts", "level", "msg"], line
        assert TS.fullmatch(event["ts"]), line
        assert event["level"] in ("debug", "info", "warning", "error"), line
        assert isinstance(event["msg"], str), line
        parsed.append(event)
    return parsed


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def test_json_at_debug_every_line_is_an_object(dnsfence_factory: DnsfenceFactory,
                                               lists: BlocklistDir) -> None:
    server = dnsfence_factory("--log-format", "json", "--log-level", "debug", workers="2")
    server.send_signal(signal.SIGHUP)
    server.wait_for_stderr(r'"msg": "dnsfence: reloaded \(SIGHUP\)', timeout=5)
    server.wait_for_stderr(r'"event": "generation"', timeout=5)
    assert rcode_name(server.query("tiktok.com")) == "NXDOMAIN"
    assert server.stop() == 0
    logged = events(server.stderr_lines())
    serving = [e for e in logged if SERVING_RE.search(e["msg"])]
    assert len(serving) == 1 and serving[0]["level"] == "info"
    assert parse_serving_line(serving[0]["msg"]) == [(server.host, server.port)]
    reloads = [e for e in logged if e["msg"].startswith("dnsfence: reloaded (SIGHUP)")]
    assert len(reloads) == 1 and "worker" not in reloads[0]  # once, by the main process
    assert reloads[0]["level"] == "info"
    [generation] = [e for e in logged if e.get("event") == "generation"]
    assert generation["generation"] == 2 and "worker" not in generation
    stopping = [e for e in logged if e["msg"].startswith("dnsfence: stopping")]
    assert {e["worker"] for e in stopping} == {"1/2", "2/2"}  # each worker says which it is
    debug = [e for e in logged if e["level"] == "debug"]
    assert debug, logged
    assert debug[0]["msg"] == "dnsfence: server log level debug, format json"
    assert (debug[0]["log_level"], debug[0]["log_format"]) == ("debug", "json")


@pytest.mark.parametrize("level", [None, "warning"])
def test_below_the_level_nothing_is_written(level: str | None, unbound: Unbound,
                                            lists: BlocklistDir, tmp_path: Path) -> None:
    """Started by hand: at warning there is no `serving on` line for the harness to wait for.

    The same run at the default level (info) shows the INFO lines that warning hides."""
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  workers: 1\n")
    stderr_path = tmp_path / "stderr"
    port = free_port()
    argv = [*DNSFENCE_PROGRAM, "serve", "--config", str(config), "--listen", f"{LOOPBACK}:{port}",
            "--upstream", unbound.address, "--blocklists", str(lists)]
    argv += ["--log-level", level] if level else []
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=stderr, env=child_env(), start_new_session=True)
    try:
        wait_until(lambda: _answers(port) or proc.poll() is not None, timeout=10,
                   what="the server to answer")
        assert proc.poll() is None, stderr_path.read_text()
        config.write_text("server:\n  workers: 2\n")
        wait_until(lambda: "server.workers changed" in stderr_path.read_text(), timeout=5,
                   what="the restart warning")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    lines = [TEXT_LINE.fullmatch(line) for line in stderr_path.read_text().splitlines()]
    assert all(lines), stderr_path.read_text()
    logged = [(m[1], m[2]) for m in lines if m]
    levels = {lvl for lvl, _ in logged}
    assert any(lvl == "WARNING" and "server.workers changed in" in msg for lvl, msg in logged)
    if level == "warning":
        assert levels == {"WARNING"}, logged
    else:
        assert "INFO" in levels
        assert any(lvl == "INFO" and SERVING_RE.search(msg) for lvl, msg in logged)
        assert any(lvl == "INFO" and "reloaded (files changed)" in msg for lvl, msg in logged)


def _answers(port: int) -> bool:
    try:
        return rcode_name(query(LOOPBACK, port, "tiktok.com", timeout=0.5)) == "NXDOMAIN"
    except (dns.exception.Timeout, OSError):
        return False


def test_a_reload_switches_format_and_level_live(dnsfence_factory: DnsfenceFactory,
                                                 lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("log:\n  format: text\n")
    server = dnsfence_factory("--config", str(config))
    config.write_text("log:\n  format: json\n  level: debug\n")
    server.wait_for_stderr(r'^\{"ts": .*"msg": "dnsfence: reloaded \(files changed\)', timeout=5)
    assert server.stop() == 0
    lines = server.stderr_lines()
    switched = next(i for i, line in enumerate(lines) if line.startswith("{"))
    before = [TEXT_LINE.fullmatch(line) for line in lines[:switched]]
    assert before and all(before), lines
    assert any(m and m[1] == "INFO" and SERVING_RE.search(m[2]) for m in before)
    after = events(lines[switched:])
    assert after[0]["msg"] == "dnsfence: server log level debug, format json"
    assert after[0]["level"] == "debug"


def test_config_errors_at_start_come_in_the_flagged_format(tmp_path: Path,
                                                           lists: BlocklistDir) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("cache:\n  max_ttl: forever\n")
    result = run_dnsfence("serve", "--config", str(config), "--blocklists", str(lists),
                          "--log-format", "json", timeout=30)
    assert result.returncode == 1, result.stderr
    logged = events(result.stderr.splitlines())
    assert [e["level"] for e in logged] == ["error"] * len(logged)
    assert "c.yaml:2:12: error: `cache.max_ttl`" in logged[0]["msg"]
    assert logged[-1]["msg"] == "dnsfence: not started: the config file has errors"
