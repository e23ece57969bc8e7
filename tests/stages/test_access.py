"""The access stage alone: only the configured client networks get past it."""

from __future__ import annotations

import ipaddress

import pytest

from resolver.stages import access as access_module
from resolver.stages.access import AccessStage, ClientNetworks, client_ip
from resolver.stages.contract import Request, ResponseKind
from tests.stages.fakes import (
    T0,
    assert_kind,
    assert_refused,
    office_config,
    query_wire,
    request_for,
    setup_of,
)

NETWORKS = tuple(ipaddress.ip_network(n) for n in
                 ("127.0.0.0/8", "10.0.0.0/8", "::1/128", "fe80::/10"))
SETUP = setup_of(office_config(**{"server.allow_clients": NETWORKS}))


def ask(stage: AccessStage, client: str, qid: int = 1) -> tuple[bytes | None, Request]:
    request = request_for(SETUP, query_wire("www.example.com", qid=qid), now=T0,
                          client=client)
    return stage.handle(request), request


@pytest.mark.parametrize("client", ["127.0.0.1", "10.20.30.40", "::1", "::ffff:10.1.2.3",
                                    "fe80::1%eth0", "fe80::1"])
def test_allowed_networks_pass_on(client: str) -> None:
    stage = AccessStage(SETUP)
    answer, request = ask(stage, client)
    assert answer is None
    assert_kind(request, None)
    assert stage.counters() == {"refused": 0}


@pytest.mark.parametrize("client", ["192.0.2.7", "11.0.0.1", "::2", "::ffff:192.0.2.7",
                                    "2001:db8::1%eth0", "not-an-address", ""])
def test_other_clients_are_refused_with_ede_18(client: str) -> None:
    stage = AccessStage(SETUP)
    answer, request = ask(stage, client, qid=31)
    assert_refused(answer, ede=18, qid=31)
    assert_kind(request, ResponseKind.REFUSED)
    assert stage.counters() == {"refused": 1}


def test_each_refusal_counts() -> None:
    stage = AccessStage(SETUP)
    for client in ("192.0.2.7", "192.0.2.7", "127.0.0.1", "192.0.2.8"):
        ask(stage, client)
    assert stage.counters() == {"refused": 3}


def test_client_ip_drops_the_zone_and_unmaps_ipv4() -> None:
    assert client_ip("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert client_ip("::ffff:10.1.2.3") == ipaddress.IPv4Address("10.1.2.3")
    assert client_ip("192.0.2.7") == ipaddress.IPv4Address("192.0.2.7")
    assert client_ip("nonsense") is None


def test_reconfigure_applies_other_networks_at_once() -> None:
    stage = AccessStage(SETUP)
    ask(stage, "192.0.2.7")
    assert ask(stage, "127.0.0.1")[0] is None  # now remembered as allowed
    stage.reconfigure(office_config(**{
        "server.allow_clients": (ipaddress.ip_network("192.0.2.0/24"),)}))
    assert_refused(ask(stage, "127.0.0.1")[0])
    assert ask(stage, "192.0.2.7")[0] is None
    assert stage.counters() == {"refused": 2}  # counters carry over


def test_the_memo_is_bounded_and_decides_the_same_after_clearing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_module, "_MEMO_LIMIT", 4)
    networks = ClientNetworks(NETWORKS)
    for n in range(10):
        assert networks.allows(f"10.0.0.{n}")
        assert not networks.allows(f"192.0.2.{n}")
        assert len(networks._memo) <= 4
    assert networks.allows("10.0.0.0") and not networks.allows("192.0.2.0")
