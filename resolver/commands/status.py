"""`dnsfence status`: ask the running server (CHAOS TXT status.dnsfence) how it is doing."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any, TextIO

from dnslib import CLASS, QTYPE, DNSQuestion, DNSRecord

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.endpoints import Endpoint
from resolver.config.settings import Config
from resolver.health import loopback_for
from resolver.stages.status import STATUS_NAME, decode_status


def ask(server: Endpoint, timeout: float = 2.0) -> dict[str, Any]:
    """The server's status; OSError/TimeoutError when it does not answer."""
    query = DNSRecord(q=DNSQuestion(STATUS_NAME, QTYPE.TXT, CLASS.CH))
    family = socket.AF_INET6 if server.family_is_v6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query.pack(), (server.host, server.port))
        while True:
            data = sock.recv(65535)
            reply = DNSRecord.parse(data)
            if reply.header.id == query.header.id:
                break
    if reply.header.rcode != 0 or not reply.rr:
        raise OSError(f"the server at {server} refused the status query "
                      "(it answers loopback clients only)")
    strings = [bytes(s) for s in reply.rr[0].rdata.data]
    return decode_status(strings)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(status: dict[str, Any]) -> str:
    policy = status["policy"]
    counters = status["counters"]
    lines = [
        f"dnsfence {status['version']} (pid {status['pid']}), up since {_when(status['started'])}",
        f"policy: {len(policy['lists'])} lists ({', '.join(policy['lists'])}), "
        f"{policy['active_entries']:,} of {policy['entries']:,} entries active, "
        f"loaded {_when(policy['loaded_at'])}; next change {_when(policy['next_change'])}",
    ]
    lines.extend(_missing_lines(policy.get("missing_sources", [])))
    last = status["last_reload"]
    if last is None:
        lines.append("last reload: none since start-up")
    elif last["ok"]:
        lines.append(f"last reload: ok at {_when(last['at'])} ({last['reason']})")
    else:
        lines.append(f"last reload: FAILED at {_when(last['at'])} ({last['reason']}); still "
                     f"serving the policy loaded {_when(policy['loaded_at'])}:")
        lines.extend(f"  {problem}" for problem in last["problems"])
    if last and last["restart_needed"]:
        lines.append(f"needs a restart for: {', '.join(last['restart_needed'])}")
    workers = status.get("workers", [])
    label = "counters" if len(workers) < 2 else \
        f"counters (sum of {len(workers)} workers, pids " \
        f"{', '.join(str(w['pid']) for w in workers)}; others' as of their last second)"
    lines.append(f"{label}: " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    by_list = status.get("blocked_by_list")
    if by_list is not None:  # a server older than this command does not send it
        lines.append("blocked by list: " + (", ".join(f"{name} {count}" for name, count
                                                      in by_list.items()) or "none yet"))
    supervisor = status.get("supervisor")
    if supervisor:  # several workers: the process that restarts and reloads them
        restarts = supervisor["restarts"]
        line = (f"supervisor: pid {supervisor['pid']}, {supervisor['workers']} workers on "
                f"policy generation {supervisor['generation']}; {restarts} worker "
                f"restart{'s' * (restarts != 1)}")
        death = supervisor.get("last_death")
        if death:
            line += (f"; last death: worker {death['worker']} (pid {death['pid']}) "
                     f"{death['status']} at {_when(death['at'])}")
        lines.append(line)
    lines.append(f"upstreams: {', '.join(status['upstreams'])}")
    zones = status.get("forward_zones")  # not sent by a server older than this command
    if zones:
        lines.append("forward zones: " + "; ".join(f"{name} to {', '.join(servers)}"
                                                   for name, servers in zones.items()))
    if status.get("udp_io"):  # not sent by a server older than this command either
        lines.append(f"UDP I/O: {status['udp_io']}")
    if status.get("hot_modules"):  # nor this
        lines.append(f"hot modules: {status['hot_modules']}")
    return "\n".join(lines)


def _missing_lines(missing: list[dict[str, Any]]) -> list[str]:
    """'MISSING: 1 source never downloaded yet, its list served without it:' and one
    line per source with how its downloads go."""
    if not missing:
        return []
    count = len(missing)
    what = ("1 source never downloaded yet; its list is served without it until it arrives"
            if count == 1 else f"{count} sources never downloaded yet; their lists are "
            "served without them until they arrive")
    lines = [f"MISSING: {what}:"]
    for source in missing:
        line = f"  {source['location']}: {source['url']} (list {source['list']})"
        if source.get("last_error"):
            line += (f"; failed {source['failures']} time{'s' * (source['failures'] != 1)}, "
                     f"last: {source['last_error']}")
        if source.get("next_attempt") is not None:
            line += f"; next try {_when(source['next_attempt'])}"
        lines.append(line)
    return lines


def run(config: Config, server: Endpoint | None, *, as_json: bool, out: TextIO,
        err: TextIO) -> int:
    target = server or loopback_for(config.server.listen[0])
    try:
        status = ask(target)
    except (OSError, ValueError) as exc:
        print(f"dnsfence: no status from {target}: {exc}", file=err)
        return EXIT_PROBLEMS
    print(json.dumps(status) if as_json else render(status), file=out)
    last = status["last_reload"]
    failed = last is not None and not last["ok"]
    return EXIT_PROBLEMS if failed or status["policy"].get("missing_sources") else EXIT_OK
