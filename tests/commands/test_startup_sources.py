"""`serve`'s start-up for `url:` sources: what is downloaded before the first load, and
the one warning per source the first policy is served without."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from resolver.commands.startup_sources import first_downloads, log_first_load
from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.lists.load import load_policy
from tests.fetch.local_http import LocalServer, Reply
from tests.fetch.local_http import server as server  # the fixture

LIST = """name: remote
reference: r
effective: 2023-01-01
domains: [own.example]
sources:
  - url: {url}
    format: domains
"""


def configured(tmp_path: Path, url: str, on_missing: str) -> Config:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "remote.yaml").write_text(LIST.format(url=url))
    return defaults().with_overrides(blocklists=lists, **{
        "lists.cache_dir": tmp_path / "cache", "lists.on_missing": on_missing})


def test_a_source_that_arrives_at_start_up_is_in_the_first_policy(
        tmp_path: Path, server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dnsfence")
    server.routes["/ban.txt"] = Reply(200, b"ban-a.example\nban-b.example\n")
    config = configured(tmp_path, server.url("/ban.txt"), "start")
    retries = first_downloads(config)
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         allow_missing=True)
    assert result.policy is not None and result.policy.missing_sources == ()
    assert result.policy.size == 3
    assert retries.next_due() is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_a_source_that_cannot_be_downloaded_is_one_warning_naming_it(
        tmp_path: Path, server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dnsfence")
    url = server.url("/ban.txt")
    server.routes["/ban.txt"] = Reply(503, b"busy", {"Retry-After": "120"})
    config = configured(tmp_path, url, "start")
    retries = first_downloads(config)
    assert caplog.records == []  # told once, with the load's warning
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         allow_missing=True)
    assert result.policy is not None and result.policy.size == 1
    log_first_load(result, retries)
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"{config.blocklists / 'remote.yaml'}:6:5: warning: source {url} has not been "
        "downloaded yet; list remote is served without it until it arrives (a running server "
        "keeps trying; `dnsfence lists update` downloads it now); first try: HTTP 503 Service "
        "Unavailable (the server asks to retry after 120 s); there is no earlier copy to use; "
        "next try in 2 min")
    assert (record.event, record.url) == ("source_missing", url)  # type: ignore[attr-defined]


def test_with_on_missing_fail_the_failure_is_told_and_the_load_is_refused(
        tmp_path: Path, server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dnsfence")
    url = server.url("/ban.txt")
    config = configured(tmp_path, url, "fail")
    retries = first_downloads(config)
    assert retries.next_due() is None  # nobody retries: the server does not start
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (f"dnsfence: remote: {url}: failed; HTTP 404 Not Found; "
                                   "there is no earlier copy to use")
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir)
    assert result.policy is None
    [error] = result.errors
    assert "with `lists.on_missing: fail` nothing is served without it" in error.message
