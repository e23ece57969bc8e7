"""The dashboard in a real browser (Debian's chromium, headless, driven by Playwright with
the system's browser) against the real server, a real unbound upstream and a month of query
log around a ban: no console errors, the lists and the next change, the charts (one bar
per hour or day with data), the page refreshing itself, the "Why?" box typed into and
submitted, and the token (basic auth in the browser). A listener off loopback without a
token refuses to start.

Playwright rather than Selenium: it is a pip package of the test extra that drives the
system's chromium over its DevTools protocol (no chromium-driver to keep in step with the
browser's version), and it reports console messages and page errors, and answers basic
auth, by itself.

Set DNSFENCE_SCREENSHOT=docs/dashboard.png to keep the screenshot (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest

from .dashboard_log import (
    RECENT,
    day_key,
    hour_key,
    utc_hour_key,
    with_data,
    write_lists,
    write_log,
)
from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, Unbound, in_ci, run_dnsfence

TOKEN = "dashboard-test-token-0123456789"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def playwright() -> Any:
    """Playwright's sync API, and chromium: missing is a skip here, a failure under CI."""
    problem = None
    if shutil.which("chromium") is None:
        problem = "chromium is not installed (`.ci/run` installs the Debian package)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "Playwright is not installed (pip install -e '.[test]')"
    if problem is not None:
        if in_ci():
            pytest.fail(f"{problem}; CI=true, so this is a failure, not a skip")
        pytest.skip(problem)
    return sync_playwright


