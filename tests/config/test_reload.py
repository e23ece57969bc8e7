"""`reload:`: watching files and how often."""

from __future__ import annotations

from pathlib import Path

from resolver.config import reload
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in reload.SETTINGS] == list(reload.ReloadConfig.__dataclass_fields__)


def test_defaults_watch_twice_a_second() -> None:
    assert defaults().reload == reload.ReloadConfig(True, 0.5)


def test_a_file_turns_watching_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "reload:\n  watch: false\n  poll_interval: 2\n"))
    assert config.reload == reload.ReloadConfig(False, 2.0)


def test_watch_is_a_boolean_and_the_interval_bounded(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "reload:\n  watch: 1\n"), "dnsfence.yaml:2:10",
                        "`reload.watch`", "true or false")
    assert_config_error(write_config(tmp_path, "reload:\n  poll_interval: 0.01\n"),
                        "dnsfence.yaml:2:18", "`reload.poll_interval`", "between 0.05 and 60")
