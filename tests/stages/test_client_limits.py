"""Per-client limits alone: the UDP rate limit (drop, and every second one truncated) and
the TCP connection caps, in all and per client."""

from __future__ import annotations

import dns.flags
import dns.message
import pytest

from resolver.config.rate_limit import rate_limit
from resolver.pipeline import Pipeline
from resolver.stages.client_limits import ClientLimitsStage, client_key
from resolver.stages.contract import DROP, Request, ResponseKind
from tests.stages.fakes import T0, office_config, query_wire, setup_of

LIMITED = setup_of(office_config(**{
    "server.rate_limit": rate_limit({"qps": 10, "burst": 5, "exempt": ["127.0.0.9/32"]}),
    "server.tcp_max_connections": 6, "server.tcp_max_connections_per_client": 2}))


def ask(stage: ClientLimitsStage, client: str, now: float, *, tcp: bool = False
        ) -> tuple[bytes | None, Request]:
    request = Request(query_wire("www.example.com", qid=33), client, now, tcp,
                      LIMITED.policy.current(now))
    return stage.handle(request), request


def test_a_burst_passes_then_answers_are_dropped_every_second_one_truncated() -> None:
    stage = ClientLimitsStage(LIMITED)
    results = [ask(stage, "127.0.0.2", T0)[0] for _ in range(9)]
    assert results[:5] == [None] * 5  # the burst
    over = results[5:]
    truncated = [answer for answer in over if answer]
    assert [answer for answer in over if answer == DROP] == [DROP, DROP]
    assert len(truncated) == 2
    for answer in truncated:
        reply = dns.message.from_wire(answer)
        assert reply.flags & dns.flags.TC and reply.id == 33 and reply.answer == []
        assert [q.name.to_text() for q in reply.question] == ["www.example.com."]
        assert reply.edns == 0
    assert stage.counters() == {"rate_limited": 4, "rate_limit_slips": 2, "tcp_refused": 0,
                                "tcp_client_refused": 0}
    _, request = ask(stage, "127.0.0.2", T0)
    assert request.kind is ResponseKind.RATE_LIMITED


def test_tokens_come_back_at_the_rate() -> None:
    stage = ClientLimitsStage(LIMITED)
    for _ in range(5):
        ask(stage, "127.0.0.2", T0)
    assert ask(stage, "127.0.0.2", T0 + 0.05)[0] is not None  # half a token: over
    assert ask(stage, "127.0.0.2", T0 + 0.21)[0] is None  # 10 qps: two tokens in 0.2 s
    assert ask(stage, "127.0.0.2", T0 + 10)[0] is None  # refilled, up to the burst only
    for _ in range(4):
        assert ask(stage, "127.0.0.2", T0 + 10)[0] is None
    assert ask(stage, "127.0.0.2", T0 + 10)[0] is not None


def test_other_clients_exempt_ones_and_tcp_are_not_limited() -> None:
    stage = ClientLimitsStage(LIMITED)
    for _ in range(20):
        ask(stage, "127.0.0.2", T0)
    assert ask(stage, "127.0.0.3", T0)[0] is None
    assert all(ask(stage, "127.0.0.9", T0)[0] is None for _ in range(20))
    assert all(ask(stage, "127.0.0.2", T0, tcp=True)[0] is None for _ in range(5))


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"), ("::ffff:192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2ff::1", "2001:db8:1:200::/56"), ("2001:db8:1:2ff::1%eth0", "2001:db8:1:200::/56"),
    ("not-an-address", "not-an-address")])
def test_a_client_is_an_ipv4_address_or_an_ipv6_slash_56(address: str, key: str) -> None:
    assert client_key(address, 32, 56) == key


def test_one_ipv6_site_shares_one_bucket() -> None:
    stage = ClientLimitsStage(LIMITED)
    for host in range(5):
        assert ask(stage, f"2001:db8:1:2{host:02x}::1", T0)[0] is None
    assert ask(stage, "2001:db8:1:2ff::7", T0)[0] is not None
    assert ask(stage, "2001:db8:1:300::1", T0)[0] is None  # another /56


def test_tcp_connections_are_capped_per_client_and_in_all() -> None:
    stage = ClientLimitsStage(LIMITED)
    assert stage.admit_tcp("127.0.0.2") and stage.admit_tcp("127.0.0.2")
    assert not stage.admit_tcp("127.0.0.2")  # 2 per client
    for client in ("127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4"):
        assert stage.admit_tcp(client)
    assert not stage.admit_tcp("127.0.0.5")  # 6 in all
    stage.release_tcp("127.0.0.2")
    assert stage.admit_tcp("127.0.0.2")  # a slot of its own again
    assert stage.counters()["tcp_client_refused"] == 1
    assert stage.counters()["tcp_refused"] == 1


def test_without_a_rate_limit_the_pipeline_leaves_the_stage_out() -> None:
    off = setup_of()
    assert not ClientLimitsStage(off).answers_now
    assert ClientLimitsStage(LIMITED).answers_now
    pipeline = Pipeline.from_config(LIMITED.config, LIMITED.policy)
    limited = [pipeline.handle(query_wire("www.example.com"), "127.0.0.2", T0)
               for _ in range(12)]
    assert None in limited  # dropped: no answer at all
    pipeline.reconfigure(office_config())  # rate limit off: bound out of the walk
    assert None not in [pipeline.handle(query_wire("www.example.com"), "127.0.0.2", T0)
                        for _ in range(12)]
    assert pipeline.counters()["rate_limited"] > 0  # counters carry over