def api(server: Dnsfence, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    assert server.http_address is not None
    host, port = server.http_address
    request = urllib.request.Request(f"http://{host}:{port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.fixture
def server(dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
           tmp_path: Path) -> tuple[Dnsfence, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    write_lists(blocklists_dir, now)
    state = tmp_path / "state"
    found = write_log(state, now)
    config = tmp_path / "dnsfence.yaml"
    config.write_text("timezone: Europe/Brussels\n")
    started = dnsfence_factory("--config", str(config), state_dir=state,
                               env={"DNSFENCE_HTTP_TOKEN": TOKEN})
    return started, found


def size(server: Dnsfence, path: str) -> int:
    assert server.http_address is not None
    host, port = server.http_address
    request = urllib.request.Request(f"http://{host}:{port}{path}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(response.read())


def test_the_dashboard_in_a_browser(server: tuple[Dnsfence, list[dict[str, Any]]],
                                    tmp_path: Path) -> None:
    dnsfence, found = server
    assert api(dnsfence, "/api/dashboard", token=None)[0] == 401
    sizes = {path: size(dnsfence, path) for path in ("/", "/api/dashboard?html=1",
                                                     "/api/dashboard")}
    print(f"bytes: {sizes}")  # the README's figures (pytest -s)
    assert sizes["/"] < 64_000  # small: a month of three lists, charts included
    assert api(dnsfence, "/api/check?name=x", token=None)[0] == 401
    assert dnsfence.http_address is not None
    host, port = dnsfence.http_address
    errors: list[str] = []
    with playwright()() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=BROWSER_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                http_credentials={"username": "admin", "password": TOKEN})
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://{host}:{port}/")
            check_lists_and_next_change(page)
            check_charts(page, dnsfence, found)
            check_it_refreshes(page, dnsfence)
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("DNSFENCE_SCREENSHOT")
            if keep:
                shutil.copyfile(shot, keep)
            check_why(page)
        finally:
            browser.close()
    assert errors == []


def check_lists_and_next_change(page: Any) -> None:
    assert page.locator("#lists tr:has(b:text-is('ads')) .state").inner_text() == "in force"
    assert page.locator("#lists tr:has(b:text-is('future')) .state").inner_text() == "scheduled"
    assert page.locator("#lists tr:has(b:text-is('tiktok')) .state").inner_text() == "in force"
    nxt = page.locator("#now tr:has(b:text-is('next change')) td").nth(1).inner_text()
    assert "future: blocking starts (1 name)" in nxt
    assert page.locator("#timeline tr.now").count() == 1
    assert "tiktok: observation starts" in page.locator("#timeline").inner_text()
    assert page.locator("#health").inner_text().startswith("ok: 1 worker answering DNS")


def check_charts(page: Any, dnsfence: Dnsfence, found: list[dict[str, Any]]) -> None:
    _, document = api(dnsfence, "/api/dashboard")
    hours = [utc_hour_key(h) for h in document["attempts"]["hours"]]
    days = document["attempts"]["days"]
    for name in ("tiktok", "ads"):
        for kind in ("blocked", "observed"):
            want_hours = with_data(found, name, kind, hours, hour_key)
            want_days = with_data(found, name, kind, days, day_key)
            drawn_hours = page.locator(
                f"#hourly svg rect[data-list='{name}'][data-kind='{kind}']").count()
            drawn_days = page.locator(
                f"#daily svg rect[data-list='{name}'][data-kind='{kind}']").count()
            assert (drawn_hours, drawn_days) == (want_hours, want_days), (name, kind)
    assert page.locator("#daily svg rect[data-list='tiktok'][data-kind='blocked']").count() \
        >= 10
    assert page.locator("#daily svg rect[data-list='tiktok'][data-kind='observed']").count() == 6
    assert page.locator("#hourly svg rect[data-list='tiktok'][data-kind='blocked']").count() \
        >= len(RECENT)
    assert "tiktok starts" in page.locator("#daily svg").inner_html()
    box = page.locator("#daily svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 150  # drawn, not collapsed


def last_24_hours(page: Any) -> int:
    row = page.locator("#attempts table.n tr:has(td:text-is('tiktok'))").first
    return int(row.locator("td").nth(1).inner_text().replace(",", ""))


def check_it_refreshes(page: Any, dnsfence: Dnsfence) -> None:
    """A blocked query now shows on the page without a reload (the log's thread reads it,
    the page's script polls)."""
    before = last_24_hours(page)
    query = dns.message.make_query("www.tiktok.com", "A")
    reply = dns.query.udp(query, dnsfence.host, port=dnsfence.port, timeout=5)
    assert reply.rcode() == 3  # NXDOMAIN: blocked, and logged
    url = page.url
    deadline = time.monotonic() + 40
    while last_24_hours(page) != before + 1:
        assert time.monotonic() < deadline, "the page did not refresh itself"
        page.wait_for_timeout(250)
    assert page.url == url  # no navigation: the script replaced the sections


def check_why(page: Any) -> None:
    for name, verdict, says in (("www.tiktok.com", "blocked", "BLOCKED by list tiktok"),
                                ("example.org", "allowed", "allowed (no rule applies)")):
        page.fill("#why-name", name)
        page.click("#why-form button[type=submit]")
        page.wait_for_selector("#why-verdict")
        assert page.locator("#why-verdict").inner_text() == verdict
        answer = page.locator("#why-answer").inner_text()
        assert says in answer and answer.startswith(name)
        if verdict == "blocked":
            assert "tiktok.yaml:" in answer  # the rule's file:line
        assert page.locator("#why-name").input_value() == name


def test_off_loopback_without_a_token_it_refuses_to_start(
        blocklists_dir: BlocklistDir, unbound: Unbound, tmp_path: Path) -> None:
    blocklists_dir.write("ads", domains=["ads.example"], effective="2026-01-01")
    started = time.monotonic()
    done = run_dnsfence("serve", "--http-listen", "0.0.0.0:0", "--listen", "127.0.0.1:0",
                        "--upstream", unbound.address, "--blocklists", str(blocklists_dir.path),
                        "--state-dir", str(tmp_path / "state"), "--workers", "1",
                        env={"DNSFENCE_HTTP_TOKEN": ""}, timeout=30)
    assert done.returncode == 1, done.stderr  # EXIT_PROBLEMS
    assert "not started: http.listen is 0.0.0.0:0, which is not loopback" in done.stderr
    assert "http.token_file" in done.stderr and "DNSFENCE_HTTP_TOKEN" in done.stderr
    assert "serving on" not in done.stderr and time.monotonic() - started < 20


def test_a_supervised_server_serves_it_from_the_supervisor(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir) -> None:
    """With several workers the supervisor serves HTTP: the policy its reloader holds, the
    workers' shared reports, no worker asked."""
    blocklists_dir.write("ads", domains=["ads.example"], effective="2026-01-01")
    dnsfence = dnsfence_factory(workers="2")
    reply = dns.query.udp(dns.message.make_query("ads.example", "A"), dnsfence.host,
                          port=dnsfence.port, timeout=5)
    assert reply.rcode() == 3
    deadline = time.monotonic() + 20
    while True:
        status, document = api(dnsfence, "/api/dashboard", token=None)
        assert status == 200
        now = document["now"]
        if now["workers"]["count"] == 2 and now["answers"].get("blocked") == 1:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.3)
    assert now["workers"]["supervisor"] == dnsfence.pid
    assert dnsfence.pid not in now["workers"]["pids"]
    status, answer = api(dnsfence, "/api/check?name=www.ads.example", token=None)
    assert status == 200 and answer["blocked"] and answer["list"] == "ads"
