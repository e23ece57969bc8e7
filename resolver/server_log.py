"""The server's own log lines: a timestamp and a level on each, as text or as JSON lines.

Text is for people reading a terminal or journal; JSON (one object per event) is for log
stacks, which must never receive a torn or half-JSON line, so nothing in a record (an odd
field value, a bad format string) may break the one-object-per-line shape.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, TextIO

log = logging.getLogger("dnsfence")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}

# asyncio reports crashed callbacks and unretrieved task exceptions on its own logger;
# routed through the same handler, those lines get a timestamp and level too.
_ASYNCIO = logging.getLogger("asyncio")

# Attributes every LogRecord has; anything else on a record came from `extra={...}`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_FIXED = ("ts", "level", "msg")


def timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-12-04T22:31:05.123Z (as the query log)."""
    # to the microsecond first, as datetime does, so 0.123 (really 0.12299999...) is .123
    seconds = math.floor(created)
    micros = round((created - seconds) * 1_000_000)
    seconds, micros = (seconds + 1, 0) if micros == 1_000_000 else (seconds, micros)
    millis = micros // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class TextFormatter(logging.Formatter):
    """`<ts> <LEVEL> [worker i/n] <message>`, then the traceback on following lines."""

    def __init__(self, worker: str = "") -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        tag = f"[worker {self.worker}] " if self.worker else ""
        text = f"{timestamp(record.created)} {record.levelname} {tag}{record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, msg, then the event's fields."""

    def __init__(self, worker: str = "") -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {"ts": timestamp(record.created),
                                 "level": record.levelname.lower()}
        try:
            event["msg"] = record.getMessage()
        except Exception as exc:  # a bad format string still yields one whole line
            event["msg"] = str(record.msg)
            event["args"] = repr(record.args)
            event["format_error"] = repr(exc)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _FIXED:
                event[key] = value
        if self.worker:
            event["worker"] = self.worker
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            event["exc"] = record.exc_text
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return _dumps(event)


def _dumps(event: dict[str, Any]) -> str:
    """One line of JSON whatever the values are (unserialisable, circular, NaN, odd keys)."""
    try:
        return json.dumps(event, default=_text, allow_nan=False)
    except (TypeError, ValueError):  # only the fields that cannot be JSON become text
        return json.dumps({str(key): _field(value) for key, value in event.items()})


def _field(value: object) -> object:
    try:
        json.dumps(value, default=_text, allow_nan=False)
    except (TypeError, ValueError):
        return _text(value)
    return value


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the event
        return f"<unprintable {type(value).__name__}>"


FORMATTERS: dict[str, type[TextFormatter] | type[JsonFormatter]] = {
    "text": TextFormatter, "json": JsonFormatter}


def configure(stream: TextIO, level: str = "info", fmt: str = "text") -> None:
    """Point the dnsfence logger at `stream` (one handler; StreamHandler flushes per record).

    Called once with defaults before the config is read (its errors must be logged), then
    again with the configured values; keeps the worker tag if one was set.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FORMATTERS[fmt](_worker()))
    for logger in (log, _ASYNCIO):
        logger.handlers[:] = [handler]
        logger.propagate = False
    _set_level(level)


def reconfigure(level: str, fmt: str) -> None:
    """Apply a reloaded `log:` section: same stream and worker tag, new level and format."""
    worker = _worker()
    for handler in log.handlers:
        handler.setFormatter(FORMATTERS[fmt](worker))
    _set_level(level)
    log.debug("dnsfence: server log level %s, format %s", level, fmt,
              extra={"log_level": level, "log_format": fmt})


def tag_worker(index: int, count: int) -> None:
    """Each worker logs its own reloads and warnings: say which one wrote a line."""
    for handler in log.handlers:
        formatter = handler.formatter
        if isinstance(formatter, TextFormatter | JsonFormatter):
            formatter.worker = f"{index + 1}/{count}"


def _worker() -> str:
    for handler in log.handlers:
        if isinstance(handler.formatter, TextFormatter | JsonFormatter):
            return handler.formatter.worker
    return ""


def _set_level(level: str) -> None:
    log.setLevel(LEVELS[level])
    # asyncio's debug chatter ("Using selector") is not the server's: warnings and up only
    _ASYNCIO.setLevel(max(LEVELS[level], logging.WARNING))
