"""`dnsfence report` as an admin runs it: the log found from the config, text, JSON and
HTML, the period and list filters, and the clear failures."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from resolver.commands import report
from resolver.commands.exit_codes import EXIT_PROBLEMS, EXIT_USAGE, CommandFailed
from resolver.config.load import defaults, load_config
from tests.commands.cli_runner import dnsfence
from tests.report.ban_log import ban_records, planned, stage_ban_site, write_ban_log


@pytest.fixture
def ban_site(tmp_path: Path) -> Path:
    return stage_ban_site(tmp_path / "site")


def blocked(list_name: str, since: str = "") -> int:
    return sum(1 for r in ban_records()
               if r["verdict"] == "blocked" and r["list"] == list_name and r["ts"] >= since)


def test_text_from_the_log_the_config_names(ban_site: Path) -> None:
    run = dnsfence("report", "--config", "dnsfence.yaml", cwd=ban_site)
    assert (run.status, run.err) == (0, "")
    assert run.out.startswith("Blocked queries in state/querylog.jsonl (3 files), ")
    assert f"tiktok: {blocked('tiktok')} attempts from 4 clients\n" \
           "  effective 2023-03-20 00:00 CET, expires never\n" in run.out
    assert "2023-03-20        12         4  " in run.out


def test_json_for_one_list_and_a_period(ban_site: Path) -> None:
    run = dnsfence("report", "--config", "dnsfence.yaml", "--json", "--list", "tiktok",
                   "--since", "2023-03-21", cwd=ban_site)
    assert run.status == 0, run.err
    doc = json.loads(run.out)
    assert doc["since"] == "2023-03-21T00:00:00+01:00" and doc["until"] is None
    [tiktok] = doc["lists"]
    # 21 March in Brussels starts at 23:00 UTC on the 20th
    assert tiktok["attempts"] == blocked("tiktok", since="2023-03-20T23:00") == 10
    assert {d["day"]: d["attempts"] for d in tiktok["days"] if d["attempts"]} == \
        {day: a for day, (a, _) in planned("tiktok").items() if day >= "2023-03-21"}
    until = dnsfence("report", "--config", "dnsfence.yaml", "--json", "--until",
                     "2023-03-20T00:00:00+01:00", cwd=ban_site)
    assert {e["name"]: e["attempts"] for e in json.loads(until.out)["lists"]} == \
        {"ads": 9, "gone": 1, "quiet": 0, "tiktok": 0}


def test_html_is_written_beside_the_text(ban_site: Path) -> None:
    run = dnsfence("report", "--config", "dnsfence.yaml", "--html", "out/report.html",
                   cwd=ban_site)
    assert run.status == 1 and "cannot write out/report.html" in run.err  # no such directory
    (ban_site / "out").mkdir()
    run = dnsfence("report", "--config", "dnsfence.yaml", "--html", "out/report.html",
                   cwd=ban_site)
    assert run.status == 0 and run.out.startswith("Blocked queries in ")
    page = ban_site / "out" / "report.html"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600  # it names clients
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<script" not in text


def test_a_log_on_standard_output_cannot_be_read_but_log_points_at_a_copy(
        ban_site: Path) -> None:
    (ban_site / "dnsfence.yaml").write_text("timezone: Europe/Brussels\nquerylog:\n"
                                            "  path: '-'\n")
    run = dnsfence("report", "--config", "dnsfence.yaml", cwd=ban_site)
    assert run.status == EXIT_USAGE and run.out == ""
    assert "goes to standard output" in run.err and "--log" in run.err
    collected = write_ban_log(ban_site / "collected" / "dnsfence.log")
    run = dnsfence("report", "--config", "dnsfence.yaml", "--log", str(collected), "--json",
                   cwd=ban_site)
    assert run.status == 0, run.err
    assert json.loads(run.out)["blocked"] == sum(blocked(n) for n in ("ads", "gone", "tiktok"))


def test_no_log_yet(tmp_path: Path) -> None:
    run = dnsfence("report", cwd=tmp_path)
    assert run.status == EXIT_PROBLEMS
    assert run.err == f"dnsfence: no query log at .dnsfence-state{'/'}querylog.jsonl " \
                      "(querylog.mode is blocked); give its file with --log FILE\n"


def test_a_bad_instant_is_a_usage_error(ban_site: Path) -> None:
    run = dnsfence("report", "--config", "dnsfence.yaml", "--since", "20 March", cwd=ban_site)
    assert run.status == EXIT_USAGE and "cannot read '20 March'" in run.err


def test_broken_blocklists_cost_the_dates_not_the_report(ban_site: Path) -> None:
    (ban_site / "blocklists" / "broken.yaml").write_text("name: [\n")
    run = dnsfence("report", "--config", "dnsfence.yaml", "--json", cwd=ban_site)
    assert run.status == 0
    assert "warning: 1 error(s)" in run.err and "no list dates" in run.err
    lists = json.loads(run.out)["lists"]
    assert [(e["name"], e["in_policy"]) for e in lists] == [
        ("ads", False), ("gone", False), ("tiktok", False)]


def test_the_log_path_is_in_state_dir_unless_absolute(tmp_path: Path) -> None:
    config_file = tmp_path / "etc" / "dnsfence.yaml"
    config_file.parent.mkdir()
    config_file.write_text("state_dir: ../var\nquerylog:\n  path: logs/q.jsonl\n")
    assert report.log_path(load_config(config_file)) == tmp_path / "etc/../var/logs/q.jsonl"
    config_file.write_text("querylog:\n  path: /srv/q.jsonl\n")
    assert report.log_path(load_config(config_file)) == Path("/srv/q.jsonl")
    assert report.log_path(defaults()) == Path(".dnsfence-state/querylog.jsonl")


def test_run_in_process(ban_site: Path) -> None:
    config = load_config(ban_site / "dnsfence.yaml")
    out, err = io.StringIO(), io.StringIO()
    assert report.run(config, only="gone", out=out, err=err) == 0
    assert out.getvalue().splitlines()[3] == "gone: 1 attempt from 1 client"
    config = config.with_overrides(blocklists=ban_site / "missing")
    with pytest.raises(CommandFailed) as failed:
        report.run(config, log=ban_site / "nothing.jsonl", out=out, err=err)
    assert failed.value.status == EXIT_PROBLEMS
