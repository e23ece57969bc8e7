"""The query log of the real server: the records each verdict writes, anonymisation,
rotation and retention, a full queue, several workers, a broken path, and the report
read back from what the server wrote. Real unbound upstream; dig and dnspython clients."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .harness import (
    BlocklistDir,
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    rcode_name,
    require_tool,
    run_dnsfence,
    wait_until,
)


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com", "*.byteoversea.com"],
                         effective="2023-03-20", timezone="Europe/Brussels",
                         reference="EP note 2023")
    return blocklists_dir


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "dnsfence.yaml"
    path.write_text(text)
    return str(path)


def records(server: Dnsfence, name: str = "querylog.jsonl") -> list[dict[str, Any]]:
    assert server.state_dir is not None
    path = server.state_dir / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def metric(server: Dnsfence, name: str) -> float:
    assert server.http_address is not None
    host, port = server.http_address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    [value] = [s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name]
    return float(value)


def stopped(server: Dnsfence) -> Dnsfence:
    """SIGTERM: the server writes what is queued before it exits."""
    assert server.stop() == 0
    return server


def test_each_verdict_writes_its_fields(dnsfence_factory: DnsfenceFactory, lists: BlocklistDir,
                                        unbound: Unbound, tmp_path: Path) -> None:
    config = config_file(tmp_path, "server:\n  allow_clients: [127.0.0.1/32]\n"
                                   "querylog:\n  mode: all\n  clients: full\n")
    server = dnsfence_factory("--config", config)
    assert rcode_name(server.query("www.tiktok.com", "AAAA")) == "NXDOMAIN"
    assert rcode_name(server.query("api.byteoversea.com", tcp=True)) == "NXDOMAIN"
    assert rcode_name(server.query("www.example.test")) == "NOERROR"
    assert rcode_name(server.query("www.example.test")) == "NOERROR"
    dig = server.dig("status.dnsfence", "TXT", "CH")
    assert "status: NOERROR" in dig.stdout
    refused = dns.query.udp(dns.message.make_query("www.example.test", "A"), server.host,
                            port=server.port, source="127.0.0.2", timeout=2)
    assert rcode_name(refused) == "REFUSED"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:  # QDCOUNT 2: FORMERR
        raw.settimeout(2)
        raw.sendto(b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00", (server.host,
                                                                           server.port))
        assert raw.recv(512)[3] & 0x0F == dns.rcode.FORMERR
    found = records(stopped(server))
    shape = [(r["verdict"], r["name"], r["type"], r["rcode"], r["proto"], r["client"])
             for r in found]
    assert shape == [
        ("blocked", "www.tiktok.com", "AAAA", "NXDOMAIN", "udp", "127.0.0.1"),
        ("blocked", "api.byteoversea.com", "A", "NXDOMAIN", "tcp", "127.0.0.1"),
        ("forwarded", "www.example.test", "A", "NOERROR", "udp", "127.0.0.1"),
        ("cached", "www.example.test", "A", "NOERROR", "udp", "127.0.0.1"),
        ("local", "status.dnsfence", "TXT", "NOERROR", "udp", "127.0.0.1"),
        ("refused", "www.example.test", "A", "REFUSED", "udp", "127.0.0.2"),
        ("rejected", "", "", "FORMERR", "udp", "127.0.0.1"),
    ]
    blocked, tcp_blocked, forwarded, cached = found[:4]
    assert (blocked["list"], blocked["rule"]) == ("tiktok", "tiktok.com")
    assert (tcp_blocked["list"], tcp_blocked["rule"]) == ("tiktok", "*.byteoversea.com")
    assert forwarded["upstream"] == unbound.address and 0 < forwarded["ms"] < 2000
    assert (cached["upstream"], cached["ms"], cached["list"]) == ("", None, "")
    for record in found:
        assert list(record) == ["ts", "client", "group", "name", "type", "verdict", "rcode",
                                "list", "rule", "upstream", "ms", "proto"]
        assert record["ts"].endswith("Z") and len(record["ts"]) == 24
        assert record["group"] == ""


def test_servfail_after_forwarding_keeps_the_time_taken(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, tmp_path: Path) -> None:
    config = config_file(tmp_path, "upstream:\n  timeout: 0.2\n  deadline: 0.5\n"
                                   "querylog:\n  mode: all\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # reads, never answers
        silent.bind(("127.0.0.1", 0))
        server = dnsfence_factory("--config", config,
                                  upstream=f"127.0.0.1:{silent.getsockname()[1]}")
        assert rcode_name(server.query("www.example.test", timeout=5)) == "SERVFAIL"
        [record] = records(stopped(server))
    assert (record["verdict"], record["rcode"], record["upstream"]) == \
        ("servfail", "SERVFAIL", "")
    assert 400 <= record["ms"] < 3000


def test_the_default_logs_only_blocked_queries_with_truncated_clients(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    assert rcode_name(server.query("www.example.test")) == "NOERROR"
    assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
    [record] = records(stopped(server))
    assert (record["verdict"], record["client"]) == ("blocked", "127.0.0.0")


def test_hashed_clients_keep_their_token_across_restarts(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, tmp_path: Path) -> None:
    config = config_file(tmp_path, "querylog:\n  clients: hash\n")
    state = tmp_path / "state"
    tokens = []
    for _ in range(2):
        server = dnsfence_factory("--config", config, state_dir=state)
        assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
        stopped(server)
        tokens.append(records(server)[-1]["client"])
    # a keyed hash, never the address: 16 hex digits (a random token may hold "127")
    assert tokens[0] == tokens[1] and re.fullmatch("[0-9a-f]{16}", tokens[0])
    assert (state / "querylog.key").stat().st_mode & 0o777 == 0o600
    none = dnsfence_factory("--config", config_file(tmp_path, "querylog:\n  clients: none\n"))
    assert rcode_name(none.query("www.tiktok.com")) == "NXDOMAIN"
    assert records(stopped(none))[0]["client"] == ""


def test_rotation_keeps_the_newest_files_and_retention_deletes_old_ones(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    live = state / "querylog.jsonl"
    filler = json.dumps({"ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                         "name": "x" * 200}) + "\n"
    live.write_text(filler * (1048576 // len(filler) + 1))  # just over 1 MiB
    for number, age_days in ((1, 1), (2, 40)):  # .2 was last written 40 days ago
        old = state / f"querylog.jsonl.{number}"
        old.write_text(filler)
        when = time.time() - age_days * 86400
        os.utime(old, (when, when))
    config = config_file(tmp_path, "querylog:\n  rotate_mb: 1\n  keep: 5\n"
                                   "  retention_days: 30\n")
    server = dnsfence_factory("--config", config, state_dir=state)
    assert rcode_name(server.query("www.tiktok.com")) == "NXDOMAIN"
    stopped(server)
    rotated = sorted(p.name for p in state.glob("querylog.jsonl.*") if p.name[-1].isdigit())
    # the full live file (with the new record) moved to .1, the old .1 to .2, and the old
    # .2, last written 40 days ago, was deleted rather than kept as .3
    assert rotated == ["querylog.jsonl.1", "querylog.jsonl.2"]
    newest = (state / "querylog.jsonl.1").read_text().splitlines()
    assert len("\n".join(newest)) > 1_000_000
    assert json.loads(newest[-1])["name"] == "www.tiktok.com"
    assert (state / "querylog.jsonl.2").read_text() == filler
    assert records(server) == []  # nothing written since the rotation


def test_a_full_queue_drops_and_counts_without_losing_answers(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, tmp_path: Path) -> None:
    dnsperf = require_tool("dnsperf")
    config = config_file(tmp_path, "querylog:\n  mode: all\n  queue: 16\n")
    server = dnsfence_factory("--config", config)
    queries = tmp_path / "queries.txt"
    queries.write_text("".join(f"n{i}.tiktok.com A\n" for i in range(2000)))
    done = subprocess.run([dnsperf, "-s", server.host, "-p", str(server.port), "-d",
                           str(queries), "-n", "1", "-q", "200", "-t", "5"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert "Queries completed:    2000" in done.stdout, done.stdout + done.stderr
    assert "Queries lost:         0" in done.stdout
    dropped = metric(server, "dnsfence_querylog_dropped_total")  # HTTP: no DNS, no record
    assert dropped > 0
    stopped(server)
    assert len(records(server)) + dropped == 2000


def test_several_workers_write_every_record_whole(dnsfence_factory: DnsfenceFactory,
                                                  lists: BlocklistDir, tmp_path: Path) -> None:
    config = config_file(tmp_path, "querylog:\n  mode: all\n")
    server = dnsfence_factory("--config", config, workers="2")
    sent = 300
    for number in range(sent):  # fresh source ports: both workers answer
        assert rcode_name(server.query(f"w{number}.tiktok.com")) == "NXDOMAIN"
    stopped(server)
    found = records(server)
    assert sorted(r["name"] for r in found) == sorted(f"w{n}.tiktok.com" for n in range(sent))


def test_a_broken_log_path_is_reported_once_and_answers_go_on(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir, tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("a file where the log directory should be")
    config = config_file(tmp_path, "querylog:\n  path: not-a-directory/querylog.jsonl\n")
    server = dnsfence_factory("--config", config, state_dir=tmp_path)
    for number in range(5):
        assert rcode_name(server.query(f"b{number}.tiktok.com")) == "NXDOMAIN"
        time.sleep(0.3)  # separate batches: each fails again
    wait_until(lambda: any("querylog" in line for line in server.stderr_lines()), timeout=5,
               what="the query log error in the server log")
    wait_until(lambda: metric(server, "dnsfence_querylog_dropped_total") == 5, timeout=5,
               what="all five records counted as dropped")
    assert metric(server, "dnsfence_querylog_errors_total") >= 2  # each batch tried again
    assert metric(server, "dnsfence_querylog_written_total") == 0
    stopped(server)
    complaints = [line for line in server.stderr_lines() if "querylog.jsonl" in line]
    assert len(complaints) == 1, complaints
    assert "ERROR" in complaints[0] or "WARNING" in complaints[0]


def test_the_report_reads_what_the_server_wrote(dnsfence_factory: DnsfenceFactory,
                                                lists: BlocklistDir) -> None:
    server = dnsfence_factory()
    for name in ("www.tiktok.com", "www.tiktok.com", "api.byteoversea.com"):
        assert rcode_name(server.query(name)) == "NXDOMAIN"
    stopped(server)
    assert server.state_dir is not None
    shown = run_dnsfence("report", "--blocklists", str(lists.path), "--log",
                         str(server.state_dir / "querylog.jsonl"), "--json", timeout=30)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["log"]["records"] == 3 and document["log"]["skipped_lines"] == 0
    [tiktok] = [entry for entry in document["lists"] if entry["name"] == "tiktok"]
    assert (tiktok["attempts"], tiktok["clients"], tiktok["in_policy"]) == (3, 1, True)
    assert tiktok["effective"].startswith("2023-03-20T00:00:00+01:00")
    assert tiktok["top_names"][0] == {"name": "www.tiktok.com", "attempts": 2}
    assert tiktok["top_clients"] == [{"client": "127.0.0.0", "attempts": 3}]
    assert sum(day["attempts"] for day in tiktok["days"]) == 3
