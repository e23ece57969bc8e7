"""`dnsfence check`: is a name blocked at an instant, and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.policy.index import PolicyIndex
from resolver.policy.instants import iso, show, zone
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList, SourceRules
from resolver.policy.names import InvalidName, normalise_query_name
from resolver.policy.period import index_of
from resolver.policy.timeline import upcoming_block


def explain(policy: Policy, index: PolicyIndex, raw: str, at: datetime) -> dict[str, Any]:
    """The decision for one name as a JSON-ready dict."""
    try:
        name = normalise_query_name(raw)
    except InvalidName as exc:
        return {"name": raw, "error": str(exc), "blocked": None, "at": at.isoformat(),
                **_rule_fields(policy, None), "upcoming": None}
    found = index.lookup(name, at)
    rule, pattern = found if found is not None else (None, None)
    result: dict[str, Any] = {"name": name, "at": at.isoformat(),
                              "blocked": rule is not None and rule.action is Action.BLOCK}
    result.update(_rule_fields(policy, rule, pattern))
    result["upcoming"] = None
    if not result["blocked"]:
        upcoming = upcoming_block(index, policy.entries, name, at)
        if upcoming is not None:
            instant, future, future_pattern = upcoming
            tz = zone(_list(policy, future).timezone)
            result["upcoming"] = {"instant": iso(instant, tz),
                                  **_rule_fields(policy, future, future_pattern)}
    return result


def _list(policy: Policy, rule: AnyRule) -> BlockList:
    found = policy.list_named(rule.list_name)
    assert found is not None
    return found


def _rule_fields(policy: Policy, rule: AnyRule | None,
                 pattern: str | None = None) -> dict[str, Any]:
    if rule is None:
        return {"action": None, "list": None, "rule": None, "reference": None,
                "effective": None, "expires": None, "location": None, "source": None,
                "schedule": None}
    blocklist = _list(policy, rule)
    tz = zone(blocklist.timezone)
    return {"action": rule.action.value, "list": rule.list_name, "rule": pattern,
            "reference": blocklist.reference or None,
            "effective": iso(rule.window.effective, tz), "expires": iso(rule.window.expires, tz),
            "location": str(rule.location),
            "source": rule.source if isinstance(rule, SourceRules) else None,
            "schedule": rule.weekly.text if rule.weekly is not None else None}


def _text(policy: Policy, result: dict[str, Any]) -> str:
    name = result["name"]
    if "error" in result:
        return f"{name}: error: {result['error']}"
    lines = []
    if result["blocked"]:
        lines.append(f"{name}: BLOCKED by list {result['list']}, rule {result['rule']}")
    elif result["action"] == "allow":
        lines.append(f"{name}: allowed by an exception in list {result['list']}, "
                     f"rule {result['rule']}")
    else:
        lines.append(f"{name}: allowed (no rule applies)")
    if result["rule"] is not None:
        tz = zone(policy.list_named(result["list"]).timezone)  # type: ignore[union-attr]
        lines.append(f"  rule at:   {result['location']}")
        if result.get("source"):
            lines.append(f"  source:    {result['source']}")
        if result["reference"]:
            lines.append(f"  reference: {result['reference']}")
        lines.append(f"  in force:  {_window(result['effective'], result['expires'], tz)}")
        if result.get("schedule"):
            lines.append(f"  schedule:  {result['schedule']} ({tz.key})")
    upcoming = result["upcoming"]
    if upcoming:
        tz = zone(policy.list_named(upcoming["list"]).timezone)  # type: ignore[union-attr]
        when = show(datetime.fromisoformat(upcoming["instant"]), tz)
        lines.append(f"  upcoming:  blocked from {when} by list {upcoming['list']}, "
                     f"rule {upcoming['rule']} ({upcoming['location']})")
    return "\n".join(lines)


def _window(effective: str | None, expires: str | None, tz: Any) -> str:
    start = show(datetime.fromisoformat(effective), tz) if effective else "always"
    end = f"until {show(datetime.fromisoformat(expires), tz)}" if expires else "no expiry"
    return f"from {start}, {end}" if effective else f"{start}, {end}"


def run(policy: Policy, names: list[str], at: datetime | None, *, as_json: bool,
        out: TextIO) -> int:
    moment = at or datetime.now(UTC)
    index = index_of(policy)
    status = EXIT_OK
    for raw in names:
        result = explain(policy, index, raw, moment)
        if "error" in result:
            status = EXIT_PROBLEMS
        print(json.dumps(result) if as_json else _text(policy, result), file=out)
    return status
