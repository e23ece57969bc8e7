"""`dnsfence serve`: load the policy once, bind, then run one or more workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import sys
from typing import TextIO

from resolver.cache import AnswerCache
from resolver.commands.common import EXIT_OK, EXIT_PROBLEMS
from resolver.config import Config, resolv_conf_servers
from resolver.pipeline import Pipeline
from resolver.policy.load import load_policy
from resolver.policy.snapshot import ActivePolicy
from resolver.server import Listener, bind, bind_again, serve
from resolver.stages.access import AccessControl
from resolver.stages.blocking import BlockingStage
from resolver.stages.cache import CacheStage
from resolver.stages.upstream import UpstreamStage
from resolver.upstream import Forwarder, UpstreamServer

log = logging.getLogger("dnsfence")


def _configure_logging(err: TextIO) -> None:
    handler = logging.StreamHandler(err)  # StreamHandler flushes after every record
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def build_pipeline(config: Config, active: ActivePolicy) -> Pipeline:
    """One worker's chain; each worker has its own cache and upstream sockets."""
    cache = None
    if config.cache.max_entries > 0:
        cache = CacheStage(AnswerCache(config.cache.max_entries, config.cache.min_ttl,
                                       config.cache.max_ttl, config.cache.max_negative_ttl))
    forwarder = Forwarder([UpstreamServer(e.host, e.port) for e in config.upstream.servers],
                          try_timeout=config.upstream.timeout,
                          deadline=config.upstream.deadline,
                          udp_size=config.server.edns_udp_size)
    return Pipeline(
        policy=active,
        access=AccessControl(config.server.allow_clients),
        blocking=BlockingStage(active, config.blocking.negative_ttl,
                               config.server.edns_udp_size),
        cache=cache,
        upstream=UpstreamStage(forwarder, cache),
        udp_size=config.server.edns_udp_size,
    )


def _raise_file_limit() -> None:
    """Each upstream query in flight holds a socket: allow as many as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def run(config: Config, err: TextIO = sys.stderr) -> int:
    _configure_logging(err)
    _raise_file_limit()
    result = load_policy(config.blocklists, config.timezone)
    for problem in result.problems:
        log.warning("%s", problem)
    if result.policy is None:
        log.error("dnsfence: not started: %d error(s) in the blocklists in %s",
                  len(result.errors), config.blocklists)
        return EXIT_PROBLEMS
    if not config.upstream.servers:
        found = resolv_conf_servers(exclude=config.server.listen)
        if not found:
            log.error("dnsfence: not started: no upstream resolver; give --upstream HOST[:PORT] "
                      "or upstream.servers in the config")
            return EXIT_PROBLEMS
        config = config.with_overrides(**{"upstream.servers": found})
    workers = config.server.workers
    try:
        listeners = [bind(endpoint, reuseport=workers > 1) for endpoint in config.server.listen]
    except OSError as exc:
        hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" \
            if exc.errno == 13 else ""
        log.error("dnsfence: not started: cannot listen: %s%s", exc.strerror, hint)
        return EXIT_PROBLEMS
    active = ActivePolicy(result.policy)
    lists = len(result.policy.lists)
    log.info("dnsfence: serving on %s (udp+tcp); %d list%s, %d of %d rules active; "
             "upstreams %s; %d worker%s",
             ", ".join(str(item.endpoint) for item in listeners), lists, "s" * (lists != 1),
             active.snapshot.active, len(result.policy.rules),
             ", ".join(str(e) for e in config.upstream.servers), workers, "s" * (workers != 1))
    if workers == 1:
        asyncio.run(_serve_worker(config, active, listeners))
        return EXIT_OK
    return _run_workers(config, active, listeners, workers)


async def _serve_worker(config: Config, active: ActivePolicy, listeners: list[Listener]) -> None:
    await serve(listeners, lambda: build_pipeline(config, active),
                config.server.tcp_idle_timeout, config.server.tcp_max_connections)


def _run_workers(config: Config, active: ActivePolicy, first: list[Listener],
                 workers: int) -> int:
    """Fork workers sharing each port with SO_REUSEPORT; nothing mutable is shared."""
    sets = [first] + [[bind_again(item) for item in first] for _ in range(workers - 1)]
    gc.collect()
    gc.freeze()  # the loaded policy stays in shared copy-on-write pages
    children: list[int] = []
    for index, mine in enumerate(sets):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                for other in sets:
                    if other is not mine:
                        for item in other:
                            item.udp.close()
                            item.tcp.close()
                asyncio.run(_serve_worker(config, active, mine))
                status = 0
            except BaseException:
                log.exception("dnsfence: worker %d failed", index)
            finally:
                os._exit(status)
        children.append(pid)
    for listeners in sets:
        for item in listeners:
            item.udp.close()
            item.tcp.close()

    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    status = EXIT_OK
    for pid in children:
        _, code = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM):
            status = EXIT_PROBLEMS
    return status
