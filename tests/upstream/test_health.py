"""Tests for resolver.upstream.health: failure streaks, hold-down and the order of servers,
through a Forwarder talking to fake servers on loopback and on UpstreamHealth alone."""

from __future__ import annotations

import asyncio
import logging
import time

import dns.message
import dns.rcode
import pytest

from resolver.upstream import health as health_module
from resolver.upstream.forwarder import Forwarder
from resolver.upstream.health import UpstreamHealth
from resolver.upstream.servers import UpstreamServer

from .fake_upstream import (
    FakeUpstream,
    Seen,
    answering,
    assert_answer,
    reply_to,
    run,
    silent,
    timed,
)


def test_servfail_moves_on_but_does_not_hold_the_server_down() -> None:
    async def scenario() -> None:
        async with (
            FakeUpstream(answering(rcode=dns.rcode.SERVFAIL)) as failing,
            FakeUpstream(answering("192.0.2.4")) as live,
        ):
            forwarder = Forwarder([failing.server, live.server], failures_before_holddown=1)
            for _ in range(3):
                wire, elapsed = await timed(forwarder)
                assert_answer(wire, "192.0.2.4")
                assert elapsed < 0.5
            assert len(failing.seen) == 3
            assert not forwarder.is_held_down(failing.server)

    run(scenario())


def test_refused_is_an_answer_not_a_failure() -> None:
    """A client asking AXFR three times must not put an upstream in hold-down for all."""
    async def scenario() -> None:
        async with (
            FakeUpstream(answering(rcode=dns.rcode.REFUSED)) as refusing,
            FakeUpstream(answering("192.0.2.5")) as live,
        ):
            forwarder = Forwarder([refusing.server, live.server], failures_before_holddown=1)
            for _ in range(3):
                assert_answer((await timed(forwarder))[0], "192.0.2.5")
            assert len(refusing.seen) == 3  # asked every time: it is alive
            assert not forwarder.is_held_down(refusing.server)

    run(scenario())


