"""`dnsfence status`: the CHAOS TXT question, the answer decoded and shown, exit codes."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import CLASS, QTYPE, RR, TXT, DNSRecord

from resolver.commands import status
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.stages.status import STATUS_NAME, encode_status

STATUS: dict[str, Any] = {
    "version": "0.1.0", "pid": 42, "started": 0.0,
    "policy": {"loaded_at": 60.0, "lists": ["ads", "tiktok"], "entries": 12_345,
               "active_entries": 1_234, "next_change": None},
    "last_reload": None,
    "counters": {"queries": 7, "blocked": 2},
    "workers": [{"pid": 42}],
    "upstreams": ["192.0.2.1:53"],
}


class StatusServer:
    """A UDP socket on 127.0.0.1 answering one status question per `replies` entry."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.stopping = threading.Event()
        self.status: dict[str, Any] = STATUS
        self.refuse = False
        self.questions: list[DNSRecord] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, client = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            self.questions.append(query)
            reply = query.reply()
            if self.refuse:
                reply.header.rcode = 5
            else:
                reply.add_answer(RR(STATUS_NAME, QTYPE.TXT, CLASS.CH, 0,
                                    TXT(encode_status(self.status))))
            self.sock.sendto(reply.pack(), client)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def server() -> Iterator[StatusServer]:
    running = StatusServer()
    try:
        yield running
    finally:
        running.stop()


def test_the_question_is_chaos_txt_status_dnsfence(server: StatusServer) -> None:
    assert status.ask(server.endpoint, timeout=5) == STATUS
    (question,) = server.questions
    assert str(question.q.qname).rstrip(".") == STATUS_NAME
    assert (question.q.qtype, question.q.qclass) == (QTYPE.TXT, CLASS.CH)


def test_run_shows_the_status_and_exits_0(server: StatusServer) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=out, err=err) == EXIT_OK
    assert out.getvalue().splitlines() == [
        "dnsfence 0.1.0 (pid 42), up since 1970-01-01 00:00:00 UTC",
        "policy: 2 lists (ads, tiktok), 1,234 of 12,345 entries active, loaded "
        "1970-01-01 00:01:00 UTC; next change never",
        "last reload: none since start-up",
        "counters: blocked 2, queries 7",
        "upstreams: 192.0.2.1:53",
    ]
    out = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=True, out=out, err=err) == EXIT_OK
    assert json.loads(out.getvalue()) == STATUS


def test_blocked_answers_are_shown_per_list(server: StatusServer) -> None:
    server.status = {**STATUS, "blocked_by_list": {"ads": 1, "tiktok": 12}}
    out = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=out,
                      err=io.StringIO()) == EXIT_OK
    assert "blocked by list: ads 1, tiktok 12" in out.getvalue().splitlines()
    server.status = {**STATUS, "blocked_by_list": {}}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert "blocked by list: none yet" in out.getvalue().splitlines()


def test_forward_zones_are_shown_when_there_are_some(server: StatusServer) -> None:
    server.status = {**STATUS, "forward_zones": {"corp.example.eu": ["10.0.0.10:53",
                                                                     "10.0.0.11:53"],
                                                 "10.in-addr.arpa": ["10.0.0.10:53"]}}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert out.getvalue().splitlines()[-1] == (  # the server sends its keys sorted
        "forward zones: 10.in-addr.arpa to 10.0.0.10:53; "
        "corp.example.eu to 10.0.0.10:53, 10.0.0.11:53")
    server.status = {**STATUS, "forward_zones": {}}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert not any(line.startswith("forward zones") for line in out.getvalue().splitlines())


def test_the_udp_io_in_use_is_shown_last(server: StatusServer) -> None:
    server.status = {**STATUS, "forward_zones": {"corp.example.eu": ["10.0.0.10:53"]},
                     "udp_io": "python (server.batch_io: off)"}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert out.getvalue().splitlines()[-2:] == [
        "forward zones: corp.example.eu to 10.0.0.10:53",
        "UDP I/O: python (server.batch_io: off)"]


def test_the_hot_modules_in_use_follow_the_udp_io(server: StatusServer) -> None:
    server.status = {**STATUS, "udp_io": "batched (recvmmsg/sendmmsg, up to 64 datagrams a call)",
                     "hot_modules": "compiled (mypyc, 36 hot modules)"}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert out.getvalue().splitlines()[-1] == "hot modules: compiled (mypyc, 36 hot modules)"


