"""Logs as a container runtime or a cluster's log stack collects them: the server log on
standard error, and with `querylog.path: "-"` the query log on standard output, one JSON
record per line from every worker, clients anonymised exactly as in the file."""

from __future__ import annotations

import json

import dns.message
import dns.query
import dns.rcode

from tests.container.conftest import ContainerServer
from tests.container.dockerfiles import ContainerFiles
from tests.integration.harness import BlocklistDir, wait_until

CLIENTS = ("127.0.0.77", "127.0.1.78")


def blocked_list(files: ContainerFiles) -> None:
    BlocklistDir(files["/etc/dnsfence/blocklists"]).write(
        "social", domains=["blocked.example"], effective="2020-01-01")


def test_the_query_log_on_standard_output_is_anonymised_as_in_the_file(
        container_server: ContainerServer) -> None:
    server, files = container_server(prepare=blocked_list,
                                     changes={"querylog": {"path": "-"}})
    for number in range(20):  # over UDP from two clients; the kernel spreads them over the workers
        for client in CLIENTS:
            query = dns.message.make_query(f"n{number}.blocked.example", "A")
            reply = dns.query.udp(query, server.host, port=server.port, timeout=2,
                                  source=client)
            assert reply.rcode() == dns.rcode.NXDOMAIN
    wait_until(lambda: len(server.stdout_lines()) >= 40, timeout=10,
               what="40 query-log records on standard output")
    server.stop()
    records = [json.loads(line) for line in server.stdout_lines()]  # nothing else there
    assert len(records) == 40
    assert {r["client"] for r in records} == {"127.0.0.0", "127.0.1.0"}
    assert {(r["verdict"], r["list"]) for r in records} == {("blocked", "social")}
    assert not any(client in line for client in CLIENTS
                   for line in server.stdout_lines() + server.stderr_lines())
    assert any("serving on" in line for line in server.stderr_lines())
    assert not list(files["/var/lib/dnsfence"].glob("querylog*"))
