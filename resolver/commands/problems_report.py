"""Printing problems for the admin, one `file:line: severity: message` per line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from resolver.lists.problems import Problem


def report(problems: Sequence[Problem], out: TextIO) -> None:
    for problem in problems:
        print(problem, file=out)
