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
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from resolver import HOT_MODULES, server_log
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.commands.http_service import Served, serve_http
from resolver.commands.listen_errors import cannot_listen
from resolver.commands.reload_thread import ReloadThread
from resolver.commands.service_notices import ReloadAnswer, ServiceNotices, SighupReloads
from resolver.commands.startup_sources import first_downloads, log_first_load
from resolver.commands.supervisor import SIGNALS, Supervisor, doorbell
from resolver.commands.supervisor_report import SupervisorReport
from resolver.commands.worker_process import WorkerSeat, release_memory
from resolver.commands.worker_report import (
    fresh_reports,
    publish_every_second,
    publisher,
    status_report,
)
from resolver.config.endpoints import resolv_conf_servers
from resolver.config.http import TokenError, access_token
from resolver.config.load import ConfigError, defaults, load_config
from resolver.config.settings import Config
from resolver.counters import SharedCounters
from resolver.fetch.backoff import RetrySchedule
from resolver.fetch.updates import url_sources
from resolver.http_server import HttpListener
from resolver.lists.load import load_policy
from resolver.pipeline import Pipeline, counter_names, level_names
from resolver.policy.period import PolicyHolder
from resolver.reload import (
    Fingerprint,
    PolicyReloader,
    download_check_interval,
    fingerprint,
    watched_paths,
)
from resolver.server import CONTROL_SIGNALS, Listener, bind, bind_again, serve
from resolver.service_manager import ServiceManager
from resolver.udp_batch import choose

log = logging.getLogger("dnsfence")

ConfigReader = Callable[[], Config]


def config_reader(config_file: str | None, overrides: dict[str, Any]) -> ConfigReader:
    """Reads the config (file, then command-line overrides, then resolv.conf upstreams).

    Called at start-up and again on every reload, so flags keep winning over the file.
    Raises ConfigError.
    """
    given = dict(overrides)
    http_off = given.get("http.listen") == ""  # `--http-listen ''`: no HTTP at all
    if http_off:
        del given["http.listen"]

    def read() -> Config:
        config = load_config(Path(config_file)) if config_file else defaults()
        config = config.with_overrides(**given)
        if http_off:
            config = replace(config, http=replace(config.http, listen=None))
        if not config.upstream.servers:
            found = resolv_conf_servers(exclude=config.server.listen)
            config = config.with_overrides(**{"upstream.servers": found or None})
        return config
    return read


GC_YOUNG_THRESHOLD = 200_000
"""Allocations between two collections of the young generation (Python's default: 700).
Query-log records wait up to 0.2 s for their writer: at 100k blocked queries a second
that is 40,000 objects (a record and its query each). A threshold below what a full queue
holds (`querylog.queue`, 65,536 records by default: 131,072 objects) made the young
collections scan and promote them, over and over; above it, the log alone never starts
one (docs/BENCHMARKS.md, "The query log" and "Performance, second round")."""


