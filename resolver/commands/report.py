"""`dnsfence report`: blocked attempts per list and day from the query log, as text, JSON
or a self-contained HTML page; the answer to "since the ban, how many attempts, from how
many devices, and is it going down?"."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from resolver.atomic_write import write_atomically
from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, CommandFailed
from resolver.config.settings import Config
from resolver.lists.load import load_policy
from resolver.policy.instants import zone
from resolver.policy.loaded import Policy
from resolver.querylog.reader import QueryLogReader, log_files
from resolver.report import html_page, json_document, text
from resolver.report.local_days import LocalDays
from resolver.report.summary import ReadFigures, summarise
from resolver.report.tally import tally


def log_path(config: Config) -> Path | None:
    """Where the server writes the query log (relative paths are in state_dir), or None
    when it writes to standard output."""
    return config.querylog.file(config.state_dir)


def policy_or_none(config: Config, err: TextIO) -> Policy | None:
    """The lists' dates for the report; a broken blocklist directory costs the dates only,
    since the log alone still says what was blocked."""
    result = load_policy(config.blocklists, config.timezone, config.lists.cache_dir,
                         groups=config.group_names, allow_missing=config.lists.allow_missing)
    if result.policy is None:
        print(f"dnsfence: warning: {len(result.errors)} error(s) in {config.blocklists} "
              "(see `dnsfence lint`); the report shows no list dates", file=err)
    return result.policy


def run(config: Config, *, log: Path | None = None, since: datetime | None = None,
        until: datetime | None = None, only: str | None = None, as_json: bool = False,
        html: Path | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    path = log if log is not None else log_path(config)
    if path is None:
        print("dnsfence: the query log goes to standard output (querylog.path: -), so there "
              "is no file to read; point --log at the file your log collector writes",
              file=err)
        raise CommandFailed(EXIT_USAGE)
    if not log_files(path):
        print(f"dnsfence: no query log at {path} (querylog.mode is "
              f"{config.querylog.mode}); give its file with --log FILE", file=err)
        raise CommandFailed(EXIT_PROBLEMS)
    policy = policy_or_none(config, err)
    reader = QueryLogReader(path, since, until)
    tallies = tally(reader, LocalDays(zone(config.timezone)), only)
    read = ReadFigures(str(path), tuple(str(f) for f in reader.files), reader.lines,
                       reader.records, reader.skipped, reader.outside)
    report = summarise(tallies, policy, timezone=config.timezone, since=since, until=until,
                       generated=datetime.now(UTC), read=read, only=only)
    if html is not None:
        try:
            # 0600: the page names clients, which are personal data even when anonymised
            write_atomically(html, html_page.page(report).encode("utf-8"), mode=0o600)
        except OSError as exc:
            print(f"dnsfence: cannot write {html}: {exc.strerror or exc}", file=err)
            raise CommandFailed(EXIT_PROBLEMS) from None
    out.write(json_document.render(report) if as_json else text.render(report))
    return EXIT_OK
