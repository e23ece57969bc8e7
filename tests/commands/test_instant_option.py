"""`--at`, `--from`, `--until`: instants read in the configured time zone."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from resolver.commands.exit_codes import EXIT_USAGE, CommandFailed
from resolver.commands.instant_option import instant_or_fail
from resolver.config.load import defaults
from tests.commands.cli_runner import dnsfence, write_tree


def test_at_without_offset_is_in_the_configured_time_zone(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "lists/utc.yaml": "reference: r\neffective: 2023-03-20\ntimezone: UTC\n"
                          "domains: [tiktok.com]\n",
        "newyork.yaml": "blocklists: lists\ntimezone: America/New_York\n",
    })

    def blocked(*args: str) -> bool:
        (line,) = dnsfence("check", "tiktok.com", "--json", *args, cwd=tmp_path).json_lines()
        return bool(line["blocked"])

    # 21:00 in New York on the 19th is 01:00 UTC on the 20th
    assert blocked("--config", "newyork.yaml", "--at", "2023-03-19T21:00")
    assert not blocked("--config", "newyork.yaml", "--at", "2023-03-19T21:00+00:00")
    assert not blocked("--blocklists", "lists", "--at", "2023-03-19T21:00")  # default UTC
    assert blocked("--config", "newyork.yaml", "--at", "2023-03-19T20:00:00-04:00")
    assert not blocked("--config", "newyork.yaml", "--at", "2023-03-19T19:59:59.999999-04:00")


def test_in_process_an_instant_is_read_in_the_config_zone() -> None:
    config = defaults().with_overrides(timezone="America/New_York")
    assert instant_or_fail(None, config) is None
    assert instant_or_fail("2023-03-19T21:00", config) == \
        datetime(2023, 3, 19, 21, tzinfo=ZoneInfo("America/New_York"))


def test_an_unreadable_instant_is_a_usage_error() -> None:
    err = io.StringIO()
    with pytest.raises(CommandFailed) as failed:
        instant_or_fail("next tuesday", defaults(), err)
    assert failed.value.status == EXIT_USAGE
    assert err.getvalue().startswith("dnsfence: ") and "next tuesday" in err.getvalue()
