"""resolver.fetch.updates: every `url:` source of the lists brought up to date, from a local
HTTP server on 127.0.0.1."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from resolver.fetch.backoff import RetrySchedule
from resolver.fetch.settings import FetchSettings
from resolver.fetch.updates import duration, fetch_policy, update_sources, url_sources
from resolver.lists.remote_cache import RemoteCache
from tests.fetch.local_http import T0, LocalServer, Reply
from tests.policy.assertions import write_lists

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY", "no_proxy", "NO_PROXY")


class Lists:
    """A ThreadingHTTPServer on 127.0.0.1:0 serving `texts` by path, counting requests."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.requests: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests.append(self.path)
                text = served.texts.get(self.path)
                body = (text if text is not None else "no such list").encode("utf-8")
                self.send_response(200 if text is not None else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def lists(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lists]:
    for variable in PROXY_VARIABLES:  # requests must go straight to 127.0.0.1
        monkeypatch.delenv(variable, raising=False)
    served = Lists()
    try:
        yield served
    finally:
        served.stop()


def names(count: int, prefix: str = "n") -> str:
    return "".join(f"{prefix}{i}.example\n" for i in range(count))


def setup(tmp_path: Path, lists: Lists, **texts: str) -> FetchSettings:
    """One list file per text, each with one `url:` source served from /<name>.txt."""
    files = {}
    for name, text in texts.items():
        lists.texts[f"/{name}.txt"] = text
        files[f"{name}.yaml"] = f"""
            reference: r
            effective: 2024-01-01
            sources:
              - url: {lists.url(f"/{name}.txt")}
                refresh: 1h
            """
    write_lists(tmp_path / "blocklists", files)
    return FetchSettings(tmp_path / "blocklists", "UTC", tmp_path / "cache",
                         download_timeout=5.0, max_download_mb=1, min_keep_ratio=0.5,
                         retry_initial=30.0, retry_max=3600.0)


def test_every_url_source_is_downloaded_once_then_only_when_due(tmp_path: Path,
                                                                lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads=names(3), video=names(2, "v"))
    first = update_sources(settings)
    assert [(u.spec.list_name, u.result.status, u.changed) for u in first] == [
        ("ads", "downloaded", True), ("video", "downloaded", True)]
    assert sorted(lists.requests) == ["/ads.txt", "/video.txt"]
    cache = RemoteCache(settings.cache_dir)
    for update in first:
        assert update.spec.url is not None
        copy = cache.cached(update.spec.url)
        assert copy is not None and copy.read_text() == lists.texts[f"/{update.spec.list_name}.txt"]
    again = update_sources(settings)
    assert [u.result.status for u in again] == ["cached", "cached"]
    assert not any(u.changed for u in again)
    assert len(lists.requests) == 2  # nothing was due
    forced = update_sources(settings, force=True)
    assert [u.result.status for u in forced] == ["downloaded", "downloaded"]
    assert len(lists.requests) == 4


def test_only_missing_fetches_sources_without_a_copy(tmp_path: Path, lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads=names(3))
    assert [u.result.status for u in update_sources(settings, only_missing=True)] == [
        "downloaded"]
    assert update_sources(settings, only_missing=True, force=True) == []
    assert lists.requests == ["/ads.txt"]


def test_with_diff_the_update_says_what_was_added_and_removed(tmp_path: Path,
                                                              lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads="a.example\nb.example\n")
    update_sources(settings)
    lists.texts["/ads.txt"] = "b.example\nc.example\nd.example\n"
    [update] = update_sources(settings, force=True, with_diff=True)
    assert (update.result.added, update.result.removed) == (2, 1)
    url = lists.url("/ads.txt")
    assert update.describe() == f"ads: {url}: downloaded (+2 −1); downloaded 3 entries (+2 −1)"


def test_a_download_that_is_not_a_list_of_the_format_is_refused(tmp_path: Path,
                                                                lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads="a.example\n" + "this is prose\n" * 9)
    [update] = update_sources(settings)
    assert update.result.status == "failed"
    assert update.result.message.startswith(
        "not a list in the expected format: 90% of its lines are not domains entries")
    assert RemoteCache(settings.cache_dir).cached(lists.url("/ads.txt")) is None


def test_a_list_that_shrank_too_much_is_kept_unless_accepted(tmp_path: Path,
                                                             lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads=names(10))
    update_sources(settings)
    lists.texts["/ads.txt"] = names(2)
    [kept] = update_sources(settings, force=True)
    assert kept.result.status == "kept"
    assert kept.result.text == names(10)
    [taken] = update_sources(settings, force=True, accept_shrink=True)
    assert taken.result.status == "downloaded"
    assert taken.result.text == names(2)


def test_fetch_settings_become_the_download_limits(tmp_path: Path) -> None:
    settings = FetchSettings(tmp_path, "UTC", tmp_path / "cache", download_timeout=7.0,
                             max_download_mb=3, min_keep_ratio=0.25, retry_initial=30.0,
                             retry_max=3600.0)
    policy = fetch_policy(settings)
    assert (policy.timeout, policy.max_bytes, policy.min_keep_ratio) == (
        7.0, 3 * 1024 * 1024, 0.25)


def test_url_sources_skips_local_paths_broken_lists_and_a_missing_directory(
        tmp_path: Path) -> None:
    assert url_sources(tmp_path / "absent", "UTC") == []
    directory = write_lists(tmp_path / "blocklists", {
        "local.yaml": """
            reference: r
            effective: 2024-01-01
            sources:
              - path: vendor.txt
              - url: https://lists.example/a.txt
            """,
        "broken.yaml": """
            effective: not a date
            sources:
              - url: https://lists.example/b.txt
            """,
    })
    assert [s.url for s in url_sources(directory, "UTC")] == ["https://lists.example/a.txt"]


def test_a_failing_source_is_tried_again_only_after_its_backoff(tmp_path: Path,
                                                                lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads=names(3))
    url = lists.url("/ads.txt")
    retries = RetrySchedule(random.Random(1))
    update_sources(settings, retries=retries, now=T0)
    assert retries.attempts(url) is None  # a success leaves nothing to retry
    del lists.texts["/ads.txt"]  # the mirror answers 404 from now on
    failed_at = T0 + 2 * 3600  # the copy is older than its `refresh: 1h`: due
    [kept] = update_sources(settings, retries=retries, now=failed_at)
    assert kept.result.status == "kept"
    assert kept.attempts is not None and kept.attempts.failures == 1
    assert 24 <= kept.attempts.next_at - failed_at <= 30  # 30 s less up to 20 % jitter
    assert len(lists.requests) == 2
    # the copy is still due, but the next minute's check asks nothing before the wait is over
    assert update_sources(settings, retries=retries, now=failed_at + 10) == []
    assert update_sources(settings, retries=retries, now=kept.attempts.next_at - 0.1) == []
    assert len(lists.requests) == 2
    [again] = update_sources(settings, retries=retries, now=kept.attempts.next_at)
    assert again.attempts is not None and again.attempts.failures == 2
    assert 48 <= again.attempts.next_at - kept.attempts.next_at <= 60
    lists.texts["/ads.txt"] = names(3)
    [back] = update_sources(settings, retries=retries, now=again.attempts.next_at)
    assert back.result.status == "downloaded" and back.attempts is None
    assert retries.attempts(url) is None


def test_a_missing_source_that_fails_says_when_it_is_tried_next(tmp_path: Path,
                                                                lists: Lists) -> None:
    settings = setup(tmp_path, lists, ads=names(3))
    del lists.texts["/ads.txt"]
    [failed] = update_sources(settings, only_missing=True, retries=RetrySchedule())
    assert failed.result.status == "failed"
    assert re.search(r"; HTTP 404 Not Found; there is no earlier copy to use; failed once; "
                     r"next try in (2[4-9]|30) s$", failed.describe()), failed.describe()


def test_start_up_spends_at_most_its_budget_on_a_stalling_mirror(
        tmp_path: Path, server: LocalServer) -> None:
    """Each download's stall timeout is cut to what is left; the rest wait for later."""
    server.routes["/a.txt"] = Reply(200, b"a.example\n", stall=20)
    server.routes["/b.txt"] = Reply(200, b"b.example\n", stall=20)
    write_lists(tmp_path / "blocklists", {
        f"{name}.yaml": f"""
            reference: r
            effective: 2024-01-01
            sources:
              - url: {server.url(f"/{name}.txt")}
            """ for name in ("a", "b")})
    settings = FetchSettings(tmp_path / "blocklists", "UTC", tmp_path / "cache",
                             download_timeout=30.0, max_download_mb=1, min_keep_ratio=0.5,
                             retry_initial=30.0, retry_max=3600.0)
    started = time.monotonic()
    updates = update_sources(settings, only_missing=True, retries=RetrySchedule(), budget=0.5)
    took = time.monotonic() - started
    assert [(u.spec.list_name, u.result.status) for u in updates] == [("a", "failed")]
    assert "no response within 0.5 s" in updates[0].result.message
    assert 0.4 <= took < 3.0
    assert [path for path, _ in server.seen] == ["/a.txt"]


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.4, "0 s"), (45, "45 s"), (119, "119 s"), (120, "2 min"), (3599, "1 h"), (3000, "50 min"),
    (3600, "1 h"), (5400, "1 h 30 min"), (-3, "0 s")])
def test_durations_read_as_people_say_them(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown
