"""One query-log line: every key, in order, always present, and any string escaped right."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from resolver.dns.query import Query
from resolver.policy.index import Found
from resolver.querylog.record import KEYS, RawRecord, RecordFormatter, chunk_ends, type_name
from resolver.stages.contract import BLOCKED, FORWARDED, REJECTED
from tests.stages.fakes import office_policy

NOW = datetime(2026, 12, 4, 22, 31, 5, 123_000, tzinfo=UTC).timestamp()


def query(name: str, qtype: int = 1) -> Query:
    return Query(1, 0x0100, name, qtype, 1, b"", None)


def found(list_name: str, pattern: str) -> Found:
    """A deciding rule of list `list_name` and the pattern it matched."""
    return replace(office_policy().rules[0], list_name=list_name), pattern


def line_of(raw: RawRecord) -> dict[str, object]:
    text = RecordFormatter(lambda address: f"<{address}>").line(raw)
    assert text.endswith("}\n") and text.count("\n") == 1 and text.isascii()
    parsed = json.loads(text)
    assert isinstance(parsed, dict) and tuple(parsed) == KEYS
    return parsed


def test_a_blocked_record() -> None:
    raw = (NOW, "192.0.2.7", "", query("www.tiktok.com", 28), BLOCKED, 3,
           found("tiktok", "tiktok.com"), "", None, False)
    assert line_of(raw) == {
        "ts": "2026-12-04T22:31:05.123Z", "client": "<192.0.2.7>", "group": "",
        "name": "www.tiktok.com", "type": "AAAA", "verdict": "blocked", "rcode": "NXDOMAIN",
        "list": "tiktok", "rule": "tiktok.com", "upstream": "", "ms": None, "proto": "udp"}


def test_a_forwarded_record_over_tcp() -> None:
    raw = (NOW, "2001:db8::1", "lab", query("example.org", 65280), FORWARDED, 0, None,
           "127.0.0.1:53", 3.2174, True)
    parsed = line_of(raw)
    assert (parsed["type"], parsed["rcode"], parsed["upstream"], parsed["ms"],
            parsed["proto"], parsed["group"]) == \
        ("TYPE65280", "NOERROR", "127.0.0.1:53", 3.217, "tcp", "lab")


def test_a_dropped_packet_without_question() -> None:
    parsed = line_of((NOW, "192.0.2.7", "", None, REJECTED, -1, None, "", None, False))
    assert (parsed["name"], parsed["type"], parsed["verdict"], parsed["rcode"]) == \
        ("", "", "rejected", "")


def test_times_are_utc_milliseconds_rounded() -> None:
    formatter = RecordFormatter(str)
    assert formatter.timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert formatter.timestamp(1_700_000_000.123) == "2023-11-14T22:13:20.123Z"
    assert formatter.timestamp(1_700_000_000.9996) == "2023-11-14T22:13:21.000Z"
    assert formatter.timestamp(1_700_000_001.0004) == "2023-11-14T22:13:21.000Z"


def test_type_names() -> None:
    assert [type_name(t) for t in (1, 28, 65, 255, 65280)] == \
        ["A", "AAAA", "HTTPS", "ANY", "TYPE65280"]


def test_unusual_numbers() -> None:
    raw = (NOW, "x", "", query("a"), FORWARDED, 11, None, "", float("nan"), False)
    parsed = line_of(raw)
    assert (parsed["rcode"], parsed["ms"]) == ("RCODE11", None)


def test_a_batch_is_formatted_in_order() -> None:
    raws: list[RawRecord] = [(NOW + n, "192.0.2.7", "", query(f"n{n}.example"), FORWARDED, 0,
                              None, "", None, False) for n in range(3)]
    lines = RecordFormatter(str).lines(raws)
    assert [json.loads(line)["name"] for line in lines] == ["n0.example", "n1.example",
                                                             "n2.example"]


@given(sizes=st.lists(st.integers(1, 40)), limit=st.integers(1, 50))
def test_lines_are_cut_into_chunks_of_whole_lines(sizes: list[int], limit: int) -> None:
    lines = ["x" * (size - 1) + "\n" for size in sizes]
    ends = chunk_ends(lines, limit)
    chunks = [lines[start:end] for start, end in itertools.pairwise([0, *ends])]
    assert [line for chunk in chunks for line in chunk] == lines
    assert all(chunk for chunk in chunks)
    assert all(len(chunk) == 1 or len("".join(chunk)) <= limit for chunk in chunks)
    for chunk, after in itertools.pairwise(chunks):
        assert len("".join(chunk)) + len(after[0]) > limit  # the next line did not fit


@given(name=st.text(), list_name=st.text(), rule=st.text(), upstream=st.text(),
       client=st.text(), group=st.text())
def test_any_string_survives_the_round_trip(name: str, list_name: str, rule: str,
                                            upstream: str, client: str, group: str) -> None:
    formatter = RecordFormatter(lambda address: address)
    text = formatter.line((NOW, client, group, query(name), BLOCKED, 3,
                           found(list_name, rule), upstream, None, False))
    assert text.count("\n") == 1 and text.isascii()
    parsed = json.loads(text)
    assert (parsed["name"], parsed["list"], parsed["rule"], parsed["upstream"],
            parsed["client"], parsed["group"]) == (name, list_name, rule, upstream, client,
                                                    group)


def test_each_client_is_anonymised_once_and_the_caches_stay_bounded() -> None:
    seen: list[str] = []

    def anonymise(address: str) -> str:
        seen.append(address)
        return address.rpartition(".")[0]

    formatter = RecordFormatter(anonymise)
    clients = [f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}" for n in range(70_000)]
    raws: list[RawRecord] = [(NOW, client, "", query(f"{client}.example"), FORWARDED, 0, None,
                              "", None, False) for client in clients]
    lines = formatter.lines(raws + raws[-10:])
    assert [json.loads(line)["client"] for line in lines[-3:]] == \
        [c.rpartition(".")[0] for c in clients[-3:]]
    assert seen == clients  # the repeated ten were not anonymised again
    assert len(formatter._clients) <= 65_536 and len(formatter._tails) <= 65_536
