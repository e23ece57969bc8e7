"""Regular-expression entries: compiled once, cheap to test a query name against.

Regex lists are written for Pi-hole (POSIX EREs compiled by TRE, matched
case-insensitively anywhere in the name) and for AdGuard Home / Blocky
(`/regex/` rules). `compile_pattern` reads both: it rewrites POSIX bracket
classes (`[^.[:space:]]`) that Python's `re` would otherwise misread as a
nested set, and compiles with IGNORECASE, as both servers match.

`RegexMatcher` avoids running every pattern on every query. Each top-level
alternative of a pattern (`a|b` is two) is filed in the first tier that fits:

1. it must end with a literal of 3+ characters before `$`
   (`^(.+?\\.)?tiktokv\\.com$`): filed under that literal and tried only when
   the name ends with it (one dict lookup per distinct literal length);
2. it must contain a literal of 3+ characters (`(?:^|\\.)admulti\\.`,
   `^(.+[_.-])?telemetry[_.-]`): tried only when `literal in name` (for more
   than 48 such patterns, a dict keyed by a 3-character slice of the literal,
   probed with every 3-character slice of the name);
3. it starts with `^`: joined into one alternation run with `match()` at
   position 0 only;
4. the rest: one alternation `(?P<g0>p0)|(?P<g1>p1)...` run with `search()`;
   `lastindex` maps back to the pattern. Patterns that cannot be joined
   (back-references, named groups, global inline flags) are tried one by one.

Why not simply one big alternation: it was slower than the naive loop for
the AdGuard DNS filter's patterns, because joining them loses the
literal-prefix scan `re` does for each pattern alone; tier 2 is what
recovers it. The measured costs are in docs/BENCHMARKS.md
(`bench/regex_cost.py`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

# POSIX bracket classes as TRE (Pi-hole) reads them, spelled for Python's re.
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\s",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:([a-z]+):\]")

# Inline constructs that stop a pattern from being joined with others: a
# back-reference or named group would refer to the wrong group, and a global
# flag such as (?i) is only allowed at the very start of a whole expression.
_UNJOINABLE = re.compile(r"\\[1-9]|\(\?P[<=>]|\(\?<[A-Za-z_]|\(\?[aiLmsux]+\)")


class InvalidRegex(ValueError):
    """A pattern that cannot be compiled, with the compiler's reason."""


