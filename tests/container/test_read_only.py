"""`read_only: true` in docker-compose.yml holds: the real server on the shipped config,
its health check, `status` and `report` run with every place they could write read-only
(tests/container/read_only_root.py, in a mount namespace of its own) except the compose
file's two volumes, and do all their work: a `url:` source downloaded into the cache
volume, the query log and its records in the state volume, no tmpfs needed."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import dns.rcode
import pytest

from tests.container.conftest import (
    SOURCE_PROGRAM,
    ContainerServer,
    wait_for_health,
)
from tests.container.dockerfiles import ContainerFiles, compose_mounts, compose_service
from tests.integration.harness import (
    BlocklistDir,
    child_env,
    find_tool,
    in_ci,
    wait_until,
)

WRAPPER = Path(__file__).resolve().parent / "read_only_root.py"
BLOCKLISTS = "/etc/dnsfence/blocklists"
VOLUMES = tuple(m.target for m in compose_mounts(compose_service()) if not m.read_only)
ENV = child_env({"PYTHONDONTWRITEBYTECODE": "1"})  # as the image sets it


@pytest.fixture(scope="module")
def unshare() -> str:
    """`unshare`, when this host lets us make a mount namespace (root, or CAP_SYS_ADMIN)."""
    binary = find_tool("unshare")
    probe = None if binary is None else subprocess.run(
        [binary, "--mount", "--propagation", "private", "true"], capture_output=True,
        text=True, timeout=30, check=False)
    if binary is None or probe is None or probe.returncode != 0:
        message = ("a read-only root needs `unshare --mount` (util-linux) run as root: "
                   + ("not installed" if probe is None else probe.stderr.strip()))
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    return binary


def read_only(unshare: str, files: ContainerFiles) -> list[str]:
    """The command line that runs a program with only the volumes writable."""
    return [unshare, "--mount", "--propagation", "private", sys.executable, str(WRAPPER),
            *(str(files[v]) for v in VOLUMES), "--"]


def test_only_the_volumes_are_writable_under_the_wrapper(unshare: str, tmp_path: Path,
                                                         container_server: ContainerServer
                                                         ) -> None:
    """The control: the wrapper really leaves nothing else writable."""
    from tests.container.dockerfiles import container_config
    files = container_config(tmp_path, dns_port=1, http_port=None, upstream="127.0.0.1:1")
    places = {"tmp": "/tmp", "cwd": str(tmp_path), "blocklists": str(files[BLOCKLISTS]),
              **{volume: str(files[volume]) for volume in VOLUMES}}
    script = ("import json, os, sys\nresult = {}\n"
              "for name, place in json.loads(sys.argv[1]).items():\n"
              "    try:\n"
              "        open(os.path.join(place, 'probe'), 'w').close()\n"
              "        result[name] = 'written'\n"
              "    except OSError as exc:\n"
              "        result[name] = os.strerror(exc.errno)\n"
              "print(json.dumps(result))\n")
    done = subprocess.run([*read_only(unshare, files), sys.executable, "-c", script,
                           json.dumps(places)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "tmp": "Read-only file system", "cwd": "Read-only file system",
        "blocklists": "Read-only file system", **{volume: "written" for volume in VOLUMES}}
    assert not (tmp_path / "probe").exists()


class _Lists(http.server.BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b"remote.example\n"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def list_mirror() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Lists)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/list.txt"
    finally:
        server.shutdown()
        server.server_close()


def test_serving_health_status_and_report_write_only_the_volumes(
        unshare: str, list_mirror: str, container_server: ContainerServer) -> None:
    def lists(files: ContainerFiles) -> None:
        directory = BlocklistDir(files[BLOCKLISTS])
        directory.write("local", domains=["blocked.example"], effective="2020-01-01")
        directory.write_text("remote", "name: remote\nreference: mirror\n"
                             "effective: 2020-01-01\nsources:\n"
                             f"  - url: {list_mirror}\n    format: domains\n")

    server, files = container_server(prepare=lists, env=ENV,
                                     wrap=lambda f: read_only(unshare, f))
    wrapped = [*read_only(unshare, files), *SOURCE_PROGRAM]
    checked = wait_for_health(files, 0, program=wrapped, env=ENV)
    assert "policy of 2 lists loaded" in checked.line
    for name in ("blocked.example", "remote.example"):
        assert server.query(name).rcode() == dns.rcode.NXDOMAIN, name
    assert any(files["/var/cache/dnsfence"].rglob("*")), "the download was not kept"
    log = files["/var/lib/dnsfence"] / "querylog.jsonl"
    wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 2,
               timeout=10, what="two query-log records in the state volume")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert {(r["name"], r["client"]) for r in records} == {
        ("blocked.example", "127.0.0.0"), ("remote.example", "127.0.0.0")}
    for command, shown in (("status", "policy: 2 lists (local, remote)"),
                            ("report", "2 blocked of 2 records read")):
        done = subprocess.run([*wrapped, command, "--config", str(files.config)],
                              cwd=files.config.parent, env=ENV, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert shown in done.stdout and "Read-only" not in done.stderr
    server.stop()
    assert not [line for line in server.stderr_lines() if "Read-only" in line]
