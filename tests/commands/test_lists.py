"""`dnsfence lists update`: every `url:` source downloaded now, failures on stderr, exit 1."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from resolver.commands import lists
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.load import defaults
from tests.commands.cli_runner import STAGED, write_tree


def test_without_url_sources_there_is_nothing_to_download(tmp_path: Path) -> None:
    write_tree(tmp_path, {"blocklists/social.yaml": STAGED})
    config = defaults().with_overrides(blocklists=tmp_path / "blocklists")
    out, err = io.StringIO(), io.StringIO()
    assert lists.update(config, accept_shrink=False, out=out, err=err) == EXIT_OK
    assert out.getvalue() == "no list has a `url:` source; nothing to download\n"
    assert err.getvalue() == ""


def test_a_failed_download_is_reported_and_exits_1(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                     "ALL_PROXY", "no_proxy", "NO_PROXY"):  # straight to 127.0.0.1
        monkeypatch.delenv(variable, raising=False)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_tree(tmp_path, {"blocklists/ads.yaml": f"""
        reference: r
        effective: 2024-01-01
        sources:
          - url: http://127.0.0.1:{port}/ads.txt
    """})
    config = defaults().with_overrides(blocklists=tmp_path / "blocklists",
                                       **{"lists.cache_dir": tmp_path / "cache",
                                          "lists.download_timeout": 2.0})
    out, err = io.StringIO(), io.StringIO()
    assert lists.update(config, accept_shrink=False, out=out, err=err) == EXIT_PROBLEMS
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 2 and f"127.0.0.1:{port}/ads.txt" in lines[0]
    assert lines[1] == ("dnsfence: 1 of 1 download(s) failed; the last good copies stay in "
                        "use")
