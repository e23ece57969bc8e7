"""The values of a `sources:` entry's keys, as written -> what a SourceSpec holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.lists.source_options import SOURCE_KEYS, parse_duration, source_option
from resolver.lists.sources import Format
from resolver.policy.model import Action, Scope


@pytest.mark.parametrize(("text", "seconds"), [
    ("3600", 3600.0), ("30m", 1800.0), ("24h", 86_400.0), ("7d", 604_800.0), ("1w", 604_800.0),
    (" 2H ", 7200.0), ("0.5h", 1800.0), ("45s", 45.0),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "said"), [
    ("soon", "not a duration"), ("h", "not a duration"), ("0h", "must be positive"),
    ("-1d", "must be positive"),
])
def test_bad_durations(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_duration(text)


def test_each_key_becomes_its_value() -> None:
    base = Path("/etc/dnsfence/blocklists")
    assert source_option("path", "ads.txt", base) == base / "ads.txt"
    assert source_option("url", "https://x.example/a.txt", base) == "https://x.example/a.txt"
    assert source_option("format", "Hosts", base) is Format.HOSTS
    assert source_option("as", "Allow", base) is Action.ALLOW
    assert source_option("match", "exact", base) is Scope.EXACT
    assert source_option("refresh", "12h", base) == 43_200.0
    assert source_option("max_invalid", "10%", base) == pytest.approx(0.1)
    assert source_option("max_invalid", "0.25", base) == 0.25
    assert SOURCE_KEYS == ("path", "url", "format", "as", "match", "refresh", "max_invalid")


@pytest.mark.parametrize(("key", "value", "said"), [
    ("url", "ftp://x.example/a.txt", "only http:// and https://"),
    ("format", "csv", "unknown format 'csv' (known: domains, hosts, adblock, rpz, regex, auto)"),
    ("as", "deny", "write `as: allow`"),
    ("match", "prefix", "write `match: subtree`"),
    ("max_invalid", "150%", "a share such as 10%"),
    ("colour", "red", "unknown key 'colour'"),
])
def test_bad_values_say_what_to_write(key: str, value: str, said: str) -> None:
    with pytest.raises(ValueError) as failed:
        source_option(key, value, Path("."))
    assert said in str(failed.value)
