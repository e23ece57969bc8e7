"""`querylog:`: privacy by default, every key checked at its file:line."""

from __future__ import annotations

from pathlib import Path

from resolver.config import querylog
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in querylog.SETTINGS] == list(
        querylog.QueryLogConfig.__dataclass_fields__)


def test_defaults_log_blocked_queries_with_truncated_clients_for_90_days() -> None:
    assert defaults().querylog == querylog.QueryLogConfig(
        "blocked", "truncate", "querylog.jsonl", 100, 10, 90, 65_536)


def test_a_file_sets_every_key(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, (
        "querylog:\n  mode: all\n  clients: hash\n  path: '-'\n  rotate_mb: 5\n  keep: 2\n"
        "  retention_days: 7\n  queue: 100\n")))
    assert config.querylog == querylog.QueryLogConfig("all", "hash", "-", 5, 2, 7, 100)


def test_a_bare_off_is_the_word_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "querylog:\n  mode: off\n"))
    assert config.querylog.mode == "off"


def test_unknown_words_are_refused_with_the_choices(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "querylog:\n  mode: everything\n"),
                        "dnsfence.yaml:2:9", "`querylog.mode`", "off, blocked, all")
    assert_config_error(write_config(tmp_path, "querylog:\n  clients: anonymous\n"),
                        "dnsfence.yaml:2:12", "`querylog.clients`", "full, truncate, hash, none")
    assert_config_error(write_config(tmp_path, "querylog:\n  path: ''\n"),
                        "dnsfence.yaml:2:9", "`querylog.path`", "standard output")
    assert_config_error(write_config(tmp_path, "querylog:\n  retention_days: 0\n"),
                        "dnsfence.yaml:2:19", "`querylog.retention_days`", "between 1")


def test_the_state_directory_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "state_dir: state\n"))
    assert config.state_dir == tmp_path / "state"
    config = load_config(write_config(tmp_path, "state_dir: /var/lib/dnsfence\n"))
    assert config.state_dir == Path("/var/lib/dnsfence")


def test_the_log_file_is_in_the_state_directory_unless_absolute_or_standard_output() -> None:
    section = defaults().querylog
    assert section.file(Path("/var/lib/dnsfence")) == Path("/var/lib/dnsfence/querylog.jsonl")
    absolute = querylog.QueryLogConfig("all", "none", "/srv/log/q.jsonl", 1, 1, 1, 16)
    assert absolute.file(Path("/var/lib/dnsfence")) == Path("/srv/log/q.jsonl")
    to_stdout = querylog.QueryLogConfig("all", "none", "-", 1, 1, 1, 16)
    assert to_stdout.file(Path("/var/lib/dnsfence")) is None