def test_a_supervised_server_shows_its_generation_and_restarts(server: StatusServer) -> None:
    supervisor = {"pid": 40, "workers": 2, "generation": 3, "restarts": 0, "last_death": None}
    server.status = {**STATUS, "supervisor": supervisor}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert "supervisor: pid 40, 2 workers on policy generation 3; 0 worker restarts" \
        in out.getvalue().splitlines()
    death = {"worker": 2, "pid": 41, "status": "was killed by signal 9 (SIGKILL)",
             "at": 180.0, "lived": 5.0}
    server.status = {**STATUS, "supervisor": {**supervisor, "restarts": 1,
                                              "last_death": death}}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert "supervisor: pid 40, 2 workers on policy generation 3; 1 worker restart; last "\
        "death: worker 2 (pid 41) was killed by signal 9 (SIGKILL) at 1970-01-01 00:03:00 UTC" \
        in out.getvalue().splitlines()


def test_a_failed_last_reload_is_shown_with_its_problems_and_exits_1(
        server: StatusServer) -> None:
    server.status = {**STATUS, "workers": [{"pid": 42}, {"pid": 43}], "last_reload": {
        "at": 120.0, "ok": False, "reason": "SIGHUP", "problems": ["a.yaml:2: error: bad"],
        "restart_needed": ["server.listen"]}}
    out = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=out,
                      err=io.StringIO()) == EXIT_PROBLEMS
    lines = out.getvalue().splitlines()
    assert lines[2:6] == [
        "last reload: FAILED at 1970-01-01 00:02:00 UTC (SIGHUP); still serving the policy "
        "loaded 1970-01-01 00:01:00 UTC:",
        "  a.yaml:2: error: bad",
        "needs a restart for: server.listen",
        "counters (sum of 2 workers, pids 42, 43; others' as of their last second): "
        "blocked 2, queries 7",
    ]


def test_a_refusal_or_no_server_exits_1_saying_why(server: StatusServer) -> None:
    server.refuse = True
    err = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=io.StringIO(),
                      err=err) == EXIT_PROBLEMS
    assert err.getvalue() == (f"dnsfence: no status from {server.endpoint}: the server at "
                              f"{server.endpoint} refused the status query (it answers "
                              "loopback clients only)\n")
    server.stop()
    err = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=io.StringIO(),
                      err=err) == EXIT_PROBLEMS
    assert err.getvalue().startswith(f"dnsfence: no status from {server.endpoint}: ")


def test_a_wildcard_listen_address_is_asked_on_loopback(server: StatusServer) -> None:
    config = defaults().with_overrides(**{"server.listen": (Endpoint("0.0.0.0",
                                                                     server.port),)})
    out = io.StringIO()
    assert status.run(config, None, as_json=True, out=out, err=io.StringIO()) == EXIT_OK
    assert json.loads(out.getvalue()) == STATUS  # asked on 127.0.0.1 (health.loopback_for)


MISSING = [
    {"list": "ads", "url": "https://lists.example/ads.txt", "location": "blocklists/ads.yaml:6:5",
     "failures": 3, "last_error": "cannot download: Connection refused; there is no earlier "
     "copy to use", "next_attempt": 300.0},
    {"list": "ads", "url": "https://lists.example/more.txt",
     "location": "blocklists/ads.yaml:8:5", "failures": None, "last_error": None,
     "next_attempt": None},
]


def test_sources_never_downloaded_are_shown_and_exit_1(server: StatusServer) -> None:
    server.status = {**STATUS, "policy": {**STATUS["policy"], "missing_sources": MISSING}}
    out = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=False, out=out,
                      err=io.StringIO()) == EXIT_PROBLEMS
    lines = out.getvalue().splitlines()
    assert lines[2:5] == [
        "MISSING: 2 sources never downloaded yet; their lists are served without them until "
        "they arrive:",
        "  blocklists/ads.yaml:6:5: https://lists.example/ads.txt (list ads); failed 3 times, "
        "last: cannot download: Connection refused; there is no earlier copy to use; "
        "next try 1970-01-01 00:05:00 UTC",
        "  blocklists/ads.yaml:8:5: https://lists.example/more.txt (list ads)",
    ]
    out = io.StringIO()
    assert status.run(defaults(), server.endpoint, as_json=True, out=out,
                      err=io.StringIO()) == EXIT_PROBLEMS
    assert json.loads(out.getvalue())["policy"]["missing_sources"] == MISSING
    server.status = {**STATUS, "policy": {**STATUS["policy"], "missing_sources": MISSING[1:]}}
    out = io.StringIO()
    status.run(defaults(), server.endpoint, as_json=False, out=out, err=io.StringIO())
    assert out.getvalue().splitlines()[2] == (
        "MISSING: 1 source never downloaded yet; its list is served without it until it "
        "arrives:")
