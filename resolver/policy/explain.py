"""Why a name is blocked or allowed at an instant: the decision of `dnsfence check`, as
JSON values and as the text it prints, for the command and for the dashboard's "Why?" box
(one function, so both always say the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolver.policy.audience import NO_GROUPS, Groups, group_of
from resolver.policy.index import PolicyIndex
from resolver.policy.instants import iso, show, zone
from resolver.policy.loaded import Policy
from resolver.policy.model import Action, AnyRule, BlockList, SourceRules, in_force
from resolver.policy.names import InvalidName, normalise_query_name
from resolver.policy.timeline import upcoming_block


@dataclass(frozen=True, slots=True)
class Client:
    """The client a decision is explained for (`--client IP`)."""

    address: str
    groups: Groups
    allowed: bool  # inside `server.allow_clients`


def explain(policy: Policy, index: PolicyIndex, raw: str, at: datetime,
            client: Client | None = None) -> dict[str, Any]:
    """The decision for one name as a JSON-ready dict (for `client`, if given; else for a
    client in no group)."""
    groups = client.groups if client is not None else NO_GROUPS
    who: dict[str, Any] = {"client": client.address if client else None,
                           "groups": sorted(groups),
                           "refused": not client.allowed if client else None}
    try:
        name = normalise_query_name(raw)
    except InvalidName as exc:
        return {"name": raw, "error": str(exc), "blocked": None, "at": at.isoformat(),
                **who, **_rule_fields(policy, None), "group": None, "upcoming": None,
                "depends_on_client": False, "not_for_client": []}
    found = index.lookup(name, at, groups)
    rule, pattern = found if found is not None else (None, None)
    result: dict[str, Any] = {"name": name, "at": at.isoformat(),
                              "blocked": rule is not None and rule.action is Action.BLOCK,
                              **who}
    result.update(_rule_fields(policy, rule, pattern))
    result["group"] = (group_of(rule.audience, groups) or None) if rule is not None else None
    result["depends_on_client"] = index.depends_on_client(name)
    result["not_for_client"] = _not_for_client(policy, index, name, at, groups) \
        if result["depends_on_client"] else []
    result["upcoming"] = None
    if not result["blocked"]:
        upcoming = upcoming_block(index, policy.entries, name, at, groups)
        if upcoming is not None:
            instant, future, future_pattern = upcoming
            tz = zone(_list(policy, future).timezone)
            result["upcoming"] = {"instant": iso(instant, tz),
                                  **_rule_fields(policy, future, future_pattern)}
    return result


def _not_for_client(policy: Policy, index: PolicyIndex, name: str, at: datetime,
                    groups: Groups) -> list[dict[str, Any]]:
    """Blocking rules in force that cover `name` but do not apply to this client's groups
    (what an exemption spares it)."""
    moment = at.timestamp()
    spared = []
    for rule in index.covering(name):
        if rule.action is Action.BLOCK and rule.audience is not None \
                and not rule.audience.reaches(groups) and in_force(rule, moment):
            spared.append({"list": rule.list_name, "location": str(rule.location),
                           "clients": rule.audience.text})
    return spared


def _list(policy: Policy, rule: AnyRule) -> BlockList:
    found = policy.list_named(rule.list_name)
    assert found is not None
    return found


def _rule_fields(policy: Policy, rule: AnyRule | None,
                 pattern: str | None = None) -> dict[str, Any]:
    if rule is None:
        return {"action": None, "list": None, "rule": None, "reference": None,
                "effective": None, "expires": None, "location": None, "source": None,
                "schedule": None, "clients": None}
    blocklist = _list(policy, rule)
    tz = zone(blocklist.timezone)
    return {"action": rule.action.value, "list": rule.list_name, "rule": pattern,
            "reference": blocklist.reference or None,
            "effective": iso(rule.window.effective, tz), "expires": iso(rule.window.expires, tz),
            "location": str(rule.location),
            "source": rule.source if isinstance(rule, SourceRules) else None,
            "schedule": rule.weekly.text if rule.weekly is not None else None,
            "clients": rule.audience.text if rule.audience is not None else None}


def explanation_text(policy: Policy, result: dict[str, Any]) -> str:
    """What `dnsfence check` prints for one `explain` result."""
    name = result["name"]
    if "error" in result:
        return f"{name}: error: {result['error']}"
    lines = []
    for_whom = ""
    if result["client"] is not None:
        groups = ", ".join(result["groups"]) or "none"
        for_whom = f" for client {result['client']} (groups: {groups})"
    if result["refused"]:
        lines.append(f"{name}: REFUSED{for_whom}: the client is outside "
                     "`server.allow_clients`; the policy below would apply if it were not")
        for_whom = ""
    if result["blocked"]:
        lines.append(f"{name}: BLOCKED{for_whom} by list {result['list']}, "
                     f"rule {result['rule']}")
    elif result["action"] == "allow":
        lines.append(f"{name}: allowed{for_whom} by an exception in list {result['list']}, "
                     f"rule {result['rule']}")
    else:
        lines.append(f"{name}: allowed{for_whom} (no rule applies)")
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
        if result.get("clients"):
            through = f"; here through group {result['group']}" if result["group"] else ""
            lines.append(f"  clients:   {result['clients']}{through}")
    upcoming = result["upcoming"]
    if upcoming:
        tz = zone(policy.list_named(upcoming["list"]).timezone)  # type: ignore[union-attr]
        when = show(datetime.fromisoformat(upcoming["instant"]), tz)
        lines.append(f"  upcoming:  blocked from {when} by list {upcoming['list']}, "
                     f"rule {upcoming['rule']} ({upcoming['location']})")
    for spared in result["not_for_client"]:
        lines.append(f"  not here:  list {spared['list']} ({spared['location']}) is not for "
                     f"this client ({spared['clients']})")
    if result["depends_on_client"] and result["client"] is None:
        lines.append("  note:      some lists here apply only to some client groups; shown "
                     "for a client in no group (see --client IP)")
    return "\n".join(lines)


def _window(effective: str | None, expires: str | None, tz: Any) -> str:
    start = show(datetime.fromisoformat(effective), tz) if effective else "always"
    end = f"until {show(datetime.fromisoformat(expires), tz)}" if expires else "no expiry"
    return f"from {start}, {end}" if effective else f"{start}, {end}"
