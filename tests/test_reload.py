"""PolicyReloader's schedule for `url:` sources, without a server: which process fetches them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from resolver import reload as reload_module
from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.lists.load import load_policy
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader


def _live(tmp_path: Path, *, watch: bool, downloads: bool) -> PolicyReloader:
    base = defaults()
    config: Config = replace(base, blocklists=tmp_path,
                             reload=replace(base.reload, watch=watch, poll_interval=0.05))
    loaded = load_policy(tmp_path, config.timezone)
    assert loaded.policy is not None
    return PolicyReloader(config, PolicyHolder(loaded.policy), lambda: config,
                      lambda _old, _new: None, refresh_every=0.05, downloads=downloads)


def _checks(live: PolicyReloader, monkeypatch: pytest.MonkeyPatch) -> int:
    calls: list[Config] = []
    monkeypatch.setattr(reload_module, "update_sources",
                        lambda config, **_: calls.append(config) or [])

    async def scenario() -> None:
        task = asyncio.create_task(live.run())
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(scenario())
    return len(calls)


@pytest.mark.parametrize("watch", [True, False], ids=["watching", "not-watching"])
def test_the_downloading_process_checks_url_sources_on_schedule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch: bool) -> None:
    # every 0.05 s for 0.5 s: about ten checks, whether files are watched or not
    assert _checks(_live(tmp_path, watch=watch, downloads=True), monkeypatch) >= 4


def test_other_workers_never_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _checks(_live(tmp_path, watch=True, downloads=False), monkeypatch) == 0
