"""The same names written in each format read back as the same entries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from resolver.lists.formats import parse_source
from resolver.lists.formats.lines import is_local_name
from resolver.lists.sources import Format

from .lists import BLOCK, EXACT, SUBTREE

LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9_-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
NAME = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(LABEL, min_size=1, max_size=4),
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,5}[a-zA-Z]", fullmatch=True),
).filter(lambda n: len(n) <= 253 and not is_local_name(n.lower()))
NAMES = st.lists(NAME, min_size=1, max_size=40)
SPACE = st.sampled_from([" ", "\t", "  ", " \t "])
ADDRESS = st.sampled_from(["0.0.0.0", "127.0.0.1", "::", "::1"])
COMMENT = st.sampled_from(["", " # note", "\t#x"])


@st.composite
def hosts_text(draw: st.DrawFn, names: list[str]) -> str:
    """Several names a line, any address, any spacing, comments between and after."""
    lines = ["# hosts"]
    i = 0
    while i < len(names):
        take = draw(st.integers(min_value=1, max_value=4))
        chunk = names[i : i + take]
        i += take
        line = draw(ADDRESS) + draw(SPACE) + draw(SPACE).join(chunk) + draw(COMMENT)
        lines.append(line)
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "# comment", "   "])))
    return "\n".join(lines) + "\n"


@settings(max_examples=200)
@given(NAMES, st.data())
def test_domains_hosts_adblock_and_rpz_renderings_agree(
    names: list[str], data: st.DataObject
) -> None:
    expected = [n.lower() for n in names]
    domains = parse_source("\n".join(n + data.draw(COMMENT) for n in names), Format.DOMAINS)
    hosts = parse_source(data.draw(hosts_text(names)), Format.HOSTS)
    bare = parse_source("! adblock\n" + "\n".join(names), Format.ADBLOCK)
    zone = "$TTL 60\n@ SOA a. b. 1 2 3 4 5\n" + "\n".join(f"{n} CNAME ." for n in names)
    rpz = parse_source(zone, Format.RPZ)
    for parsed in (domains, hosts, bare, rpz):
        assert parsed.names == {(BLOCK, EXACT): expected}, parsed.format
        assert parsed.invalid == [] and parsed.skipped == {}


@settings(max_examples=200)
@given(NAMES)
def test_subtree_renderings_agree(names: list[str]) -> None:
    expected = {(BLOCK, SUBTREE): [n.lower() for n in names]}
    domains = parse_source("\n".join(names), Format.DOMAINS, match=SUBTREE)
    hosts = parse_source("\n".join(f"0.0.0.0 {n}" for n in names), Format.HOSTS, match=SUBTREE)
    adblock = parse_source("\n".join(f"||{n}^" for n in names), Format.ADBLOCK)
    for parsed in (domains, hosts, adblock):
        assert parsed.names == expected


@settings(max_examples=100)
@given(NAMES)
def test_wildcard_renderings_agree(names: list[str]) -> None:
    expected = {(BLOCK, SUBTREE): [f"*.{n.lower()}" for n in names]}
    domains = parse_source("\n".join(f"*.{n}" for n in names), Format.DOMAINS)
    adblock = parse_source("\n".join(f"||*.{n}^" for n in names), Format.ADBLOCK)
    rpz = parse_source("\n".join(f"*.{n} CNAME ." for n in names), Format.RPZ)
    for parsed in (domains, adblock, rpz):
        assert parsed.names == expected
