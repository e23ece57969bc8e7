"""`dnsfence healthcheck`: one line, and exit 0 when the running server is healthy, 1 when
not; for a container's HEALTHCHECK or any monitor that runs a command.

It asks the server what it knows of itself, `/healthz` on `http.listen`, so the verdict
never depends on which lists happen to be loaded (a list removed, dated in the future or
expired is policy, not ill health). With the HTTP listener off it falls back to the
CHAOS status query on the DNS port, which knows less: a worker answers, and the last
reload did not fail. It reads the same config file as `serve`, so the check follows
the addresses an admin configures; a wildcard address is asked on loopback. Every wait
ends by `timeout`, well inside a container runtime's own limit, and a proxy set in the
environment is never used: the question goes straight to this host.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TextIO

from dnslib import CLASS, QTYPE, RCODE, DNSError, DNSQuestion, DNSRecord

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.endpoints import Endpoint
from resolver.config.settings import Config
from resolver.health import loopback_for
from resolver.stages.status import STATUS_NAME, decode_status

DEFAULT_TIMEOUT = 3.0
"""Seconds the whole check may take: a healthy /healthz answers within its own DNS
probe's second; Docker's HEALTHCHECK --timeout in the shipped Dockerfile is 5 s."""
BODY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Verdict:
    healthy: bool
    line: str


def with_flags(config: Config, listen: Sequence[Endpoint] | None,
               http_listen: Endpoint | str | None) -> Config:
    """The config with the addresses `serve` was given by flag (`--http-listen ''`: off)."""
    config = config.with_overrides(**{"server.listen": tuple(listen) if listen else None,
                                      "http.listen": http_listen or None})
    if http_listen == "":
        config = replace(config, http=replace(config.http, listen=None))
    return config


def check(config: Config, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """/healthz when HTTP is on, else the CHAOS status query on the DNS listen addresses."""
    if config.http.listen is not None:
        return ask_healthz(config.http.listen, timeout)
    return ask_dns(config.server.listen, timeout)


def ask_healthz(endpoint: Endpoint, timeout: float) -> Verdict:
    """The server's own verdict: 200 healthy, anything else (or no answer) unhealthy."""
    target = loopback_for(endpoint)
    url = f"http://{target}/healthz"
    deadline = time.monotonic() + timeout
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(max(0.01, deadline - time.monotonic()))  # one budget
        connection.request("GET", "/healthz", headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read(BODY_LIMIT).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return Verdict(False, f"unhealthy: no answer from {url}: {_reason(exc)}")
    finally:
        connection.close()
    said = " ".join(body.split()) or "(empty)"
    if response.status == 200:
        return Verdict(True, f"{said} ({url})")
    return Verdict(False, f"unhealthy: {url} answered {response.status}: {said}")


def ask_dns(listen: Sequence[Endpoint], timeout: float) -> Verdict:
    """The first listen address that answers the status query decides."""
    deadline = time.monotonic() + timeout
    failures: list[str] = []
    for endpoint in listen:
        target = loopback_for(endpoint)
        left = deadline - time.monotonic()
        if left <= 0:
            failures.append(f"{target}: not asked, no time left")
            continue
        try:
            reply = chaos_status(target, left)
        except OSError as exc:
            failures.append(f"{target}: {_reason(exc)}")
            continue
        return judge_status(reply, target)
    return Verdict(False, "unhealthy: no DNS answer to the status query from "
                   + "; ".join(failures or ["any address (none configured)"]))


def chaos_status(target: Endpoint, timeout: float) -> DNSRecord:
    """The reply to CHAOS TXT status.dnsfence; TimeoutError/OSError when none comes."""
    query = DNSRecord(q=DNSQuestion(STATUS_NAME, QTYPE.TXT, CLASS.CH))
    family = socket.AF_INET6 if target.family_is_v6 else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((target.host, target.port))
        sock.send(query.pack())
        while True:  # a stray or garbled datagram is not the answer
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            data = sock.recv(65535)
            try:
                reply = DNSRecord.parse(data)
            except DNSError:
                continue
            if reply.header.id == query.header.id:
                return reply


def judge_status(reply: DNSRecord, target: Endpoint) -> Verdict:
    """Healthy when the server answers, unless its status says the last reload failed."""
    rcode = reply.header.rcode
    if rcode != RCODE.NOERROR or not reply.rr:
        # REFUSED: the status goes to loopback clients only, and a listen address that is
        # not loopback is asked from itself; the answer still shows a serving worker
        return Verdict(True, f"ok: a worker answers DNS on {target} (status query "
                             f"{RCODE.get(rcode)}, so no more is known)")
    status: dict[str, Any] = decode_status([bytes(s) for s in reply.rr[0].rdata.data])
    policy = status.get("policy", {})
    loaded = f"policy of {len(policy.get('lists', []))} lists loaded at " \
             f"{_when(policy.get('loaded_at'))}"
    last = status.get("last_reload")
    if last is not None and not last.get("ok", True):
        problems = last.get("problems") or ["unknown"]
        return Verdict(False, f"unhealthy: the policy failed to load at {_when(last['at'])} "
                              f"({last.get('reason')}): {len(problems)} error(s), e.g. "
                              f"{problems[0]}; still enforcing the {loaded} (DNS {target})")
    return Verdict(True, f"ok: a worker answers DNS on {target}; {loaded}")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def run(config: Config, *, timeout: float, out: TextIO) -> int:
    verdict = check(config, timeout)
    print(verdict.line, file=out)
    return EXIT_OK if verdict.healthy else EXIT_PROBLEMS
