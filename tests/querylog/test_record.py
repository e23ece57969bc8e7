"""One query-log line: every key, in order, always present, and any string escaped right."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from resolver.querylog.record import KEYS, RawRecord, RecordFormatter, type_name
from resolver.stages.contract import BLOCKED, FORWARDED, REJECTED

NOW = datetime(2026, 12, 4, 22, 31, 5, 123_000, tzinfo=UTC).timestamp()


def line_of(raw: RawRecord) -> dict[str, object]:
    text = RecordFormatter(lambda address: f"<{address}>").line(raw)
    assert "\n" not in text and text.isascii()
    parsed = json.loads(text)
    assert isinstance(parsed, dict) and tuple(parsed) == KEYS
    return parsed


def test_a_blocked_record() -> None:
    raw = (NOW, "192.0.2.7", "", "www.tiktok.com", 28, BLOCKED, 3, "tiktok", "tiktok.com",
           "", None, False)
    assert line_of(raw) == {
        "ts": "2026-12-04T22:31:05.123Z", "client": "<192.0.2.7>", "group": "",
        "name": "www.tiktok.com", "type": "AAAA", "verdict": "blocked", "rcode": "NXDOMAIN",
        "list": "tiktok", "rule": "tiktok.com", "upstream": "", "ms": None, "proto": "udp"}


def test_a_forwarded_record_over_tcp() -> None:
    raw = (NOW, "2001:db8::1", "lab", "example.org", 65280, FORWARDED, 0, "", "",
           "127.0.0.1:53", 3.2174, True)
    parsed = line_of(raw)
    assert (parsed["type"], parsed["rcode"], parsed["upstream"], parsed["ms"],
            parsed["proto"], parsed["group"]) == \
        ("TYPE65280", "NOERROR", "127.0.0.1:53", 3.217, "tcp", "lab")


def test_a_dropped_packet_without_question() -> None:
    parsed = line_of((NOW, "192.0.2.7", "", "", -1, REJECTED, -1, "", "", "", None, False))
    assert (parsed["name"], parsed["type"], parsed["verdict"], parsed["rcode"]) == \
        ("", "", "rejected", "")


def test_times_are_utc_milliseconds_rounded() -> None:
    formatter = RecordFormatter(str)
    assert formatter.timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert formatter.timestamp(1_700_000_000.123) == "2023-11-14T22:13:20.123Z"
    assert formatter.timestamp(1_700_000_000.9996) == "2023-11-14T22:13:21.000Z"
    assert formatter.timestamp(1_700_000_001.0004) == "2023-11-14T22:13:21.000Z"


def test_type_names() -> None:
    assert [type_name(t) for t in (1, 28, 65, 255, 65280, -1)] == \
        ["A", "AAAA", "HTTPS", "ANY", "TYPE65280", ""]


def test_unusual_numbers() -> None:
    raw = (NOW, "x", "", "a", 1, FORWARDED, 11, "", "", "", float("nan"), False)
    parsed = line_of(raw)
    assert (parsed["rcode"], parsed["ms"]) == ("RCODE11", None)


@given(name=st.text(), list_name=st.text(), rule=st.text(), upstream=st.text(),
       client=st.text())
def test_any_string_survives_the_round_trip(name: str, list_name: str, rule: str,
                                            upstream: str, client: str) -> None:
    formatter = RecordFormatter(lambda address: address)
    text = formatter.line((NOW, client, "", name, 1, BLOCKED, 3, list_name, rule, upstream,
                           None, False))
    assert "\n" not in text and text.isascii()
    parsed = json.loads(text)
    assert (parsed["name"], parsed["list"], parsed["rule"], parsed["upstream"],
            parsed["client"]) == (name, list_name, rule, upstream, client)
