"""The access stage alone: only the configured client networks get past it."""

from __future__ import annotations

import ipaddress

import pytest

from resolver.config.groups import client_groups
from resolver.stages import access as access_module
from resolver.stages.access import REFUSED_CLIENT, AccessStage, ClientNetworks
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


GROUPED = setup_of(office_config(**{
    "server.allow_clients": NETWORKS,
    "groups": client_groups({"press-office": ["127.0.0.2/32", "10.1.0.0/16"],
                             "staff": ["10.0.0.0/8"]})}))


@pytest.mark.parametrize(("client", "groups"), [
    ("127.0.0.1", set()), ("127.0.0.2", {"press-office"}),
    ("10.1.2.3", {"press-office", "staff"}), ("::ffff:10.1.2.3", {"press-office", "staff"}),
    ("10.2.0.1", {"staff"})])
def test_the_clients_groups_are_left_on_the_request(client: str, groups: set[str]) -> None:
    stage = AccessStage(GROUPED)
    request = request_for(GROUPED, query_wire("www.example.com"), now=T0, client=client)
    assert stage.handle(request) is None
    assert request.groups == groups


def test_equal_group_sets_are_one_object() -> None:
    networks = ClientNetworks(NETWORKS, GROUPED.config.groups)
    first, second = networks.classify("10.1.2.3"), networks.classify("10.1.9.9")
    assert first == {"press-office", "staff"} and first is second
    assert networks.classify("192.0.2.7") is REFUSED_CLIENT and networks.grouped
    assert networks.known("192.0.2.7") is REFUSED_CLIENT and networks.known("10.3.3.3") is None
    assert not ClientNetworks(NETWORKS).grouped
