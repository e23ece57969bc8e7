"""Blocking: names decided by a BLOCK rule get NXDOMAIN + SOA + EDE 15, built once per rule.

This stage sits above the cache, and the cache stores only upstream answers, so
a name that becomes blocked is never served from cache (as in Blocky).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from resolver.dns.answers import BlockedTemplate
from resolver.dns.wire import Query
from resolver.policy.model import Action, Rule
from resolver.policy.snapshot import ActivePolicy, Snapshot


def ede_text(rule: Rule, timezone: str) -> str:
    """'blocked by list tiktok (tiktok.com) since 2023-03-20' for the EDE extra text."""
    text = f"blocked by list {rule.list_name} ({rule.pattern})"
    start = rule.window.effective
    if start is not None:
        local = start.astimezone(ZoneInfo(timezone))
        shown = local.strftime("%Y-%m-%d") if local.time() == local.time().min \
            else local.isoformat(timespec="minutes")
        text += f" since {shown}"
    return text


class BlockingStage:
    """Answers blocked names; passes everything else on (returns None)."""

    __slots__ = ("_active", "_negative_ttl", "_policy", "_templates", "_udp_size", "blocked")

    def __init__(self, active: ActivePolicy, negative_ttl: int, udp_size: int) -> None:
        self._active = active
        self._negative_ttl = negative_ttl
        self._udp_size = udp_size
        # keyed by id(rule), holding the rule so the id cannot be reused while cached
        self._templates: dict[int, tuple[Rule, BlockedTemplate]] = {}
        self._policy = active.policy
        self.blocked = 0

    def answer(self, query: Query, snapshot: Snapshot, ttl_cap: int | None) -> bytes | None:
        rule = snapshot.index.decide(query.qname)
        if rule is None or rule.action is not Action.BLOCK:
            return None
        cached = self._templates.get(id(rule))
        template = cached[1] if cached is not None else self._template(rule)
        self.blocked += 1
        return template.render(query, self._udp_size, ttl_cap)

    def _template(self, rule: Rule) -> BlockedTemplate:
        if len(self._templates) > 100_000 or self._policy is not self._active.policy:
            self._templates.clear()  # bounded, and no templates of a replaced policy
            self._policy = self._active.policy
        blocklist = self._active.policy.list_named(rule.list_name)
        timezone = blocklist.timezone if blocklist else "UTC"
        template = BlockedTemplate(rule.zone, self._negative_ttl, ede_text(rule, timezone))
        self._templates[id(rule)] = (rule, template)
        return template
