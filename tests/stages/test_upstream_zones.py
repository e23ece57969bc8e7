"""The upstream stage with forward zones: each zone's questions go to its own servers,
against tiny UDP DNS responders on 127.0.0.1 (those of tests/stages/test_upstream.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from resolver.config.endpoints import Endpoint
from resolver.config.forward_zones import ForwardZone
from resolver.config.settings import Config
from resolver.stages.contract import Request
from resolver.stages.upstream import UpstreamStage, forwarder_for
from tests.stages.fakes import (
    Replies,
    assert_addresses,
    office_config,
    query_wire,
    request_for,
    setup_of,
)
from tests.stages.test_upstream import (
    DEADLINE,
    LOOPBACK,
    TIMEOUT,
    Responder,
    closed_udp_port,
    responders,
    run,
    settled,
)

MAIN, DC, BRANCH = "192.0.2.1", "192.0.2.10", "192.0.2.20"


def zone(name: str, *ports: int) -> ForwardZone:
    return ForwardZone(name, tuple(Endpoint(LOOPBACK, port) for port in ports))


def zoned_config(main: int, *zones: ForwardZone, **overrides: Any) -> Config:
    return office_config(**{"upstream.servers": (Endpoint(LOOPBACK, main),),
                            "upstream.timeout": TIMEOUT, "upstream.deadline": DEADLINE,
                            "forward_zones": zones, **overrides})


def office_zones(dc: Responder, branch: Responder) -> tuple[ForwardZone, ...]:
    return (zone("corp.example.eu", dc.port), zone("10.in-addr.arpa", dc.port),
            zone("2.1.10.in-addr.arpa", branch.port))


def forwarded(stage: UpstreamStage, name: str, rdtype: str = "A") -> tuple[Request, Replies]:
    replies = Replies()
    request = request_for(setup_of(), query_wire(name, rdtype))
    stage.forward(request, replies)
    return request, replies


async def answered_by(stage: UpstreamStage, name: str, rdtype: str = "A") -> str:
    """The server (HOST:PORT) whose answer the stage handed on for `name`."""
    request, replies = forwarded(stage, name, rdtype)
    calls = await settled(replies)
    assert len(calls) == 1 and calls[0] is not None, calls
    return request.upstream


def asked(responder: Responder) -> list[str]:
    return [m.question[0].name.to_text(omit_final_dot=True) for m in responder.seen]


def test_names_in_a_zone_go_to_its_servers_the_longest_zone_wins_the_rest_upstream() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC, BRANCH) as (main, dc, branch):
            stage = UpstreamStage(setup_of(zoned_config(main.port, *office_zones(dc, branch))))
            at = {main: f"{LOOPBACK}:{main.port}", dc: f"{LOOPBACK}:{dc.port}",
                  branch: f"{LOOPBACK}:{branch.port}"}
            expected = [
                ("corp.example.eu", dc),  # the zone itself
                ("dc1.corp.example.eu", dc),
                ("_ldap._tcp.dc._msdcs.Corp.Example.EU", dc),  # case does not matter
                ("xcorp.example.eu", main),  # not a partial label
                ("example.eu", main),
                ("3.2.1.10.in-addr.arpa", branch),  # the longer zone wins
                ("3.9.1.10.in-addr.arpa", dc),
                ("3.2.1.110.in-addr.arpa", main),
                ("www.example.com", main),
            ]
            for name, server in expected:
                assert await answered_by(stage, name, "PTR" if "arpa" in name else "A") \
                    == at[server], name
            assert asked(dc) == [n for n, s in expected if s is dc], "the client's case kept"
            assert asked(branch) == ["3.2.1.10.in-addr.arpa"]
            assert asked(main) == [n for n, s in expected if s is main]
            assert stage.counters() == {"forwarded": len(expected), "upstream_failures": 0}
            stage.close()

    run(scenario())


def test_a_zone_fails_over_to_its_next_server_and_never_to_the_upstreams() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC) as (main, dc):
            dead = closed_udp_port()
            stage = UpstreamStage(setup_of(zoned_config(
                main.port, zone("corp.example.eu", dead, dc.port))))
            assert await answered_by(stage, "dc1.corp.example.eu") == f"{LOOPBACK}:{dc.port}"
            _, replies = forwarded(stage, "printer.corp.example.eu")
            assert_addresses((await settled(replies))[0], DC)
            assert asked(main) == [], "a zone's questions never fall back to the upstreams"
            stage.close()

    run(scenario())


def test_a_zone_whose_servers_all_fail_gives_none_within_the_deadline() -> None:
    async def scenario() -> None:
        async with responders(MAIN) as (main,):
            stage = UpstreamStage(setup_of(zoned_config(
                main.port, zone("corp.example.eu", closed_udp_port()))))
            _, replies = forwarded(stage, "dc1.corp.example.eu")
            assert await settled(replies) == [None]
            assert stage.counters() == {"forwarded": 1, "upstream_failures": 1}
            assert asked(main) == []
            assert await answered_by(stage, "www.example.com") == f"{LOOPBACK}:{main.port}"
            stage.close()

    run(scenario())


def test_the_zones_servers_show_in_the_responses_by_upstream() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC) as (main, dc):
            stage = UpstreamStage(setup_of(zoned_config(main.port,
                                                        zone("corp.example.eu", dc.port))))
            for name in ("a.corp.example.eu", "b.corp.example.eu", "www.example.com"):
                await answered_by(stage, name)
            responses = stage.series()["upstream_responses"]
            assert responses == {(f"{LOOPBACK}:{dc.port}", "NOERROR"): 2.0,
                                 (f"{LOOPBACK}:{main.port}", "NOERROR"): 1.0}
            stage.close()

    run(scenario())


def test_without_zones_there_is_no_table_to_ask() -> None:
    stage = UpstreamStage(setup_of(zoned_config(closed_udp_port())))
    assert stage._zones is None
    stage.close()


def test_reconfigure_applies_new_zones_at_once_and_keeps_unchanged_ones() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC, BRANCH) as (main, dc, branch):
            corp = zone("corp.example.eu", dc.port)
            stage = UpstreamStage(setup_of(zoned_config(main.port, corp)))
            kept = stage._by_zone[corp]
            main_forwarder = stage._forwarder
            assert await answered_by(stage, "host.lan") == f"{LOOPBACK}:{main.port}"

            stage.reconfigure(zoned_config(main.port, corp, zone("lan", branch.port)))
            assert await answered_by(stage, "host.lan") == f"{LOOPBACK}:{branch.port}"
            assert stage._by_zone[corp] is kept, "an unchanged zone keeps its servers' health"
            assert stage._forwarder is main_forwarder

            stage.reconfigure(zoned_config(main.port, zone("corp.example.eu", branch.port)))
            assert await answered_by(stage, "dc1.corp.example.eu") \
                == f"{LOOPBACK}:{branch.port}"
            assert await answered_by(stage, "host.lan") == f"{LOOPBACK}:{main.port}"
            with pytest.raises(RuntimeError, match="after close"):
                kept.start("dc1.corp.example.eu", 1, 1, do=False, cd=False, tcp=False,
                           done=Replies())
            # the retired forwarders' answers still count
            assert stage.series()["upstream_responses"] == {
                (f"{LOOPBACK}:{main.port}", "NOERROR"): 2.0,
                (f"{LOOPBACK}:{branch.port}", "NOERROR"): 2.0}
            stage.close()

    run(scenario())


def test_reconfigure_of_how_long_to_wait_rebuilds_the_zones_forwarders() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC) as (main, dc):
            corp = zone("corp.example.eu", dc.port)
            stage = UpstreamStage(setup_of(zoned_config(main.port, corp)))
            replaced = stage._by_zone[corp]
            stage.reconfigure(zoned_config(main.port, corp, **{"upstream.deadline": 0.4}))
            assert stage._by_zone[corp] is not replaced
            assert stage._by_zone[corp].deadline == 0.4
            assert await answered_by(stage, "dc1.corp.example.eu") == f"{LOOPBACK}:{dc.port}"
            stage.close()

    run(scenario())


def test_a_query_in_flight_when_its_zone_is_removed_still_gets_its_answer() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC) as (main, dc):
            stage = UpstreamStage(setup_of(zoned_config(main.port,
                                                        zone("corp.example.eu", dc.port))))
            request, replies = forwarded(stage, "dc1.corp.example.eu")
            stage.reconfigure(zoned_config(main.port))  # before the answer can arrive
            assert stage._zones is None
            assert_addresses((await settled(replies))[0], DC)
            assert request.upstream == f"{LOOPBACK}:{dc.port}"
            assert await answered_by(stage, "dc2.corp.example.eu") == f"{LOOPBACK}:{main.port}"
            assert stage.in_flight == 0
            stage.close()

    run(scenario())


def test_close_closes_every_zones_forwarder() -> None:
    async def scenario() -> None:
        async with responders(MAIN, DC) as (main, dc):
            corp = zone("corp.example.eu", dc.port)
            stage = UpstreamStage(setup_of(zoned_config(main.port, corp)))
            zone_forwarder = stage._by_zone[corp]
            stage.close()
            with pytest.raises(RuntimeError, match="after close"):
                zone_forwarder.start("dc1.corp.example.eu", 1, 1, do=False, cd=False,
                                     tcp=False, done=Replies())
            await asyncio.sleep(0.02)
            assert dc.seen == []

    run(scenario())


def test_forwarder_for_asks_the_servers_it_is_given() -> None:
    config = zoned_config(closed_udp_port())
    forwarder = forwarder_for((Endpoint(LOOPBACK, 5300), Endpoint("::1", 5301)), config)
    assert [str(server) for server in forwarder.servers] == [f"{LOOPBACK}:5300", "[::1]:5301"]
    assert (forwarder.try_timeout, forwarder.deadline) == (TIMEOUT, DEADLINE)
    forwarder.close()
