"""`log:`: level and shape of the server's own log lines."""

from __future__ import annotations

from pathlib import Path

from resolver.config import log
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in log.SETTINGS] == list(log.LogConfig.__dataclass_fields__)


def test_defaults_are_info_as_text() -> None:
    assert defaults().log == log.LogConfig("info", "text")


def test_a_file_asks_for_json_at_warning(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "log:\n  level: warning\n  format: json\n"))
    assert config.log == log.LogConfig("warning", "json")


def test_unknown_levels_and_formats_are_refused(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "log:\n  level: verbose\n"),
                        "dnsfence.yaml:2:10", "`log.level`", "debug, info, warning, error")
    assert_config_error(write_config(tmp_path, "log:\n  format: xml\n"),
                        "dnsfence.yaml:2:11", "`log.format`", "text, json")
