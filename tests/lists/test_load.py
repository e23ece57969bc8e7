"""A blocklist directory -> a validated policy: which files are read, names across files."""

from __future__ import annotations

from pathlib import Path

from resolver.lists.load import load_policy
from tests.policy.assertions import (
    assert_clean,
    assert_only,
    assert_problem,
    load_lists,
    where,
)


def test_both_yml_and_yaml_are_read_and_hidden_or_other_files_are_not(tmp_path: Path) -> None:
    (tmp_path / "drafts").mkdir()
    policy = assert_clean(load_lists(tmp_path, {
        "a.yaml": "reference: r\neffective: 2023-03-20\ndomains: [a.example]\n",
        "b.yml": "reference: r\neffective: 2023-03-20\ndomains: [b.example]\n",
        ".c.yaml": "this is: [not even: valid",  # hidden: an editor's swap or a draft
        "README.md": "# notes",
        "d.yaml.bak": "garbage: [",
        "drafts/e.yaml": "garbage: [",
    }))
    assert [b.name for b in policy.lists] == ["a", "b"]


def test_an_empty_directory_is_an_empty_policy(tmp_path: Path) -> None:
    assert assert_clean(load_policy(tmp_path)).lists == ()


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    result = load_policy(tmp_path / "nowhere")
    assert result.policy is None
    assert "not found" in result.errors[0].message


def test_duplicate_list_names_across_files_name_both_files(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {
        "a.yaml": "reference: r\nname: social\neffective: 2023-03-20\ndomains: [a.example]\n",
        "b.yaml": "reference: r\neffective: 2023-03-20\nname: social\ndomains: [b.example]\n",
    })
    problem = assert_problem(result, "b.yaml:3:7", "list name 'social'", "must be unique")
    assert str(tmp_path / "a.yaml") + ":2:7" in problem.message


def test_a_file_stem_can_clash_with_a_name(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {
        "tiktok.yaml": "reference: r\neffective: 2023-03-20\ndomains: [a.example]\n",
        "tiktok.yml": "reference: r\neffective: 2023-03-20\ndomains: [b.example]\n",
    })
    problem = assert_problem(result, "tiktok.yml:1", "list name 'tiktok'")
    assert "tiktok.yaml" in problem.message


# --- all or nothing ------------------------------------------------------------------------

def test_a_tree_with_errors_yields_no_policy_and_every_error(tmp_path: Path) -> None:
    result = load_lists(tmp_path, {
        "good.yaml": "reference: r\neffective: 2023-03-20\ndomains: [good.example]\n",
        "one.yaml": """
            effective: 2023-03-20
            timezone: Mars/Olympus
            domains:
              - https://tiktok.com/
              - ok.example
              - bad..example
        """,
        "two.yml": """
            efective: 2023-03-20
            domains:
              - domain: a.example
                expires: someday
              - 192.0.2.1
        """,
        "three.yaml": "effective: 2023-03-20\ndomains:\n  - [unclosed\n",
    })
    assert result.policy is None
    assert_only(result,
                "one.yaml:2:11", "one.yaml:4:5", "one.yaml:6:5",
                "three.yaml:4:1",
                "two.yml:1", "two.yml:1:1", "two.yml:4:14", "two.yml:5:5")
    messages = {where(p): p.message for p in result.errors}
    assert "did you mean 'effective'?" in messages["two.yml:1:1"]
    assert "missing `effective:`" in messages["two.yml:1"]
    # errors come file by file, in name order, so the report is reproducible
    files = [where(p).split(":")[0] for p in result.errors]
    assert files == sorted(files, key=["one.yaml", "three.yaml", "two.yml"].index)


_REMOTE = """name: remote
reference: r
effective: 2023-03-20
domains: [own.example]
sources:
  - url: https://lists.example/ban.txt
    format: domains
"""


def test_a_source_never_downloaded_stops_the_load_unless_lists_may_load_without_it(
        tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "remote.yaml").write_text(_REMOTE)
    (lists / "other.yaml").write_text("reference: r\neffective: 2023-03-20\n"
                                      "domains: [other.example]\n")
    cache = tmp_path / "cache"

    refused = load_policy(lists, remote_cache=cache)
    assert refused.policy is None
    assert [str(p.location) for p in refused.errors] == [f"{lists / 'remote.yaml'}:6:5"]

    started = load_policy(lists, remote_cache=cache, allow_missing=True)
    assert started.policy is not None and started.errors == ()
    assert [b.name for b in started.policy.lists] == ["other", "remote"]
    assert started.policy.size == 2  # every other entry, the list's own included
    [missing] = started.policy.missing_sources
    assert (missing.list_name, missing.url, str(missing.location)) == (
        "remote", "https://lists.example/ban.txt", f"{lists / 'remote.yaml'}:6:5")
    assert missing.sidecar in started.policy.source_paths  # its arrival is noticed
    assert [p for _, p in started.missing] == list(started.warnings)


def test_a_real_error_still_loads_nothing_when_sources_may_be_missing(tmp_path: Path) -> None:
    (tmp_path / "remote.yaml").write_text(_REMOTE)
    (tmp_path / "broken.yaml").write_text("reference: r\neffective: [2023\n")
    result = load_policy(tmp_path, remote_cache=tmp_path / "cache", allow_missing=True)
    assert result.policy is None
    assert len(result.errors) == 1 and "broken.yaml" in str(result.errors[0].location)
