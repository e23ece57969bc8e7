"""Supervised workers against the real server: a killed worker is replaced, the `url:`
downloads survive any worker's death, a crash loop ends the server non-zero, and counters
never go backwards when workers are replaced."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from tests.fetch.local_http import LocalServer, Reply

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, wait_until
from .test_metrics import scrape

CHAOS_STATUS = dns.message.make_query("status.dnsfence", "TXT", "CH")


@pytest.fixture
def lists(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], effective="2023-03-20")
    return blocklists_dir


def workers_of(server: Dnsfence) -> set[int]:
    """The server's live worker processes (the supervisor's children)."""
    text = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
    return {int(pid) for pid in text.split()}


def answering_pid(server: Dnsfence) -> int | None:
    """The pid of whichever worker answers a status query from a fresh source port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(CHAOS_STATUS.to_wire(), (server.host, server.port))
        try:
            reply = dns.message.from_wire(sock.recv(65535))
        except TimeoutError:
            return None
    text = b"".join(reply.answer[0][0].strings)
    pid: int = json.loads(text)["pid"]
    return pid


def status(server: Dnsfence) -> dict[str, object]:
    return server.status_json()


def test_a_killed_worker_is_replaced_within_two_seconds_logged_and_counted(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir) -> None:
    server = dnsfence_factory(workers="2")
    wait_until(lambda: len(workers_of(server)) == 2, timeout=5, what="two workers")
    before = workers_of(server)
    victim = min(before)
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    line = server.wait_for_stderr(
        rf"ERROR dnsfence: worker (\d)/2 \(pid {victim}\) was killed by signal 9 \(SIGKILL\) "
        r"after [\d.]+s; starting it again in 0\.5s", timeout=2)
    assert line[1] in ("1", "2")

    def a_new_worker_answers() -> bool:
        pid = answering_pid(server)
        return pid is not None and pid not in before

    wait_until(a_new_worker_answers, timeout=2 - (time.monotonic() - killed), interval=0.02,
               what="a new worker to answer")
    assert time.monotonic() - killed < 2.0
    assert len(workers_of(server) - before) == 1 and victim not in workers_of(server)
    found = status(server)
    supervisor = found["supervisor"]
    assert isinstance(supervisor, dict) and supervisor["restarts"] == 1
    assert supervisor["last_death"]["pid"] == victim
    assert scrape(server)["dnsfence_worker_restarts_total"] == {(): 1}
    for _ in range(10):  # both workers answer, from any source port
        assert server.query("www.tiktok.com").rcode() == dns.rcode.NXDOMAIN


def test_counters_never_go_backwards_when_workers_are_replaced(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir) -> None:
    server = dnsfence_factory(workers="2")
    sent = 40
    for number in range(sent):  # distinct source ports: both workers answer some
        assert server.query(f"n{number}.tiktok.com").rcode() == dns.rcode.NXDOMAIN

    def blocked() -> float:
        return scrape(server)["dnsfence_blocked_total"].get((("list", "tiktok"),), 0.0)

    wait_until(lambda: blocked() == sent, timeout=5, what="every query counted")
    time.sleep(1.2)  # every worker has copied its counters since (once a second)
    os.kill(min(workers_of(server)), signal.SIGKILL)
    server.wait_for_stderr(r"was killed by signal 9", timeout=2)
    assert blocked() == sent  # the dead worker's last copy is kept
    server.send_signal(signal.SIGHUP)  # a new generation: the old workers retire
    server.wait_for_stderr(r"starting 2 workers on the new policy", timeout=5)
    wait_until(lambda: len(workers_of(server)) == 2, timeout=10, what="the old ones to leave")
    assert blocked() == sent
    assert server.query("again.tiktok.com").rcode() == dns.rcode.NXDOMAIN
    wait_until(lambda: blocked() == sent + 1, timeout=5, what="a new worker's count added")


@pytest.fixture
def http_source() -> Iterator[LocalServer]:
    server = LocalServer()
    try:
        yield server
    finally:
        server.stop()


def test_downloads_go_on_after_every_worker_died(dnsfence_factory: DnsfenceFactory,
                                                  blocklists_dir: BlocklistDir,
                                                  http_source: LocalServer) -> None:
    http_source.routes["/ads.txt"] = Reply(body=b"ads.example.com\n")
    blocklists_dir.write_text("ads", f"""name: ads
reference: supervision test
effective: 2023-01-01
sources:
  - url: {http_source.url("/ads.txt")}
    refresh: 2s
""")
    server = dnsfence_factory(workers="2")
    assert server.query("ads.example.com").rcode() == dns.rcode.NXDOMAIN
    assert server.query("www.example.com").rcode() == dns.rcode.NOERROR
    wait_until(lambda: len(workers_of(server)) == 2, timeout=5, what="two workers")
    first = workers_of(server)
    for pid in first:  # the worker that used to download is among them
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(workers_of(server) - first) == 2, timeout=5,
               what="both workers started again")
    http_source.routes["/ads.txt"] = Reply(body=b"ads.example.com\nwww.example.com\n")
    wait_until(lambda: server.query("www.example.com").rcode() == dns.rcode.NXDOMAIN,
               timeout=10, interval=0.2, what="the new copy to be downloaded and served")
    downloaded = [line for line in server.stderr_lines()
                  if "downloaded" in line and "ads.txt" in line]
    assert downloaded and not any("[worker" in line for line in downloaded)


def test_a_crash_loop_stops_the_server_with_a_failure_status(
        dnsfence_factory: DnsfenceFactory, lists: BlocklistDir) -> None:
    server = dnsfence_factory(workers="2")
    wait_until(lambda: len(workers_of(server)) == 2, timeout=5, what="two workers")
    survivor, victim = sorted(workers_of(server))
    for death in range(1, 6):  # the same worker dies as soon as it is back, five times
        os.kill(victim, signal.SIGKILL)
        if death == 5:
            break
        server.wait_for_stderr(rf"\(pid {victim}\) was killed by signal 9", timeout=5)
        wait_until(lambda: len(workers_of(server) - {survivor}) == 1, timeout=20,
                   interval=0.02, what="the worker started again")
        [victim] = workers_of(server) - {survivor}
    assert server.wait(10) == 1
    server.wait_for_stderr(rf"\(pid {victim}\) was killed by signal 9 \(SIGKILL\) after "
                           r"[\d.]+s: 5 deaths within 60s is a crash loop; stopping every "
                           r"worker and exiting", since_start=True)
    # the worker that never died was stopped (SIGTERM), not left behind
    server.wait_for_stderr(rf"\[worker \d/2\] dnsfence: stopping \(pid {survivor}\)",
                           since_start=True)
    assert not Path(f"/proc/{survivor}").exists()
