"""Problems printed for the admin, one `file:line: severity: message` a line."""

from __future__ import annotations

import io

from resolver.commands.problems_report import report
from resolver.lists.problems import Problem
from resolver.policy.model import Location


def test_one_line_per_problem_in_order() -> None:
    out = io.StringIO()
    report([Problem(Location("lists/a.yaml", 4, 5), "bad name"),
            Problem(Location("lists/b.yaml", 2), "covered twice", "warning")], out)
    assert out.getvalue().splitlines() == ["lists/a.yaml:4:5: error: bad name",
                                           "lists/b.yaml:2: warning: covered twice"]


def test_nothing_to_report_prints_nothing() -> None:
    out = io.StringIO()
    report([], out)
    assert out.getvalue() == ""
