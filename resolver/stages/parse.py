"""Parsing: the packet's bytes become a `Query`, or the packet gets the error it calls for.

Almost every query takes the quick path (`parse_query`); anything unusual is read
carefully by `classify`, which says whether to answer FORMERR, NOTIMP or BADVERS or to
drop the packet (a response, or less than a header), never raising on any input.
"""

from __future__ import annotations

from resolver.config.settings import Config
from resolver.dns import raw_answers
from resolver.dns.query import Query, classify, parse_query
from resolver.stages.contract import DROP, REJECTED, Request, Stage, StageSetup


class ParseStage(Stage):
    """Sets `request.query`; answers (or drops) what is not a usable query."""

    __slots__ = ("_udp_size",)

    def __init__(self, setup: StageSetup) -> None:
        self.reconfigure(setup.config)

    def handle(self, request: Request) -> bytes | None:
        data = request.data
        query = parse_query(data)
        if query is None:
            verdict = classify(data)
            if not isinstance(verdict, Query):
                request.kind = REJECTED
                return raw_answers.rejection(verdict, data, self._udp_size) or DROP
            query = verdict
        request.query = query
        return None

    def reconfigure(self, config: Config) -> None:
        self._udp_size = config.server.edns_udp_size
