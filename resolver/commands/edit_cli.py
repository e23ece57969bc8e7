"""The command line of the edit commands: `block add|remove`, `allow add|remove`, `list new`.

Kept apart from resolver/cli.py so that file only wires it in (`add_edit_commands` in
`build_parser`, `dispatch` in `main`); the editing code, and ruamel.yaml with it, is
imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from resolver.config.settings import Config

COMMANDS = ("block", "allow", "list")

_WHEN = ("ISO date or datetime, read in the list's time zone unless it has an offset "
         "(2023-03-20, 2023-03-20T08:00, 2023-03-20T08:00+01:00)")
_REFERENCE_ENTRY = ("why this entry is here (a ticket, a decision); written as a YAML comment "
                    "on the entry's line, since entries have no reference key yet")
_SAFE = ("The file keeps its comments and layout; the result is checked as `dnsfence lint` "
         "checks it, and the file is replaced atomically, or not at all.")


def add_edit_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `block`, `allow` and `list` on dnsfence's sub-command parsers; `common`
    adds the options every command takes (--config, --blocklists)."""
    for command, section, verb in (("block", "domains", "block"),
                                   ("allow", "allow", "allow (exceptions to blocks)")):
        parser = subparsers.add_parser(command, help=f"add or remove names a list should {verb}",
                                       description=f"Edit a list's `{section}:`. {_SAFE}")
        actions = parser.add_subparsers(dest="edit_action", metavar="ACTION", required=True)
        add = actions.add_parser("add", help=f"add names to a list's `{section}:`",
                                 description=f"Add names to a list's `{section}:`, lower case "
                                 f"and in IDNA (punycode) form. {_SAFE}")
        _names(add, "the names to add (a name also covers every name below it)")
        _list_option(add)
        add.add_argument("--effective", metavar="WHEN",
                         help=f"the entries start later than the list: {_WHEN}")
        add.add_argument("--expires", metavar="WHEN",
                         help="the entries stop before the list does (the first instant they "
                         "no longer apply; same syntax)")
        add.add_argument("--reference", metavar="TEXT", help=_REFERENCE_ENTRY)
        common(add)
        remove = actions.add_parser("remove", help=f"remove names from a list's `{section}:`",
                                    description=f"Remove names from a list's `{section}:`; a "
                                    f"name that is not there is an error. {_SAFE}")
        _names(remove, "the names to remove, as listed (any case, Unicode or punycode)")
        _list_option(remove)
        common(remove)

    lists = subparsers.add_parser("list", help="create a list file",
                                  description="Manage list files.")
    actions = lists.add_subparsers(dest="edit_action", metavar="ACTION", required=True)
    new = actions.add_parser("new", help="create a list file with no entries yet",
                             description="Create BLOCKLISTS/LIST.yaml for a new decision; "
                             "refused if the file or a list of that name exists. Add names "
                             "with `dnsfence block add NAME... --list LIST`.")
    new.add_argument("list_name", metavar="LIST", help="the list's name, also its file name")
    new.add_argument("--effective", metavar="WHEN", required=True,
                     help=f"when blocking starts: {_WHEN}")
    new.add_argument("--reference", metavar="TEXT", required=True,
                     help="the decision the list carries out (shown by `dnsfence check`)")
    new.add_argument("--timezone", metavar="TZ",
                     help="IANA time zone of the list's dates (default: the config's, else UTC)")
    new.add_argument("--expires", metavar="WHEN", help=f"when blocking stops: {_WHEN}")
    new.add_argument("--description", metavar="TEXT", help="what the list is about")
    new.add_argument("--observe-from", metavar="WHEN",
                     help="start of a warning period before --effective: matching queries are "
                     f"answered as usual but logged and counted as observed: {_WHEN}")
    common(new)


def _names(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("names", nargs="+", metavar="NAME", help=help_text)


def _list_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", dest="list_name", metavar="LIST", required=True,
                        help="the list's `name:` (by default its file name without .yaml)")


def dispatch(args: argparse.Namespace, config: Config, out: TextIO, err: TextIO) -> int | None:
    """Run the edit command `args` asks for; None when it is not one of them."""
    if getattr(args, "command", None) not in COMMANDS:
        return None
    from resolver.commands import edit
    from resolver.policy.model import Action

    if args.command == "list":
        return edit.run_new(config, args.list_name, effective=args.effective,
                            reference=args.reference, timezone=args.timezone,
                            expires=args.expires, description=args.description,
                            observe_from=args.observe_from, out=out, err=err)
    action = Action.BLOCK if args.command == "block" else Action.ALLOW
    if args.edit_action == "add":
        return edit.run_add(config, args.list_name, args.names, action,
                            effective=args.effective, expires=args.expires,
                            reference=args.reference, out=out, err=err)
    return edit.run_remove(config, args.list_name, args.names, action, out=out, err=err)
