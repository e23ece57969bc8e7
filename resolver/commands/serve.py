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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from resolver import __version__, server_log
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.endpoints import resolv_conf_servers
from resolver.config.load import ConfigError, defaults, load_config
from resolver.config.settings import Config
from resolver.counters import PUBLISH_INTERVAL, SharedCounters, totals
from resolver.fetch.updates import update_sources
from resolver.lists.load import load_policy
from resolver.pipeline import Pipeline, counter_names
from resolver.policy.period import PolicyHolder
from resolver.reload import Fingerprint, PolicyReloader, fingerprint, watched_paths
from resolver.server import CONTROL_SIGNALS, Listener, bind, bind_again, serve

log = logging.getLogger("dnsfence")

ConfigReader = Callable[[], Config]


def config_reader(config_file: str | None, overrides: dict[str, Any]) -> ConfigReader:
    """Reads the config (file, then command-line overrides, then resolv.conf upstreams).

    Called at start-up and again on every reload, so flags keep winning over the file.
    Raises ConfigError.
    """
    def read() -> Config:
        config = load_config(Path(config_file)) if config_file else defaults()
        config = config.with_overrides(**overrides)
        if not config.upstream.servers:
            found = resolv_conf_servers(exclude=config.server.listen)
            config = config.with_overrides(**{"upstream.servers": found or None})
        return config
    return read


def _raise_file_limit() -> None:
    """Each upstream query in flight holds a socket: allow as many as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def status_report(live: PolicyReloader, pipeline: Pipeline, started: float,
                  shared: SharedCounters | None = None) -> dict[str, Any]:
    """What `dnsfence status` shows: policy state, last reload, counters.

    Policy and reload state are this worker's (every worker loads the same files);
    counters are the sum over all workers, the others' as of their last copy (≤ 1 s).
    """
    period = live.active.period
    last = live.last
    pid = os.getpid()
    own = pipeline.counters()
    others = shared.read() if shared is not None else []
    workers = [{"pid": pid, "counters": own}]
    workers += [{"pid": w.pid, "counters": w.counters, "published_at": w.published_at}
                for w in others if w.pid != pid]
    return {
        "version": __version__,
        "pid": pid,
        "started": started,
        "policy": {
            "loaded_at": live.loaded_at,
            "lists": [b.name for b in live.active.policy.lists],
            "entries": live.active.policy.size,
            "active_entries": period.active,
            "next_change": None if period.until == float("inf") else period.until,
        },
        "last_reload": None if last is None else {
            "at": last.at, "ok": last.ok, "reason": last.reason,
            "problems": list(last.problems[:50]), "restart_needed": list(last.restart_needed),
        },
        "reloads": live.reloads,
        "failed_reloads": live.failed_reloads,
        "counters": totals(pid, own, others, counter_names()),
        "workers": workers,
        "upstreams": [str(e) for e in live.config.upstream.servers],
    }


def run(read_config: ConfigReader, err: TextIO = sys.stderr, log_level: str = "info",
        log_format: str = "text") -> int:
    """log_level/log_format: the flags' values, for what is logged before the config is read."""
    server_log.configure(err, log_level, log_format)
    _raise_file_limit()
    try:
        config = read_config()
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        log.error("dnsfence: not started: the config file has errors")
        return EXIT_PROBLEMS
    server_log.reconfigure(config.log.level, config.log.format)
    # first start: no copy yet
    for item in update_sources(config.fetch_settings(), only_missing=True):
        (log.info if item.changed else log.warning)("dnsfence: %s", item.describe())
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir)
    for problem in result.problems:
        log.warning("%s", problem)
    if result.policy is None:
        log.error("dnsfence: not started: %d error(s) in the blocklists in %s",
                  len(result.errors), config.blocklists)
        return EXIT_PROBLEMS
    if not config.upstream.servers:
        log.error("dnsfence: not started: no upstream resolver; give --upstream HOST[:PORT] "
                  "or upstream.servers in the config")
        return EXIT_PROBLEMS
    workers = config.server.worker_count
    try:
        listeners = [bind(endpoint, reuseport=workers > 1) for endpoint in config.server.listen]
    except OSError as exc:
        hint = " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" \
            if exc.errno == 13 else ""
        log.error("dnsfence: not started: cannot listen: %s%s", exc.strerror, hint)
        return EXIT_PROBLEMS
    active = PolicyHolder(result.policy)
    seen = fingerprint(watched_paths(config, result.policy))
    signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS)
    lists = len(result.policy.lists)
    log.info("dnsfence: serving on %s (udp+tcp); %d list%s, %d of %d entries active; "
             "upstreams %s; %d worker%s",
             ", ".join(str(item.endpoint) for item in listeners), lists, "s" * (lists != 1),
             active.period.active, result.policy.size,
             ", ".join(str(e) for e in config.upstream.servers), workers, "s" * (workers != 1))
    if workers == 1:
        asyncio.run(_serve_worker(config, read_config, active, listeners, seen))
        return EXIT_OK
    return _run_workers(config, read_config, active, listeners, workers, seen)


async def _serve_worker(config: Config, read_config: ConfigReader, active: PolicyHolder,
                        listeners: list[Listener], seen: Fingerprint,
                        shared: SharedCounters | None = None, index: int = 0) -> None:
    started = time.time()
    pipeline = Pipeline.from_config(
        config, active, status_report=lambda: status_report(live, pipeline, started, shared))

    def apply_config(_old: Config, new: Config) -> None:
        pipeline.reconfigure(new)
        server_log.reconfigure(new.log.level, new.log.format)

    live = PolicyReloader(config, active, read_config, apply_config, seen=seen,
                          downloads=index == 0)
    background = [live.run()]
    if shared is not None:
        background.append(_publish_counters(pipeline, shared, index))
    await serve(listeners, pipeline, config.server.tcp_idle_timeout,
                config.server.tcp_max_connections, background=background,
                on_reload=live.request_reload)


async def _publish_counters(pipeline: Pipeline, shared: SharedCounters, index: int) -> None:
    """Copy this worker's counters to its shared slot every second, for the others' status."""
    pid = os.getpid()
    while True:
        shared.publish(index, pid, time.time(), pipeline.counters())
        await asyncio.sleep(PUBLISH_INTERVAL)


def _run_workers(config: Config, read_config: ConfigReader, active: PolicyHolder,
                 first: list[Listener], workers: int, seen: Fingerprint) -> int:
    """Fork workers sharing each port with SO_REUSEPORT; nothing mutable is shared."""
    sets = [first] + [[bind_again(item) for item in first] for _ in range(workers - 1)]
    shared = SharedCounters(workers, counter_names())
    gc.collect()
    gc.freeze()  # the loaded policy stays in shared copy-on-write pages
    children: list[int] = []
    for index, mine in enumerate(sets):
        pid = os.fork()
        if pid == 0:
            status = 1
            server_log.tag_worker(index, workers)
            try:
                for other in sets:
                    if other is not mine:
                        for item in other:
                            item.udp.close()
                            item.tcp.close()
                asyncio.run(_serve_worker(config, read_config, active, mine, seen, shared, index))
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

    for sig in CONTROL_SIGNALS:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, CONTROL_SIGNALS)
    status = EXIT_OK
    for pid in children:
        _, code = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM):
            status = EXIT_PROBLEMS
    return status
