"""The query log stage: hands each answer's raw facts to the query-log writer.

It only observes, so it answers nothing and may sit anywhere in the chain. On the query
path it builds one tuple and appends it to the writer's queue; the time text, the
mnemonics, the client's anonymised form and the JSON are made in the writer's thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from resolver.config.querylog import QueryLogConfig
from resolver.config.settings import Config
from resolver.policy.audience import group_of
from resolver.querylog.record import RecordQueue
from resolver.querylog.writer import QueryLogWriter
from resolver.stages.contract import (
    BLOCKED,
    FORWARDED,
    OBSERVED,
    RATE_LIMITED,
    REJECTED,
    SERVFAIL,
    Request,
    Stage,
    StageSetup,
)

STANDARD_OUTPUT_FD = 1  # `querylog.path: -`


def writer_for(section: QueryLogConfig, state_dir: Path) -> QueryLogWriter | None:
    """The writer a config asks for; None when the log is off."""
    if section.mode == "off":
        return None
    # standard output as the descriptor, not sys.stdout: nothing may have replaced it
    file = section.file(state_dir)
    target = STANDARD_OUTPUT_FD if file is None else file
    return QueryLogWriter(target, clients=section.clients, state_dir=state_dir,
                          rotate_bytes=section.rotate_mb << 20, keep=section.keep,
                          retention_days=section.retention_days, queue=section.queue)


class QueryLogStage(Stage):
    """Logs every answer (mode all) or only blocked ones (mode blocked, the default)."""

    __slots__ = ("_all", "_dropped", "_errors", "_queue", "_section", "_state_dir",
                 "_writer", "_written")

    COUNTERS: ClassVar[tuple[str, ...]] = ("querylog_written", "querylog_dropped",
                                           "querylog_errors")

    def __init__(self, setup: StageSetup) -> None:
        self._writer: QueryLogWriter | None = None
        self._section = setup.config.querylog
        self._state_dir = setup.config.state_dir
        self._written = self._dropped = self._errors = 0  # of writers since replaced
        self._start()

    def _start(self) -> None:
        self._writer = writer_for(self._section, self._state_dir)
        self._all = self._section.mode == "all"
        # its queue's `submit` itself: compiled, a direct call
        self._queue: RecordQueue | None = self._writer.queue if self._writer is not None \
            else None

    def observe(self, request: Request, answer: bytes) -> None:
        queue = self._queue
        if queue is None:
            return
        kind = request.kind
        if kind is BLOCKED:
            found = request.found
            audience = found[0].audience if found is not None else None
            queue.submit((request.now, request.client,
                          "" if audience is None or not audience.only  # no call: no group
                          else audience.group_for(request.groups),
                          request.query, kind, answer[3] & 0x0F if answer else -1, found, "", None,
                          request.tcp))
        elif request.observed is not None and kind is not None:
            queue.submit((request.now, request.client,
                          group_of(request.observed[0].audience, request.groups),
                          request.query, OBSERVED,
                          answer[3] & 0x0F if answer else -1, request.observed, request.upstream,
                          request.ms if kind is FORWARDED or kind is SERVFAIL else None,
                          request.tcp))
        elif not self._all or kind is None:
            return
        elif kind is REJECTED or kind is RATE_LIMITED:  # `request.query` is another
            # packet's, or unset: neither was read
            queue.submit((request.now, request.client, "", None, kind,
                          answer[3] & 0x0F if answer else -1, None, "", None, request.tcp))
        elif kind is FORWARDED or kind is SERVFAIL:
            queue.submit((request.now, request.client, "", request.query, kind,
                          answer[3] & 0x0F if answer else -1, None, request.upstream, request.ms,
                          request.tcp))
        else:
            queue.submit((request.now, request.client, "", request.query, kind,
                          answer[3] & 0x0F if answer else -1, None, "", None, request.tcp))

    def counters(self) -> dict[str, int]:
        writer = self._writer
        written, dropped, errors = self._written, self._dropped, self._errors
        if writer is not None:
            written += writer.written
            dropped += writer.dropped
            errors += writer.errors
        return {"querylog_written": written, "querylog_dropped": dropped,
                "querylog_errors": errors}

    def reconfigure(self, config: Config) -> None:
        if config.querylog == self._section and config.state_dir == self._state_dir:
            return
        self.close()
        self._section = config.querylog
        self._state_dir = config.state_dir
        self._start()

    def close(self) -> None:
        """Write what is queued and stop the writer (the server stops, or the log moves)."""
        writer = self._writer
        if writer is None:
            return
        self._writer = self._queue = None
        writer.close()
        self._written += writer.written
        self._dropped += writer.dropped
        self._errors += writer.errors
