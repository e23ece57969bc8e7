"""Weekly windows against the real server, in real time: a window opens and closes a few
seconds ahead (windows may be written to the second), and the server switches on time."""

from __future__ import annotations

import datetime as dt
import time

import dns.rcode
import dns.rdatatype

from resolver.policy.weekly import DAYS

from .harness import BlocklistDir, DnsfenceFactory, Unbound, addresses_in

LEAD = 4.0    # seconds between start-up and the window opening
LENGTH = 4.0  # seconds the window stays open


def _sleep_until(epoch: float) -> None:
    left = epoch - time.time()
    if left > 0:
        time.sleep(left)


def _window(lead: float, length: float) -> tuple[dict[str, str], float, float]:
    """A `schedule:` (UTC) whose only window opens in `lead` seconds and lasts `length`."""
    opens = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=lead + 1)
    closes = opens + dt.timedelta(seconds=length)
    text = f"{opens:%H:%M:%S}-{closes:%H:%M:%S}"  # across midnight: still the opening day's
    return {DAYS[opens.weekday()]: text}, opens.timestamp(), closes.timestamp()


def _soa(reply: object) -> object:
    return next(r for r in reply.authority if r.rdtype == dns.rdatatype.SOA)  # type: ignore[attr-defined]


def test_a_window_opens_and_closes_on_time_over_a_cached_answer(
        dnsfence_factory: DnsfenceFactory, blocklists_dir: BlocklistDir,
        unbound: Unbound) -> None:
    schedule, opens, closes = _window(LEAD, LENGTH)
    blocklists_dir.write("office", domains=["tiktok.com"], effective="2023-03-20",
                         timezone="UTC", schedule=schedule, reference="office hours")
    server = dnsfence_factory("--config", "/dev/null")
    checks = 0
    while time.time() < opens - 0.3:
        sent = time.time()
        reply = server.query("www.tiktok.com")  # forwarded once, then from the cache
        assert reply.rcode() == dns.rcode.NOERROR, "blocked before its window opened"
        assert addresses_in(reply) == ["192.0.2.41"]
        assert reply.answer[0].ttl <= int(opens - sent), (reply.answer[0].ttl, opens - sent)
        checks += 1
        time.sleep(0.4)
    assert checks >= 3
    _sleep_until(opens + 0.05)
    checks = 0
    while time.time() < closes - 0.3:
        sent = time.time()
        reply = server.query("www.tiktok.com")  # the cached answer is not served any more
        assert reply.rcode() == dns.rcode.NXDOMAIN, "not blocked inside its window"
        soa = _soa(reply)
        left = int(closes - sent)
        assert soa.ttl <= left and soa[0].minimum <= left, (soa.ttl, left)  # type: ignore[attr-defined]
        checks += 1
        time.sleep(0.4)
    assert checks >= 3
    _sleep_until(closes + 0.05)
    reply = server.query("www.tiktok.com")
    assert reply.rcode() == dns.rcode.NOERROR, "still blocked after its window closed"
    assert addresses_in(reply) == ["192.0.2.41"]
    other = server.query("www.example.test")  # names outside the list keep their TTLs
    assert other.answer[0].ttl > 250
