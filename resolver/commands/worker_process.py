"""A worker of a supervised server: forked from the supervisor with one generation's policy.

The policy is never loaded here: the supervisor built it once, and every worker reads the
same pages, shared copy-on-write, for as long as it lives. A worker does not reload
either; a reload is a new generation of workers. So a worker only answers, reports its
counters to its shared slot, and retires when told: it stops reading (its successor reads
the same sockets, so nothing queued in them is lost), answers what it has in flight,
copies its counters one last time and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from resolver import server_log
from resolver.commands.worker_report import (
    publish_every_second,
    publisher,
    status_report,
    supervisor_state,
)
from resolver.config.settings import Config
from resolver.counters import SharedCounters
from resolver.http_server import HttpListener
from resolver.pipeline import Pipeline
from resolver.policy.loaded import Policy
from resolver.policy.period import PolicyHolder
from resolver.server import CONTROL_SIGNALS, RETIRE_SIGNAL, Listener, serve
from resolver.udp_batch import choose

log = logging.getLogger("dnsfence")

DRAIN_MARGIN = 1.0
"""Seconds a retiring worker waits beyond the upstream deadline for its last answers."""


@dataclass(frozen=True, slots=True)
class Generation:
    """A policy and the config it was loaded with: what the workers of one reload serve."""

    number: int
    config: Config
    policy: Policy


@dataclass(frozen=True, slots=True)
class WorkerSeat:
    """What every worker of a server is started with, whatever its generation."""

    count: int
    """How many workers serve at once (`server.workers`)."""
    sockets: list[list[Listener]]
    """One set of listening sockets per worker index, held open by the supervisor: a
    successor reads the very sockets its predecessor read (bound anew only after they
    were given up for a long restart delay)."""
    shared: SharedCounters
    http: HttpListener | None
    supervisor: int = field(default_factory=os.getpid)
    """The supervisor's pid: a worker whose supervisor is gone stops too."""


_PR_SET_PDEATHSIG = 1


def _end_with(supervisor: int) -> None:
    """Have the kernel send SIGTERM to this worker when its supervisor dies (killed by the
    OOM killer, say), so no worker is left holding the port without one (Linux only)."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != supervisor:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def release_memory() -> None:
    """Collect what is garbage now, leave the rest out of every later collection (so no
    worker's collector writes to the pages it shares), and give freed heap back."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; musl has none
    if trim is not None:
        trim(0)


def start_worker(generation: Generation, index: int, slot: int, seat: WorkerSeat) -> int:
    """Fork worker `index` (reporting to `slot`); the pid, in the supervisor.

    Log handlers are held across the fork: no other thread of the supervisor is then
    halfway through a log line, whose lock the child would inherit taken.
    """
    handlers = list(log.handlers)
    for handler in handlers:
        handler.acquire()
    pid = -1
    try:
        sys.stderr.flush()
        pid = os.fork()
    finally:
        if pid != 0:  # in the child, logging has made the locks anew (unheld)
            for handler in handlers:
                handler.release()
    if pid == 0:
        _child(generation, index, slot, seat)
    return pid


def stop_workers(pids: Collection[int], timeout: float) -> bool:
    """SIGTERM to every worker, SIGKILL to those still there after `timeout` seconds (in
    the supervisor, SIGCHLD blocked); whether each one ended cleanly (exit 0, or by the
    SIGTERM or SIGINT it was sent), none killed."""
    left_over = set(pids)
    clean = True
    for pid in left_over:
        with contextlib.suppress(ProcessLookupError):  # exited: reaped below
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while left_over:
        while left_over:  # reap first: a SIGCHLD may have been taken already
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                left_over.clear()
                break
            if pid == 0:
                break
            if pid in left_over:
                left_over.discard(pid)
                if os.waitstatus_to_exitcode(code) not in (0, -signal.SIGTERM, -signal.SIGINT):
                    clean = False
        left = deadline - time.monotonic()
        if not left_over or left <= 0:
            break
        signal.sigtimedwait({signal.SIGCHLD}, min(left, 0.1))
    for pid in left_over:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        clean = False
    return clean


def _child(generation: Generation, index: int, slot: int, seat: WorkerSeat) -> NoReturn:
    status = 1
    try:
        # The supervisor's signals stay blocked until `serve` has handlers for them.
        signal.pthread_sigmask(signal.SIG_SETMASK, CONTROL_SIGNALS | {RETIRE_SIGNAL})
        _end_with(seat.supervisor)
        server_log.tag_worker(index, seat.count)
        if seat.http is not None:
            seat.http.close_in_child()  # the supervisor serves /metrics
        for number, listeners in enumerate(seat.sockets):
            if number != index:
                for item in listeners:
                    item.udp.close()
                    item.tcp.close()
        asyncio.run(_serve(generation, seat.sockets[index], seat.shared, slot))
        status = 0
    except BaseException:
        log.exception("dnsfence: worker %d failed", index + 1)
    finally:
        os._exit(status)


async def _serve(generation: Generation, listeners: Sequence[Listener],
                 shared: SharedCounters, slot: int) -> None:
    config = generation.config
    started = time.time()
    udp_io = choose(config.server.batch_io)  # this generation's config
    active = PolicyHolder(generation.policy)
    state = supervisor_state(shared)
    pipeline = Pipeline.from_config(
        config, active,
        status_report=lambda: status_report(state, lambda: config, pipeline, started, shared,
                                            udp_io.description))
    publish = publisher(pipeline, None, shared, slot)
    try:
        await serve(list(listeners), pipeline, config.server.tcp_idle_timeout,
                    config.server.tcp_max_connections,
                    background=[publish_every_second(publish)], on_reload=_not_here,
                    retire=True, drain=config.upstream.deadline + DRAIN_MARGIN,
                    udp_io=udp_io)
    finally:
        publish()  # the last copy: the supervisor keeps its totals once this worker exits


def _not_here() -> None:
    log.info("dnsfence: SIGHUP to a worker is ignored: send it to the supervisor (pid %d), "
             "which reloads once for every worker", os.getppid())
