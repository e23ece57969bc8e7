"""What a stage tested alone stands on: its setup, queries, requests, a fake next stage,
and assertions that read answers with dnspython.

A stage is built from a `StageSetup` exactly as the pipeline builds it, from a small
config (`office_config` plus dotted overrides) and a policy loaded from YAML. Nothing
here sends anything on the network.
"""

from __future__ import annotations

import functools
import ipaddress
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from resolver.config.endpoints import Endpoint
from resolver.config.groups import client_groups
from resolver.config.load import defaults
from resolver.config.settings import Config
from resolver.dns.query import parse_query
from resolver.lists.load import load_policy
from resolver.policy.audience import NO_GROUPS
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder
from resolver.stages.access import REFUSED_CLIENT, ClientNetworks
from resolver.stages.contract import Done, Request, ResponseKind, StageSetup
from tests.policy.assertions import policy_of, write_lists

CHANGE = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
"""When later.example becomes blocked and temporary.example stops being blocked."""
T0 = CHANGE - 100.25
"""The tests' usual instant: 100.25 s before the policy's only change."""
LISTS = """
    name: office
    effective: 2023-03-20
    timezone: UTC
    domains:
      - tiktok.com
      - domain: later.example
        effective: 2030-01-01
      - domain: temporary.example
        expires: 2030-01-01
    allow:
      - newsroom.tiktok.com
"""
WARNED = """
    name: video
    reference: r
    observe_from: 2029-12-01
    effective: 2030-01-01
    timezone: UTC
    domains: [tiktok.com]
    allow: [newsroom.tiktok.com]
"""
"""A ban announced in a warning period: T0 is inside it, CHANGE is the ban's start."""
OFFICE = "127.0.0.1"
STRANGER = "192.0.2.7"
PRESS = "127.0.0.2"
"""A client in the press office, which the TikTok ban of `GROUPED_LISTS` exempts."""
GUEST = "127.0.0.3"
"""A client on the guests' network, which has bans of its own."""
GROUPED_LISTS = {
    "tiktok.yaml": """
        name: tiktok
        reference: r
        effective: 2023-03-20
        timezone: UTC
        except_clients: [press-office]
        domains: [tiktok.com, tiktokcdn.com]
        allow: [newsroom.tiktok.com]
    """,
    "guests.yaml": """
        name: guest-ban
        reference: r
        effective: 2023-03-20
        timezone: UTC
        clients: [guests]
        domains: [games.example]
    """,
    "guests-later.yaml": """
        name: guest-streaming
        reference: r
        observe_from: 2029-12-01
        effective: 2030-01-01
        timezone: UTC
        clients: [guests]
        domains: [streaming.example]
    """,
}
"""Lists for some client groups only: T0 is in the warning period of guest-streaming."""


def office_config(**overrides: Any) -> Config:
    """A small office's settings, with dotted overrides ("cache.max_entries": 0)."""
    settings: dict[str, Any] = {
        "server.allow_clients": (ipaddress.ip_network("127.0.0.0/8"),
                                 ipaddress.ip_network("::1/128")),
        "server.edns_udp_size": 1232,
        "blocking.negative_ttl": 60,
        "cache.max_entries": 1000, "cache.min_ttl": 0, "cache.max_ttl": 86_400,
        "cache.max_negative_ttl": 3_600,
        "upstream.servers": (Endpoint("127.0.0.1", 9),),
        # no query log unless a test asks for one: it would write below the working directory
        "querylog.mode": "off",
    }
    settings.update(overrides)
    return defaults().with_overrides(**settings)


@functools.cache
def office_policy() -> Policy:
    """The policy of `LISTS`, loaded once (policies are not changed by the stages)."""
    with tempfile.TemporaryDirectory() as directory:
        return policy_of(Path(directory), LISTS)


def grouped_config(**overrides: Any) -> Config:
    """The office's settings with two client groups: press-office (`PRESS`) and guests
    (`GUEST`)."""
    return office_config(**{"groups": client_groups({"press-office": [f"{PRESS}/32"],
                                                     "guests": [f"{GUEST}/32"]}),
                            **overrides})


@functools.cache
def grouped_policy() -> Policy:
    """The policy of `GROUPED_LISTS`, checked against `grouped_config`'s groups."""
    with tempfile.TemporaryDirectory() as directory:
        result = load_policy(write_lists(Path(directory), GROUPED_LISTS),
                             groups=grouped_config().group_names)
    assert result.policy is not None, result.problems
    return result.policy


def setup_of(config: Config | None = None, policy: Policy | None = None, *,
             status_report: Callable[[], dict[str, Any]] | None = None,
             clock: float = T0) -> StageSetup:
    """What a stage is built from: the office config and policy unless given."""
    holder = PolicyHolder(policy if policy is not None else office_policy(),
                          clock=lambda: clock)
    return StageSetup(config if config is not None else office_config(), holder,
                      status_report)


