"""`dnsfence serve` end to end: the real process, a real unbound upstream, real clients."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from resolver.commands.status import ask as ask_status
from resolver.config.endpoints import Endpoint

from .harness import (
    DNSFENCE_PROGRAM,
    BlocklistDir,
    Dnsfence,
    DnsfenceFactory,
    Unbound,
    UnboundFactory,
    addresses_in,
    require_tool,
    run_dnsfence,
    unused_address,
)

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "packets"
EP = "European Parliament DG ITEC note, 2023"


@pytest.fixture
def tiktok_lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com", "*.byteoversea.com"],
                         allow=["newsroom.tiktok.com"], effective="2023-03-20",
                         timezone="Europe/Brussels", reference=EP)
    return blocklists_dir


@pytest.fixture
def server(dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir) -> Dnsfence:
    return dnsfence_factory()


def ede(reply: dns.message.Message) -> list[tuple[int, str]]:
    return [(int(o.code), o.text or "") for o in reply.options
            if isinstance(o, dns.edns.EDEOption)]


def assert_blocked(reply: dns.message.Message, *, zone: str, rule: str, negative_ttl: int = 60,
                   edns: bool = True) -> None:
    assert dns.rcode.to_text(reply.rcode()) == "NXDOMAIN"
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.RA
    assert not reply.answer
    soa = [rrset for rrset in reply.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert len(soa) == 1, reply
    assert soa[0].name == dns.name.from_text(zone)  # DNS names compare case-insensitively
    assert soa[0].ttl == negative_ttl
    assert soa[0][0].minimum == negative_ttl
    if edns:
        assert reply.edns == 0
        assert reply.payload == 1232
        codes = ede(reply)
        assert len(codes) == 1 and codes[0][0] == 15, codes
        assert f"list tiktok ({rule})" in codes[0][1]
        assert "since 2023-03-20" in codes[0][1]
    else:
        assert reply.edns == -1


# --- blocking --------------------------------------------------------------------------------

@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("name", ["tiktok.com", "www.tiktok.com", "a.b.c.TikTok.COM"])
def test_blocked_apex_and_subdomains(server: Dnsfence, name: str, tcp: bool) -> None:
    reply = server.query(name, "A", tcp=tcp)
    assert_blocked(reply, zone="tiktok.com", rule="tiktok.com")
    assert reply.question[0].name.to_text() == name + "."  # question echoed as sent


@pytest.mark.parametrize("rdtype", ["A", "AAAA", "MX", "TXT", "HTTPS", "SVCB", "NS", "SOA",
                                    "CNAME", "PTR", "SRV", "CAA", "ANY", "TYPE65280"])
def test_blocked_for_every_record_type(server: Dnsfence, rdtype: str) -> None:
    assert_blocked(server.query("m.tiktok.com", rdtype), zone="tiktok.com", rule="tiktok.com")


def test_wildcard_rule_blocks_below_only(server: Dnsfence, unbound: Unbound) -> None:
    assert_blocked(server.query("api.byteoversea.com"), zone="byteoversea.com",
                   rule="*.byteoversea.com")
    apex = server.query("byteoversea.com")
    assert dns.rcode.to_text(apex.rcode()) != "NXDOMAIN" or not ede(apex)


def test_exception_is_forwarded(server: Dnsfence, unbound: Unbound) -> None:
    before = unbound.query_count("newsroom.tiktok.com")
    reply = server.query("newsroom.tiktok.com")
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
    assert addresses_in(reply) == [addresses_in(unbound.query("newsroom.tiktok.com"))[0]]
    assert unbound.wait_for_query_count("newsroom.tiktok.com", before + 1) >= before + 1


def test_without_edns_no_opt(server: Dnsfence) -> None:
    assert_blocked(server.query("tiktok.com", edns=False), zone="tiktok.com",
                   rule="tiktok.com", edns=False)


def test_dig_shows_the_block(server: Dnsfence) -> None:
    require_tool("dig")
    result = server.dig("www.tiktok.com", "A")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "status: NXDOMAIN" in out
    assert "EDE: 15 (Blocked)" in out
    assert "blocked by list tiktok (tiktok.com) since 2023-03-20" in out
    assert "udp: 1232" in out
    assert "IN\tSOA" in out or " SOA " in out


def test_negative_ttl_from_config(dnsfence_factory: DnsfenceFactory,
                                  tiktok_lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("blocking:\n  negative_ttl: 17\n")
    server = dnsfence_factory("--config", str(config))
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com",
                   negative_ttl=17)


def test_future_list_does_not_block(dnsfence_factory: DnsfenceFactory,
                                    blocklists_dir: BlocklistDir, unbound: Unbound) -> None:
    blocklists_dir.write("later", domains=["example.com"], effective="2099-01-01",
                         reference="not yet")
    server = dnsfence_factory()
    reply = server.query("example.com")
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
    assert addresses_in(reply) == addresses_in(unbound.query("example.com"))


# --- forwarding ------------------------------------------------------------------------------

def test_allowed_name_resolves_through_unbound(server: Dnsfence, unbound: Unbound) -> None:
    reply = server.query("www.example.test", "A")
    assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
    assert addresses_in(reply) == ["192.0.2.10"]
    assert reply.flags & dns.flags.RA and reply.flags & dns.flags.RD
    aaaa = server.query("www.example.test", "AAAA")
    assert addresses_in(aaaa, "AAAA") == ["2001:db8::10"]


def test_upstream_nxdomain_is_passed_through_with_its_soa(server: Dnsfence) -> None:
    reply = server.query("missing.example.test")
    assert dns.rcode.to_text(reply.rcode()) == "NXDOMAIN"
    assert not ede(reply)  # not ours: no Blocked EDE
    assert any(r.rdtype == dns.rdatatype.SOA for r in reply.authority)


def test_do_bit_and_rd_are_kept(server: Dnsfence) -> None:
    reply = server.query("www.example.test", dnssec=True)
    assert reply.ednsflags & dns.flags.DO
    msg = dns.message.make_query("www.example.test", "A", use_edns=0)
    msg.flags &= ~dns.flags.RD
    reply = dns.query.udp(msg, server.host, port=server.port, timeout=2)
    assert not reply.flags & dns.flags.RD
    assert reply.id == msg.id


def test_cache_hit_does_not_reach_upstream(server: Dnsfence, unbound: Unbound) -> None:
    before = unbound.query_count("txt.example.test", "TXT")
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
        for _ in range(3):
            msg = dns.message.make_query("txt.example.test", "TXT", use_edns=0)
            sock.sendto(msg.to_wire(), (server.host, server.port))
            reply = dns.message.from_wire(sock.recv(4096))
            assert reply.id == msg.id
            replies.append(reply)
    assert all(dns.rcode.to_text(r.rcode()) == "NOERROR" and r.answer for r in replies)
    time.sleep(0.3)  # unbound writes its query log asynchronously
    assert unbound.query_count("txt.example.test", "TXT") == before + 1


def test_cache_counts_down_ttl(server: Dnsfence, unbound: Unbound) -> None:
    first = server.query("mail.example.test", "MX")
    before = unbound.query_count("mail.example.test")
    time.sleep(1.1)
    second = server.query("mail.example.test", "MX")
    assert unbound.query_count("mail.example.test") == before
    assert second.answer[0].ttl <= first.answer[0].ttl - 1


def test_workers_each_cache_and_flows_stick(dnsfence_factory: DnsfenceFactory,
                                            tiktok_lists: BlocklistDir, unbound: Unbound) -> None:
    server = dnsfence_factory("--workers", "2")
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    name = "www.example.test"
    socks = []
    try:
        for _ in range(8):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(2)
            socks.append(sock)
        before = unbound.query_count(name, "AAAA")
        for _round in range(3):
            for sock in socks:
                msg = dns.message.make_query(name, "AAAA", use_edns=0)
                sock.sendto(msg.to_wire(), (server.host, server.port))
                assert dns.message.from_wire(sock.recv(4096)).answer
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.3)
    upstream_queries = unbound.query_count(name, "AAAA") - before
    # Each worker fetches once then serves from its own cache; flows never move worker.
    assert 1 <= upstream_queries <= 2, upstream_queries


def test_upstream_down_gives_servfail_within_deadline(
        dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("upstream:\n  timeout: 0.3\n  deadline: 1.0\n")
    server = dnsfence_factory("--config", str(config), upstream=unused_address())
    started = time.monotonic()
    reply = server.query("www.example.test", timeout=5)
    elapsed = time.monotonic() - started
    assert dns.rcode.to_text(reply.rcode()) == "SERVFAIL"
    assert elapsed < 1.0 + 0.5, elapsed
    for _ in range(3):
        assert dns.rcode.to_text(server.query("www.example.test", timeout=5).rcode()) == "SERVFAIL"
    server.wait_for_stderr(r"upstream 127\.0\.0\.1:\d+ failed 3 times in a row; skipping it")
    # one line when the upstream goes down, not one per query
    assert sum("failed 3 times in a row" in line for line in server.stderr_lines()) == 1
    # Blocked names still answer without any upstream.
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")


def test_failover_to_second_upstream(dnsfence_factory: DnsfenceFactory,
                                     tiktok_lists: BlocklistDir, unbound: Unbound,
                                     tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("upstream:\n  timeout: 0.3\n  deadline: 2.0\n")
    server = dnsfence_factory("--config", str(config), "--upstream", unbound.address,
                              upstream=unused_address())
    reply = server.query("www.example.test", "A", timeout=5)
    assert addresses_in(reply) == ["192.0.2.10"]


def test_upstream_stopped_mid_run(dnsfence_factory: DnsfenceFactory,
                                  tiktok_lists: BlocklistDir,
                                  unbound_factory: UnboundFactory, tmp_path: Path) -> None:
    private = unbound_factory()
    config = tmp_path / "c.yaml"
    config.write_text("upstream:\n  timeout: 0.3\n  deadline: 1.0\ncache:\n  max_entries: 0\n")
    server = dnsfence_factory("--config", str(config), upstream=private.address)
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    private.stop()
    assert dns.rcode.to_text(server.query("www.example.test", timeout=5).rcode()) == "SERVFAIL"


# --- access control ---------------------------------------------------------------------------

def test_refused_client(dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir,
                        tmp_path: Path, unbound: Unbound) -> None:
    config = tmp_path / "c.yaml"
    config.write_text('server:\n  allow_clients: ["10.0.0.0/8"]\n')
    server = dnsfence_factory("--config", str(config))
    before = unbound.query_count("www.example.test")
    for name in ("www.example.test", "tiktok.com"):
        for tcp in (False, True):
            reply = server.query(name, tcp=tcp)
            assert dns.rcode.to_text(reply.rcode()) == "REFUSED"
            assert not reply.answer and not reply.authority
            assert [code for code, _ in ede(reply)] == [18]
    assert unbound.query_count("www.example.test") == before


def test_ipv6_listener(dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("::1 is not configured here")
    server = dnsfence_factory(listen="[::1]:0")
    assert server.host == "::1"
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]


# --- EDNS and odd messages --------------------------------------------------------------------

def _raw(server: Dnsfence, wire: bytes, timeout: float = 1.0) -> bytes | None:
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(wire, (server.host, server.port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_edns_version_1_gets_badvers(server: Dnsfence) -> None:
    msg = dns.message.make_query("www.example.test", "A", use_edns=1)
    reply = dns.message.from_wire(_raw(server, msg.to_wire()) or b"")
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0


def test_unknown_edns_option_ignored(server: Dnsfence) -> None:
    opt = dns.edns.GenericOption(65001, b"hello")
    msg = dns.message.make_query("tiktok.com", "A", use_edns=0, options=[opt])
    reply = dns.message.from_wire(_raw(server, msg.to_wire()) or b"")
    assert_blocked(reply, zone="tiktok.com", rule="tiktok.com")


def test_refused_notimp_formerr_and_dropped_responses(server: Dnsfence) -> None:
    notify = dns.message.make_query("example.test", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    reply = dns.message.from_wire(_raw(server, notify.to_wire()) or b"")
    assert reply.rcode() == dns.rcode.REFUSED  # as Unbound: a known opcode, declined
    update = dns.message.make_query("example.test", "SOA")
    update.set_opcode(dns.opcode.UPDATE)
    reply = dns.message.from_wire(_raw(server, update.to_wire()) or b"")
    assert reply.rcode() == dns.rcode.NOTIMP
    two = dns.message.make_query("a.example.test", "A", use_edns=False).to_wire()
    two = two[:4] + struct.pack("!H", 2) + two[6:] + two[12:]
    header = _raw(server, two)
    assert header is not None and header[3] & 0x0F == dns.rcode.FORMERR
    response = dns.message.make_response(dns.message.make_query("tiktok.com", "A"))
    assert _raw(server, response.to_wire(), timeout=0.5) is None
    assert _raw(server, b"\x12", timeout=0.5) is None
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")


def _corpus() -> Iterator[bytes]:
    for directory in ("c-ares-fuzzinput", "pdns-raw-dns-packets", "knot"):
        for path in sorted((CORPORA / directory).glob("*")):
            if path.is_file():
                yield path.read_bytes()
    for path in sorted((CORPORA / "dnsperf-testdata").glob("*.blob")):
        data = path.read_bytes()
        while len(data) >= 2:
            size = int.from_bytes(data[:2], "big")
            yield data[2:2 + size]
            data = data[2 + size:]


def test_malformed_packets_never_crash(server: Dnsfence) -> None:
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora/packets is absent")
    packets = list(_corpus())
    assert len(packets) > 50
    rng = random.Random(1234)
    packets += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
                for _ in range(500)]
    family = socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for data in packets:
            if data:
                sock.sendto(data[:65000], (server.host, server.port))
    # the same bytes over TCP, one connection
    with socket.create_connection((server.host, server.port), timeout=2) as conn:
        for data in packets[:200]:
            conn.sendall(len(data[:65000]).to_bytes(2, "big") + data[:65000])
    time.sleep(0.5)
    assert server.running
    assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    assert addresses_in(server.query("www.example.test")) == ["192.0.2.10"]
    assert not [line for line in server.stderr_lines() if "Traceback" in line]


# --- truncation and TCP -----------------------------------------------------------------------

def test_big_answer_truncated_over_udp_full_over_tcp(server: Dnsfence) -> None:
    udp = server.query("big.example.test", "TXT", edns=False)
    assert udp.flags & dns.flags.TC
    assert len(udp.to_wire()) <= 512
    udp_edns = server.query("big.example.test", "TXT")
    assert udp_edns.flags & dns.flags.TC
    assert udp_edns.edns == 0
    tcp = server.query("big.example.test", "TXT", tcp=True)
    assert not tcp.flags & dns.flags.TC
    assert sum(len(rrset) for rrset in tcp.answer) == 40


def test_tcp_pipelining(server: Dnsfence) -> None:
    names = ["tiktok.com", "www.example.test", "mail.example.test", "www.tiktok.com",
             "txt.example.test", "missing.example.test"] * 3
    queries = [dns.message.make_query(n, "A", use_edns=0) for n in names]
    with socket.create_connection((server.host, server.port), timeout=3) as conn:
        conn.sendall(b"".join(len(w).to_bytes(2, "big") + w
                              for w in (q.to_wire() for q in queries)))
        replies = {}
        buffer = b""
        deadline = time.monotonic() + 5
        while len(replies) < len(queries) and time.monotonic() < deadline:
            buffer += conn.recv(65535)
            while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                size = int.from_bytes(buffer[:2], "big")
                reply = dns.message.from_wire(buffer[2:2 + size])
                replies[reply.id] = reply
                buffer = buffer[2 + size:]
    assert len(replies) == len(queries)
    for q in queries:
        reply = replies[q.id]
        assert reply.question[0].name == q.question[0].name


def test_tcp_idle_connection_is_closed(dnsfence_factory: DnsfenceFactory,
                                       tiktok_lists: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  tcp_idle_timeout: 0.5\n")
    server = dnsfence_factory("--config", str(config))
    with socket.create_connection((server.host, server.port), timeout=3) as conn:
        started = time.monotonic()
        assert conn.recv(10) == b""  # closed by the server
        assert time.monotonic() - started < 2.5


# --- process ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir,
                              sig: int) -> None:
    server = dnsfence_factory()
    server.query("tiktok.com")
    started = time.monotonic()
    server.send_signal(sig)
    assert server.wait(5) == 0
    assert time.monotonic() - started < 2.0


def test_sigterm_stops_workers(dnsfence_factory: DnsfenceFactory,
                               tiktok_lists: BlocklistDir) -> None:
    server = dnsfence_factory("--workers", "2")
    server.query("tiktok.com")
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    assert server.wait(5) == 0
    assert time.monotonic() - started < 2.0


def test_startup_line_says_what_it_serves(server: Dnsfence, unbound: Unbound) -> None:
    line = next(x for x in server.stderr_lines() if "serving on" in x)
    assert f"{server.host}:{server.port}" in line
    assert "1 list" in line and "3 of 3 entries active" in line
    assert unbound.address in line


def test_broken_blocklist_refuses_to_start(dnsfence_factory: DnsfenceFactory,
                                           blocklists_dir: BlocklistDir) -> None:
    blocklists_dir.write_text("bad.yaml", "effective: 2023-03-20\ndomains:\n  - https://x.com/\n")
    with pytest.raises(Exception) as failure:
        dnsfence_factory()
    assert "bad.yaml:3" in str(failure.value)


def test_pid_is_not_left_behind(server: Dnsfence) -> None:
    pid = server.pid
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_tcp_connection_cap(dnsfence_factory: DnsfenceFactory, tiktok_lists: BlocklistDir,
                            tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("server:\n  tcp_max_connections: 2\n")
    server = dnsfence_factory("--config", str(config))
    wire = dns.message.make_query("tiktok.com", "A", use_edns=0).to_wire()
    framed = len(wire).to_bytes(2, "big") + wire
    held = [socket.create_connection((server.host, server.port), timeout=3) for _ in range(2)]
    try:
        for conn in held:  # both answered, so both are open on the server side
            conn.sendall(framed)
            assert len(conn.recv(65535)) > 2
        with socket.create_connection((server.host, server.port), timeout=3) as extra:
            try:
                extra.sendall(framed)
                closed = extra.recv(10) == b""
            except ConnectionResetError:  # closed with our query unread: RST
                closed = True
            assert closed, "a connection beyond the cap was served"
        held[0].close()
        time.sleep(0.2)
        with socket.create_connection((server.host, server.port), timeout=3) as again:
            again.sendall(framed)
            assert len(again.recv(65535)) > 2  # a slot was freed
    finally:
        for conn in held:
            conn.close()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.parametrize("cpus", ["first", "all"])
def test_default_is_one_worker_per_usable_cpu(dnsfence_factory: DnsfenceFactory,
                                              tiktok_lists: BlocklistDir, cpus: str) -> None:
    usable = sorted(os.sched_getaffinity(0))
    allowed = usable[:1] if cpus == "first" else usable
    mask = ",".join(str(cpu) for cpu in allowed)
    server = dnsfence_factory(
        workers=None, program=("taskset", "-c", mask, *DNSFENCE_PROGRAM))
    expected = len(allowed)
    line = next(x for x in server.stderr_lines() if "serving on" in x)
    assert line.endswith(f"; {expected} worker{'s' * (expected != 1)}"), line
    for _ in range(10):  # from fresh source ports, so SO_REUSEPORT spreads them
        assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    workers = _children(server.pid)
    assert len(workers) == (expected if expected > 1 else 0), workers  # one worker: no fork
    # each worker answers: the status query (a fresh socket each time) names its pid
    answering = {ask_status(Endpoint(server.host, server.port))["pid"] for _ in range(40)}
    assert answering == (set(workers) if workers else {server.pid})


def test_a_burst_of_distinct_questions_each_gets_its_own_answer(server: Dnsfence,
                                                                unbound: Unbound) -> None:
    """Hundreds of forwarded, cached and blocked questions in flight at once from one
    socket: every one is answered once, under its own ID, for its own question."""
    expected: dict[int, tuple[str, str, str | None]] = {}
    kinds = [(f"n{i}.example.test", "NXDOMAIN", None) for i in range(300)]  # forwarded
    kinds += [("www.example.test", "NOERROR", "192.0.2.10")] * 60  # forwarded, then cached
    kinds += [(f"x{i}.tiktok.com", "NXDOMAIN", None) for i in range(60)]  # blocked
    kinds += [("newsroom.tiktok.com", "NOERROR", "192.0.2.42")] * 20  # allowed: forwarded
    random.Random(7).shuffle(kinds)
    answered: dict[int, dns.message.Message] = {}

    def take(data: bytes) -> None:
        reply = dns.message.from_wire(data)
        assert reply.id not in answered, f"answered twice: {reply.id}"
        answered[reply.id] = reply

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # room for every answer: a loopback datagram takes ~4 KiB of the receive buffer, so
        # the default (~208 KiB) drops answers that come back while we are still sending,
        # and the server would be blamed for our own socket's losses
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
                    break
        for qid, (name, rcode, address) in enumerate(kinds, start=1):
            query = dns.message.make_query(name, "A", use_edns=0)
            query.id = qid
            expected[qid] = (name, rcode, address)
            sock.sendto(query.to_wire(), (server.host, server.port))
            if qid % 50 == 0:  # read what has come so far: our own receive buffer is small
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        take(sock.recv(4096))
        sock.settimeout(5)
        deadline = time.monotonic() + 10
        while len(answered) < len(expected) and time.monotonic() < deadline:
            try:
                take(sock.recv(4096))
            except TimeoutError:
                break
    missing = sorted({expected[qid][0] for qid in expected if qid not in answered})
    assert not missing, (f"{len(missing)} names never answered: {missing[:10]}",
                         server.stderr_lines()[-15:])
    for qid, (name, rcode, address) in expected.items():
        reply = answered[qid]
        assert reply.question[0].name == dns.name.from_text(name), (qid, reply)
        assert dns.rcode.to_text(reply.rcode()) == rcode, (name, reply)
        if address is not None:
            assert reply.answer[0][0].address == address, (name, reply)


def test_status_counts_repeats_with_the_answers_they_stand_for(server: Dnsfence) -> None:
    for _ in range(4):  # the same question, new IDs: from the third on, a repeat
        assert_blocked(server.query("www.tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    counters = ask_status(Endpoint(server.host, server.port))["counters"]
    assert counters["blocked"] == 4
    assert counters["repeats"] == 2


def test_status_sums_the_counters_of_every_worker(dnsfence_factory: DnsfenceFactory,
                                                  tiktok_lists: BlocklistDir) -> None:
    server = dnsfence_factory("--workers", "2")
    for _ in range(30):  # each from a fresh source port: SO_REUSEPORT spreads them
        assert_blocked(server.query("tiktok.com"), zone="tiktok.com", rule="tiktok.com")
    time.sleep(1.5)  # every worker copies its counters once a second
    for _ in range(6):  # whichever worker answers, the sum is the same
        status = ask_status(Endpoint(server.host, server.port))
        assert status["counters"]["blocked"] == 30, status
        workers = status["workers"]
        assert len(workers) == 2
        assert sum(w["counters"]["blocked"] for w in workers) == 30
        assert all(w["counters"]["blocked"] > 0 for w in workers), workers  # both answered
        assert status["blocked_by_list"] == {"tiktok": 30}
    shown = run_dnsfence("status", "--server", server.address, timeout=10)
    assert shown.returncode == 0, shown.stderr
    assert "counters (sum of 2 workers, pids " in shown.stdout
    assert "blocked 30," in shown.stdout
    assert "blocked by list: tiktok 30" in shown.stdout.splitlines()
