"""Server log lines: timestamp and level on each, text and JSON shapes, worker tags, fields,
tracebacks, values JSON cannot hold, and (re)configuring the real dnsfence logger."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest

from resolver import server_log
from resolver.server_log import JsonFormatter, TextFormatter, timestamp

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(autouse=True)
def loggers_restored() -> Iterator[None]:
    """configure() rewires the dnsfence and asyncio loggers; give them back afterwards."""
    loggers = [logging.getLogger(name) for name in ("dnsfence", "asyncio")]
    saved = [(log.handlers[:], log.level, log.propagate) for log in loggers]
    yield
    for log, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        log.handlers[:], log.level, log.propagate = handlers, level, propagate


def emit(formatter: logging.Formatter, levelno: int, msg: str, /, *args: object,
         exc: bool = False, **extra: Any) -> str:
    """What one record looks like through `formatter`, via a real logger and handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.Logger("dnsfence.test")  # not registered: no global state touched
    logger.addHandler(handler)
    if exc:
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logger.exception(msg, *args, extra=extra)
    else:
        logger.log(levelno, msg, *args, extra=extra)
    return stream.getvalue()


def test_timestamp_is_rfc3339_utc_with_milliseconds() -> None:
    assert timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert timestamp(1796423465.123) == "2026-12-04T22:31:05.123Z"  # not .122 (float)
    assert timestamp(59.9996) == "1970-01-01T00:00:59.999Z"  # milliseconds are truncated
    assert timestamp(59.9999996) == "1970-01-01T00:01:00.000Z"  # the microsecond carries
    for created in (1.0005, 1234567890.9994, 4102444799.999):
        expected = dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds")
        assert timestamp(created) == expected.replace("+00:00", "Z")


def test_text_line_is_timestamp_level_then_message() -> None:
    line = emit(TextFormatter(), logging.INFO, "dnsfence: serving on %s (udp+tcp)",
                "127.0.0.1:53")
    match = re.fullmatch(rf"({TS}) INFO dnsfence: serving on 127\.0\.0\.1:53 \(udp\+tcp\)\n",
                         line)
    assert match is not None, line
    stamped = dt.datetime.fromisoformat(match[1].replace("Z", "+00:00"))
    assert abs(stamped.timestamp() - dt.datetime.now(dt.UTC).timestamp()) < 5
    assert emit(TextFormatter(), logging.WARNING, "w").split(" ")[1] == "WARNING"
    assert emit(TextFormatter(), logging.ERROR, "e").split(" ")[1] == "ERROR"


def test_text_line_names_the_worker_before_the_message() -> None:
    line = emit(TextFormatter("2/4"), logging.INFO, "dnsfence: reloaded (SIGHUP)")
    assert re.fullmatch(rf"{TS} INFO \[worker 2/4\] dnsfence: reloaded \(SIGHUP\)\n", line)


def test_text_exception_follows_on_its_own_lines() -> None:
    text = emit(TextFormatter(), logging.ERROR, "dnsfence: worker %d failed", 0, exc=True)
    first, *rest = text.splitlines()
    assert re.fullmatch(rf"{TS} ERROR dnsfence: worker 0 failed", first)
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ZeroDivisionError: division by zero"


def test_json_line_has_ts_level_msg_then_the_fields_from_extra() -> None:
    line = emit(JsonFormatter(), logging.WARNING, "dnsfence: upstream %s failed", "127.0.0.1:53",
                upstream="127.0.0.1:53", failures=3)
    assert line.endswith("\n") and line.count("\n") == 1
    event = json.loads(line)
    assert list(event) == ["ts", "level", "msg", "upstream", "failures"]
    assert re.fullmatch(TS, event["ts"])
    assert event["level"] == "warning"
    assert event["msg"] == "dnsfence: upstream 127.0.0.1:53 failed"
    assert (event["upstream"], event["failures"]) == ("127.0.0.1:53", 3)


