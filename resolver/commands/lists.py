"""`dnsfence lists update`: download every URL source now and say what changed."""

from __future__ import annotations

from typing import TextIO

from resolver.commands.exit_codes import EXIT_OK, EXIT_PROBLEMS
from resolver.config.settings import Config
from resolver.fetch.updates import update_sources


def update(config: Config, *, accept_shrink: bool, out: TextIO, err: TextIO) -> int:
    updates = update_sources(config.fetch_settings(), force=True, accept_shrink=accept_shrink,
                             with_diff=True)
    if not updates:
        print("no list has a `url:` source; nothing to download", file=out)
        return EXIT_OK
    failed = 0
    for item in updates:
        bad = item.result.status in ("kept", "failed")
        failed += bad
        print(item.describe(), file=err if bad else out)
    if failed:
        print(f"dnsfence: {failed} of {len(updates)} download(s) failed; the last good copies "
              "stay in use", file=err)
        return EXIT_PROBLEMS
    return EXIT_OK
