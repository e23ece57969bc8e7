"""The blocking stage alone: blocked names get NXDOMAIN + SOA + EDE 15; the rest pass on
with the TTL cap their policy calls for."""

from __future__ import annotations

from pathlib import Path

from resolver.policy.period import PolicyHolder
from resolver.stages.blocking import BlockingStage
from resolver.stages.contract import Request, ResponseKind, StageSetup
from tests.policy.assertions import policy_of
from tests.stages.fakes import (
    CHANGE,
    GUEST,
    LISTS,
    OFFICE,
    PRESS,
    T0,
    WARNED,
    assert_kind,
    assert_nxdomain,
    grouped_config,
    grouped_policy,
    message_of,
    office_config,
    query_wire,
    request_for,
    setup_of,
)

OFFICE_TEXT = "blocked by list office (tiktok.com) since 2023-03-20"


def ask(stage: BlockingStage, setup: StageSetup, name: str, *, now: float = T0,
        qid: int = 1, edns: bool = True) -> tuple[bytes | None, Request]:
    wire = query_wire(name, qid=qid, edns=0 if edns else False)
    request = request_for(setup, wire, now=now, ttl_cap=-1)  # blocking must set it
    return stage.handle(request), request


def test_a_blocked_name_and_its_subdomains_get_nxdomain_with_soa_and_ede_15() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    for n, name in enumerate(("tiktok.com", "www.tiktok.com", "A.B.TikTok.com"), start=1):
        answer, request = ask(stage, setup, name, qid=n)
        assert_nxdomain(answer, soa_owner="tiktok.com", ttl=60, ede=15, text=OFFICE_TEXT,
                        qid=n)
        assert_kind(request, ResponseKind.BLOCKED)
    assert stage.counters() == {"blocked": 3}


def test_without_edns_the_blocked_answer_has_soa_but_no_opt() -> None:
    setup = setup_of()
    answer, _ = ask(BlockingStage(setup), setup, "www.tiktok.com", edns=False)
    assert answer is not None
    message = message_of(answer)
    assert message.edns == -1 and len(message.authority) == 1


def test_unlisted_and_allow_listed_names_pass_on() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    for name in ("www.example.com", "newsroom.tiktok.com", "img.newsroom.tiktok.com",
                 "nottiktok.com", "www.later.example"):
        answer, request = ask(stage, setup, name)
        assert answer is None, name
        assert_kind(request, None)
        assert request.same_until == 0.0
    assert stage.counters() == {"blocked": 0}


def test_ttl_cap_is_the_seconds_before_a_dated_entry_changes() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    _, later = ask(stage, setup, "www.later.example")  # blocked from CHANGE on
    assert later.ttl_cap == 100  # T0 is 100.25 s before it
    answer, temporary = ask(stage, setup, "temporary.example")  # blocked until CHANGE
    assert temporary.ttl_cap == 100
    assert_nxdomain(answer, soa_owner="temporary.example", ttl=60)  # 60 < 100: uncapped


def test_a_blocked_answer_never_outlives_the_end_of_its_block() -> None:
    setup = setup_of()
    answer, request = ask(BlockingStage(setup), setup, "temporary.example",
                          now=CHANGE - 30.5)
    assert request.ttl_cap == 30
    assert_nxdomain(answer, soa_owner="temporary.example", ttl=30)


def test_ttl_cap_is_none_when_nothing_changes() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    for name in ("www.example.com", "www.tiktok.com"):
        assert ask(stage, setup, name)[1].ttl_cap is None, name
    after = CHANGE + 1  # the policy's last change is behind
    assert ask(stage, setup, "www.later.example", now=after)[1].ttl_cap is None


def test_same_until_only_for_a_name_decided_before_in_the_same_period() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    first = ask(stage, setup, "www.tiktok.com")[1]
    assert first.same_until == 0.0  # a flood of new names would only churn the repeats
    second = ask(stage, setup, "www.tiktok.com", now=T0 + 1)[1]
    assert second.same_until == second.period.until == CHANGE
    setup.policy.replace(setup.policy.policy, T0 + 2)  # a reload: a new period
    third = ask(stage, setup, "www.tiktok.com", now=T0 + 2)[1]
    assert third.period is not second.period and third.same_until == 0.0
    fourth = ask(stage, setup, "www.tiktok.com", now=T0 + 3)[1]
    assert fourth.same_until == fourth.period.until


def test_same_until_is_never_set_when_the_answer_is_capped() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    for offset in (0, 1, 2):
        request = ask(stage, setup, "temporary.example", now=T0 + offset)[1]
        assert request.ttl_cap is not None and request.same_until == 0.0


