"""resolver.fetch.updates: every `url:` source of the lists brought up to date, from a local
HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from resolver.fetch.settings import FetchSettings
from resolver.fetch.updates import fetch_policy, update_sources, url_sources
from resolver.lists.remote_cache import RemoteCache
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
