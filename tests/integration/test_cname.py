"""CNAME inspection against the real server and a real unbound serving alias chains: an
answer whose CNAME or DNAME chain passes through a blocked name is blocked, forwarded or
from the cache, from the very instant the name is blocked."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import dns.edns
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from .harness import BlocklistDir, Dnsfence, DnsfenceFactory, Unbound, require_tool

CLOAKED = ("blocked by list tiktok (tiktok.com) via CNAME cloaked.example.test → "
           "www.tiktok.com since 2023-03-20")
LEAD = 4.0  # seconds between start-up and the transition


@pytest.fixture
def tiktok(blocklists_dir: BlocklistDir) -> BlocklistDir:
    blocklists_dir.write("tiktok", domains=["tiktok.com"], allow=["newsroom.tiktok.com"],
                         effective="2023-03-20", timezone="Europe/Brussels")
    return blocklists_dir


def ede(reply: dns.message.Message) -> list[tuple[int, str]]:
    return [(int(o.code), o.text or "") for o in reply.options
            if isinstance(o, dns.edns.EDEOption)]


def assert_blocked_via_chain(reply: dns.message.Message, name: str, text: str) -> None:
    """NXDOMAIN, no answer, the SOA (owned by the question: the blocked zone is not its
    ancestor), TTL 60, and EDE 15 with `text`."""
    assert dns.rcode.to_text(reply.rcode()) == "NXDOMAIN", reply
    assert reply.answer == []
    [soa] = reply.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == f"{name}."
    assert soa.ttl == 60 and soa[0].minimum == 60
    assert ede(reply) == [(15, text)]


def log_records(server: Dnsfence) -> list[dict[str, Any]]:
    """The query log, once the server has stopped (SIGTERM writes what is queued)."""
    assert server.stop() == 0 and server.state_dir is not None
    path = server.state_dir / "querylog.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_cname_into_a_blocked_name_is_blocked_forwarded_and_from_the_cache(
        dnsfence_factory: DnsfenceFactory, tiktok: BlocklistDir, unbound: Unbound) -> None:
    server = dnsfence_factory()
    before = unbound.query_count("cloaked.example.test")
    for _ in range(3):
        assert_blocked_via_chain(server.query("cloaked.example.test"), "cloaked.example.test",
                                 CLOAKED)
    # asked once: the second and third answers were the cached message, checked again
    assert unbound.wait_for_query_count("cloaked.example.test", before + 1) == before + 1
    logged = [r for r in log_records(server) if r["name"] == "cloaked.example.test"]
    assert len(logged) == 3
    assert {(r["verdict"], r["rcode"], r["list"], r["rule"]) for r in logged} == \
        {("blocked", "NXDOMAIN", "tiktok", "tiktok.com")}


def test_dig_shows_the_chain(dnsfence_factory: DnsfenceFactory, tiktok: BlocklistDir) -> None:
    require_tool("dig")
    result = dnsfence_factory().dig("cloaked.example.test", "A")
    assert result.returncode == 0, result.stderr
    assert "status: NXDOMAIN" in result.stdout
    assert "EDE: 15 (Blocked)" in result.stdout
    # dig escapes the arrow's UTF-8 bytes; the rest of the text is as sent
    assert "blocked by list tiktok (tiktok.com) via CNAME cloaked.example.test " \
        in result.stdout
    assert " www.tiktok.com since 2023-03-20" in result.stdout


@pytest.mark.parametrize(("name", "text"), [
    ("two.chains.test", "blocked by list tiktok (tiktok.com) via CNAME two.chains.test → "
                        "hop.chains.test → www.tiktok.com since 2023-03-20"),
    ("www.mirror.chains.test", "blocked by list tiktok (tiktok.com) via DNAME "
                               "mirror.chains.test → tiktok.com since 2023-03-20"),
], ids=["two-steps", "dname"])
def test_a_longer_chain_and_a_dname_are_blocked_and_named(
        dnsfence_factory: DnsfenceFactory, tiktok: BlocklistDir, name: str, text: str) -> None:
    server = dnsfence_factory()
    for tcp in (False, True, False):
        assert_blocked_via_chain(server.query(name, tcp=tcp), name, text)


def test_an_unrelated_cname_is_untouched(dnsfence_factory: DnsfenceFactory,
                                         tiktok: BlocklistDir, unbound: Unbound) -> None:
    server = dnsfence_factory()
    direct = unbound.query("alias.example.test")
    for _ in range(2):
        reply = server.query("alias.example.test")
        assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
        assert [rrset.to_text() for rrset in reply.answer] == \
            [rrset.to_text() for rrset in direct.answer]
        assert not ede(reply)


def test_blocking_cname_false_turns_it_off(dnsfence_factory: DnsfenceFactory,
                                          tiktok: BlocklistDir, tmp_path: Path) -> None:
    config = tmp_path / "dnsfence.yaml"
    config.write_text("blocking:\n  cname: false\n")
    server = dnsfence_factory("--config", str(config))
    for name, target in (("cloaked.example.test", "www.tiktok.com."),
                         ("two.chains.test", "hop.chains.test.")):
        for _ in range(2):
            reply = server.query(name)
            assert dns.rcode.to_text(reply.rcode()) == "NOERROR"
            assert str(reply.answer[0][0].target) == target and not ede(reply)
    # the question itself is still blocked
    assert dns.rcode.to_text(server.query("www.tiktok.com").rcode()) == "NXDOMAIN"


def test_a_chain_that_becomes_blocked_is_blocked_from_that_instant_from_the_cache(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
        unbound: Unbound) -> None:
    moment = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEAD)).replace(microsecond=0)
    start = moment.timestamp()
    blocklists_dir.write("soon", domains=["soon.example.com"], effective=moment.isoformat(),
                         timezone="UTC", reference="starts in a few seconds")
    server = dnsfence_factory()
    before = unbound.query_count("soon.chains.test")
    checks = 0
    while time.time() < start - 0.3:
        sent = time.time()
        reply = server.query("soon.chains.test")
        assert dns.rcode.to_text(reply.rcode()) != "NXDOMAIN" or not ede(reply), \
            "blocked before its effective instant"
        assert str(reply.answer[0][0].target) == "cdn.soon.example.com."
        left = int(start - sent)  # whole seconds left when the query was sent
        assert all(rrset.ttl <= left for rrset in reply.answer), (reply.answer, left)
        checks += 1
        time.sleep(0.4)
    assert checks >= 3
    left = start + 0.05 - time.time()
    if left > 0:
        time.sleep(left)
    shown = moment.isoformat(timespec="minutes")
    for _ in range(2):
        assert_blocked_via_chain(
            server.query("soon.chains.test"), "soon.chains.test",
            f"blocked by list soon (soon.example.com) via CNAME soon.chains.test → "
            f"cdn.soon.example.com since {shown}")
    # every answer, before and after the instant, came from the one cached message
    assert unbound.wait_for_query_count("soon.chains.test", before + 1) == before + 1
