"""`dnsfence serve` in process: the status it reports, where its config comes from, and
refusing to start cleanly when something is missing."""

from __future__ import annotations

import gc
import io
import logging
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from resolver.commands import serve
from resolver.commands.exit_codes import EXIT_PROBLEMS
from resolver.config.endpoints import Endpoint
from resolver.config.load import defaults
from resolver.config.settings import Config
from tests.commands.cli_runner import STAGED, write_tree

UPSTREAM = (Endpoint("192.0.2.1", 53),)


LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) (.*)")


@pytest.fixture(autouse=True)
def logger_restored() -> Iterator[None]:
    """`run` points the dnsfence (and asyncio) logger at its stream; other tests get them
    back as they were."""
    loggers = [logging.getLogger(name) for name in ("dnsfence", "asyncio")]
    saved = [(log.handlers[:], log.level, log.propagate) for log in loggers]
    yield
    for log, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        log.handlers[:], log.level, log.propagate = handlers, level, propagate


def logged(text: str) -> list[tuple[str, str]]:
    """(level, message) of each log line; every line must carry a timestamp and a level."""
    lines = [LINE.fullmatch(line) for line in text.splitlines()]
    assert all(lines), text
    return [(m[1], m[2]) for m in lines if m]


def staged_config(root: Path) -> Config:
    write_tree(root, {"blocklists/social.yaml": STAGED})
    return defaults().with_overrides(blocklists=root / "blocklists",
                                     **{"upstream.servers": UPSTREAM})


def test_config_reader_flags_win_over_the_file_and_resolv_conf_fills_upstreams(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_tree(tmp_path, {"dnsfence.yaml": "timezone: Asia/Kolkata\nupstream:\n"
                                                  "  servers: [192.0.2.7]\n"}) / "dnsfence.yaml"
    flags = {"blocklists": Path("/srv/lists"), "upstream.servers": None}
    config = serve.config_reader(str(path), flags)()
    assert (config.timezone, config.blocklists) == ("Asia/Kolkata", Path("/srv/lists"))
    assert config.upstream.servers == (Endpoint("192.0.2.7", 53),)
    flagged = serve.config_reader(str(path), {"upstream.servers": UPSTREAM})()
    assert flagged.upstream.servers == UPSTREAM
    excluded: list[tuple[Endpoint, ...]] = []

    def resolv_conf(exclude: tuple[Endpoint, ...] = ()) -> tuple[Endpoint, ...]:
        excluded.append(exclude)
        return (Endpoint("192.0.2.9", 53),)

    monkeypatch.setattr(serve, "resolv_conf_servers", resolv_conf)
    fallback = serve.config_reader(None, {"server.listen": (Endpoint("127.0.0.1", 53),)})()
    assert fallback.upstream.servers == (Endpoint("192.0.2.9", 53),)
    assert excluded == [(Endpoint("127.0.0.1", 53),)]  # never forward to ourselves


def test_a_config_with_errors_is_not_started(tmp_path: Path) -> None:
    path = write_tree(tmp_path, {"dnsfence.yaml": "cache:\n  max_ttl: forever\n"})
    err = io.StringIO()
    assert serve.run(serve.config_reader(str(path / "dnsfence.yaml"), {}), err) == EXIT_PROBLEMS
    lines = logged(err.getvalue())
    assert lines[0][0] == "ERROR" and "dnsfence.yaml:2:12: error: `cache.max_ttl`" in lines[0][1]
    assert lines[-1] == ("ERROR", "dnsfence: not started: the config file has errors")


def test_blocklists_with_errors_are_not_started(tmp_path: Path) -> None:
    write_tree(tmp_path, {"lists/a.yaml": "effective: 2023-03-20\ndomains: [a..b]\n"})
    config = defaults().with_overrides(blocklists=tmp_path / "lists",
                                       **{"upstream.servers": UPSTREAM})
    err = io.StringIO()
    assert serve.run(lambda: config, err) == EXIT_PROBLEMS
    assert logged(err.getvalue())[-1] == \
        ("ERROR", f"dnsfence: not started: 1 error(s) in the blocklists in {tmp_path / 'lists'}")


def test_no_upstream_is_not_started(tmp_path: Path) -> None:
    config = staged_config(tmp_path).with_overrides(**{"upstream.servers": ()})
    err = io.StringIO()
    assert serve.run(lambda: config, err) == EXIT_PROBLEMS
    assert logged(err.getvalue()) == [("ERROR", "dnsfence: not started: no upstream resolver; "
                                                "give --upstream HOST[:PORT] or upstream.servers "
                                                "in the config")]


def test_a_dashboard_off_loopback_without_a_token_is_not_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DNSFENCE_HTTP_TOKEN", raising=False)
    config = staged_config(tmp_path).with_overrides(
        **{"http.listen": Endpoint("0.0.0.0", 0), "server.listen": (Endpoint("127.0.0.1", 0),)})
    err = io.StringIO()
    assert serve.run(lambda: config, err) == EXIT_PROBLEMS
    [(level, message)] = logged(err.getvalue())
    assert level == "ERROR" and message.startswith(
        "dnsfence: not started: http.listen is 0.0.0.0:0, which is not loopback")
    assert "http.token_file" in message and "DNSFENCE_HTTP_TOKEN" in message
    assert "http.dashboard: false" in message


def test_a_full_query_log_queue_starts_no_young_collection() -> None:
    """The writer's queued records (a record and its query each, up to `querylog.queue`
    records) must not make the young generation's collections scan them again and again."""
    threshold = gc.get_threshold()
    gc.collect()
    serve._tune_garbage_collector()
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        queue: deque[tuple[object, ...]] = deque()
        for n in range(defaults().querylog.queue):
            query = (n, 0x0100, f"x{n}.example", 1, 1, b"", None)
            queue.append((float(n), "192.0.2.1", "", query, None, 3, None, "", None, False))
        assert len(queue) == defaults().querylog.queue
    finally:
        gc.callbacks.remove(count)
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert started == []
