"""Reading the query log back: the rotated files and the live one, oldest first, a line at a time.

The log is written by several processes and rotated under them, so a reader must expect
a torn last line, a record glued to the end of a partial one, and a rename while it reads.
Records are yielded one by one and nothing is kept, so memory does not grow with the log.
Plain paths in, dicts out: this sits below the config and knows nothing of it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

# A record is well under 1 KiB (a name is at most 253 characters); a longer "line" is garbage
# (a file without newlines), and is skipped a piece at a time instead of read whole.
LINE_LIMIT = 64 * 1024
# Files opened together before the first line is read: a rotation during the read then
# renames open files, and no file is read twice or missed. Beyond this many, the rest are
# opened when reached (a rotation could then shift them; no admin keeps that many).
OPEN_AT_ONCE = 256
_RECORD_START = '{"ts"'
# The writer's `ts`, exactly; such stamps sort as text in time order.
_TS_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                       r"\.[0-9]{3}Z")


def log_files(path: Path) -> list[Path]:
    """`<path>.N` ... `<path>.1` (oldest first), then `<path>`: those that exist."""
    pattern = re.compile(re.escape(path.name) + r"\.([0-9]+)")
    rotated: list[tuple[int, Path]] = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            found = pattern.fullmatch(entry.name)
            if found is not None and entry.is_file():
                rotated.append((int(found[1]), entry))
    files = [entry for _, entry in sorted(rotated, reverse=True)]
    if path.is_file():
        files.append(path)
    return files


def timestamp(moment: datetime) -> str:
    """`moment` as the log writes `ts` (RFC 3339 UTC, milliseconds), rounded up to the next
    millisecond so that string comparisons with logged stamps agree with time order."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    utc = moment.astimezone(UTC)
    if utc.microsecond % 1000:
        utc += timedelta(microseconds=1000 - utc.microsecond % 1000)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def canonical_ts(value: object) -> str | None:
    """The record's `ts` in the writer's exact form (which sorts as text), or None."""
    if not isinstance(value, str):
        return None
    try:
        if _TS_SHAPE.fullmatch(value) is not None:
            date.fromisoformat(value[:10])  # the shape allows 2026-02-31
            return value
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return timestamp(moment)


class QueryLogReader:
    """Iterating yields every record (a dict) of the log at `path` whose `ts` lies in
    [since, until); the counts say what was read and what was not."""

    __slots__ = ("files", "lines", "outside", "path", "records", "since", "skipped", "until")

    def __init__(self, path: Path, since: datetime | None = None,
                 until: datetime | None = None) -> None:
        self.path = path
        self.since = timestamp(since) if since is not None else None
        self.until = timestamp(until) if until is not None else None
        self.files: list[Path] = []
        self.lines = 0      # lines seen, whatever they held
        self.records = 0    # records yielded
        self.skipped = 0    # lines that are not a record (torn, partial, garbage)
        self.outside = 0    # records outside [since, until)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.files = log_files(self.path)
        self.lines = self.records = self.skipped = self.outside = 0
        opened: list[TextIO | None] = []
        try:
            for file in self.files[:OPEN_AT_ONCE]:
                opened.append(_open(file))
            for index, file in enumerate(self.files):
                handle = opened[index] if index < OPEN_AT_ONCE else _open(file)
                if handle is None:
                    continue
                with handle:
                    yield from self.records_in(handle)
        finally:
            for handle in opened:
                if handle is not None:
                    handle.close()

    def records_in(self, handle: TextIO) -> Iterator[dict[str, Any]]:
        """The records of the lines `handle` gives (a file, or lines a follower read), with
        the same checks and counts as the whole log's."""
        since, until = self.since, self.until
        loads, shape, readline = json.loads, _TS_SHAPE.fullmatch, handle.readline
        valid_day = ""  # the last date part checked: logs are in time order, mostly
        while line := readline(LINE_LIMIT):
            self.lines += 1
            if len(line) == LINE_LIMIT and not line.endswith("\n"):
                while line and not line.endswith("\n"):
                    line = readline(LINE_LIMIT)
                self.skipped += 1
                continue
            try:
                record = loads(line)
                ts = record["ts"]
                if ts.__class__ is not str or shape(ts) is None:
                    ts = record["ts"] = canonical_ts(ts)
                    if ts is None:
                        raise ValueError("no timestamp")
                elif ts[:10] != valid_day:
                    date.fromisoformat(ts[:10])
                    valid_day = ts[:10]
            except (ValueError, TypeError, KeyError, IndexError, RecursionError):
                self.skipped += 1
                record = _glued(line)
                if record is None:
                    continue
                ts = record["ts"]
            if (since is not None and ts < since) or (until is not None and ts >= until):
                self.outside += 1
                continue
            self.records += 1
            yield record


def _glued(line: str) -> dict[str, Any] | None:
    """A whole record written after a partial one on the same line (a writer died mid-line,
    the next one appended), or None. The partial one stays counted as skipped."""
    start = line.rfind(_RECORD_START, 1)
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    ts = canonical_ts(record.get("ts"))
    if ts is None:
        return None
    record["ts"] = ts
    return record


def _open(file: Path) -> TextIO | None:
    """The file opened for reading, or None when it went away (retention, rotation).

    Text, so that json.loads skips its own decoding (faster); bytes that are not UTF-8
    become U+FFFD (the writer writes ASCII JSON). Only \\n ends a line."""
    try:
        return file.open(encoding="utf-8", errors="replace", newline="\n")
    except FileNotFoundError:
        return None
