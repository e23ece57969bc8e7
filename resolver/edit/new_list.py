"""The text of a new list file (`dnsfence list new`), keys in the order the README documents."""

from __future__ import annotations

import json
import textwrap

from resolver.edit.scalars import STR_TAGS, reads_back, scalar

_TEXT_WIDTH = 92  # wrap long free text (reference, description) in new files here

def _text_field(key: str, value: str) -> list[str]:
    """`key: value`, folded over several lines (`>-`) when long or when plain won't do."""
    value = " ".join(value.split())
    line = f"{key}: {value}"
    if len(line) <= _TEXT_WIDTH and reads_back(value, STR_TAGS):
        return [line]
    if len(line) <= _TEXT_WIDTH or not value.isprintable():
        return [f"{key}: {json.dumps(value, ensure_ascii=False)}"]
    wrapped = textwrap.wrap(value, _TEXT_WIDTH - 2, break_long_words=False,
                            break_on_hyphens=False)
    return [f"{key}: >-", *("  " + part for part in wrapped)]


def new_list_text(name: str, *, effective: str, reference: str, timezone: str,
                  expires: str | None = None, description: str | None = None,
                  observe_from: str | None = None) -> str:
    """A new list file with no entries yet, keys in the order the README documents."""
    lines = [f"name: {scalar(name)}"]
    if description:
        lines += _text_field("description", description)
    lines += _text_field("reference", reference)
    if observe_from is not None:
        lines.append(f"observe_from: {scalar(observe_from, when=True)}")
    lines.append(f"effective: {scalar(effective, when=True)}")
    if expires is not None:
        lines.append(f"expires: {scalar(expires, when=True)}")
    lines.append(f"timezone: {scalar(timezone)}")
    lines.append("domains:")
    return "\n".join(lines) + "\n"
