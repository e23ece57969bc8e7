"""`cache:`: size and TTL bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import cache
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("cache:\n  max_entries: -1\n", "dnsfence.yaml:2:16", ["`cache.max_entries`"]),
        ("cache:\n  min_ttl: 60\n  max_ttl: 30\n", "dnsfence.yaml:3:12",
         ["`cache.min_ttl` (60) is larger than `cache.max_ttl` (30)"]),
        ("cache:\n  max_negative_ttl: 1 hour\n", "dnsfence.yaml:2:21",
         ["`cache.max_negative_ttl`", "must be a number"]),
        ("cache:\n  serve_stale: 1 day\n", "dnsfence.yaml:2:16",
         ["`cache.serve_stale`", "duration such as 30m, 12h or 1d"]),
        ("cache:\n  serve_stale: 30d\n", "dnsfence.yaml:2:16",
         ["`cache.serve_stale`", "between 0 and 604800"]),
    ],
    ids=["cache-max-entries", "cache-ttl-order", "cache-negative-ttl", "serve-stale-text",
         "serve-stale-range"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in cache.SETTINGS] == list(cache.CacheConfig.__dataclass_fields__)


def test_defaults() -> None:
    assert defaults().cache == cache.CacheConfig(100_000, 0, 86_400, 3_600, 86_400, True)


@pytest.mark.parametrize(("written", "seconds"), [("12h", 43_200), ("0", 0), ("90", 90)])
def test_serve_stale_is_read_as_seconds(tmp_path: Path, written: str, seconds: int) -> None:
    config = load_config(write_config(tmp_path, f"cache:\n  serve_stale: {written}\n"))
    assert config.cache.serve_stale == seconds


def test_equal_ttl_bounds_are_allowed_and_the_bounds_are_checked(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "cache:\n  min_ttl: 30\n  max_ttl: 30\n"))
    assert (config.cache.min_ttl, config.cache.max_ttl) == (30, 30)
    assert_config_error(write_config(tmp_path, "cache:\n  max_ttl: 604801\n"),
                        "dnsfence.yaml:2:12", "`cache.max_ttl`", "between 0 and 604800")
    assert_config_error(write_config(tmp_path, "cache:\n  min_ttl: 90000\n"),
                        "dnsfence.yaml:2:12", "`cache.min_ttl`", "between 0 and 86400")
