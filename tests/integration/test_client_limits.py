"""Per-client limits and a clean stop, against the real server: one loopback address over
its rate is dropped and slipped while another is served; one client's hundreds of idle TCP
connections do not lock another out; SIGTERM with open TCP connections exits 0, quickly,
without a traceback."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from .harness import DnsfenceFactory, wait_until
from .test_metrics import scrape

NAME = "www.example.test"


def udp(server_host: str, port: int, source: str, qid: int) -> dns.message.Message | None:
    """One query from `source`; None when no answer came (dropped)."""
    message = dns.message.make_query(NAME, "A", use_edns=0)
    message.id = qid
    try:
        return dns.query.udp(message, server_host, port=port, timeout=0.3, source=source)
    except dns.exception.Timeout:
        return None


def test_a_client_over_its_rate_is_dropped_and_slipped_while_another_is_served(
        dnsfence_factory: DnsfenceFactory, tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("server:\n  rate_limit: {qps: 2, burst: 5}\n")
    server = dnsfence_factory("--config", str(config))
    replies = [udp(server.host, server.port, "127.0.0.2", qid) for qid in range(12)]
    answered = [r for r in replies if r is not None and not r.flags & dns.flags.TC]
    slipped = [r for r in replies if r is not None and r.flags & dns.flags.TC]
    dropped = [r for r in replies if r is None]
    assert len(answered) <= 7  # the burst, and what 2 qps adds while this runs
    assert slipped and dropped and abs(len(slipped) - len(dropped)) <= 1
    assert all(r.answer == [] for r in slipped)
    # a TC answer sends a real client to TCP, which is not rate-limited
    tcp = dns.query.tcp(dns.message.make_query(NAME, "A"), server.host, port=server.port,
                        timeout=2, source="127.0.0.2")
    assert dns.rcode.to_text(tcp.rcode()) == "NOERROR" and tcp.answer
    other = udp(server.host, server.port, "127.0.0.3", 7)
    assert other is not None and other.answer and not other.flags & dns.flags.TC
    wait_until(lambda: scrape(server).get("dnsfence_rate_limited_total", {}).get(
        (("action", "slip"),), 0) == len(slipped), timeout=5, what="the slips to be counted")
    assert scrape(server)["dnsfence_rate_limited_total"][(("action", "drop"),)] == len(dropped)


def test_one_clients_idle_tcp_connections_do_not_lock_another_out(
        dnsfence_factory: DnsfenceFactory, tmp_path: Path) -> None:
    server = dnsfence_factory()  # the defaults: 512 in all, 16 per client
    hogs: list[socket.socket] = []
    try:
        for _ in range(600):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.2", 0))
            sock.connect((server.host, server.port))
            hogs.append(sock)
        reply = dns.query.tcp(dns.message.make_query(NAME, "A"), server.host, port=server.port,
                              timeout=2, source="127.0.0.3")
        assert dns.rcode.to_text(reply.rcode()) == "NOERROR" and reply.answer
        wait_until(lambda: scrape(server)["dnsfence_tcp_connections_refused_total"][
            (("cap", "client"),)] >= 600 - 16, timeout=10, what="the refusals to be counted")
    finally:
        for sock in hogs:
            sock.close()


@pytest.mark.parametrize("pending", [False, True], ids=["idle", "query-in-flight"])
def test_sigterm_with_open_tcp_connections_exits_0_quickly_without_a_traceback(
        dnsfence_factory: DnsfenceFactory, pending: bool) -> None:
    server = dnsfence_factory()
    assert server.query(NAME, tcp=True).answer  # the server answers over TCP
    clients = []
    for number in range(20):
        sock = socket.create_connection((server.host, server.port), timeout=2)
        if pending and number % 2:  # half of them with a query under way, never finished
            wire = dns.message.make_query(f"n{number}.example.test", "A").to_wire()
            sock.sendall(len(wire).to_bytes(2, "big") + wire[:5])
        clients.append(sock)
    time.sleep(0.2)  # the server has accepted them
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    status = server.wait(5)
    elapsed = time.monotonic() - started
    for sock in clients:
        sock.close()
    assert status == 0
    assert elapsed < 2.0, elapsed
    log = "\n".join(server.stderr_lines())
    assert "Traceback" not in log and "CancelledError" not in log, log
