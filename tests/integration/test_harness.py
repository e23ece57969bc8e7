"""The harness itself: the unbound upstream answers as the end-to-end tests assume, and the
process wrapper for ``dnsfence serve`` works (checked against a stand-in program, so these
tests hold whether or not the real server exists yet)."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import pytest
import yaml

from .harness import (
    BIG_TXT_COUNT,
    SOA_MINIMUM,
    BlocklistDir,
    Dnsfence,
    DnsfenceError,
    DnsfenceFactory,
    Unbound,
    UnboundFactory,
    addresses_in,
    free_port,
    is_truncated,
    parse_serving_line,
    query,
    rcode_name,
    require_tool,
    unused_address,
)

# --------------------------------------------------------------------------------------------
# unbound
# --------------------------------------------------------------------------------------------


def assert_answered_locally(reply: dns.message.Message) -> None:
    """AA is set only on answers from unbound's local zones, never on recursed ones."""
    assert reply.flags & dns.flags.AA, f"not an authoritative local answer:\n{reply}"


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_unbound_answers_local_a_record(unbound: Unbound, tcp: bool) -> None:
    reply = unbound.query("www.example.test", "A", tcp=tcp)
    assert rcode_name(reply) == "NOERROR"
    assert addresses_in(reply, "A") == ["192.0.2.10"]
    assert_answered_locally(reply)


def test_unbound_answers_dig(unbound: Unbound) -> None:
    result = unbound.dig("www.example.test", "A", "+short")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["192.0.2.10"]


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("www.example.test", "AAAA", ["2001:db8::10"]),
        ("mail.example.test", "MX", ["10 mx.example.test."]),
        ("txt.example.test", "TXT", ['"v=dnsfence-test hello"']),
        ("short.example.test", "A", ["192.0.2.11"]),
        ("tiktok.com", "A", ["192.0.2.40"]),
        ("www.tiktok.com", "A", ["192.0.2.41"]),
        ("newsroom.tiktok.com", "A", ["192.0.2.42"]),
        ("example.com", "A", ["192.0.2.30"]),
        ("alias.example.test", "CNAME", ["www.example.test."]),
    ],
)
def test_unbound_serves_fixture_records(
    unbound: Unbound, name: str, rdtype: str, expected: list[str]
) -> None:
    reply = unbound.query(name, rdtype)
    assert addresses_in(reply, rdtype) == expected


def test_unbound_follows_chains_and_dnames_in_its_auth_zone(unbound: Unbound) -> None:
    two = unbound.query("two.chains.test", "A")
    assert [(str(r.name), str(r[0].target)) for r in two.answer] == [
        ("two.chains.test.", "hop.chains.test."), ("hop.chains.test.", "www.tiktok.com.")]
    mirrored = unbound.query("www.mirror.chains.test", "A")
    assert [(r.rdtype.name, str(r.name), str(r[0].target)) for r in mirrored.answer] == [
        ("DNAME", "mirror.chains.test.", "tiktok.com."),
        ("CNAME", "www.mirror.chains.test.", "www.tiktok.com.")]


def test_short_ttl_record_has_ttl_5(unbound: Unbound) -> None:
    reply = unbound.query("short.example.test", "A")
    assert [rrset.ttl for rrset in reply.answer] == [5]


@pytest.mark.parametrize(
    "name", ["nonexistent.example.test", "www.google.com", "example.org", "nope.tiktok.com"]
)
def test_unbound_answers_nxdomain_outside_local_data_without_recursing(
    unbound: Unbound, name: str
) -> None:
    started = time.monotonic()
    reply = unbound.query(name, "A")
    assert rcode_name(reply) == "NXDOMAIN"
    assert_answered_locally(reply)
    # The negative answer carries the zone's SOA, so negative caching can be tested.
    assert [rrset.rdtype for rrset in reply.authority] == [dns.rdatatype.SOA]
    assert reply.authority[0].ttl == SOA_MINIMUM
    assert time.monotonic() - started < 1.0, "a local answer is immediate"


def test_big_txt_is_truncated_over_udp_without_edns(unbound: Unbound) -> None:
    reply = unbound.query("big.example.test", "TXT", edns=False)
    assert is_truncated(reply)
    assert len(reply.to_wire()) <= 512


def test_big_txt_is_truncated_over_udp_at_edns_1232(unbound: Unbound) -> None:
    reply = unbound.query("big.example.test", "TXT", payload=1232)
    assert is_truncated(reply)


def test_big_txt_is_complete_over_tcp(unbound: Unbound) -> None:
    reply = unbound.query("big.example.test", "TXT", tcp=True, edns=False)
    assert not is_truncated(reply)
    assert sum(len(rrset) for rrset in reply.answer) == BIG_TXT_COUNT
    assert len(reply.to_wire()) > 1232


def test_big_txt_dig_reports_truncation_then_tcp(unbound: Unbound) -> None:
    udp = unbound.dig("big.example.test", "TXT", "+noedns", "+ignore")
    assert udp.returncode == 0, udp.stderr
    assert " tc" in udp.stdout.split("flags:")[1].split(";")[0]
    tcp = unbound.dig("big.example.test", "TXT", "+tcp", "+short")
    assert tcp.returncode == 0, tcp.stderr
    assert len(tcp.stdout.splitlines()) == BIG_TXT_COUNT


