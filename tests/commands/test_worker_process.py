"""A supervised worker, forked for real from this test: it answers from its generation's
policy, ignores SIGHUP, and on the retire signal exits 0 after a last copy of its counters,
leaving its sockets (held here too) open for a successor."""

from __future__ import annotations

import gc
import os
import select
import signal
import socket
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import pytest

from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_process import (
    Generation,
    WorkerSeat,
    release_memory,
    start_worker,
)
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.counters import SharedCounters
from resolver.lists.load import load_policy
from resolver.pipeline import counter_names, level_names
from resolver.policy.period import PolicyHolder
from resolver.reload import PolicyReloader
from resolver.server import RETIRE_SIGNAL, Listener, bind
from resolver.stages.status import decode_status
from tests.commands.cli_runner import STAGED, write_tree


def generation(root: Path) -> Generation:
    write_tree(root, {"blocklists/social.yaml": STAGED})
    config = defaults().with_overrides(
        blocklists=root / "blocklists", state_dir=root / "state",
        **{"upstream.servers": (Endpoint("192.0.2.1", 53),)})
    loaded = load_policy(config.blocklists, config.timezone)
    assert loaded.policy is not None
    return Generation(1, config, loaded.policy)


def ask(listener: Listener, name: str, rdtype: str = "A", rdclass: str = "IN"
        ) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, rdclass)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(query.to_wire(), (listener.endpoint.host, listener.endpoint.port))
        return dns.message.from_wire(sock.recv(65535))


@pytest.fixture
def listener() -> Iterator[Listener]:
    bound = bind(Endpoint("127.0.0.1", 0), reuseport=True)
    try:
        yield bound
    finally:
        bound.udp.close()
        bound.tcp.close()


def test_a_worker_serves_its_generation_and_retires_when_told(tmp_path: Path,
                                                              listener: Listener) -> None:
    served = generation(tmp_path)
    shared = SharedCounters(1, counter_names(), slots=3)
    supervisor = SupervisorReport(shared, 2, level_names())
    live = PolicyReloader(served.config, PolicyHolder(served.policy), lambda: served.config,
                          lambda _old, _new: None, downloads=False)
    supervisor.set_state(live.state())
    supervisor.set_supervisor({"restarts": 4})
    pid = start_worker(served, 0, 0, WorkerSeat(1, [[listener]], shared, None))
    try:
        deadline = time.monotonic() + 10
        while (copy := shared.read_slot(0)) is None or copy.report.pid != pid:
            assert time.monotonic() < deadline, "the worker never reported"
            time.sleep(0.02)
        assert ask(listener, "www.tiktok.com").rcode() == dns.rcode.NXDOMAIN
        os.kill(pid, signal.SIGHUP)  # not a worker's business: it keeps serving
        reply = ask(listener, "status.dnsfence", "TXT", "CH")
        status = decode_status(list(reply.answer[0][0].strings))
        assert status["pid"] == pid  # the same worker answers: SIGHUP did not end it
        assert status["supervisor"] == {"restarts": 4}  # the supervisor's, as it reported
        os.kill(pid, RETIRE_SIGNAL)
        _, code = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(code) == 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    last = shared.read_slot(0)
    assert last is not None and last.report.counters["blocked"] == 1  # its last copy
    # the socket outlives the worker: what arrives now waits for a successor
    query = dns.message.make_query("www.tiktok.com", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(query.to_wire(), (listener.endpoint.host, listener.endpoint.port))
    readable, _, _ = select.select([listener.udp], [], [], 2.0)
    assert readable and dns.message.from_wire(listener.udp.recv(65535)).id == query.id


def test_release_memory_collects_cycles_and_freezes_the_rest() -> None:
    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    try:
        release_memory()
        assert gone() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