def query_wire(name: str, rdtype: str = "A", qid: int = 1, *, edns: int | bool = 0,
               rdclass: str = "IN", do: bool = False) -> bytes:
    """A client's query; `edns` is the EDNS version, or False for none."""
    message = dns.message.make_query(name, rdtype, rdclass, use_edns=edns, want_dnssec=do)
    message.id = qid
    return message.to_wire()


def request_for(setup: StageSetup, wire: bytes, *, now: float = T0, client: str = OFFICE,
                tcp: bool = False, ttl_cap: int | None = None) -> Request:
    """A Request as the stages before the one under test leave it: parsed (when the bytes
    are a usable query), in the policy period of `now`, with the client's groups from
    access and `ttl_cap` from blocking."""
    request = Request(wire, client, now, tcp, setup.policy.current(now))
    config = setup.config
    groups = ClientNetworks(config.server.allow_clients, config.groups).classify(client)
    request.groups = NO_GROUPS if groups is REFUSED_CLIENT else groups
    query = parse_query(wire)
    if query is not None:
        request.query = query
    request.ttl_cap = ttl_cap
    return request


def upstream_message(wire: bytes, address: str = "192.0.2.1", ttl: int = 300) -> bytes:
    """An upstream's answer to the query `wire`, OPT removed, as the forwarder hands it on."""
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    response.use_edns(False)
    response.answer.append(dns.rrset.from_text(query.question[0].name, ttl, "IN", "A",
                                               address))
    return response.to_wire()


@dataclass
class FakeNextStage:
    """The stage below: records each request it was asked to forward and answers at once
    with `answer` (an upstream message, or None for "no upstream answered")."""

    answer: bytes | None
    asked: list[Request] = field(default_factory=list)

    def forward(self, request: Request, done: Done) -> None:
        self.asked.append(request)
        done(self.answer)


@dataclass
class Replies:
    """A `done` callback that keeps every call, to tell one call from several."""

    calls: list[bytes | None] = field(default_factory=list)

    def __call__(self, response: bytes | None) -> None:
        self.calls.append(response)


# --- assertions on answers ---------------------------------------------------------------


def message_of(answer: bytes | None) -> dns.message.Message:
    assert answer, f"expected an answer, got {answer!r}"
    return dns.message.from_wire(answer)


def ede_of(message: dns.message.Message) -> tuple[int, str] | None:
    """The Extended DNS Error (code, text) the answer carries, or None."""
    found = [o for o in message.options if o.otype == dns.edns.OptionType.EDE]
    assert len(found) <= 1, f"{len(found)} EDE options"
    if not found:
        return None
    option = found[0]
    assert isinstance(option, dns.edns.EDEOption)
    return int(option.code), option.text or ""


def assert_rcode(answer: bytes | None, rcode: dns.rcode.Rcode, *, qid: int | None = None
                 ) -> dns.message.Message:
    message = message_of(answer)
    assert message.rcode() == rcode, \
        f"expected {rcode.name}, got {dns.rcode.to_text(message.rcode())}"
    assert message.flags & dns.flags.QR, "an answer has QR set"
    if qid is not None:
        assert message.id == qid, f"answer ID {message.id}, query ID {qid}"
    return message


def assert_refused(answer: bytes | None, *, ede: int | None = 18, qid: int | None = None
                   ) -> dns.message.Message:
    """REFUSED, carrying EDE `ede` (None: no EDE; the query must have had EDNS)."""
    message = assert_rcode(answer, dns.rcode.REFUSED, qid=qid)
    found = ede_of(message)
    assert (found[0] if found else None) == ede, f"EDE {found}, expected {ede}"
    return message


def assert_nxdomain(answer: bytes | None, *, soa_owner: str, ttl: int, ede: int = 15,
                    text: str | None = None, qid: int | None = None) -> dns.message.Message:
    """A blocked answer: NXDOMAIN, one SOA owned by `soa_owner` with TTL and MINIMUM `ttl`,
    EDE `ede` whose text contains `text`."""
    message = assert_rcode(answer, dns.rcode.NXDOMAIN, qid=qid)
    assert message.answer == []
    assert len(message.authority) == 1, message.authority
    soa = message.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text(omit_final_dot=True).lower() == soa_owner
    assert soa.ttl == ttl and soa[0].minimum == ttl, (soa.ttl, soa[0].minimum)
    found = ede_of(message)
    assert found is not None and found[0] == ede, f"EDE {found}, expected {ede}"
    if text is not None:
        assert text in found[1], f"EDE text {found[1]!r} lacks {text!r}"
    return message


def assert_addresses(answer: bytes | None, *addresses: str, ttl: int | None = None,
                     qid: int | None = None) -> dns.message.Message:
    """NOERROR with exactly these A/AAAA addresses (each with TTL `ttl` when given)."""
    message = assert_rcode(answer, dns.rcode.NOERROR, qid=qid)
    got = sorted(rd.address for rrset in message.answer for rd in rrset)
    assert got == sorted(addresses), got
    if ttl is not None:
        assert [r.ttl for r in message.answer] == [ttl] * len(message.answer)
    return message


def assert_kind(request: Request, kind: ResponseKind | None) -> None:
    assert request.kind is kind, f"kind {request.kind}, expected {kind}"
