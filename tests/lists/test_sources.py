"""SourceSpec: one `sources:` entry of a list file, and the formats it may name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from resolver.lists.sources import Format, SourceSpec
from resolver.policy.model import Action, Location, Scope


def test_the_formats() -> None:
    assert [f.value for f in Format] == ["domains", "hosts", "adblock", "rpz", "regex", "auto"]


def test_a_spec_defaults_to_a_daily_auto_detected_block_source() -> None:
    spec = SourceSpec("ads", Location("ads.yaml", 4, 5), None, "https://x.example/a.txt")
    assert (spec.format, spec.action, spec.match) == (Format.AUTO, Action.BLOCK, None)
    assert (spec.refresh, spec.max_invalid_share) == (86_400.0, 0.10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.refresh = 1.0  # type: ignore[misc]


def test_the_label_is_the_url_or_the_path() -> None:
    where = Location("ads.yaml", 4, 5)
    assert SourceSpec("ads", where, None, "https://x.example/a.txt").label == \
        "https://x.example/a.txt"
    assert SourceSpec("ads", where, Path("/srv/a.txt"), None, match=Scope.EXACT).label == \
        "/srv/a.txt"
