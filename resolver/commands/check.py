"""`dnsfence check`: is a name blocked at an instant, and why (the decision itself is in
`resolver.policy.explain`, which the dashboard's "Why?" box shares)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.groups import ClientGroup, client_at
from resolver.config.networks import IPNetwork
from resolver.policy.explain import Client, explain, explanation_text
from resolver.policy.loaded import Policy
from resolver.policy.period import index_of

__all__ = ["Client", "client_of", "explain", "run"]


def client_of(raw: str, allow: Sequence[IPNetwork], groups: Sequence[ClientGroup]) -> Client:
    """The client at address `raw` (`--client IP`); ValueError when it is not an IP address."""
    try:
        return client_at(raw, allow, groups)
    except ValueError as exc:
        raise ValueError(f"--client: {exc}") from None


def run(policy: Policy, names: list[str], at: datetime | None, *, as_json: bool,
        out: TextIO, client: Client | None = None) -> int:
    moment = at or datetime.now(UTC)
    index = index_of(policy)
    status = EXIT_OK
    for raw in names:
        result = explain(policy, index, raw, moment, client)
        if "error" in result:
            status = EXIT_PROBLEMS
        print(json.dumps(result) if as_json else explanation_text(policy, result), file=out)
    return status
