"""Changing a list file's entries so that only the changed lines differ.

ruamel.yaml's round-trip composer gives every node of the file with its exact
span; the change is spliced into the original text at those spans instead of
re-dumping the document. A full round-trip dump is not byte-faithful: it re-folds
`reference: >-` at its line width (the shipped tiktok.yaml), drops `---`, and
re-spaces flow sequences, keys and block scalars, and an admin reviewing the
edit must see only the lines that changed. New lines copy the layout of their
neighbours (indentation, the space after `-`, the column of trailing comments).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from resolver.edit.document import (
    SECTION,
    EditError,
    Entry,
    ListDocument,
    entry_fields,
    entry_name,
    find_section,
    is_null,
    read_document,
    section_items,
)
from resolver.edit.scalars import scalar
from resolver.policy.model import Action

# --- text positions --------------------------------------------------------------------------

def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just past the line break ending the line that holds `index` (or the end)."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _content_end(text: str, index: int) -> int:
    """Index of the line break (CR LF or LF) ending the line that holds `index`."""
    end = text.find("\n", index)
    if end < 0:
        return len(text)
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def _leaf_end(node: Node) -> int:
    """Where a node's last character is; a block mapping's own end mark runs on into the
    comments and blank lines after it, its last scalar's does not."""
    if isinstance(node, ScalarNode) or getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    children: list[Node] = []
    for child in node.value:
        children.extend(child if isinstance(child, tuple) else (child,))
    return max((_leaf_end(c) for c in children), default=int(node.start_mark.index))


def _dash(text: str, item: Node) -> int:
    """Index of the `-` that introduces a block sequence item."""
    index = int(item.start_mark.index) - 1
    while index >= 0 and text[index] in " \t\r\n":
        index -= 1
    if index < 0 or text[index] != "-":
        raise EditError(f"line {item.start_mark.line + 1}: cannot find the `-` of this entry")
    return index


def _comment_column(text: str, items: Sequence[Node]) -> int | None:
    """The column of the trailing comments next to the entries, when they are aligned."""
    for item in reversed(items):
        first = _first_scalar(item)
        end = int(first.end_mark.index)
        rest = text[end:_content_end(text, end)]
        match = re.match(r"[ \t]+#", rest)
        if match:
            return end - _line_start(text, end) + match.end() - 1
    return None


def _first_scalar(node: Node) -> Node:
    while isinstance(node, MappingNode) and node.value:
        node = node.value[0][1]
    return node


def _insert_lines(text: str, at: int, lines: Sequence[str], newline: str) -> str:
    """`lines` inserted as whole lines at `at` (a line start, or the end of the text)."""
    block = newline.join(lines)
    if at == len(text) and text and not text.endswith("\n"):
        return text + newline + block  # the file had no final line break; keep it so
    return text[:at] + block + newline + text[at:]


def _one_line(text: str) -> str:
    """Free text on one line, without the control characters YAML allows nowhere."""
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())


def _mapping_fields(entry: Entry, *, flow: bool = False) -> list[tuple[str, str]]:
    fields = [("domain", scalar(entry.name, flow=flow))]
    fields += [(key, scalar(value, when=True, flow=flow)) for key, value in
               (("effective", entry.effective), ("expires", entry.expires)) if value is not None]
    return fields


def _flow(entry: Entry) -> str:
    """An entry inside `[...]` or after `- ` in a file that writes dated entries `{...}`."""
    if not entry.dated:
        return scalar(entry.name, flow=True)
    return "{" + ", ".join(f"{k}: {v}" for k, v in _mapping_fields(entry, flow=True)) + "}"


@dataclass(frozen=True, slots=True)
class _BlockStyle:
    """How the file writes a block sequence item: `  - name   # comment`."""

    dash_column: int
    gap: int = 1
    flow_mappings: bool = False
    comment_column: int | None = None

    def lines(self, entry: Entry) -> list[str]:
        pad = " " * self.dash_column
        lead = pad + "-" + " " * self.gap
        if not entry.dated:
            lines = [lead + scalar(entry.name)]
        elif self.flow_mappings:
            lines = [lead + _flow(entry)]
        else:
            fields = _mapping_fields(entry)
            inner = pad + " " * (1 + self.gap)
            lines = [lead + f"{fields[0][0]}: {fields[0][1]}"]
            lines += [inner + f"{k}: {v}" for k, v in fields[1:]]
        if entry.comment:
            lines[0] = _with_comment(lines[0], entry.comment, self.comment_column)
        return lines