def test_query_count_follows_queries(unbound: Unbound) -> None:
    before = unbound.query_count("txt.example.test", "TXT")
    for _ in range(3):
        unbound.query("TXT.Example.Test", "TXT")
    assert unbound.wait_for_query_count("txt.example.test", before + 3, "TXT") == before + 3
    assert unbound.query_count("txt.example.test") >= before + 3  # any type


def test_private_unbound_starts_and_stops(unbound_factory: UnboundFactory) -> None:
    private = unbound_factory(
        extra_server_lines=["local-data: 'extra.example.test. 60 IN A 192.0.2.99'"]
    )
    assert addresses_in(private.query("extra.example.test")) == ["192.0.2.99"]
    started = time.monotonic()
    private.stop()
    assert time.monotonic() - started < 6.0
    assert not private.running
    with pytest.raises((OSError, dns.exception.Timeout)):
        query(private.host, private.port, "www.example.test", timeout=0.3)


def test_unused_address_does_not_answer() -> None:
    host, _, port = unused_address().rpartition(":")
    with pytest.raises((OSError, dns.exception.Timeout)):
        query(host, int(port), "www.example.test", timeout=0.3)


# --------------------------------------------------------------------------------------------
# require_tool
# --------------------------------------------------------------------------------------------


def test_require_tool_finds_installed_tool() -> None:
    assert require_tool("unbound").endswith("unbound")


def test_require_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-dns-tool"):
        require_tool("no-such-dns-tool")


def test_require_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-dns-tool"):
        require_tool("no-such-dns-tool")


# --------------------------------------------------------------------------------------------
# Blocklist files
# --------------------------------------------------------------------------------------------


def test_blocklist_dir_writes_the_documented_format(blocklists_dir: BlocklistDir) -> None:
    path = blocklists_dir.write(
        "tiktok",
        reference="EP decision",
        effective="2023-03-20",
        timezone="Europe/Brussels",
        domains=["tiktok.com", "*.byteoversea.com"],
        allow=["newsroom.tiktok.com"],
    )
    assert path == blocklists_dir.path / "tiktok.yaml"
    assert yaml.safe_load(path.read_text()) == {
        "name": "tiktok",
        "reference": "EP decision",
        "effective": dt.date(2023, 3, 20),
        "timezone": "Europe/Brussels",
        "domains": ["tiktok.com", "*.byteoversea.com"],
        "allow": ["newsroom.tiktok.com"],
    }
    assert blocklists_dir.files() == [path]


