"""`dnsfence serve`'s start-up for `url:` sources: download those never downloaded, then
say, in one warning each, which ones the first policy is served without and why.

With `lists.on_missing: start` a list mirror that is down costs its own list, not the
office's DNS: start-up waits for downloads a bounded time, and the server goes on
trying with backoff (resolver.fetch.backoff), reloading the moment a copy arrives.
"""

from __future__ import annotations

import logging
import time

from resolver.config.settings import Config
from resolver.fetch.backoff import RetrySchedule
from resolver.fetch.updates import duration, update_sources
from resolver.lists.load import LoadResult

log = logging.getLogger("dnsfence")

STARTUP_DOWNLOAD_BUDGET = 10.0
"""Seconds start-up spends at most on `url:` sources never downloaded (`lists.on_missing:
start`): a fresh server gets them before its first answer when the network works, and
serves without them soon when it does not (the server goes on trying)."""


def first_downloads(config: Config) -> RetrySchedule:
    """Download the `url:` sources that have no copy yet, before the first load.

    With `lists.on_missing: start` this takes at most STARTUP_DOWNLOAD_BUDGET seconds and
    its failures are told with the load's warning for the source (one line each); the
    schedule it returns makes the downloading process (the only worker, or the supervisor)
    try again with backoff. With `fail` each failure is a warning here, and the load's
    error stops the start."""
    retries = RetrySchedule()
    allow = config.lists.allow_missing
    for item in update_sources(config.fetch_settings(), only_missing=True,
                               retries=retries if allow else None,
                               budget=STARTUP_DOWNLOAD_BUDGET if allow else None):
        if item.changed:
            log.info("dnsfence: %s", item.describe())
        elif not allow:
            log.warning("dnsfence: %s", item.describe())
    return retries


def log_first_load(result: LoadResult, retries: RetrySchedule) -> None:
    """Every problem of the first load; a source served without says why and when next."""
    missing = {problem: source for source, problem in result.missing}
    now = time.time()
    for problem in result.problems:
        source = missing.get(problem)
        if source is None or problem.severity != "warning":
            log.warning("%s", problem)
            continue
        attempts = retries.attempts(source.url)
        if attempts is None or attempts.last_error is None:
            tried = "not tried yet (start-up had no time left); it is tried now"
        else:
            tried = (f"first try: {attempts.last_error}; next try in "
                     f"{duration(attempts.next_at - now)}")
        log.warning("%s; %s", problem, tried,
                    extra={"event": "source_missing", "list": source.list_name,
                           "url": source.url, "location": str(source.location)})
