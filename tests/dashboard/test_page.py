"""The page: self-contained, its one script allowed by its hash, the Why? form a plain GET."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from resolver.dashboard.page import POLICY, SCRIPT, page, why_html
from tests.dashboard.live_site import live_site


def test_the_policy_allows_the_script_by_its_hash_and_nothing_else() -> None:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in POLICY
    assert "default-src 'none'" in POLICY and "connect-src 'self'" in POLICY
    assert "unsafe-eval" not in POLICY and "'unsafe-inline'" not in POLICY.split(";")[2]


def test_the_script_polls_a_relative_url() -> None:
    assert 'fetch("api/dashboard?html=1"' in SCRIPT  # works under a proxy's sub-path
    assert "console." not in SCRIPT


def test_the_why_form_is_a_get_form_and_echoes_escaped() -> None:
    html = why_html('"><x>', "", None, None)
    assert '<form method="get" action="#why"' in html
    assert 'value="&quot;&gt;&lt;x&gt;"' in html and "<x>" not in html
    answered = why_html("a.example", "10.0.0.1", {"blocked": False}, "a.example: allowed")
    assert 'id="why-verdict" class="ok">allowed' in answered
    assert 'href="api/check?name=a.example&amp;client=10.0.0.1"' in answered


def test_the_page_fetches_nothing_from_elsewhere(tmp_path: Path) -> None:
    site = live_site(tmp_path / "site")
    document = site.dashboard.document()
    html = page(document, document["html"], why_html("", "", None, None))
    assert html.startswith("<!DOCTYPE html>") and html.count("<script>") == 1
    assert not re.search(r"<(img|iframe|object)\b|<[^>]*\ssrc=|@import|url\(", html)
    assert re.findall(r"<link [^>]*>", html) == ['<link rel="icon" href="data:,">']
    assert f"<script>{SCRIPT}</script>" in html
