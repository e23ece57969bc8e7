"""The ways a stage takes part in a query, as protocols the pipeline checks once, at build.

A stage has a role by having its method (`handle`, `forward`, `check_forwarded`,
`remember`, `observe`); `resolver.pipeline` binds those methods once. These protocols are
apart from `resolver.stages.contract` because the optional compiled build leaves this module
interpreted (runtime-checkable protocols are not compiled), and nothing here runs per query.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from resolver.policy.period import PolicyPeriod
from resolver.stages.contract import Done, Forward, Request


@runtime_checkable
class AnswersNow(Protocol):
    def handle(self, request: Request) -> bytes | None:
        """The answer, `DROP`, or None to pass the query to the next stage."""


@runtime_checkable
class AnswersLater(Protocol):
    next: Forward | None
    """The forward of the next stage that answers later; None at the tail."""

    def forward(self, request: Request, done: Done) -> None:
        """Get the upstream's message for `request` and call `done` once with it."""


@runtime_checkable
class ChecksForwarded(Protocol):
    def check_forwarded(self, request: Request, response: bytes, period: PolicyPeriod,
                        now: float) -> bytes | None:
        """Called with every upstream message (OPT removed) before it is fitted to the
        client, in the policy `period` of `now`: an answer of the stage's own replaces it
        (the stage sets `kind`), None lets it through. It may lower `request.ttl_cap`, which
        holds the question name's cap at `now`."""


@runtime_checkable
class RemembersAnswers(Protocol):
    def remember(self, request: Request, answer: bytes) -> None:
        """Called with every answer made now that stays the same for the same query bytes
        until `request.same_until`, whichever stage made it."""


@runtime_checkable
class ObservesAnswers(Protocol):
    def observe(self, request: Request, answer: bytes) -> None:
        """Called once for every answer, made now or later (`DROP` included), after the
        stage that made it set `request.kind`. It runs on the query path: it must be
        cheap, must not block, and must copy what it keeps."""
