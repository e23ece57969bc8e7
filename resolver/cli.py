"""`dnsfence` command line: argument parsing only; the work is in resolver.commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from resolver import __version__
from resolver.commands.edit_cli import add_edit_commands
from resolver.commands.edit_cli import dispatch as dispatch_edit
from resolver.commands.effective_config import settings
from resolver.commands.exit_codes import EXIT_USAGE, CommandFailed
from resolver.commands.instant_option import instant_or_fail
from resolver.config.endpoints import Endpoint, parse_endpoint, parse_server
from resolver.config.log import FORMATS, LEVELS
from resolver.config.server import parse_workers


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="config file (YAML); flags given here override it")
    parser.add_argument("--blocklists", metavar="DIR",
                        help="directory of blocklist files (default: ./blocklists)")


def _endpoint(default_port: int) -> Callable[[str], Endpoint]:
    def parse(text: str) -> Endpoint:
        try:
            return parse_endpoint(text, default_port)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _server(text: str) -> Endpoint:
    try:
        return parse_server(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dnsfence",
        description="A DNS forwarder that answers NXDOMAIN for names on dated blocklists.")
    parser.add_argument("--version", action="version", version=f"dnsfence {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lint = commands.add_parser("lint", help="check the blocklists and report every problem")
    _common(lint)
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too")

    check = commands.add_parser("check", help="is a name blocked, and why")
    _common(check)
    check.add_argument("names", nargs="+", metavar="NAME")
    check.add_argument("--at", metavar="WHEN",
                       help="ISO date or datetime (default: now; no offset = config time zone)")
    check.add_argument("--json", action="store_true", help="one JSON object per name per line")
    check.add_argument("--client", metavar="IP",
                       help="explain for this client address (its `groups:`; default: a "
                            "client in no group)")

    schedule = commands.add_parser("schedule", help="when lists and entries start and end")
    _common(schedule)
    schedule.add_argument("--from", dest="start", metavar="WHEN", help="first instant shown")
    schedule.add_argument("--until", metavar="WHEN", help="instants from here on are not shown")
    schedule.add_argument("--json", action="store_true",
                          help="one JSON object per transition per line")

    lists = commands.add_parser("lists", help="manage list sources")
    lists_commands = lists.add_subparsers(dest="lists_command", metavar="ACTION", required=True)
    lists_update = lists_commands.add_parser(
        "update", help="download every `url:` source now and print +added/-removed")
    _common(lists_update)
    lists_update.add_argument("--accept-shrink", action="store_true",
                              help="take downloads that lost more than the allowed share")

    status = commands.add_parser("status", help="ask the running server how it is doing")
    _common(status)
    status.add_argument("--server", type=_endpoint(53), metavar="HOST:PORT",
                        help="the server to ask (default: the first listen address)")
    status.add_argument("--json", action="store_true", help="the raw status as JSON")

    health = commands.add_parser(
        "healthcheck", help="exit 0 if the running server is healthy, 1 if not (one line why)")
    _common(health)
    health.add_argument("--listen", action="append", type=_endpoint(53), metavar="HOST:PORT",
                        help="the DNS addresses `serve` was given by flag, if any (asked "
                             "when HTTP is off)")
    health.add_argument("--http-listen", type=_optional_endpoint(9153), metavar="HOST:PORT",
                        help="the HTTP address `serve` was given by flag, if any (empty = "
                             "none: ask DNS instead)")
    health.add_argument("--timeout", type=_seconds, default=3.0, metavar="SECONDS",
                        help="give up and report unhealthy after this long (default: 3)")

    report = commands.add_parser(
        "report", help="blocked attempts per list and day, from the query log")
    _common(report)
    report.add_argument("--since", metavar="WHEN", help="first instant counted (inclusive)")
    report.add_argument("--until", metavar="WHEN", help="instants from here on are not counted")
    report.add_argument("--list", dest="only", metavar="NAME", help="this list only")
    report.add_argument("--log", metavar="FILE",
                        help="the query log file to read (default: querylog.path in "
                             "state_dir); its rotated files FILE.1, FILE.2... are read too")
    report.add_argument("--json", action="store_true", help="the report as one JSON document")
    report.add_argument("--html", metavar="FILE",
                        help="also write the report as one self-contained HTML page")

    serve = commands.add_parser("serve", help="run the DNS server")
    _common(serve)
    serve.add_argument("--listen", action="append", type=_endpoint(53), metavar="HOST:PORT",
                       help="address to serve on, UDP and TCP (repeatable; port 0 = any free)")
    serve.add_argument("--upstream", action="append", type=_server, metavar="HOST[:PORT]",
                       help="resolver to forward to, tried in order (repeatable); "
                            "tls://HOST[:PORT]#NAME for DNS over TLS")
    serve.add_argument("--workers", type=_worker_count, metavar="N|auto",
                       help="worker processes sharing the port (default from config: auto, "
                            "one per CPU)")
    serve.add_argument("--state-dir", metavar="DIR",
                       help="directory for the query log and its key (default from config: "
                            "./.dnsfence-state)")
    serve.add_argument("--http-listen", type=_optional_endpoint(9153), metavar="HOST:PORT",
                       help="address for /metrics, /healthz and the dashboard (default from "
                            "config: 127.0.0.1:9153; empty = none)")
    serve.add_argument("--log-level", choices=LEVELS,
                       help="least severe server log level written (default from config: info)")
    serve.add_argument("--log-format", choices=FORMATS,
                       help="server log lines as text or JSON, one object per line "
                            "(default from config: text)")
    add_edit_commands(commands, _common)
    return parser


def _optional_endpoint(default_port: int) -> Callable[[str], Endpoint | str]:
    """An endpoint, or "" for none at all."""
    parse = _endpoint(default_port)

    def parse_or_none(text: str) -> Endpoint | str:
        return "" if not text.strip() else parse(text)
    return parse_or_none


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"must be seconds from 0 to 600, not {text!r}")
    return value


def _worker_count(text: str) -> int | str:
    try:
        return parse_workers(int(text) if text.lstrip("-").isdigit() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"workers {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "serve":  # reads its own config: its errors are server log lines
            from resolver.commands import serve
            overrides = {"blocklists": Path(args.blocklists) if args.blocklists else None,
                         "server.listen": tuple(args.listen) if args.listen else None,
                         "upstream.servers": tuple(args.upstream) if args.upstream else None,
                         "server.workers": args.workers,
                         "http.listen": args.http_listen,
                         "state_dir": Path(args.state_dir) if args.state_dir else None,
                         "log.level": args.log_level, "log.format": args.log_format}
            return serve.run(serve.config_reader(args.config, overrides), err=err,
                             log_level=args.log_level or "info",
                             log_format=args.log_format or "text")
        config = settings(args.config, args.blocklists, err)
        edited = dispatch_edit(args, config, out, err)
        if edited is not None:
            return edited
        if args.command == "lint":
            from resolver.commands import lint
            return lint.run(config, strict=args.strict, out=out, err=err)
        if args.command == "check":
            from resolver.commands import check
            from resolver.commands.loaded_policy import policy_or_fail
            at = instant_or_fail(args.at, config, err)
            client = None
            if args.client is not None:
                try:
                    client = check.client_of(args.client, config.server.allow_clients,
                                             config.groups)
                except ValueError as exc:
                    print(f"dnsfence: {exc}", file=err)
                    return EXIT_USAGE
            policy, _ = policy_or_fail(config, err)
            return check.run(policy, args.names, at, as_json=args.json, out=out,
                             client=client)
        if args.command == "schedule":
            from resolver.commands import schedule
            from resolver.commands.loaded_policy import policy_or_fail
            start = instant_or_fail(args.start, config, err)
            until = instant_or_fail(args.until, config, err)
            policy, _ = policy_or_fail(config, err)
            return schedule.run(policy, start, until, as_json=args.json, out=out)
        if args.command == "lists":
            from resolver.commands import lists
            return lists.update(config, accept_shrink=args.accept_shrink, out=out, err=err)
        if args.command == "status":
            from resolver.commands import status
            return status.run(config, args.server, as_json=args.json, out=out, err=err)
        if args.command == "healthcheck":
            from resolver.commands import healthcheck
            config = healthcheck.with_flags(config, args.listen, args.http_listen)
            return healthcheck.run(config, timeout=args.timeout, out=out)
        if args.command == "report":
            from resolver.commands import report
            since = instant_or_fail(args.since, config, err)
            until = instant_or_fail(args.until, config, err)
            return report.run(config, log=Path(args.log) if args.log else None, since=since,
                              until=until, only=args.only, as_json=args.json,
                              html=Path(args.html) if args.html else None, out=out, err=err)
    except CommandFailed as failed:
        return failed.status
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE
