"""Client groups against the real server and a real unbound: a list that exempts the press
office or applies to the guests only answers each client by its groups, and the same
query bytes from clients of different groups, alternating, never get each other's answers
(the repeat stage, the cache and CNAME inspection all keep groups apart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, require_tool

OFFICE, PRESS, GUEST = "127.0.0.1", "127.0.0.2", "127.0.0.3"
CONFIG = """
groups:
  press-office: [127.0.0.2/32]
  guests: [127.0.0.3/32, "::1/128"]
querylog:
  mode: blocked
  clients: full
"""
TIKTOK = "blocked by list tiktok (tiktok.com) since 2023-03-20"
CLOAKED = ("blocked by list tiktok (tiktok.com) via CNAME cloaked.example.test → "
           "www.tiktok.com since 2023-03-20")
GUESTS = "blocked by list guest-ban (example.com) for group guests since 2023-01-01"

EXPECTED: dict[tuple[str, str], tuple[str, str | None]] = {
    # (name, client) -> (rcode, the EDE text, or the first address of the answer)
    ("www.tiktok.com", OFFICE): ("NXDOMAIN", TIKTOK),
    ("www.tiktok.com", PRESS): ("NOERROR", "192.0.2.41"),
    ("www.tiktok.com", GUEST): ("NXDOMAIN", TIKTOK),
    ("cloaked.example.test", OFFICE): ("NXDOMAIN", CLOAKED),
    ("cloaked.example.test", PRESS): ("NOERROR", None),  # the CNAME alone, as unbound sends it
    ("cloaked.example.test", GUEST): ("NXDOMAIN", CLOAKED),
    ("www.example.com", OFFICE): ("NOERROR", "192.0.2.31"),
    ("www.example.com", PRESS): ("NOERROR", "192.0.2.31"),
    ("www.example.com", GUEST): ("NXDOMAIN", GUESTS),
    ("www.example.test", OFFICE): ("NOERROR", "192.0.2.10"),
    ("www.example.test", PRESS): ("NOERROR", "192.0.2.10"),
    ("www.example.test", GUEST): ("NOERROR", "192.0.2.10"),
}


@pytest.fixture
def grouped(blocklists_dir: BlocklistDir, tmp_path: Path) -> Path:
    blocklists_dir.write_text("tiktok", """
name: tiktok
reference: EP decision
effective: 2023-03-20
timezone: Europe/Brussels
except_clients: [press-office]
domains: [tiktok.com]
""")
    blocklists_dir.write_text("guests", """
name: guest-ban
reference: guest network policy
effective: 2023-01-01
timezone: Europe/Brussels
clients: [guests]
domains: [example.com]
""")
    config = tmp_path / "dnsfence.yaml"
    config.write_text(CONFIG)
    return config


def ede(reply: dns.message.Message) -> list[tuple[int, str]]:
    return [(int(o.code), o.text or "") for o in reply.options
            if isinstance(o, dns.edns.EDEOption)]


def check(reply: dns.message.Message, expected: tuple[str, str | None], why: Any) -> None:
    rcode, detail = expected
    assert dns.rcode.to_text(reply.rcode()) == rcode, (why, reply)
    if rcode == "NXDOMAIN":
        assert reply.answer == [] and ede(reply) == [(15, detail)], (why, reply)
        return
    assert not ede(reply), (why, reply)
    addresses = [rd.address for rrset in reply.answer if rrset.rdtype == 1 for rd in rrset]
    assert addresses[:1] == ([detail] if detail else []), (why, reply)
    assert reply.answer, (why, reply)


def test_the_same_query_bytes_from_three_groups_alternating_get_their_own_answers(
        dnsfence_factory: DnsfenceFactory, grouped: Path) -> None:
    server = dnsfence_factory("--config", str(grouped))
    queries = {name: dns.message.make_query(name, "A", use_edns=0)
               for name in {name for name, _ in EXPECTED}}
    for message in queries.values():
        message.id = 4242  # the very same bytes from every client, every round
    for step in range(4):  # forwarded, then from the cache and the repeat stage
        for name, message in queries.items():
            for client in (OFFICE, PRESS, GUEST, PRESS, OFFICE, GUEST):
                reply = dns.query.udp(message, server.host, port=server.port, timeout=2,
                                      source=client)
                check(reply, EXPECTED[(name, client)], (step, name, client))
    for (name, client), expected in EXPECTED.items():  # TCP answers alike
        reply = dns.query.tcp(queries[name], server.host, port=server.port, timeout=2,
                              source=client)
        check(reply, expected, ("tcp", name, client))
    records = log_records(server)
    assert {(r["client"], r["name"], r["list"], r["group"]) for r in records} == {
        (OFFICE, "www.tiktok.com", "tiktok", ""),
        (GUEST, "www.tiktok.com", "tiktok", ""),
        (OFFICE, "cloaked.example.test", "tiktok", ""),
        (GUEST, "cloaked.example.test", "tiktok", ""),
        (GUEST, "www.example.com", "guest-ban", "guests"),
    }
    assert len(records) == 5 * (4 * 2 + 1)  # each blocked answer logged, repeats included


def test_ipv6_clients_are_grouped_too(dnsfence_factory: DnsfenceFactory, grouped: Path
                                      ) -> None:
    server = dnsfence_factory("--config", str(grouped), listen="[::1]:0")
    for _ in range(2):
        check(server.query("www.example.com"), EXPECTED[("www.example.com", GUEST)], "::1")


def test_dig_from_a_groups_address_shows_the_group(dnsfence_factory: DnsfenceFactory,
                                                   grouped: Path) -> None:
    require_tool("dig")
    server = dnsfence_factory("--config", str(grouped))
    guest = server.dig("-b", GUEST, "www.example.com", "A")
    assert "status: NXDOMAIN" in guest.stdout and f"EDE: 15 (Blocked): ({GUESTS})" \
        in guest.stdout, guest.stdout
    office = server.dig("-b", OFFICE, "www.example.com", "A")
    assert "status: NOERROR" in office.stdout and "192.0.2.31" in office.stdout


def log_records(server: Dnsfence) -> list[dict[str, Any]]:
    """The query log, once the server has stopped (SIGTERM writes what is queued)."""
    assert server.stop() == 0 and server.state_dir is not None
    path = server.state_dir / "querylog.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