def _with_comment(line: str, comment: str, column: int | None) -> str:
    if column is not None and len(line) < column:
        return line.ljust(column) + "# " + _one_line(comment)
    return line + "  # " + _one_line(comment)


def _sample_style(text: str, items: Sequence[Node]) -> tuple[int, int, bool]:
    """(column of the `-`, spaces after it (the most common), whether dated entries are
    written `{...}`) of `items`, a non-empty block sequence; the `-` column is the last
    item's, which is where the next one goes."""
    gaps: Counter[int] = Counter()
    for item in items:
        dash = _dash(text, item)
        if "\n" not in text[dash:item.start_mark.index]:
            gaps[int(item.start_mark.index) - dash - 1] += 1
    dash = _dash(text, items[-1])
    flow_mappings = any(isinstance(i, MappingNode) and i.flow_style for i in items)
    gap = gaps.most_common(1)[0][0] if gaps else 1
    return dash - _line_start(text, dash), max(gap, 1), flow_mappings


def _block_style(doc: ListDocument, items: Sequence[Node], key_column: int) -> _BlockStyle:
    """The layout of `items`; for a new or empty sequence, that of the file's other
    block sequences relative to their key; else `  - name` under the key."""
    if items:
        column, gap, flow_mappings = _sample_style(doc.text, items)
        return _BlockStyle(column, gap, flow_mappings, _comment_column(doc.text, items))
    for key_node, value in doc.root.value:
        if isinstance(value, SequenceNode) and not value.flow_style and value.value:
            column, gap, flow_mappings = _sample_style(doc.text, value.value)
            offset = max(column - int(key_node.start_mark.column), 0)
            return _BlockStyle(key_column + offset, gap, flow_mappings)
    return _BlockStyle(key_column + 2)


# --- adding ----------------------------------------------------------------------------------

def add_entries(doc: ListDocument, action: Action, new: Sequence[Entry]) -> str:
    """The file's text with `new` appended to `domains:`/`allow:` (created if missing)."""
    if not new:
        return doc.text
    key = SECTION[action]
    found = find_section(doc, key)
    if found is None:
        return _add_section(doc, key, new)
    key_node, value = found
    if isinstance(value, ScalarNode) and is_null(value):
        return _fill_empty(doc, key_node, value, new)
    if not isinstance(value, SequenceNode):
        raise EditError(f"{doc.path}:{value.start_mark.line + 1}: `{key}` is not a list of "
                        "names; fix it by hand first (see `dnsfence lint`)")
    if value.flow_style:
        return _add_to_flow(doc, key, value, new)
    items = list(value.value)
    style = _block_style(doc, items, int(key_node.start_mark.column))
    at = _line_end(doc.text, _leaf_end(items[-1]))
    return _insert_lines(doc.text, at, [line for e in new for line in style.lines(e)],
                         doc.newline)


def _add_section(doc: ListDocument, key: str, new: Sequence[Entry]) -> str:
    """`key:` and its entries after the last line of the document."""
    text = doc.text
    column = int(doc.root.value[0][0].start_mark.column) if doc.root.value else 0
    style = _block_style(doc, [], column)
    lines = [" " * column + f"{key}:", *(line for e in new for line in style.lines(e))]
    end = re.search(r"^\.\.\.[ \t]*\r?$", text[doc.root.start_mark.index:], re.MULTILINE)
    at = doc.root.start_mark.index + end.start() if end else len(text)
    return _insert_lines(text, at, lines, doc.newline)


def _fill_empty(doc: ListDocument, key_node: ScalarNode, value: ScalarNode,
                new: Sequence[Entry]) -> str:
    """Entries under a `key:` that has none (`domains:`, `domains: ~`)."""
    text = doc.text
    if value.value:  # an explicit `~` or `null` goes; a comment after it stays
        start, end = int(value.start_mark.index), int(value.end_mark.index)
        while start > key_node.end_mark.index and text[start - 1] in " \t":
            start -= 1
        text = text[:start] + text[end:]
    style = _block_style(doc, [], int(key_node.start_mark.column))
    at = _line_end(text, int(key_node.end_mark.index))
    return _insert_lines(text, at, [line for e in new for line in style.lines(e)], doc.newline)