def _tune_garbage_collector() -> None:
    """Leave the loaded policy out of every collection, and collect the young less often.

    Frozen before the fork, the policy also stays in pages the workers share."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _raise_file_limit() -> None:
    """Each upstream query in flight holds a socket: allow as many as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def run(read_config: ConfigReader, err: TextIO = sys.stderr, log_level: str = "info",
        log_format: str = "text") -> int:
    """log_level/log_format: the flags' values, for what is logged before the config is read."""
    server_log.configure(err, log_level, log_format)
    manager = ServiceManager.from_environment()  # out of the environment before any fork
    _raise_file_limit()
    try:
        config = read_config()
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        log.error("dnsfence: not started: the config file has errors")
        return EXIT_PROBLEMS
    server_log.reconfigure(config.log.level, config.log.format)
    try:  # before anything is downloaded or bound: a refusal costs nothing
        token = access_token(config.http) if config.http.listen is not None else None
    except TokenError as exc:
        log.error("dnsfence: not started: %s", exc)
        return EXIT_PROBLEMS
    retries = first_downloads(config)  # sources with no copy yet, within a time budget
    active = _load_at_start(config, retries)
    if active is None:
        return EXIT_PROBLEMS
    if not config.upstream.servers:
        log.error("dnsfence: not started: no upstream resolver; give --upstream HOST[:PORT] "
                  "or upstream.servers in the config")
        return EXIT_PROBLEMS
    workers = config.server.worker_count
    listeners: list[Listener] = []
    for endpoint in config.server.listen:
        try:
            listeners.append(bind(endpoint, reuseport=workers > 1))
        except OSError as exc:
            log.error("%s", cannot_listen(endpoint, exc))
            for listener in listeners:
                listener.udp.close()
                listener.tcp.close()
            return EXIT_PROBLEMS
    http: HttpListener | None = None
    if config.http.listen is not None:
        try:
            http = HttpListener(config.http.listen)
        except OSError as exc:
            log.error("dnsfence: not started: cannot serve HTTP on %s: %s; set http.listen to "
                      "another address, or to empty to turn /metrics and /healthz off",
                      config.http.listen, exc.strerror or exc)
            for listener in listeners:
                listener.udp.close()
                listener.tcp.close()
            return EXIT_PROBLEMS
        served = "/metrics, /healthz" + (", dashboard /" if config.http.dashboard else "")
        guarded = "; a token is required for all but /healthz" if token else ""
        log.info("dnsfence: http on %s (%s%s)", http.endpoint, served, guarded,
                 extra={"event": "http_listening", "address": str(http.endpoint),
                        "token": token is not None})
    seen = fingerprint(watched_paths(config, active.policy))
    # held back until there are handlers; with several workers, SIGCHLD and the
    # reloader's doorbell too, blocked before any thread starts (see supervisor.py)
    signal.pthread_sigmask(signal.SIG_BLOCK, CONTROL_SIGNALS if workers == 1 else SIGNALS)
    lists = len(active.policy.lists)
    log.info("dnsfence: serving on %s (udp+tcp); %d list%s, %d of %d entries active; "
             "upstreams %s; %d worker%s",
             ", ".join(str(item.endpoint) for item in listeners), lists, "s" * (lists != 1),
             active.period.active, active.policy.size,
             ", ".join(str(e) for e in config.upstream.servers), workers, "s" * (workers != 1),
             extra={"event": "serving", "listen": [str(item.endpoint) for item in listeners],
                    "lists": lists, "active_entries": active.period.active,
                    "entries": active.policy.size, "workers": workers,
                    "upstreams": [str(e) for e in config.upstream.servers]})
    udp_io = choose(config.server.batch_io)
    log.info("dnsfence: UDP I/O %s", udp_io.description,
             extra={"event": "udp_io", "batched": udp_io.batched,
                    "description": udp_io.description})
    log.log(logging.WARNING if HOT_MODULES.stale else logging.INFO,
            "dnsfence: hot modules %s%s", HOT_MODULES.description,
            f"; changed since: {', '.join(HOT_MODULES.stale)}" if HOT_MODULES.stale else "",
            extra={"event": "hot_modules", "compiled": HOT_MODULES.compiled,
                   "description": HOT_MODULES.description, "stale": list(HOT_MODULES.stale)})
    for zone in config.forward_zones:
        log.info("dnsfence: forward zone %s to %s", zone.name,
                 ", ".join(str(e) for e in zone.servers),
                 extra={"event": "forward_zone", "zone": zone.name,
                        "servers": [str(e) for e in zone.servers]})
    notices = ServiceNotices(manager, "serving DNS on {} with {} worker{}{}".format(
        ", ".join(str(item.endpoint) for item in listeners), workers, "s" * (workers != 1),
        "" if http is None else f", HTTP on {http.endpoint}"))
    _tune_garbage_collector()
    if workers == 1:
        try:
            asyncio.run(_serve_alone(config, read_config, active, listeners, seen, http,
                                     retries, notices, token))
        finally:
            if http is not None:
                http.close()
        return EXIT_OK
    return _run_workers(config, read_config, active, listeners, workers, seen, http, retries,
                        notices, token)


def _load_at_start(config: Config, retries: RetrySchedule) -> PolicyHolder | None:
    """The policy to start with (None: errors, logged). Only the holder keeps it, so that
    with several workers a reload can free it."""
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names, allow_missing=config.lists.allow_missing)
    log_first_load(result, retries)
    if result.policy is None:
        log.error("dnsfence: not started: %d error(s) in the blocklists in %s",
                  len(result.errors), config.blocklists)
        return None
    return PolicyHolder(result.policy)


