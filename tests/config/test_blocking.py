"""`blocking:`: the TTL of blocked answers, and whether CNAME chains are inspected."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.config import blocking
from resolver.config.load import defaults, load_config
from tests.config.config_files import assert_config_error, write_config


@pytest.mark.parametrize(
    ("text", "at", "words"),
    [
        ("blocking:\n  negative_ttl: '60'\n", "dnsfence.yaml:2:17",
         ["`blocking.negative_ttl`", "must be a number"]),
        ("blocking:\n  cname: 'no'\n", "dnsfence.yaml:2:10",
         ["`blocking.cname`", "true or false"]),
    ],
    ids=["negative-ttl", "cname"],
)
def test_every_setting_is_validated_with_file_line_and_column(
    tmp_path: Path, text: str, at: str, words: list[str]
) -> None:
    assert_config_error(write_config(tmp_path, text), at, *words)


def test_the_rows_and_their_defaults() -> None:
    assert [(s.section, s.key) for s in blocking.SETTINGS] == [("blocking", "negative_ttl"),
                                                                ("blocking", "cname")]
    assert [s.key for s in blocking.SETTINGS] == list(blocking.BlockingConfig.__dataclass_fields__)
    assert defaults().blocking == blocking.BlockingConfig(60, cname=True)


def test_a_file_turns_cname_inspection_off(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "blocking:\n  cname: false\n"))
    assert config.blocking == blocking.BlockingConfig(60, cname=False)


def test_negative_ttl_from_0_to_a_day(tmp_path: Path) -> None:
    for value in (0, 86_400):
        text = f"blocking:\n  negative_ttl: {value}\n"
        assert load_config(write_config(tmp_path, text)).blocking.negative_ttl == value
    assert_config_error(write_config(tmp_path, "blocking:\n  negative_ttl: 86401\n"),
                        "dnsfence.yaml:2:17", "`blocking.negative_ttl`", "between 0 and 86400")