def translate_posix(pattern: str) -> str:
    """Rewrite POSIX `[:class:]` items inside bracket expressions for Python's re."""
    if "[:" not in pattern:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    in_set = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if not in_set:
            if ch == "[":
                in_set = True
                out.append(ch)
                i += 1
                # A leading ^ and a leading ] are part of the set's syntax, not its end.
                if i < n and pattern[i] == "^":
                    out.append("^")
                    i += 1
                if i < n and pattern[i] == "]":
                    out.append("\\]")
                    i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            found = _POSIX_CLASS.match(pattern, i)
            if found and found.group(1) in _POSIX_CLASSES:
                out.append(_POSIX_CLASSES[found.group(1)])
                i = found.end()
                continue
            out.append("\\[")  # a literal [ inside a set, as POSIX reads it
            i += 1
            continue
        if ch == "]":
            in_set = False
        out.append(ch)
        i += 1
    return "".join(out)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a list's regex as Pi-hole and AdGuard Home match it; raise InvalidRegex.

    A pattern that matches the empty string (`.*`, `a*`, a stray `|`) matches
    every name; like a bare `*` name pattern, dnsfence refuses it rather than
    block or allow everything because of a typo.
    """
    if not pattern:
        raise InvalidRegex("empty regular expression")
    try:
        with warnings.catch_warnings():
            # "Possible nested set" and similar FutureWarnings: the meaning is unchanged today.
            warnings.simplefilter("ignore")
            compiled = re.compile(translate_posix(pattern), re.IGNORECASE)
    except re.error as exc:
        raise InvalidRegex(f"{pattern!r} is not a valid regular expression ({exc})") from exc
    except (OverflowError, RecursionError) as exc:
        raise InvalidRegex(f"{pattern!r} is too complex to compile ({exc})") from exc
    if compiled.search("") is not None:
        raise InvalidRegex(
            f"{pattern!r} matches every name (it matches an empty name); "
            "anchor it or make a part required"
        )
    return compiled


# One token of a pattern at the level the literal scan needs: an escape (the
# numeric ones whole: `\x41` is one character, not "41"), a bracket
# expression, a group opener/closer, a quantifier, or one character.
_TOKEN = re.compile(
    r"\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|\\N\{[^}]*\}|\\[0-7]{1,3}|"
    r"\\.|\[\^?\]?(?:\[:[a-z]+:\]|\\.|[^\]])*\]|\(\?[:=!]?|\(\?<[=!]|[()]|"
    r"\{\d*,?\d*\}\??|[*+?]\??|.",
    re.DOTALL,
)
_LITERAL_ESCAPES = frozenset(".-_/\\^$*+?()[]{}|")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def _literal(token: str) -> str | None:
    """The one character a token matches, if it is a plain character of a name."""
    if len(token) == 2 and token[0] == "\\" and token[1] in _LITERAL_ESCAPES:
        char = token[1]
    elif len(token) == 1 and token not in ".^$|()[]{}*+?\\":
        char = token.lower()
    else:
        return None
    return char if char in _NAME_CHARS else None


def _is_quantifier(token: str) -> bool:
    return token[0] in "*+?" or (token[0] == "{" and len(token) > 1)


@dataclass(frozen=True, slots=True)
class Literals:
    """Literal text every match must contain: at the start, at the end, anywhere.

    Empty when unknown. Lower case (names are normalised, patterns compiled
    case-insensitively).
    """

    prefix: str
    suffix: str
    inner: str


def _runs(tokens: list[str]) -> list[str]:
    """The runs of literal characters that every match contains, in order."""
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    for i, token in enumerate(tokens):
        char = _literal(token) if depth == 0 else None
        if token.startswith("("):
            depth += 1
        elif token == ")":
            depth -= 1
        if char is None:
            runs.append("".join(run))
            run = []
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if following and _is_quantifier(following):
            if following[0] in "+" or (following[0] == "{" and following[1] not in ",0"):
                run.append(char)  # at least once: required, but ends the run
            runs.append("".join(run))
            run = []
            continue
        run.append(char)
    runs.append("".join(run))
    return runs


def literals(pattern: str) -> Literals:
    """What a pattern requires literally; see Literals.

    Only top-level literals count: a pattern with a top-level `|` requires
    nothing, and a literal followed by an optional quantifier (`pixels?`)
    is not required.
    """
    tokens = _TOKEN.findall(pattern)
    depth = 0
    for token in tokens:
        if token.startswith("("):
            depth += 1
        elif token == ")":
            depth -= 1
        elif token == "|" and depth == 0:
            return Literals("", "", "")
    runs = _runs(tokens)
    prefix = runs[1] if tokens and tokens[0] == "^" and len(runs) > 1 else ""
    suffix = ""
    if len(tokens) >= 2 and tokens[-1] == "$":
        rev: list[str] = []
        for i in range(len(tokens) - 2, -1, -1):
            char = _literal(tokens[i])
            if char is None:
                break
            rev.append(char)
        suffix = "".join(reversed(rev))
    return Literals(prefix, suffix, max(runs, key=len))


def _trigram(literal: str) -> str:
    """The 3 characters of a required literal to index it by (avoiding dots, which are common)."""
    for i in range(len(literal) - 2):
        if "." not in literal[i : i + 3]:
            return literal[i : i + 3]
    return literal[:3]


def alternatives(pattern: str) -> list[str]:
    """The pattern's top-level alternatives (`a|b(c|d)` -> `a`, `b(c|d)`)."""
    parts: list[list[str]] = [[]]
    depth = 0
    for token in _TOKEN.findall(pattern):
        if token.startswith("("):
            depth += 1
        elif token == ")":
            depth -= 1
        elif token == "|" and depth == 0:
            parts.append([])
            continue
        parts[-1].append(token)
    return ["".join(part) for part in parts]


Entry = tuple[int, re.Pattern[str]]


def _join(entries: list[tuple[int, str]]) -> tuple[tuple[re.Pattern[str], dict[int, int]], ...]:
    """One alternation per chunk, each alternative in a named group: group number -> index.

    Groups are named by position (`g0`, `g1`...), not by pattern index: two
    alternatives of one pattern can land in the same alternation.
    """
    joined = []
    for start in range(0, len(entries), RegexMatcher.CHUNK):
        chunk = entries[start : start + RegexMatcher.CHUNK]
        text = "|".join(f"(?P<g{k}>{pattern})" for k, (_index, pattern) in enumerate(chunk))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = re.compile(text, re.IGNORECASE)
        numbers = {number: chunk[int(name[1:])][0] for name, number in compiled.groupindex.items()}
        joined.append((compiled, numbers))
    return tuple(joined)


