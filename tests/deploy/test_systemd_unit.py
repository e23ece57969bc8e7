"""The shipped systemd unit: `systemd-analyze verify` accepts it (and rejects broken
copies, so the check can fail), `systemd-analyze security` scores it no worse than the
guide says, it asks for what the server needs and no more, and the shipped config lives
in the directories the unit gives the service."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from resolver.cli import main
from resolver.config.load import load_config

from .systemd_unit import (
    CONFIG,
    DOCUMENTED,
    GUIDE,
    INSTALLED_PROGRAM,
    REPO,
    UNIT,
    allowed_syscalls,
    program,
    security,
    settings,
    verify,
)


def unit_copy(directory: Path, text: str | None = None) -> Path:
    """The unit with ExecStart= on this venv's `dnsfence`: verify checks that the program
    exists, and /opt/dnsfence is not installed here. Nothing else changes."""
    entry = program()
    assert entry.is_file(), f"{entry} missing: install the package in the test venv"
    copy = directory / "dnsfence.service"
    copy.write_text((UNIT.read_text() if text is None else text)
                    .replace(INSTALLED_PROGRAM, str(entry)))
    return copy


def test_verify_accepts_the_unit(tmp_path: Path) -> None:
    assert INSTALLED_PROGRAM in UNIT.read_text()
    assert verify(unit_copy(tmp_path)) == []


@pytest.mark.parametrize(("change", "said"), [
    (("ProtectSystem=strict", "ProtectSytem=strict"), "Unknown key"),
    (("Type=notify", "Type=notified"), "Failed to parse service type"),
    (("ExecStart=" + INSTALLED_PROGRAM, "ExecStart=/nonexistent/dnsfence"), "not executable"),
], ids=["unknown-key", "bad-type", "missing-program"])
def test_verify_rejects_a_broken_unit(tmp_path: Path, change: tuple[str, str],
                                      said: str) -> None:
    old, new = change
    text = UNIT.read_text()
    assert old in text
    problems = verify(unit_copy(tmp_path, text.replace(old, new)))
    assert problems and any(said in line for line in problems), problems


def test_the_security_score_is_the_documented_one_or_better() -> None:
    documented = DOCUMENTED.search(GUIDE.read_text())
    assert documented is not None, "deploy/systemd/README.md gives no exposure level"
    limit = float(documented["score"])
    score, label, status = security(UNIT, threshold=limit)
    assert score <= limit and status == 0, (score, label)
    assert label in ("SAFE", "OK") and documented["label"] == label
    # the same wording in the README's section
    assert f"exposure level {documented['score']} ({label})" in (REPO / "README.md").read_text()


def test_the_score_check_can_fail(tmp_path: Path) -> None:
    """A unit without the hardening scores far worse, and the threshold says so."""
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nType=notify\nExecStart=/bin/true\n")
    score, label, status = security(bare, threshold=4.9)
    assert score > 4.9 and label not in ("SAFE", "OK") and status != 0


def test_the_unit_asks_for_port_53_and_nothing_more() -> None:
    found = settings(UNIT.read_text())
    single = {key: values[-1] for key, values in found.items()}
    assert found["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert found["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert found["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert found["SystemCallFilter"][0] == "@system-service"
    for key, value in {"Type": "notify", "NotifyAccess": "main", "DynamicUser": "yes",
                       "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "ProtectHome": "yes", "PrivateTmp": "yes",
                       "MemoryDenyWriteExecute": "yes", "Restart": "on-failure",
                       "ExecReload": "/bin/kill -HUP $MAINPID",
                       "StateDirectory": "dnsfence", "CacheDirectory": "dnsfence",
                       "ConfigurationDirectory": "dnsfence"}.items():
        assert single.get(key) == value, key
    assert "User" not in found  # DynamicUser=: no account to create
    # what the server does is allowed: threads, workers, its shared counters, its signals
    allowed = allowed_syscalls(UNIT.read_text())
    for call in ("clone", "clone3", "mmap", "prctl", "rt_sigtimedwait", "epoll_wait",
                 "sendto", "recvfrom", "prlimit64", "sched_getaffinity"):
        assert call in allowed, call
    for call in ("setuid", "mount", "ptrace", "reboot", "setrlimit"):
        assert call not in allowed, call


def test_the_shipped_config_lives_in_the_unit_s_directories() -> None:
    unit = settings(UNIT.read_text())
    [start] = unit["ExecStart"]
    assert start == f"{INSTALLED_PROGRAM} serve --config /etc/dnsfence/dnsfence.yaml"
    config = load_config(CONFIG)
    name = unit["ConfigurationDirectory"][0]
    assert config.blocklists == Path(f"/etc/{name}/blocklists")
    assert config.state_dir == Path("/var/lib") / unit["StateDirectory"][0]
    assert config.lists.cache_dir == Path("/var/cache") / unit["CacheDirectory"][0]
    assert config.querylog.file(config.state_dir) == Path("/var/lib/dnsfence/querylog.jsonl")
    assert config.http.listen is not None and config.http.listen.host == "127.0.0.1"


def test_the_shipped_config_and_lists_are_lint_clean() -> None:
    """`dnsfence lint --strict` as the guide runs it, with the lists the install copies."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["lint", "--config", str(CONFIG), "--blocklists",
                       str(REPO / "blocklists"), "--strict"])
    assert status == 0, out.getvalue() + err.getvalue()
    assert re.search(r": 0 error\(s\), 0 warning\(s\); \d+ list\(s\)", out.getvalue())


def test_the_guide_installs_the_files_that_exist() -> None:
    text = GUIDE.read_text()
    shipped = set(re.findall(r"\bdeploy/systemd/[\w.-]+", text))
    assert {"deploy/systemd/dnsfence.service", "deploy/systemd/dnsfence.yaml"} <= shipped
    for path in shipped:
        assert (REPO / path).is_file(), path
    for step in ("python3 -m venv /opt/dnsfence", "/opt/dnsfence/bin/pip install .",
                 "systemctl daemon-reload", "systemctl enable --now dnsfence",
                 "systemctl reload dnsfence", "journalctl -u dnsfence"):
        assert step in text, step
