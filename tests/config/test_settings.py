"""The settings table and the Config built from it: sections, overrides, fetch settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config.load import defaults, load_config
from resolver.config.settings import SECTIONS, SETTINGS, Config
from resolver.fetch.settings import FetchSettings
from tests.config.config_files import assert_config_error, write_config


def test_sections_mirror_the_settings_table() -> None:
    declared = {(s.section, s.key) for s in SETTINGS}
    config = defaults()
    found = {("", key) for key in Config.__dataclass_fields__
             if key not in SECTIONS and key != "source"}
    for section in SECTIONS:
        found |= {(section, key) for key in getattr(config, section).__dataclass_fields__}
    assert found == declared
    assert isinstance(config, Config)


def test_overrides_replace_only_what_was_given(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "timezone: Asia/Kolkata\n"))
    changed = config.with_overrides(blocklists=Path("/srv/lists"), **{"server.workers": 3,
                                                                     "upstream.servers": None})
    assert changed.blocklists == Path("/srv/lists")
    assert changed.server.workers == 3
    assert changed.timezone == "Asia/Kolkata"
    assert changed.upstream == config.upstream


def test_fetch_settings_carry_what_refreshing_sources_needs(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, """
        blocklists: lists
        timezone: Europe/Brussels
        lists:
          cache_dir: /var/cache/dnsfence
          download_timeout: 12
          max_download_mb: 8
          min_keep_ratio: 0.75
          retry_initial: 10
          retry_max: 600
        """))
    assert config.fetch_settings() == FetchSettings(
        tmp_path / "lists", "Europe/Brussels", Path("/var/cache/dnsfence"),
        download_timeout=12.0, max_download_mb=8, min_keep_ratio=0.75,
        retry_initial=10.0, retry_max=600.0)


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("blocklists: [a, b]\n", "dnsfence.yaml:1:13", ["`blocklists`", "directory path"]),
        ("timezone: Europe/Brusels\n", "dnsfence.yaml:1:11",
         ["`timezone`", "unknown time zone", "did you mean Europe/Brussels?"]),
    ],
    ids=["blocklists", "timezone"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)