def test_blocklist_dir_keeps_datetimes_and_replaces_files(blocklists_dir: BlocklistDir) -> None:
    when = dt.datetime(2030, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    blocklists_dir.write("future", domains=["example.com"], effective=when)
    path = blocklists_dir.write("future", domains=["example.org"], effective=when.isoformat())
    loaded = yaml.safe_load(path.read_text())
    assert loaded["effective"] == when
    assert loaded["domains"] == ["example.org"]
    assert "timezone" not in loaded and "allow" not in loaded
    blocklists_dir.remove("future")
    assert blocklists_dir.files() == []


# --------------------------------------------------------------------------------------------
# The Dnsfence wrapper, driven against a stand-in server program
# --------------------------------------------------------------------------------------------

# Behaves like `dnsfence serve` as far as the harness can see: parses --listen, binds UDP+TCP
# on one kernel-chosen port, announces it, answers every UDP query NXDOMAIN, logs a line per
# SIGHUP. MODE=exit fails at startup; MODE=silent never announces.
STANDIN = textwrap.dedent(
    """
    import os, signal, socket, sys
    import dns.message, dns.rcode
    args = sys.argv[1:]
    assert args[0] == "serve", args
    mode = os.environ.get("STANDIN_MODE", "serve")
    if mode == "exit":
        print("error: blocklist broken.yaml:3: 'effective' is required", file=sys.stderr)
        sys.exit(2)
    host, port = args[args.index("--listen") + 1].rsplit(":", 1)
    for attempt in range(20):  # port 0: the UDP port may be taken for TCP; pick another
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, int(port)))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, udp.getsockname()[1]))
            break
        except OSError:
            udp.close()
            tcp.close()
            if int(port) or attempt == 19:
                raise
    tcp.listen()
    signal.signal(signal.SIGHUP, lambda *_: print("reloaded 1 list", file=sys.stderr))
    print("upstream", args[args.index("--upstream") + 1], file=sys.stderr)
    if mode == "silent":
        signal.pause()
    print(f"serving on {host}:{udp.getsockname()[1]} (udp+tcp)", file=sys.stderr)
    print("stdout works")
    while True:
        try:
            data, peer = udp.recvfrom(4096)
        except InterruptedError:
            continue
        reply = dns.message.make_response(dns.message.from_wire(data))
        reply.set_rcode(dns.rcode.NXDOMAIN)
        udp.sendto(reply.to_wire(), peer)
    """
)


@pytest.fixture
def standin(tmp_path: Path) -> Path:
    script = tmp_path / "standin_server.py"
    script.write_text(STANDIN)
    return script


def make_standin(standin: Path, blocklists: BlocklistDir, **kwargs: object) -> Dnsfence:
    return Dnsfence(
        "127.0.0.1:5300",
        blocklists,
        program=(sys.executable, str(standin)),
        **kwargs,  # type: ignore[arg-type]
    )


def test_parse_serving_line_reads_every_address() -> None:
    line = "2024-01-01 INFO serving on 127.0.0.1:5353, [::1]:5353 (udp+tcp)"
    assert parse_serving_line(line) == [("127.0.0.1", 5353), ("::1", 5353)]
    assert parse_serving_line("serving on 127.0.0.1:40000 (udp+tcp)") == [("127.0.0.1", 40000)]
    assert parse_serving_line("listening soon") is None


def test_dnsfence_wrapper_reports_port_and_captures_output(
    standin: Path, blocklists_dir: BlocklistDir
) -> None:
    server = make_standin(standin, blocklists_dir)
    assert server.argv[2:] == [
        "serve",
        "--workers",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:5300",
        "--blocklists",
        str(blocklists_dir.path),
        "--http-listen",
        "127.0.0.1:0",
        "--state-dir",
        str(server.state_dir),
    ]
    with server:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert server.address == f"127.0.0.1:{server.port}"
        assert rcode_name(server.query("tiktok.com")) == "NXDOMAIN"
        assert "upstream 127.0.0.1:5300" in server.stderr_lines()
        server.send_signal(signal.SIGHUP)
        assert server.wait_for_stderr(r"reloaded (\d+) list")[1] == "1"
        with pytest.raises(TimeoutError):
            server.wait_for_stderr(r"reloaded", timeout=0.3)  # the old line does not count
    assert not server.running
    assert server.stdout_lines() == ["stdout works"]


def test_dnsfence_wrapper_dig(standin: Path, blocklists_dir: BlocklistDir) -> None:
    with make_standin(standin, blocklists_dir) as server:
        result = server.dig("tiktok.com", "A")
    assert "status: NXDOMAIN" in result.stdout


def test_dnsfence_wrapper_raises_with_stderr_on_early_exit(
    standin: Path, blocklists_dir: BlocklistDir
) -> None:
    server = make_standin(standin, blocklists_dir, env={"STANDIN_MODE": "exit"})
    with pytest.raises(DnsfenceError, match=r"(?s)exited with code 2.*'effective' is required"):
        server.start()
    assert server.returncode == 2


def test_dnsfence_wrapper_times_out_and_kills(standin: Path, blocklists_dir: BlocklistDir) -> None:
    server = make_standin(
        standin, blocklists_dir, env={"STANDIN_MODE": "silent"}, ready_timeout=0.5
    )
    started = time.monotonic()
    with pytest.raises(DnsfenceError, match=r"(?s)no 'serving on.*upstream 127\.0\.0\.1:5300"):
        server.start()
    assert time.monotonic() - started < 8.0
    assert not server.running


def test_dnsfence_wrapper_wait_returns_exit_code(
    standin: Path, blocklists_dir: BlocklistDir
) -> None:
    with make_standin(standin, blocklists_dir) as server:
        server.send_signal(signal.SIGTERM)
        assert server.wait(5.0) == -signal.SIGTERM
        assert not server.running


def test_free_port_is_bindable_for_udp_and_tcp() -> None:
    port = free_port()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
    ):
        udp.bind(("127.0.0.1", port))
        tcp.bind(("127.0.0.1", port))


def test_dnsfence_factory_defaults_to_session_unbound_and_test_blocklists(
    dnsfence_factory: DnsfenceFactory,
    unbound: Unbound,
    blocklists_dir: BlocklistDir,
    standin: Path,
) -> None:
    program = (sys.executable, str(standin))
    server = dnsfence_factory("--log-level", "debug", program=program)
    assert server.argv[2:] == [
        "serve",
        "--workers",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        unbound.address,
        "--blocklists",
        str(blocklists_dir.path),
        "--http-listen",
        "127.0.0.1:0",
        "--state-dir",
        str(server.state_dir),
        "--log-level",
        "debug",
    ]
    other = dnsfence_factory(upstream="127.0.0.1:9", blocklists="/nonexistent", program=program)
    assert other.port != server.port
    assert rcode_name(other.query("example.com")) == "NXDOMAIN"


def test_http_get_returns_the_status_and_body_of_errors_too(
    dnsfence_factory: DnsfenceFactory,
) -> None:
    server = dnsfence_factory()
    status, body = server.http_get("/healthz")
    assert status == 200 and body.startswith("ok: 1 worker answering DNS"), body
    status, body = server.http_get("/no-such-page")
    assert status == 404 and body.startswith("not found"), body
    without = dnsfence_factory(http="")  # turned off
    with pytest.raises(RuntimeError, match="no HTTP listener"):
        without.http_get("/healthz")