def test_reconfigure_with_another_negative_ttl_changes_the_next_answers_soa() -> None:
    setup = setup_of()
    stage = BlockingStage(setup)
    for _ in range(2):  # the rule's answer template is made and reused
        assert_nxdomain(ask(stage, setup, "www.tiktok.com")[0], soa_owner="tiktok.com",
                        ttl=60)
    stage.reconfigure(office_config(**{"blocking.negative_ttl": 30}))
    assert_nxdomain(ask(stage, setup, "www.tiktok.com")[0], soa_owner="tiktok.com", ttl=30)
    assert stage.counters() == {"blocked": 3}


def test_a_policy_swapped_into_the_holder_is_used_at_once(tmp_path: Path) -> None:
    holder = PolicyHolder(policy_of(tmp_path / "office", LISTS), clock=lambda: T0)
    setup = StageSetup(office_config(), holder)
    stage = BlockingStage(setup)
    for _ in range(2):
        assert_nxdomain(ask(stage, setup, "www.tiktok.com")[0], soa_owner="tiktok.com",
                        ttl=60, text=OFFICE_TEXT)
    lifted = LISTS.replace("- tiktok.com", "- tiktok.invalid")
    holder.replace(policy_of(tmp_path / "lifted", lifted), T0 + 1)
    assert ask(stage, setup, "www.tiktok.com", now=T0 + 1)[0] is None
    assert_nxdomain(ask(stage, setup, "www.tiktok.invalid", now=T0 + 1)[0],
                    soa_owner="tiktok.invalid", ttl=60)
    renamed = LISTS.replace("name: office", "name: social")
    holder.replace(policy_of(tmp_path / "renamed", renamed), T0 + 2)
    assert_nxdomain(ask(stage, setup, "www.tiktok.com", now=T0 + 2)[0],
                    soa_owner="tiktok.com", ttl=60,
                    text="blocked by list social (tiktok.com) since 2023-03-20")


def test_in_a_warning_period_what_the_ban_will_block_passes_on_marked_observed(
        tmp_path: Path) -> None:
    setup = setup_of(policy=policy_of(tmp_path, WARNED))  # T0 is in December 2029
    stage = BlockingStage(setup)
    for _ in range(2):  # the second from the stage's memo
        answer, request = ask(stage, setup, "www.tiktok.com")
        assert answer is None
        assert_kind(request, None)
        assert request.observed is not None
        rule, pattern = request.observed
        assert (rule.list_name, pattern) == ("video", "tiktok.com")
        assert request.ttl_cap == int(CHANGE - T0)  # no answer outlives the ban's start
    for name in ("newsroom.tiktok.com", "example.org"):
        answer, request = ask(stage, setup, name)
        assert answer is None and request.observed is None
    assert stage.counters() == {"blocked": 0}


def test_from_the_ban_on_the_same_names_are_blocked_not_observed(tmp_path: Path) -> None:
    setup = setup_of(policy=policy_of(tmp_path, WARNED), clock=CHANGE + 1)
    stage = BlockingStage(setup)
    answer, request = ask(stage, setup, "www.tiktok.com", now=CHANGE + 1)
    assert_kind(request, ResponseKind.BLOCKED)
    assert request.observed is None
    assert_nxdomain(answer, soa_owner="tiktok.com", ttl=60)


# --- client groups -------------------------------------------------------------------------

GROUPED = setup_of(grouped_config(), grouped_policy())


def ask_as(stage: BlockingStage, client: str, name: str) -> tuple[bytes | None, Request]:
    request = request_for(GROUPED, query_wire(name), now=T0, client=client)
    return stage.handle(request), request


def test_each_group_gets_its_own_decision_for_the_same_name_alternating() -> None:
    stage = BlockingStage(GROUPED)
    for _ in range(3):  # the second and third rounds come from the stage's memos
        for client in (OFFICE, PRESS, GUEST):
            answer, request = ask_as(stage, client, "www.tiktok.com")
            if client == PRESS:
                assert answer is None, "the press office is exempt from the ban"
                assert_kind(request, None)
            else:
                assert_nxdomain(answer, soa_owner="tiktok.com", ttl=60,
                                text="blocked by list tiktok (tiktok.com) since 2023-03-20")
                assert_kind(request, ResponseKind.BLOCKED)
        for client in (OFFICE, PRESS, GUEST):
            answer, _ = ask_as(stage, client, "games.example")
            if client == GUEST:
                assert_nxdomain(answer, soa_owner="games.example", ttl=60,
                                text="blocked by list guest-ban (games.example) for group "
                                     "guests since 2023-03-20")
            else:
                assert answer is None


def test_a_warning_period_of_one_group_marks_only_its_clients() -> None:
    stage = BlockingStage(GROUPED)
    for _ in range(2):
        for client, observed in ((OFFICE, False), (GUEST, True), (PRESS, False)):
            answer, request = ask_as(stage, client, "streaming.example")
            assert answer is None
            assert (request.observed is not None) is observed, client
            if observed:
                assert request.observed is not None
                assert request.observed[0].list_name == "guest-streaming"
