"""resolver.lists.ingest: a list's sources -> grouped names, rules, regexes and reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from resolver.lists.ingest import NOT_DOWNLOADED, ingest, read_text
from resolver.lists.remote_cache import RemoteCache
from resolver.lists.sources import Format, SourceSpec
from resolver.policy.index import PolicyIndex
from resolver.policy.model import Action, Location, Scope, Window
from resolver.policy.name_tables import NameHashes, hashes_of

WINDOW = Window(datetime(2024, 1, 1, tzinfo=UTC), None)
WHERE = Location("lists/ban.yaml", 7, 5)
URL = "https://lists.example/ban.txt"


def local(tmp_path: Path, text: str, name: str = "vendor.txt", **options: object) -> SourceSpec:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return SourceSpec("ban", WHERE, path=path, url=None, **options)  # type: ignore[arg-type]


def test_plain_names_share_one_group_and_globs_become_rules(tmp_path: Path) -> None:
    spec = local(tmp_path, "# vendor list\na.example\nb.example\n*.c.example\n")
    got = ingest((spec,), WINDOW, None)
    assert got.problems == []
    assert got.paths == [str(spec.path)]
    [(group, names)] = got.groups
    assert (group.source, group.action, group.scope, group.list_name, group.count) == (
        str(spec.path), Action.BLOCK, Scope.EXACT, "ban", 2)
    assert (group.window, group.location) == (WINDOW, WHERE)
    assert isinstance(names, NameHashes)
    assert list(names.hashes) == list(hashes_of(["a.example", "b.example"]).hashes)
    [glob] = got.rules
    assert (glob.pattern, glob.action, glob.scope, glob.list_name) == (
        "*.c.example", Action.BLOCK, Scope.SUBTREE, "ban")
    assert glob.location == Location(str(spec.path))
    [report] = got.reports
    assert (report.format, report.taken, report.invalid, report.considered) == ("domains", 3, 0, 3)
    assert report.describe().startswith(f"source {spec.path} (domains): 3 entries taken; "
                                        "skipped: none; 0 invalid line(s) of 3")


def test_the_groups_decide_names_in_the_index(tmp_path: Path) -> None:
    spec = local(tmp_path, "a.example\n", match=Scope.SUBTREE)
    got = ingest((spec,), WINDOW, None)
    index = PolicyIndex(got.rules, got.groups, got.regexes)
    found = index.lookup("www.a.example", datetime(2024, 6, 1, tzinfo=UTC))
    assert found is not None
    assert found[0].action is Action.BLOCK
    assert index.lookup("www.a.example", datetime(2023, 6, 1, tzinfo=UTC)) is None


def test_as_allow_turns_every_entry_into_an_exception(tmp_path: Path) -> None:
    spec = local(tmp_path, "a.example\n*.b.example\n", action=Action.ALLOW)
    got = ingest((spec,), WINDOW, None)
    assert [g.action for g, _ in got.groups] == [Action.ALLOW]
    assert [r.action for r in got.rules] == [Action.ALLOW]
    regex = local(tmp_path, "^ads?\\.\n", name="regex.txt", format=Format.REGEX,
                  action=Action.ALLOW)
    got = ingest((regex,), WINDOW, None)
    [rule] = got.regexes
    assert (rule.pattern, rule.action, rule.location) == (
        "^ads?\\.", Action.ALLOW, Location(str(regex.path), 1))


def test_an_unreadable_source_is_an_error_at_its_sources_entry(tmp_path: Path) -> None:
    spec = SourceSpec("ban", WHERE, path=tmp_path / "missing.txt", url=None)
    got = ingest((spec,), WINDOW, None)
    [problem] = got.problems
    assert problem.location == WHERE and problem.severity == "error"
    assert problem.message.startswith(f"cannot read source {spec.path}: ")
    assert got.groups == [] and got.reports == [] and got.paths == []


def test_a_url_source_is_read_from_its_last_good_copy(tmp_path: Path) -> None:
    spec = SourceSpec("ban", WHERE, path=None, url=URL)
    cache = RemoteCache(tmp_path / "cache")
    assert read_text(spec, cache) == (None, NOT_DOWNLOADED)
    assert read_text(spec, None) == (None, NOT_DOWNLOADED)
    cache.store(URL, "a.example\n", etag=None, last_modified=None, fetched_at=0.0,
                entry_count=1)
    got = ingest((spec,), WINDOW, cache)
    assert got.problems == []
    assert got.paths == [str(cache.sidecar(URL))]  # a new download reloads the policy
    [(group, _)] = got.groups
    assert (group.source, group.count) == (URL, 1)


def test_a_source_never_downloaded_is_an_error_unless_lists_may_load_without_it(
        tmp_path: Path) -> None:
    spec = SourceSpec("ban", WHERE, path=None, url=URL)
    cache = RemoteCache(tmp_path / "cache")
    kept = local(tmp_path, "kept.example\n")

    refused = ingest((spec, kept), WINDOW, cache)
    [problem] = refused.problems
    assert (problem.location, problem.severity) == (WHERE, "error")
    assert problem.message.startswith(f"source {URL} has not been downloaded yet, and with "
                                      "`lists.on_missing: fail` nothing is served without it")
    assert "which downloads missing sources" not in problem.message

    started = ingest((spec, kept), WINDOW, cache, allow_missing=True)
    [problem] = started.problems
    assert (problem.location, problem.severity) == (WHERE, "warning")
    assert problem.message == (
        f"source {URL} has not been downloaded yet; list ban is served without it until it "
        "arrives (a running server keeps trying; `dnsfence lists update` downloads it now)")
    assert [(m.list_name, m.url, m.location, m.sidecar) for m, _ in started.missing] == [
        ("ban", URL, WHERE, str(cache.sidecar(URL)))]
    assert started.missing[0][1] is problem
    # the rest of the list is there, and the copy's record is watched for its arrival
    assert [group.source for group, _ in started.groups] == [str(kept.path)]
    assert str(cache.sidecar(URL)) in started.paths


def test_a_few_bad_lines_are_warnings_at_their_lines(tmp_path: Path) -> None:
    good = "".join(f"n{i}.example\n" for i in range(300))
    bad = "".join(f"bad{i} name\n" for i in range(25))
    spec = local(tmp_path, good + bad)
    got = ingest((spec,), WINDOW, None)
    assert all(p.severity == "warning" for p in got.problems)
    assert [p.location for p in got.problems[:2]] == [
        Location(str(spec.path), 301), Location(str(spec.path), 302)]
    assert len(got.problems) == 21  # 20 shown, then a count of the rest
    assert got.problems[-1].location == WHERE
    assert got.problems[-1].message == f"source {spec.path}: 5 more invalid lines not shown"
    assert got.groups[0][0].count == 300


def test_a_source_that_is_mostly_not_a_list_is_an_error(tmp_path: Path) -> None:
    spec = local(tmp_path, "a.example\n" + "this is prose\n" * 9)
    [problem] = ingest((spec,), WINDOW, None).problems
    assert problem.severity == "error" and problem.location == WHERE
    assert problem.message.startswith(
        f"source {spec.path}: 9 of 10 lines (90%) are not domains entries (first at lines "
        "2, 3, 4, 5, 6); more than 10% means this is probably not a list")