def _check_interval(config: Config) -> float:
    return download_check_interval(
        spec.refresh for spec in url_sources(config.blocklists, config.timezone))


async def _serve_alone(config: Config, read_config: ConfigReader, active: PolicyHolder,
                       listeners: list[Listener], seen: Fingerprint,
                       http: HttpListener | None, retries: RetrySchedule,
                       notices: ServiceNotices, token: str | None) -> None:
    """A single-process server: it answers, reloads and downloads itself (`retries`: the
    start-up's failed downloads, which it goes on with). This process is the main one, so
    it tells the service manager itself; a reload applies at once, so READY=1 follows it."""
    started = time.time()
    udp_io = choose(config.server.batch_io)
    shared = SharedCounters(1, counter_names())
    pipeline = Pipeline.from_config(
        config, active,
        status_report=lambda: status_report(live.state, lambda: live.config, pipeline,
                                            started, shared, udp_io.description))

    def apply_config(_old: Config, new: Config) -> None:
        pipeline.reconfigure(new)
        server_log.reconfigure(new.log.level, new.log.format)

    live = PolicyReloader(config, active, read_config, apply_config, seen=seen,
                          refresh_every=_check_interval(config), retries=retries)
    sighups = SighupReloads(live)

    def sighup() -> None:
        notices.sighup()
        sighups.request()

    def changed() -> None:
        report = sighups.answer()
        if report is not None:
            notices.answered(ReloadAnswer(sighups.received, report, None), live.loaded_at)

    live.on_change = changed
    publish = publisher(pipeline, live.state, shared, 0)
    if http is not None:
        reports = fresh_reports(asyncio.get_running_loop(), publish, shared)
        serve_http(http, reports, lambda: [os.getpid()], 1, listeners[0].endpoint,
                    Served(live, shared, started, token))
    await serve(listeners, pipeline, config.server.tcp_idle_timeout,
                config.server.tcp_max_connections,
                background=[live.run(), publish_every_second(publish)],
                on_reload=sighup, on_serving=lambda: notices.settled(1),
                udp_io=udp_io,
                on_stopping=lambda: notices.stopping(
                    "stopping: finishing the queries in flight"))


def _run_workers(config: Config, read_config: ConfigReader, active: PolicyHolder,
                 first: list[Listener], workers: int, seen: Fingerprint,
                 http: HttpListener | None, retries: RetrySchedule,
                 notices: ServiceNotices, token: str | None) -> int:
    """Several workers under a supervisor (this process), sharing each port with
    SO_REUSEPORT: one set of sockets per worker index, held open here for its successors.

    This process keeps `/metrics` and `/healthz` (from the shared reports), so a scrape
    sees every worker, and a dead one shows in `/healthz`.
    """
    sets = [first] + [[bind_again(item) for item in first] for _ in range(workers - 1)]
    # room for two generations at once (a reload's old and new workers) and the supervisor
    shared = SharedCounters(workers, counter_names(), slots=2 * workers + 1)
    report = SupervisorReport(shared, 2 * workers, level_names())
    main = threading.get_ident()

    def apply_config(_old: Config, new: Config) -> None:
        server_log.reconfigure(new.log.level, new.log.format)  # the workers start anew

    live = PolicyReloader(config, active, read_config, apply_config, seen=seen,
                          refresh_every=_check_interval(config), retries=retries)
    reloader = ReloadThread(live, report, lambda: doorbell(main))
    supervisor = Supervisor(WorkerSeat(workers, sets, shared, http), reloader, report,
                            notices=notices)
    release_memory()  # before the first fork, as before each later one
    try:
        reloader.start()
        if http is not None:
            serve_http(http, shared.read, lambda: supervisor.pids, workers, first[0].endpoint,
                        Served(live, shared, time.time(), token))
        return supervisor.run()
    finally:
        reloader.stop()
        if http is not None:
            http.close()
        for listeners in sets:
            for item in listeners:
                item.udp.close()
                item.tcp.close()
