"""The policy as loaded: every list of a blocklist directory, with the index built from them.

Apart from the model, because the index is made of the model's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resolver.policy.index import PolicyIndex
from resolver.policy.model import AnyRule, BlockList, Location, Rule


@dataclass(frozen=True, slots=True)
class MissingSource:
    """A `url:` source the policy was loaded without: it has never been downloaded.

    The policy holds the rest of its list; `dnsfence status` and `/healthz` show it, and
    the server keeps trying to download it, then reloads.
    """

    list_name: str
    url: str
    location: Location  # where the source is written in the list file
    sidecar: str        # the cache file whose appearance means it has arrived


@dataclass(frozen=True, slots=True)
class Policy:
    """Every list of a blocklist directory, validated as a whole.

    `index` is built once by the loader (None for a Policy made by hand; the
    server then builds it): for a million source names it is the costly part.
    """

    lists: tuple[BlockList, ...]
    default_timezone: str = "UTC"
    index: PolicyIndex | None = field(default=None, compare=False, repr=False)
    source_paths: tuple[str, ...] = field(default=(), compare=False, repr=False)
    missing_sources: tuple[MissingSource, ...] = field(default=(), compare=False, repr=False)

    def list_named(self, name: str) -> BlockList | None:
        for blocklist in self.lists:
            if blocklist.name == name:
                return blocklist
        return None

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for blocklist in self.lists for rule in blocklist.rules)

    @property
    def entries(self) -> tuple[AnyRule, ...]:
        """Every rule-like entry: YAML rules, source groups and regexes (for time questions)."""
        found: list[AnyRule] = []
        for blocklist in self.lists:
            found.extend(blocklist.rules)
            found.extend(blocklist.sources)
            found.extend(blocklist.regexes)
        return tuple(found)

    @property
    def size(self) -> int:
        return sum(b.size for b in self.lists)
