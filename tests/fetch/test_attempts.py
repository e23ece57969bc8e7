"""What the downloading process says: one warning per run of failures, then info lines;
missing sources as status shows them."""

from __future__ import annotations

import logging
import time

import pytest

from resolver.fetch.attempts import MISSING_SHOWN, log_download, missing_state
from resolver.fetch.backoff import RetryPolicy, RetrySchedule
from resolver.fetch.remote import FetchResult
from resolver.fetch.updates import Update
from resolver.lists.sources import SourceSpec
from resolver.policy.loaded import MissingSource
from resolver.policy.model import Location

URL = "https://lists.example/ban.txt"
WHERE = Location("blocklists/ban.yaml", 6, 5)
SPEC = SourceSpec("ban", WHERE, path=None, url=URL)
NO_JITTER = RetryPolicy(initial=30, maximum=3600, jitter=0)


def failing(schedule: RetrySchedule, status: str = "failed") -> Update:
    message = "cannot download: Connection refused; there is no earlier copy to use"
    attempts = schedule.failed(URL, time.time(), message, NO_JITTER)
    return Update(SPEC, FetchResult(URL, status, None, message), attempts)  # type: ignore[arg-type]


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    found = [(r.levelno, r.getMessage()) for r in caplog.records]
    caplog.clear()
    return found


def test_a_missing_source_warns_once_then_tells_each_try_at_info_level(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dnsfence")
    schedule = RetrySchedule()
    log_download(failing(schedule), missing=True)
    [(level, line)] = lines(caplog)
    assert level == logging.WARNING
    assert line == (f"dnsfence: {WHERE}: source {URL} of list ban is still not downloaded "
                    "(the list is served without it): cannot download: Connection refused; "
                    "there is no earlier copy to use; failed once; next try in 30 s")
    for failures, wait in ((2, "60 s"), (3, "2 min"), (4, "4 min")):
        log_download(failing(schedule), missing=True)
        [(level, line)] = lines(caplog)
        assert level == logging.INFO
        assert line.endswith(f"failed {failures} times in a row; next try in {wait}")


def test_a_source_with_a_copy_warns_once_per_run_of_failures(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dnsfence")
    schedule = RetrySchedule()
    log_download(failing(schedule, "kept"), missing=False)
    log_download(failing(schedule, "kept"), missing=False)
    assert [level for level, _ in lines(caplog)] == [logging.WARNING, logging.INFO]
    schedule.succeeded(URL)
    log_download(failing(schedule, "kept"), missing=False)
    [(level, line)] = lines(caplog)
    assert level == logging.WARNING and line.startswith(f"dnsfence: ban: {URL}: kept; ")


def test_a_new_copy_is_told_and_a_fresh_cached_one_is_not(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dnsfence")
    log_download(Update(SPEC, FetchResult(URL, "downloaded", "a.example\n",
                                          "downloaded 1 entry (first copy)", 1, 0)), True)
    log_download(Update(SPEC, FetchResult(URL, "cached", "a.example\n", "using the copy")),
                 False)
    assert lines(caplog) == [(logging.INFO, f"dnsfence: ban: {URL}: downloaded (+1 −0); "
                                            "downloaded 1 entry (first copy)")]


def test_missing_sources_as_status_shows_them() -> None:
    sources = tuple(MissingSource("ban", f"{URL}?{i}", WHERE, f"/cache/{i}.json")
                    for i in range(MISSING_SHOWN + 5))
    schedule = RetrySchedule()
    schedule.failed(sources[0].url, 1000.0, "HTTP 503", NO_JITTER)
    schedule.soon(sources[1].url, 1000.0)
    shown = missing_state(sources, schedule)
    assert len(shown) == MISSING_SHOWN  # the report travels in one DNS answer
    assert shown[0] == {"list": "ban", "url": f"{URL}?0", "location": str(WHERE),
                        "failures": 1, "last_error": "HTTP 503", "next_attempt": 1030.0}
    assert (shown[1]["failures"], shown[1]["last_error"], shown[1]["next_attempt"]) == (
        0, None, 1000.0)
    assert shown[2]["failures"] is None
    # a worker that does not download knows what is missing, not how the tries go
    assert {entry["failures"] for entry in missing_state(sources, None)} == {None}
