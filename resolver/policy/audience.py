"""Which clients a list applies to: client groups (`clients:`) and exemptions
(`except_clients:`).

A client belongs to every group of the config's `groups:` whose network holds its
address; the server works out that set once per address (`Request.groups`). A list
without `clients:` or `except_clients:` applies to every client and carries no
audience at all, so the per-query check for it is one `is None`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Groups = frozenset[str]
"""The names of the groups a client belongs to."""

NO_GROUPS: Groups = frozenset()
"""A client in no group (and every client when no groups are configured)."""


@dataclass(frozen=True, slots=True)
class Audience:
    """A list's clients: members of any group of `only` (every client when it is empty),
    except members of any group of `excluded`."""

    only: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    _only: frozenset[str] = field(init=False, compare=False, repr=False)
    _excluded: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_only", frozenset(self.only))
        object.__setattr__(self, "_excluded", frozenset(self.excluded))

    def reaches(self, groups: Groups) -> bool:
        """Does the list apply to a client in `groups`?"""
        if self._only and self._only.isdisjoint(groups):
            return False
        return self._excluded.isdisjoint(groups)

    def group_for(self, groups: Groups) -> str:
        """The group through which the list applies to this client ("" when it applies to
        every client but the excluded ones): the first of `only` the client is in."""
        for name in self.only:
            if name in groups:
                return name
        return ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every group the audience names."""
        return self.only + self.excluded

    @property
    def text(self) -> str:
        """'only press-office', 'everyone except press-office, guests', as people say it."""
        parts = []
        if self.only:
            parts.append(f"only {', '.join(self.only)}")
        if self.excluded:
            parts.append(f"{'except' if self.only else 'everyone except'} "
                         f"{', '.join(self.excluded)}")
        return " ".join(parts)


def group_of(audience: Audience | None, groups: Groups) -> str:
    """The group a decision was made through ("" for a list that applies to everyone)."""
    return "" if audience is None else audience.group_for(groups)
