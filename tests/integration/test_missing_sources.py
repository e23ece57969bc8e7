"""Starting without the network: a `url:` source whose mirror is down at the first start
costs that source only. The real server answers every other list at once, says which
source it lacks (log, `dnsfence status`, /healthz), and loads it, without a SIGHUP, soon
after a local HTTP server on 127.0.0.1 starts serving it where it was unreachable."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import dns.edns
import dns.rcode

from tests.fetch.local_http import LocalServer, Reply

from .harness import (
    BlocklistDir,
    Dnsfence,
    DnsfenceFactory,
    free_port,
    run_dnsfence,
    unused_address,
    wait_until,
)

NO_PROXY = {name: "" for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY",
                                  "HTTPS_PROXY", "ALL_PROXY")}
SOURCE = b"ban-a.example\nban-b.example\n"
ARRIVAL_BOUND = 10.0
"""Seconds within which the source is served once its mirror is back: retries back off
from 1 s to at most 2 s here (`lists.retry_initial`, `retry_max`), plus the reload."""


def _blocked(server: Dnsfence, name: str) -> bool:
    """Blocked by dnsfence: NXDOMAIN with EDE 15 (the upstream's own NXDOMAIN has none)."""
    reply = server.query(name)
    ours = any(isinstance(o, dns.edns.EDEOption) and int(o.code) == 15 for o in reply.options)
    return reply.rcode() == dns.rcode.NXDOMAIN and ours


def _lists(blocklists_dir: BlocklistDir, url: str) -> Path:
    blocklists_dir.write("local", domains=["local-ban.example"], effective="2023-01-01")
    return blocklists_dir.write_text("remote", f"""name: remote
reference: mirror down at the first start
effective: 2023-01-01
domains: [own-remote.example]
sources:
  - url: {url}
    format: domains
""")


def _config(tmp_path: Path, *lines: str) -> Path:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("\n".join(("lists:", f"  cache_dir: {tmp_path / 'cache'}",
                                 "  retry_initial: 1", "  retry_max: 2", *lines)) + "\n")
    return config


def _warnings_naming(server: Dnsfence, url: str) -> list[str]:
    return [line for line in server.stderr_lines() if " WARNING " in line and url in line]


def test_a_server_starts_without_an_unreachable_source_and_loads_it_when_it_comes(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
        tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    url = f"http://127.0.0.1:{port}/ban.txt"
    list_file = _lists(blocklists_dir, url)
    config = _config(tmp_path, "reload:", "  poll_interval: 0.1")
    started = time.monotonic()
    server = dnsfence_factory("--config", str(config), env=NO_PROXY)
    assert time.monotonic() - started < 8.0  # no long wait on the dead mirror

    # every other list, and the rest of the source's own list, is enforced at once
    assert _blocked(server, "local-ban.example")
    assert _blocked(server, "own-remote.example")
    assert not _blocked(server, "ban-a.example")
    # one warning, naming the list file's line and the URL
    [warning] = _warnings_naming(server, url)
    assert f"{list_file}:6:5: warning: source {url} has not been downloaded yet" in warning
    assert "Connection refused" in warning and "next try in" in warning

    status = run_dnsfence("status", "--server", server.address)
    assert status.returncode == 1, status.stderr
    assert "MISSING: 1 source never downloaded yet" in status.stdout
    assert f"{list_file}:6:5: {url} (list remote)" in status.stdout
    as_json = run_dnsfence("status", "--server", server.address, "--json")
    [missing] = json.loads(as_json.stdout)["policy"]["missing_sources"]
    assert (missing["url"], missing["list"]) == (url, "remote")
    assert missing["failures"] >= 1 and "Connection refused" in missing["last_error"]
    code, body = server.http_get("/healthz")
    assert code == 200 and f"serving without 1 source never downloaded yet: {url}" in body

    # it keeps trying, with backoff, and says so at info level (the warning was once)
    server.wait_for_stderr(r" INFO .*still not downloaded .*next try in \d+ s", timeout=6)
    assert len(_warnings_naming(server, url)) == 1

    mirror = LocalServer(port)  # the mirror is back where it was
    try:
        mirror.routes["/ban.txt"] = Reply(200, SOURCE)
        back = time.monotonic()
        wait_until(lambda: _blocked(server, "ban-a.example"), timeout=ARRIVAL_BOUND,
                   interval=0.1, what="the source's names to be blocked")
        assert time.monotonic() - back < ARRIVAL_BOUND
        assert any(re.search(r"reloaded \(sources downloaded\)", line)
                   for line in server.stderr_lines())
        assert _blocked(server, "ban-b.example") and _blocked(server, "local-ban.example")
        assert [path for path, _ in mirror.seen] == ["/ban.txt"]  # once, then from the copy
    finally:
        mirror.stop()
    status = run_dnsfence("status", "--server", server.address, "--json")
    assert status.returncode == 0, status.stdout
    assert json.loads(status.stdout)["policy"]["missing_sources"] == []
    code, body = server.http_get("/healthz")
    assert code == 200 and "serving without" not in body
    assert len(_warnings_naming(server, url)) == 1


def test_every_worker_loads_the_source_even_when_files_are_not_watched(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
        tmp_path: Path) -> None:
    """The supervisor downloads, reloads once and starts both workers on the new policy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/ban.txt"
    _lists(blocklists_dir, url)
    config = _config(tmp_path, "reload:", "  watch: false")
    server = dnsfence_factory("--config", str(config), env=NO_PROXY, workers="2")
    assert not _blocked(server, "ban-a.example")
    mirror = LocalServer(port)
    try:
        mirror.routes["/ban.txt"] = Reply(200, SOURCE)
        server.wait_for_stderr(r"reloaded \(sources downloaded\)", timeout=ARRIVAL_BOUND)
        server.wait_for_stderr(r"starting 2 workers on the new policy", timeout=ARRIVAL_BOUND)
    finally:
        mirror.stop()
    # the old generation answers until the new one does, then retires: within a bound,
    # 20 queries in a row (fresh source ports: both workers are asked) are all blocked
    wait_until(lambda: all(_blocked(server, "ban-a.example") for _ in range(20)),
               timeout=ARRIVAL_BOUND, what="both new workers to serve the source's names")


def test_on_missing_fail_refuses_to_start_and_says_why(
        blocklists_dir: BlocklistDir, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/ban.txt"
    list_file = _lists(blocklists_dir, url)
    config = _config(tmp_path, "  on_missing: fail")
    served = run_dnsfence("serve", "--config", str(config), "--blocklists",
                          str(blocklists_dir), "--listen", "127.0.0.1:0", "--upstream",
                          unused_address(), "--http-listen", "", "--workers", "1",
                          env=NO_PROXY, timeout=30)
    assert served.returncode == 1, served.stderr
    assert "serving on" not in served.stderr
    assert re.search(rf"remote: {re.escape(url)}: failed; cannot download: .*Connection "
                     "refused.*; there is no earlier copy to use", served.stderr)
    assert (f"{list_file}:6:5: error: source {url} has not been downloaded yet, and with "
            "`lists.on_missing: fail` nothing is served without it") in served.stderr
    assert "not started: 1 error(s) in the blocklists" in served.stderr


def test_lint_warns_under_start_and_fails_under_fail(blocklists_dir: BlocklistDir,
                                                     tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/ban.txt"
    _lists(blocklists_dir, url)
    start = run_dnsfence("lint", "--config", str(_config(tmp_path)), "--blocklists",
                         str(blocklists_dir))
    assert start.returncode == 0, start.stderr
    assert f"warning: source {url} has not been downloaded yet; list remote is served " \
        "without it until it arrives" in start.stderr
    assert "1 warning(s)" in start.stdout
    strict = run_dnsfence("lint", "--strict", "--config", str(_config(tmp_path)),
                          "--blocklists", str(blocklists_dir))
    assert strict.returncode == 1
    fail = run_dnsfence("lint", "--config", str(_config(tmp_path, "  on_missing: fail")),
                        "--blocklists", str(blocklists_dir))
    assert fail.returncode == 1
    assert "error: source" in fail.stderr and "which downloads missing sources" not in \
        fail.stderr
