"""On-time transitions against the real server, in real time (issue: live policy)."""

from __future__ import annotations

import datetime as dt
import time

import dns.rcode
import dns.rdatatype
import pytest

from .harness import BlocklistDir, DnsfenceFactory, Unbound, addresses_in

LEAD = 4.0  # seconds between start-up and the transition


def _at(seconds_from_now: float) -> tuple[dt.datetime, float]:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_from_now)
    moment = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    return moment, moment.timestamp()


def _sleep_until(epoch: float) -> None:
    left = epoch - time.time()
    if left > 0:
        time.sleep(left)


def _soa(reply: object) -> object:
    return next(r for r in reply.authority if r.rdtype == dns.rdatatype.SOA)  # type: ignore[attr-defined]


def test_block_starts_on_time_and_ttls_end_by_then(dnsfence_factory: DnsfenceFactory,
                                                   blocklists_dir: BlocklistDir,
                                                   unbound: Unbound) -> None:
    start, start_epoch = _at(LEAD)
    blocklists_dir.write("soon", domains=["tiktok.com"], effective=start.isoformat(),
                         reference="starts in a few seconds")
    server = dnsfence_factory("--config", "/dev/null")
    checks = 0
    while time.time() < start_epoch - 0.3:
        sent = time.time()
        reply = server.query("www.tiktok.com")
        assert reply.rcode() == dns.rcode.NOERROR, "blocked before its effective instant"
        assert addresses_in(reply) == ["192.0.2.41"]
        left = int(start_epoch - sent)  # whole seconds left when the query was sent
        assert reply.answer[0].ttl <= left, (reply.answer[0].ttl, left)
        checks += 1
        time.sleep(0.4)
    assert checks >= 3
    _sleep_until(start_epoch + 0.05)
    reply = server.query("www.tiktok.com")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    # names the list does not cover are unaffected: their TTLs are not capped
    other = server.query("www.example.test")
    assert other.answer[0].ttl > 250


def test_block_ends_on_time_with_negative_ttl_capped(dnsfence_factory: DnsfenceFactory,
                                                     blocklists_dir: BlocklistDir) -> None:
    end, end_epoch = _at(LEAD)
    blocklists_dir.write("ending", domains=["tiktok.com"], effective="2023-03-20",
                         expires=end.isoformat(), reference="ends in a few seconds")
    server = dnsfence_factory()
    checks = 0
    while time.time() < end_epoch - 0.3:
        sent = time.time()
        reply = server.query("tiktok.com")
        assert reply.rcode() == dns.rcode.NXDOMAIN
        soa = _soa(reply)
        left = int(end_epoch - sent)
        assert soa.ttl <= left and soa[0].minimum <= left, (soa.ttl, soa[0].minimum, left)  # type: ignore[attr-defined]
        checks += 1
        time.sleep(0.4)
    assert checks >= 3
    _sleep_until(end_epoch + 0.05)
    reply = server.query("tiktok.com")
    assert reply.rcode() == dns.rcode.NOERROR
    assert addresses_in(reply) == ["192.0.2.40"]


def test_last_second_answers_carry_ttl_zero(dnsfence_factory: DnsfenceFactory,
                                            blocklists_dir: BlocklistDir) -> None:
    start, start_epoch = _at(2.0)
    blocklists_dir.write("soon", domains=["example.com"], effective=start.isoformat(),
                         reference="x")
    server = dnsfence_factory()
    _sleep_until(start_epoch - 0.6)
    reply = server.query("example.com")
    if time.time() >= start_epoch:
        pytest.skip("the machine was too slow to query inside the last second")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0].ttl == 0