def test_an_extended_rcode_in_opt_moves_on_without_a_failure() -> None:
    def respond(fake: FakeUpstream, seen: Seen) -> None:
        response = dns.message.make_response(seen.message)
        response.set_rcode(dns.rcode.BADVERS)
        fake.send(response.to_wire(), seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as odd, FakeUpstream(answering("192.0.2.8")) as live:
            forwarder = Forwarder([odd.server, live.server], failures_before_holddown=1)
            assert_answer((await timed(forwarder))[0], "192.0.2.8")
            assert not forwarder.is_held_down(odd.server)

    run(scenario())


def test_holddown_skips_a_dead_server_then_probes_it_again() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead, FakeUpstream(answering("192.0.2.9")) as live:
            forwarder = Forwarder(
                [dead.server, live.server],
                try_timeout=0.2,
                failures_before_holddown=2,
                holddown=0.6,
            )
            for expected_seen in (1, 2):
                wire, elapsed = await timed(forwarder)
                assert_answer(wire, "192.0.2.9")
                assert elapsed >= 0.18, "still waiting for the dead server"
                assert len(dead.seen) == expected_seen
            assert forwarder.is_held_down(dead.server)

            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.9")
            assert elapsed < 0.15, "a held-down server is skipped"
            assert len(dead.seen) == 2

            await asyncio.sleep(0.65)
            assert not forwarder.is_held_down(dead.server)
            wire, elapsed = await timed(forwarder)
            assert_answer(wire, "192.0.2.9")
            assert len(dead.seen) == 3, "tried again after the holddown"
            assert elapsed >= 0.18

            wire, elapsed = await timed(forwarder)
            assert elapsed < 0.15, "one failed probe holds it down again"
            assert len(dead.seen) == 3

    run(scenario())


def test_when_every_server_is_held_down_they_are_tried_anyway() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead:
            forwarder = Forwarder(
                [dead.server],
                try_timeout=0.1,
                deadline=0.25,
                failures_before_holddown=1,
                holddown=60,
            )
            assert (await timed(forwarder))[0] is None
            assert forwarder.is_held_down(dead.server)
            tries = len(dead.seen)
            assert (await timed(forwarder))[0] is None
            assert len(dead.seen) > tries

    run(scenario())


def test_the_forwarder_says_when_every_server_is_held_down() -> None:
    async def scenario() -> None:
        async with FakeUpstream(silent) as dead, FakeUpstream(silent) as also_dead:
            forwarder = Forwarder([dead.server, also_dead.server], try_timeout=0.05,
                                  deadline=0.12, failures_before_holddown=1, holddown=60)
            assert not forwarder.all_held_down()
            assert (await timed(forwarder))[0] is None
            assert forwarder.is_held_down(dead.server)
            assert forwarder.is_held_down(also_dead.server)
            assert forwarder.all_held_down()
            forwarder.close()

    run(scenario())


def test_server_that_comes_back_is_used_again() -> None:
    state = {"up": False}

    def respond(fake: FakeUpstream, seen: Seen) -> None:
        if state["up"]:
            fake.send(reply_to(seen.message, "192.0.2.10"), seen.source)

    async def scenario() -> None:
        async with FakeUpstream(respond) as flaky:
            forwarder = Forwarder(
                [flaky.server],
                try_timeout=0.1,
                deadline=0.15,
                failures_before_holddown=1,
                holddown=60,
            )
            assert (await timed(forwarder))[0] is None
            state["up"] = True
            assert_answer((await timed(forwarder))[0], "192.0.2.10")
            assert not forwarder.is_held_down(flaky.server)

    run(scenario())


# --- UpstreamHealth alone -------------------------------------------------------------


def three_servers() -> list[UpstreamServer]:
    return [UpstreamServer("192.0.2.1"), UpstreamServer("192.0.2.2"), UpstreamServer("192.0.2.3")]


def test_order_is_the_configured_one_and_is_kept_between_calls() -> None:
    servers = three_servers()
    health = UpstreamHealth(servers, failures_before_holddown=2, holddown=30)
    first = health.order(time.monotonic())
    assert first == servers
    assert health.order(time.monotonic()) is first, "no new list per question"


def test_enough_failures_in_a_row_hold_a_server_down_until_the_holddown_ends() -> None:
    servers = three_servers()
    health = UpstreamHealth(servers, failures_before_holddown=2, holddown=30)
    health.failed(servers[0])
    assert not health.is_held_down(servers[0])
    assert health.order(time.monotonic()) == servers
    health.failed(servers[0])
    assert health.is_held_down(servers[0])
    now = time.monotonic()
    assert health.order(now) == servers[1:]
    assert health.order(now + 31) == servers, "tried again once the holddown is over"


def test_an_answer_ends_the_streak_and_the_holddown() -> None:
    servers = three_servers()
    health = UpstreamHealth(servers, failures_before_holddown=1, holddown=30)
    health.failed(servers[1])
    assert health.order(time.monotonic()) == [servers[0], servers[2]]
    health.answered(servers[1], health.of[servers[1]])
    assert health.of[servers[1]].failures == 0
    assert not health.is_held_down(servers[1])
    assert health.order(time.monotonic()) == servers


def test_when_every_server_is_held_down_the_order_has_them_all() -> None:
    servers = three_servers()
    health = UpstreamHealth(servers, failures_before_holddown=1, holddown=30)
    for server in servers:
        health.failed(server)
    assert all(health.is_held_down(server) for server in servers)
    assert health.order(time.monotonic()) == servers


def test_a_flapping_server_writes_one_hold_down_line_a_minute_with_a_count(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    server = UpstreamServer("192.0.2.1")
    health = UpstreamHealth([server], failures_before_holddown=1, holddown=0.0)
    clock = [1000.0]
    monkeypatch.setattr(health_module.time, "monotonic", lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="dnsfence")
    for _ in range(5):  # fail, answer, fail, answer...: five flaps within a minute
        health.failed(server)
        health.answered(server, health.of[server])
        clock[0] += 1.0
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["dnsfence: upstream 192.0.2.1:53 failed 1 times in a row; skipping it "
                     "for 0s", "dnsfence: upstream 192.0.2.1:53 answers again"]
    clock[0] += 60.0
    health.failed(server)
    assert caplog.records[-1].getMessage().endswith("(4 more hold-downs in the last minute)")


def test_all_held_down_only_while_every_server_is() -> None:
    servers = three_servers()
    health = UpstreamHealth(servers, failures_before_holddown=1, holddown=30)
    now = time.monotonic()
    assert not health.all_held_down(now)
    for server in servers[:2]:
        health.failed(server)
    assert not health.all_held_down(time.monotonic()), "one is left to ask"
    health.failed(servers[2])
    assert health.all_held_down(time.monotonic())
    assert not health.all_held_down(time.monotonic() + 31), "the holddowns are over"
    health.answered(servers[0], health.of[servers[0]])
    assert not health.all_held_down(time.monotonic())