def _add_to_flow(doc: ListDocument, key: str, seq: SequenceNode,
                 new: Sequence[Entry]) -> str:
    """Entries at the end of `[a, b]`, on the same line, or each on a line of its own
    when the sequence is written one entry per line."""
    text = doc.text
    close = int(seq.end_mark.index) - 1
    if text[close] != "]":
        raise EditError(f"{doc.path}:{seq.start_mark.line + 1}: cannot find the `]` of this "
                        "list; edit the file by hand")
    items = list(seq.value)
    rendered = [_flow(e) for e in new]
    comments = [e for e in new if e.comment]
    if items and _line_start(text, close) > _line_start(text, _leaf_end(items[-1])):
        return _add_flow_lines(doc, items, new, rendered)
    separator = ", "
    if len(items) > 1:
        separator = text[_leaf_end(items[0]):items[1].start_mark.index]
    if items:
        at = _leaf_end(items[-1])
        text = text[:at] + separator + separator.join(rendered) + text[at:]
    else:
        at = int(seq.start_mark.index) + 1
        text = text[:at] + separator.join(rendered) + text[at:]
    if comments:
        close += len(text) - len(doc.text)
        end = _content_end(text, close)
        if text[close + 1:end].strip():
            raise EditError(f"{doc.path}:{seq.start_mark.line + 1}: no room for a comment "
                            f"after `{key}: [...]`; write the list one entry per line "
                            "(`- name`), or leave out --reference")
        names = ", ".join(e.name for e in comments)
        comment = f"  # {names}: {_one_line(comments[0].comment or '')}"
        text = text[:close + 1] + comment + text[end:]
    return text


def _add_flow_lines(doc: ListDocument, items: list[Node], new: Sequence[Entry],
                    rendered: list[str]) -> str:
    text = doc.text
    last_end = _leaf_end(items[-1])
    line_end = _content_end(text, last_end)
    trailing_comma = text[last_end:line_end].lstrip(" \t").startswith(",")
    indent = " " * int(items[-1].start_mark.column)
    lines = []
    for i, (entry, item) in enumerate(zip(new, rendered, strict=True)):
        comma = "," if trailing_comma or i < len(new) - 1 else ""
        line = indent + item + comma
        lines.append(_with_comment(line, entry.comment, None) if entry.comment else line)
    if not trailing_comma:
        text = text[:last_end] + "," + text[last_end:]
    return _insert_lines(text, _line_end(text, last_end), lines, doc.newline)


# --- removing --------------------------------------------------------------------------------

def remove_entries(doc: ListDocument, action: Action, names: Collection[str]) -> str:
    """The file's text without the entries of `domains:`/`allow:` named `names`
    (normalised). Comment lines around them stay: they may head the entries below."""
    key = SECTION[action]
    found = find_section(doc, key)
    wanted = set(names)
    items = [i for i in section_items(doc, key)
             if entry_name(entry_fields(i).get("domain")) in wanted]
    if found is None or not items:
        return doc.text
    if getattr(found[1], "flow_style", False):
        return _remove_from_flow(doc, action, wanted)
    text = doc.text
    spans = []
    for item in items:
        dash = _dash(text, item)
        start = _line_start(text, dash)
        if text[start:dash].strip():
            raise EditError(f"{doc.path}:{item.start_mark.line + 1}: this entry shares its "
                            "line with other text; remove it by hand")
        spans.append((start, _line_end(text, _leaf_end(item))))
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + text[end:]
    return text


def _remove_from_flow(doc: ListDocument, action: Action, wanted: set[str]) -> str:
    """One entry at a time, re-reading in between: the commas of neighbours interact."""
    while True:
        found = find_section(doc, SECTION[action])
        assert found is not None and isinstance(found[1], SequenceNode)
        items = list(found[1].value)
        index = next((n for n, i in enumerate(items)
                      if entry_name(entry_fields(i).get("domain")) in wanted), None)
        if index is None:
            return doc.text
        doc = read_document(doc.path, _without_flow_item(doc.text, items, index))


def _without_flow_item(text: str, items: list[Node], index: int) -> str:
    item = items[index]
    start, end = int(item.start_mark.index), _leaf_end(item)
    line_start, line_end = _line_start(text, start), _content_end(text, end)
    rest = text[end:line_end].lstrip(" \t")
    alone = not text[line_start:start].strip() and (not rest or rest[0] in ",#")
    if alone:  # an entry on a line of its own: the line goes, with its comment
        had_comma = rest.startswith(",")
        text = text[:line_start] + text[_line_end(text, end):]
        if index == len(items) - 1 and not had_comma and index > 0:
            previous = _leaf_end(items[index - 1])
            comma = text.find(",", previous)
            if comma >= 0 and not text[previous:comma].strip():
                text = text[:comma] + text[comma + 1:]
        return text
    if index + 1 < len(items):
        return text[:start] + text[int(items[index + 1].start_mark.index):]
    if index > 0:
        return text[:_leaf_end(items[index - 1])] + text[end:]
    return text[:start] + text[end:]