class RegexMatcher:
    """Answers "does any of these patterns match this name, and which?".

    Built once per policy; `first_match` is what the query path calls, with a
    normalised (lower-case) name. The patterns must compile with
    `compile_pattern` (the loader reports those that do not as errors before
    building a matcher). Each top-level alternative of a pattern is filed on
    its own, in the first tier that fits (see the module docstring).
    """

    __slots__ = (
        "_anchored",
        "_by_suffix",
        "_by_trigram",
        "_inner",
        "_joined",
        "_solo",
        "_suffix_lengths",
        "patterns",
    )

    # Longer alternations are split: a huge single expression compiles slowly
    # and gains nothing per query.
    CHUNK = 400
    # Up to this many required literals, `literal in name` for each is cheaper
    # than looking up every 3-character slice of the name.
    SUBSTRING_LIMIT = 48

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        by_suffix: dict[str, list[Entry]] = {}
        anchored: list[tuple[int, str]] = []
        inner: list[tuple[str, int, re.Pattern[str]]] = []
        rest: list[tuple[int, str]] = []
        solo: list[Entry] = []
        for index, pattern in enumerate(self.patterns):
            compile_pattern(pattern)  # raise InvalidRegex now, not on a query
            if _UNJOINABLE.search(pattern):
                solo.append((index, compile_pattern(pattern)))
                continue
            for part in alternatives(translate_posix(pattern)):
                found = literals(part)
                # Literals shorter than 3 characters ("m", "co") would file nearly every name.
                # A required literal filters best, and spares `^(.+[_.-])?amp...`-style
                # patterns, whose backtracking is the slowest part of a query.
                if len(found.suffix) >= 3:
                    by_suffix.setdefault(found.suffix, []).append((index, compile_pattern(part)))
                elif len(found.inner) >= 3:
                    inner.append((found.inner, index, compile_pattern(part)))
                elif part.startswith("^"):
                    anchored.append((index, part[1:]))
                else:
                    rest.append((index, part))
        self._by_suffix = {k: tuple(v) for k, v in by_suffix.items()}
        self._suffix_lengths = tuple(sorted({len(k) for k in by_suffix}))
        self._anchored = _join(anchored)
        if len(inner) > self.SUBSTRING_LIMIT:
            by_trigram: dict[str, list[Entry]] = {}
            for literal, index, compiled in inner:
                by_trigram.setdefault(_trigram(literal), []).append((index, compiled))
            self._by_trigram = {k: tuple(v) for k, v in by_trigram.items()}
            self._inner: tuple[tuple[str, int, re.Pattern[str]], ...] = ()
        else:
            self._by_trigram = {}
            self._inner = tuple(inner)
        self._joined = _join(rest)
        self._solo = tuple(solo)

    def __len__(self) -> int:
        return len(self.patterns)

    def first_match(self, name: str) -> int | None:
        """The index (in the given sequence) of a pattern that matches `name`, or None.

        When several match, the first tier that finds one answers, so the index
        is a matching pattern's, not always the lowest.
        """
        if self._suffix_lengths:
            by_suffix = self._by_suffix
            size = len(name)
            for length in self._suffix_lengths:
                if length > size:
                    break
                candidates = by_suffix.get(name[size - length :])
                if candidates is not None:
                    for index, compiled in candidates:
                        if compiled.search(name) is not None:
                            return index
        for literal, index, compiled in self._inner:
            if literal in name and compiled.search(name) is not None:
                return index
        if self._by_trigram:
            by_trigram = self._by_trigram
            for start in range(len(name) - 2):
                candidates = by_trigram.get(name[start : start + 3])
                if candidates is not None:
                    for index, compiled in candidates:
                        if compiled.search(name) is not None:
                            return index
        for compiled, numbers in self._anchored:
            found = compiled.match(name)
            if found is not None:
                return numbers[found.lastindex or 0]
        for compiled, numbers in self._joined:
            found = compiled.search(name)
            if found is not None:
                return numbers[found.lastindex or 0]
        for index, compiled in self._solo:
            if compiled.search(name) is not None:
                return index
        return None