def test_json_without_extra_has_exactly_ts_level_msg() -> None:
    event = json.loads(emit(JsonFormatter(), logging.DEBUG, "plain"))
    assert event == {"ts": event["ts"], "level": "debug", "msg": "plain"}


def test_json_worker_and_exception() -> None:
    line = emit(JsonFormatter("1/2"), logging.ERROR, "dnsfence: worker %d failed", 0, exc=True)
    assert line.count("\n") == 1  # the traceback is inside the object, not after it
    event = json.loads(line)
    assert (event["level"], event["worker"]) == ("error", "1/2")
    assert event["exc"].startswith("Traceback (most recent call last):")
    assert event["exc"].endswith("ZeroDivisionError: division by zero")


def test_json_fields_never_replace_ts_level_msg() -> None:
    event = json.loads(emit(JsonFormatter(), logging.INFO, "real", ts="fake", level="fake"))
    assert (event["level"], event["msg"]) == ("info", "real")
    assert re.fullmatch(TS, event["ts"])


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_values_json_cannot_hold_become_text_on_one_line() -> None:
    when = dt.datetime(2026, 12, 4, 22, 31, 5, tzinfo=dt.UTC)
    event = json.loads(emit(JsonFormatter(), logging.INFO, "odd", when=when, raw=b"\x00\n",
                            names={"a"}))
    assert event["when"] == "2026-12-04 22:31:05+00:00"
    assert event["raw"] == "b'\\x00\\n'"
    assert event["names"] == "{'a'}"
    loop: list[object] = []
    loop.append(loop)
    for value in (loop, math.nan, {(1, 2): "tuple key"}, Unprintable()):
        line = emit(JsonFormatter(), logging.INFO, "odd", value=value, n=1)
        assert line.count("\n") == 1, line
        event = json.loads(line)
        assert (event["msg"], event["n"]) == ("odd", 1)  # the rest of the event as it was
        assert isinstance(event["value"], str)
    assert json.loads(emit(JsonFormatter(), logging.INFO, "u", value=Unprintable()))["value"] \
        == "<unprintable Unprintable>"


def test_json_bad_format_arguments_still_give_one_object() -> None:
    line = emit(JsonFormatter(), logging.INFO, "%d entries", "many")
    event = json.loads(line)
    assert (event["msg"], event["args"]) == ("%d entries", "('many',)")
    assert "TypeError" in event["format_error"]


def test_configure_sets_level_format_and_worker_on_the_dnsfence_logger() -> None:
    stream = io.StringIO()
    server_log.configure(stream, "warning", "json")
    log = logging.getLogger("dnsfence")
    log.info("hidden")
    log.warning("shown")
    assert [json.loads(line)["msg"] for line in stream.getvalue().splitlines()] == ["shown"]
    server_log.tag_worker(1, 4)
    log.error("tagged")
    assert json.loads(stream.getvalue().splitlines()[-1])["worker"] == "2/4"
    server_log.reconfigure("debug", "text")  # a reload: same stream, same worker tag
    log.debug("dnsfence: detail")
    last = stream.getvalue().splitlines()[-1]
    assert re.fullmatch(rf"{TS} DEBUG \[worker 2/4\] dnsfence: detail", last), last
    assert "DEBUG [worker 2/4] dnsfence: server log level debug, format text" in \
        stream.getvalue()


def test_configure_again_keeps_the_worker_tag_and_replaces_the_handler() -> None:
    server_log.configure(io.StringIO())
    server_log.tag_worker(0, 2)
    stream = io.StringIO()
    server_log.configure(stream, "info", "text")
    logging.getLogger("dnsfence").info("once")
    assert re.fullmatch(rf"{TS} INFO \[worker 1/2\] once\n", stream.getvalue())


def test_asyncio_errors_get_the_same_shape_but_not_its_debug_chatter() -> None:
    stream = io.StringIO()
    server_log.configure(stream, "debug", "json")
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.debug("Using selector: EpollSelector")
    asyncio_log.error("Task exception was never retrieved")
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["level"], e["msg"]) for e in events] == [
        ("error", "Task exception was never retrieved")]
    assert asyncio_log.propagate is False
