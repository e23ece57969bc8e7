"""Which forward zone a question belongs to: the longest zone its name equals or lies below.

Built once per config and asked once per forwarded question, so the common case (a name
in no zone) must cost next to nothing: one C-level `str.endswith` against every zone at
once turns away almost every name; only a name ending like a zone walks its suffixes
(`www.xcorp.example.eu` ends like `corp.example.eu` but lies in no zone of that name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class ZoneTable(Generic[T]):
    """Zone names (as `Query.qname` spells them: lower case, no trailing dot, never the
    root) to what serves each zone, e.g. its forwarder."""

    __slots__ = ("_by_name", "_ends")

    def __init__(self, by_name: Mapping[str, T]) -> None:
        if "" in by_name:
            raise ValueError("the root cannot be a zone here: it would hold every name")
        self._by_name = dict(by_name)
        self._ends = tuple(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, qname: str) -> T | None:
        """What serves the longest zone that is `qname` or a suffix of it at a label
        boundary; None when no zone holds it."""
        if not qname.endswith(self._ends):
            return None
        by_name = self._by_name
        name = qname
        while True:
            found = by_name.get(name)
            if found is not None:
                return found
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1:]
