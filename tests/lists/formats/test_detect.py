"""`format: auto`: telling the formats apart by content."""

from __future__ import annotations

import pytest

from resolver.lists.formats import parse_source
from resolver.lists.formats.detect import detect_format
from resolver.lists.sources import Format

from .lists import BLOCK, EXACT, list_text


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("# a list\nads.example\n*.tracker.example\n", Format.DOMAINS),
        ("0.0.0.0 ads.example\n127.0.0.1 x.example y.example\n", Format.HOSTS),
        ("::1 localhost\n:: ads.example\n", Format.HOSTS),
        ("||ads.example^\n@@||ok.example^\n", Format.ADBLOCK),
        ("[Adblock Plus 2.0]\nads.example\n", Format.ADBLOCK),
        ("! Title: x\n! comment\n", Format.ADBLOCK),
        ("ads.example\nexample.com##.banner\n", Format.ADBLOCK),
        ("/^ads?\\./\n/tracker/\n", Format.ADBLOCK),
        ("$TTL 300\n@ SOA localhost. root.localhost. 1 2 3 4 5\nads.example CNAME .\n", Format.RPZ),
        ("ads.example CNAME .\n*.ads.example CNAME .\n", Format.RPZ),
        ("^ad([sxv]?[0-9]*|system)[_.-]\n(\\.|^)tiktok\\.com$\n", Format.REGEX),
        ("", Format.DOMAINS),
        ("# only comments\n", Format.DOMAINS),
    ],
)
def test_snippets(text: str, fmt: Format) -> None:
    assert detect_format(text) is fmt


def test_a_domains_list_with_a_few_adblock_lines_reads_the_same_as_adblock() -> None:
    text = "ads.example\ntracker.example\n||cdn.example^\n"
    assert detect_format(text) is Format.ADBLOCK
    parsed = parse_source(text, Format.AUTO)
    assert parsed.names_for(BLOCK, EXACT) == ["ads.example", "tracker.example"]


def test_a_hosts_name_that_looks_like_a_record_type_is_still_hosts() -> None:
    assert detect_format("0.0.0.0 a b.example\n0.0.0.0 ns c.example\n") is Format.HOSTS


HTML = """\
<!DOCTYPE html>
<html lang="en" data-color-mode="auto">
  <head>
    <meta charset="utf-8">
    <title>dns-blocklists/adblock/pro.txt at main · hagezi/dns-blocklists · GitHub</title>
    <link rel="stylesheet" href="https://github.githubassets.com/assets/light.css" />
    <style>
      #repo-content { display: flex; }
      .blob-code { font-family: monospace; }
    </style>
  </head>
  <body class="logged-out env-production">
    <div class="application-main" data-commit-hovercards-enabled>
      <a href="/hagezi/dns-blocklists/raw/main/adblock/pro.txt">Raw</a>
      <table class="highlight tab-size js-file-line-container">
        <tr><td id="L1" class="blob-num">1</td><td class="blob-code">[Adblock Plus]</td></tr>
        <tr><td id="L2" class="blob-num">2</td><td class="blob-code">||0.beer^</td></tr>
      </table>
    </div>
    Footer
    <script src="https://github.githubassets.com/assets/app.js"></script>
  </body>
</html>
"""


def test_an_html_page_is_flagged_by_its_invalid_share() -> None:
    assert detect_format(HTML) is Format.DOMAINS
    parsed = parse_source(HTML, Format.AUTO)
    assert parsed.format is Format.DOMAINS
    assert parsed.invalid_share > 0.8
    assert parsed.taken <= 1  # "Footer" is, sadly, a valid name


CORPUS_FORMATS = {
    "adguard/adguard-dns-filter-without-privacy.txt": Format.ADBLOCK,
    "hagezi/adblock/pro.txt": Format.ADBLOCK,
    "hagezi/adblock/multi.txt": Format.ADBLOCK,
    "hagezi/adblock/spam-tlds-adblock.txt": Format.ADBLOCK,
    "hagezi/adblock/spam-tlds-adblock-allow.txt": Format.ADBLOCK,
    "hagezi/adblock/whitelist-referral.txt": Format.ADBLOCK,
    "hagezi/domains/light.txt": Format.DOMAINS,
    "hagezi/domains/whitelist-referral.txt": Format.DOMAINS,
    "hagezi/hosts/light.txt": Format.HOSTS,
    "hagezi/hosts/native.tiktok-compressed.txt": Format.HOSTS,
    "hagezi/rpz/pro.mini.txt": Format.RPZ,
    "hagezi/wildcard/pro.txt": Format.DOMAINS,
    "hagezi/wildcard/pro-onlydomains.txt": Format.DOMAINS,
    "stevenblack/unified-hosts-trimmed.txt": Format.DOMAINS,
    "pihole-regex/mmotti-regex.list": Format.REGEX,
    "pihole-regex/mmotti-misc-amp.list": Format.REGEX,
    "pihole-regex/mmotti-social-facebook.list": Format.REGEX,
    "pihole-regex/mmotti-social-twitter.list": Format.REGEX,
    "pihole-regex/mmotti-whitelist.list": Format.DOMAINS,
    "tiktok/aao-fyi-bytedance-allow-adb.txt": Format.ADBLOCK,
    "tiktok/aao-fyi-bytedance-block-adb.txt": Format.ADBLOCK,
    "tiktok/aao-fyi-bytedance-block-rgx.txt": Format.ADBLOCK,
    "tiktok/aao-fyi-bytedance-domains.txt": Format.DOMAINS,
    "tiktok/adguardhome-servicelist-tiktok.txt": Format.ADBLOCK,
    "tiktok/danhorton7-tiktok.hosts.txt": Format.HOSTS,
    "tiktok/hagezi-native.tiktok.adblock.txt": Format.ADBLOCK,
    "tiktok/hagezi-native.tiktok.extended.adblock.txt": Format.ADBLOCK,
    "tiktok/hagezi-native.tiktok.domains.txt": Format.DOMAINS,
    "tiktok/hagezi-native.tiktok.extended.domains.txt": Format.DOMAINS,
    "tiktok/hagezi-native.tiktok.hosts.txt": Format.HOSTS,
    "tiktok/hagezi-native.tiktok.extended.hosts.txt": Format.HOSTS,
    "tiktok/hagezi-native.tiktok.rpz.txt": Format.RPZ,
    "tiktok/hagezi-native.tiktok.extended.rpz.txt": Format.RPZ,
    "tiktok/hagezi-native.tiktok.wildcard.txt": Format.DOMAINS,
    "tiktok/hagezi-native.tiktok.extended.wildcard.txt": Format.DOMAINS,
}


@pytest.mark.parametrize(("relative", "fmt"), sorted(CORPUS_FORMATS.items()))
def test_real_lists_are_detected(relative: str, fmt: Format) -> None:
    assert detect_format(list_text(relative)) is fmt
