"""List sources end to end: local files in several formats, URL sources over HTTP on
127.0.0.1, `dnsfence lists update`, and a restart with only the cached copy."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import dns.edns
import dns.rcode
import pytest

from .harness import BlocklistDir, DnsfenceFactory, run_dnsfence, wait_until


class _Lists(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_lists() -> Iterator[tuple[str, dict[str, bytes]]]:
    bodies: dict[str, bytes] = {}
    handler = type("Handler", (_Lists,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def _rcode(server: object, name: str) -> str:
    """NXDOMAIN means blocked by dnsfence (EDE 15); the upstream's own NXDOMAIN for a name
    it does not know is reported as "upstream NXDOMAIN"."""
    reply = server.query(name)  # type: ignore[attr-defined]
    rcode = dns.rcode.to_text(reply.rcode())
    ours = any(isinstance(o, dns.edns.EDEOption) and int(o.code) == 15 for o in reply.options)
    return rcode if ours or rcode != "NXDOMAIN" else "upstream NXDOMAIN"


def test_local_sources_in_each_format(dnsfence_factory: DnsfenceFactory,
                                      blocklists_dir: BlocklistDir) -> None:
    vendor = blocklists_dir.path / "vendor"
    vendor.mkdir()
    (vendor / "hosts.txt").write_text("# hosts\n0.0.0.0 hosts-a.example hosts-b.example\n"
                                      "127.0.0.1 localhost\n")
    (vendor / "adblock.txt").write_text("[Adblock Plus 2.0]\n! comment\n||adblock.example^\n"
                                        "@@||ok.adblock.example^\nexample.com##.banner\n")
    (vendor / "rpz.txt").write_text("$TTL 300\n@ SOA ns hostmaster 1 1 1 1 1\n"
                                    "rpz.example CNAME .\n*.wild.example CNAME .\n")
    (vendor / "regex.txt").write_text("^ads?[0-9]+\\.\n")
    blocklists_dir.write_text("mixed", """name: mixed
reference: sources test
effective: 2023-01-01
sources:
  - path: vendor/hosts.txt
  - path: vendor/adblock.txt
    format: adblock
  - path: vendor/rpz.txt
    format: rpz
  - path: vendor/regex.txt
    format: regex
""")
    server = dnsfence_factory()
    expected = {
        "hosts-a.example": "NXDOMAIN", "hosts-b.example": "NXDOMAIN",
        "sub.hosts-a.example": "upstream NXDOMAIN",  # a hosts line blocks that name only
        "adblock.example": "NXDOMAIN", "x.adblock.example": "NXDOMAIN",
        "ok.adblock.example": "upstream NXDOMAIN",  # @@ exception: forwarded
        "rpz.example": "NXDOMAIN", "a.wild.example": "NXDOMAIN",
        "wild.example": "upstream NXDOMAIN",  # *.x: below only
        "ads1.example.org": "NXDOMAIN", "www.example.test": "NOERROR",
    }
    for name, rcode in expected.items():
        assert _rcode(server, name) == rcode, name
    lint = run_dnsfence("lint", "--blocklists", str(blocklists_dir.path))
    assert lint.returncode == 0, lint.stderr
    assert "source " in lint.stdout and "(adblock): 2 entries taken" in lint.stdout
    assert "cosmetic" in lint.stdout


def _remote_list(blocklists_dir: BlocklistDir, url: str) -> None:
    blocklists_dir.write_text("remote", f"""name: remote
reference: remote source test
effective: 2023-01-01
sources:
  - url: {url}
    format: domains
""")


def test_url_source_download_update_and_cached_restart(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir, tmp_path: Path,
        http_lists: tuple[str, dict[str, bytes]]) -> None:
    base, bodies = http_lists
    bodies["/list.txt"] = b"remote-a.example\nremote-b.example\n"
    config = tmp_path / "dnsfence.yaml"
    config.write_text(f"lists:\n  cache_dir: {tmp_path / 'cache'}\n")
    _remote_list(blocklists_dir, f"{base}/list.txt")
    # a never-downloaded URL source: lint says so (a warning: the server starts without it)
    lint = run_dnsfence("lint", "--config", str(config), "--blocklists", str(blocklists_dir))
    assert lint.returncode == 0 and "warning: source" in lint.stderr
    assert "has not been downloaded yet" in lint.stderr
    # the server downloads it at start, before its first answer
    server = dnsfence_factory("--config", str(config))
    assert _rcode(server, "remote-a.example") == "NXDOMAIN"
    server.stop()
    # lists update prints what changed
    bodies["/list.txt"] = b"remote-a.example\nremote-c.example\n"
    update = run_dnsfence("lists", "update", "--config", str(config), "--blocklists",
                          str(blocklists_dir))
    assert update.returncode == 0, update.stderr
    assert "downloaded (+1 −1)" in update.stdout
    # a broken mirror (HTML) keeps the last good copy and fails loudly
    bodies["/list.txt"] = b"<!doctype html><html><body>Not here</body></html>\n"
    update = run_dnsfence("lists", "update", "--config", str(config), "--blocklists",
                          str(blocklists_dir))
    assert update.returncode == 1 and "kept" in update.stderr
    # the mirror is gone: a restart uses the cached copy
    del bodies["/list.txt"]
    server = dnsfence_factory("--config", str(config))
    assert _rcode(server, "remote-c.example") == "NXDOMAIN"
    assert _rcode(server, "remote-b.example") == "upstream NXDOMAIN"  # no longer listed


def test_lists_update_reaches_every_running_worker(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir, tmp_path: Path,
        http_lists: tuple[str, dict[str, bytes]]) -> None:
    """A copy saved by `dnsfence lists update` (or by the server's own download) is
    watched like a local file: the main process reloads it once and starts workers on it."""
    base, bodies = http_lists
    bodies["/list.txt"] = b"remote-a.example\n"
    config = tmp_path / "dnsfence.yaml"
    config.write_text(f"lists:\n  cache_dir: {tmp_path / 'cache'}\n"
                      "reload:\n  poll_interval: 0.1\n")
    _remote_list(blocklists_dir, f"{base}/list.txt")
    server = dnsfence_factory("--config", str(config), "--workers", "2")
    assert _rcode(server, "remote-a.example") == "NXDOMAIN"
    bodies["/list.txt"] = b"remote-a.example\nremote-new.example\n"
    update = run_dnsfence("lists", "update", "--config", str(config), "--blocklists",
                          str(blocklists_dir))
    assert update.returncode == 0, update.stderr
    server.wait_for_stderr(r"reloaded \(files changed\)", timeout=5)
    server.wait_for_stderr(r"starting 2 workers on the new policy", timeout=5)
    wait_until(lambda: _rcode(server, "remote-new.example") == "NXDOMAIN", timeout=2,
               what="the new workers to answer")
    for _ in range(20):  # fresh source ports: both workers are asked
        assert _rcode(server, "remote-new.example") == "NXDOMAIN"
