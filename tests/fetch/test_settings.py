"""FetchSettings: what refreshing `url:` sources needs of the config, and nothing more."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from resolver.config.load import defaults
from resolver.fetch.settings import FetchSettings


def test_it_holds_only_what_downloads_need() -> None:
    assert [f.name for f in dataclasses.fields(FetchSettings)] == [
        "blocklists", "timezone", "cache_dir", "download_timeout", "max_download_mb",
        "min_keep_ratio", "retry_initial", "retry_max"]


def test_it_is_a_frozen_value() -> None:
    settings = FetchSettings(Path("lists"), "UTC", Path("cache"), 30.0, 64, 0.5, 30.0, 3600.0)
    assert settings == FetchSettings(Path("lists"), "UTC", Path("cache"), 30.0, 64, 0.5, 30.0,
                                     3600.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.timezone = "Europe/Brussels"  # type: ignore[misc]


def test_the_defaults_give_the_documented_limits() -> None:
    settings = defaults().fetch_settings()
    assert (settings.download_timeout, settings.max_download_mb, settings.min_keep_ratio) == \
        (30.0, 64, 0.5)
    assert (settings.retry_initial, settings.retry_max) == (30.0, 3600.0)
    assert settings.cache_dir == Path(".dnsfence-cache")
