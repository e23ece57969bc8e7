"""`lists:`: where downloads are kept, how careful they are, and what a missing source does."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import lists
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


def test_every_row_is_a_field_of_the_section() -> None:
    assert [s.key for s in lists.SETTINGS] == list(lists.ListsConfig.__dataclass_fields__)


def test_defaults() -> None:
    assert defaults().lists == lists.ListsConfig(Path(".dnsfence-cache"), 30.0, 64, 0.5,
                                                 "start", 30.0, 3600.0)
    assert defaults().lists.allow_missing


def test_on_missing_fail_refuses_to_load_without_a_source(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "lists:\n  on_missing: fail\n"))
    assert config.lists.on_missing == "fail" and not config.lists.allow_missing


def test_cache_dir_is_relative_to_the_config_file_unless_absolute(tmp_path: Path) -> None:
    relative = load_config(write_config(tmp_path, "lists:\n  cache_dir: downloads\n"))
    assert relative.lists.cache_dir == tmp_path / "downloads"
    absolute = load_config(write_config(tmp_path, "lists:\n  cache_dir: /var/cache/x\n"))
    assert absolute.lists.cache_dir == Path("/var/cache/x")


@pytest.mark.parametrize(("text", "column", "words"), [
    ("lists:\n  cache_dir: ''\n", 14, ["`lists.cache_dir`", "directory path"]),
    ("lists:\n  download_timeout: 0.5\n", 21,
     ["`lists.download_timeout`", "between 1 and 600"]),
    ("lists:\n  max_download_mb: 0\n", 20, ["`lists.max_download_mb`", "between 1 and 4096"]),
    ("lists:\n  min_keep_ratio: 1.5\n", 19, ["`lists.min_keep_ratio`", "between 0 and 1"]),
    ("lists:\n  on_missing: wait\n", 15, ["`lists.on_missing`", "start, fail"]),
    ("lists:\n  retry_initial: 0.5\n", 18, ["`lists.retry_initial`", "between 1 and 3600"]),
    ("lists:\n  retry_max: 100000\n", 14, ["`lists.retry_max`", "between 1 and 86400"]),
])
def test_each_key_is_validated_at_its_line(tmp_path: Path, text: str, column: int,
                                           words: list[str]) -> None:
    assert_config_error(write_config(tmp_path, text), f"dnsfence.yaml:2:{column}", *words)


def test_the_first_retry_wait_is_not_longer_than_the_longest(tmp_path: Path) -> None:
    assert_config_error(write_config(tmp_path, "lists:\n  retry_initial: 60\n  retry_max: 30\n"),
                        "dnsfence.yaml:3:14", "`lists.retry_initial` (60.0)",
                        "larger than `lists.retry_max` (30.0)")
