"""End to end through the ``cultivation`` command, as a person or a script would use it.

Each run is a real subprocess on a real SQLite file; refusals are checked by exit code,
by the message naming the field and the rule, and by counting the stored events.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ledgers import uscc

U = uscc(1)


def run(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=120)


def stored_events(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


AUTH = ("--authority", "211400", "--person", "葫芦岛市工信局")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    r = run(db, "register", "--uscc", U, "--name", "葫芦岛测试泵业有限公司", "--region", "211402",
            "--occurred-on", "2019-01-02", *AUTH)
    assert r.returncode == 0, r.stderr
    return db


def test_help_everywhere(tmp_path: Path) -> None:
    r = run(tmp_path / "x.db", "--help")
    assert r.returncode == 0 and "pool" in r.stdout and "submit" in r.stdout
    for sub in ("pool", "history", "submit", "demo", "apply", "grant-reward", "review"):
        r = run(tmp_path / "x.db", sub, "--help")
        assert r.returncode == 0, sub
        assert "--json" in r.stdout and "--db" in r.stdout, sub


def test_accepted_command_prints_its_events_as_json(db: Path) -> None:
    r = run(db, "apply", "--uscc", U, "--application-id", "sp-1", "--programme", "national", "--tier", "specialized",
            "--occurred-on", "2019-03-01", "--command-id", "cli-apply-1", *AUTH, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["command"] == "apply" and [e["type"] for e in out["events"]] == ["Applied"]
    before = stored_events(db)
    again = run(db, "apply", "--uscc", U, "--application-id", "sp-1", "--programme", "national", "--tier",
                "specialized", "--occurred-on", "2019-03-01", "--command-id", "cli-apply-1", *AUTH, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["repeated"] is True
    assert json.loads(again.stdout)["events"] == out["events"]
    assert stored_events(db) == before


@pytest.mark.parametrize(("args", "field", "needle"), [
    (("apply", "--uscc", U, "--application-id", "a", "--programme", "national", "--tier", "no_such_tier",
      "--occurred-on", "2019-03-01"), "tier", "unknown tier"),
    (("apply", "--uscc", U, "--application-id", "a", "--programme", "national", "--tier", "specialized",
      "--occurred-on", "2019/03/01"), "$.occurred_on", "date"),
    (("register", "--uscc", U[:17] + ("0" if U[17] != "0" else "1"), "--name", "x", "--occurred-on", "2019-01-01"),
     "$.uscc", "check character"),
    (("grant-reward", "--uscc", U, "--reward-id", "r", "--programme", "liaoning", "--scheme",
      "new_national_little_giant", "--amount-fen", "-100", "--occurred-on", "2020-01-01"), "$.amount_fen", ">"),
])
def test_malformed_input_exits_2_names_the_field_and_writes_nothing(db: Path, args: tuple[str, ...], field: str,
                                                                    needle: str) -> None:
    before = stored_events(db)
    r = run(db, *args, *AUTH)
    assert r.returncode == 2, r.stderr
    assert field in r.stderr and needle in r.stderr, r.stderr
    assert stored_events(db) == before


def test_domain_refusal_exits_1_names_rule_and_field_and_writes_nothing(db: Path) -> None:
    before = stored_events(db)
    r = run(db, "apply", "--uscc", U, "--application-id", "lg-1", "--programme", "national", "--tier",
            "little_giant", "--occurred-on", "2019-03-01", *AUTH, "--json")
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err == {"code": "ladder.prerequisite_missing", "rule": "ladder", "field": "tier",
                   "message": err["message"], "retry": "after_facts"}
    assert "specialized" in err["message"]
    assert "Ladder" in r.stderr
    assert stored_events(db) == before


def test_submit_refuses_a_batch_with_a_malformed_line_whole(db: Path, tmp_path: Path) -> None:
    good = {"command": "apply", "command_id": "b-1", "uscc": U, "application_id": "sp-9", "programme": "national",
            "tier": "specialized", "occurred_on": "2019-03-01", "actor": {"authority": "211400", "person": "p"}}
    bad = {**good, "command_id": "b-2", "occurred_on": "yesterday"}
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    before = stored_events(db)
    r = run(db, "submit", str(batch))
    assert r.returncode == 2
    assert "line 2" in r.stderr and "$.occurred_on" in r.stderr
    assert stored_events(db) == before


def test_submit_goes_on_past_refusals_and_reports_them(db: Path) -> None:
    lines = [
        {"command": "apply", "command_id": "s-1", "uscc": U, "application_id": "sp-1", "programme": "national",
         "tier": "specialized", "occurred_on": "2019-03-01", "actor": {"authority": "211400", "person": "p"}},
        {"command": "approve", "command_id": "s-2", "uscc": U, "application_id": "sp-1", "occurred_on": "2019-03-02",
         "actor": {"authority": "210000", "person": "p"}, "document": "辽工信〔2019〕1号"},
        {"command": "recommend", "command_id": "s-3", "uscc": U, "application_id": "sp-1",
         "occurred_on": "2019-03-05", "actor": {"authority": "211400", "person": "p"}},
    ]
    r = run(db, "submit", "-", "--json", stdin="\n".join(json.dumps(x) for x in lines))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert (out["accepted"], out["refused"]) == (2, 1)
    assert out["refusals"][0]["command_id"] == "s-2" and out["refusals"][0]["rule"] == "order"


def test_submit_cache_size_is_a_whole_number_named_when_wrong_and_changes_no_outcome(db: Path,
                                                                                     tmp_path: Path) -> None:
    line = {"command": "apply", "command_id": "k-1", "uscc": U, "application_id": "sp-1", "programme": "national",
            "tier": "specialized", "occurred_on": "2019-03-01", "actor": {"authority": "211400", "person": "p"}}
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(line) + "\n", encoding="utf-8")
    before = stored_events(db)
    for bad in ("-1", "many", "1e5"):
        r = run(db, "submit", str(batch), "--cache", bad)
        assert r.returncode == 2 and "--cache" in r.stderr and repr(bad) in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    env = {**os.environ, "CULTIVATION_DB": str(db), "CULTIVATION_AGGREGATE_CACHE": "lots"}
    r = subprocess.run([sys.executable, "-m", "entrypoints.cli", "submit", str(batch), "--json"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    err = json.loads(r.stdout)["error"]
    assert err["field"] == "CULTIVATION_AGGREGATE_CACHE" and "'lots'" in err["message"]
    assert stored_events(db) == before
    r = run(db, "submit", str(batch), "--cache", "0", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accepted"] == 1 and stored_events(db) == before + 1


def designate_specialized(db: Path) -> None:
    """Take enterprise U to a provincial 专精特新 designation (2019-05-20) through the CLI."""
    steps = [
        ("apply", "--application-id", "sp-1", "--programme", "national", "--tier", "specialized",
         "--occurred-on", "2019-03-01", *AUTH),
        ("recommend", "--application-id", "sp-1", "--occurred-on", "2019-04-01", *AUTH),
        ("assess", "--application-id", "sp-1", "--score", "75", "--occurred-on", "2019-05-01",
         "--authority", "210000"),
        ("open-notice", "--application-id", "sp-1", "--occurred-on", "2019-05-10", "--authority", "210000"),
        ("approve", "--application-id", "sp-1", "--occurred-on", "2019-05-20", "--authority", "210000",
         "--document", "辽工信发〔2019〕12号"),
    ]
    for step in steps:
        r = run(db, step[0], "--uscc", U, *step[1:])
        assert r.returncode == 0, (step, r.stderr)


def test_pool_and_history_json(db: Path) -> None:
    designate_specialized(db)
    r = run(db, "pool", "--tier", "specialized", "--level", "provincial", "--region", "211400", "--as-of",
            "2021-01-01", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["as_of"] == "2021-01-01" and out["count"] == 1 and len(out["items"]) == 1
    assert out["items"][0]["uscc"] == U and out["items"][0]["valid_until"] == "2022-05-20"
    expired = json.loads(run(db, "pool", "--tier", "specialized", "--region", "211400", "--as-of", "2022-05-20",
                             "--json").stdout)
    assert expired["count"] == 0  # expiry follows from time: no event was needed
    elsewhere = json.loads(run(db, "pool", "--tier", "specialized", "--region", "370200", "--as-of", "2021-01-01",
                               "--json").stdout)
    assert elsewhere["count"] == 0
    h = json.loads(run(db, "history", U, "--json").stdout)
    assert [e["type"] for e in h["events"]] == ["Registered", "Applied", "Recommended", "Assessed", "NoticeOpened",
                                                "Approved"]
    assert h["events"][-1]["document"] == "辽工信发〔2019〕12号"
    assert h["events"][-1]["actor"]["authority"] == "210000"
    table = run(db, "pool", "--tier", "specialized", "--region", "211400", "--as-of", "2021-01-01")
    assert "专精特新中小企业" in table.stdout and U in table.stdout


def test_pool_counts_ever_and_new_beside_valid(db: Path) -> None:
    """An expired designation is no longer valid, but its enterprise was ever designated, and
    newly so in the year of its approval (README, "Three counts")."""
    designate_specialized(db)

    def count(*flags: str) -> int:
        r = run(db, "pool", "--tier", "specialized", "--region", "211400", *flags, "--json")
        assert r.returncode == 0, r.stderr
        return int(json.loads(r.stdout)["count"])

    assert count("--as-of", "2023-01-01") == 0
    assert count("--as-of", "2023-01-01", "--count", "ever") == 1
    assert (count("--count", "new", "--year", "2019"), count("--count", "new", "--year", "2020")) == (1, 0)
    assert count("--as-of", "2019-05-19", "--count", "ever") == 0  # the day before its approval
    r = run(db, "pool", "--tier", "specialized", "--year", "2019")
    assert r.returncode == 2 and "--year" in r.stderr  # a year goes with --count new
    r = run(db, "pool", "--tier", "specialized", "--count", "new", "--year", "2020", "--as-of", "2019-12-31")
    assert r.returncode == 2 and "--year" in r.stderr
    assert "ever: ever designated up to the date" in " ".join(run(db, "pool", "--help").stdout.split())


def test_pool_rejects_a_bad_date_and_an_unknown_tier(db: Path) -> None:
    r = run(db, "pool", "--tier", "specialized", "--as-of", "2021-02-30")
    assert r.returncode == 2 and "--as-of" in r.stderr
    r = run(db, "pool", "--tier", "giant")
    assert r.returncode == 2 and "unknown tier" in r.stderr


def test_overdue_lists_missing_yearly_data_and_late_change_reports(db: Path) -> None:
    designate_specialized(db)
    out = json.loads(run(db, "overdue", "--as-of", "2020-06-01", "--region", "211400", "--json").stdout)
    assert out["data_year"] == 2019
    assert [(i["uscc"], i["kind"]) for i in out["items"]] == [(U, "yearly_data")]
    assert run(db, "file-yearly-data", "--uscc", U, "--data-year", "2019", "--occurred-on", "2020-03-01",
               *AUTH).returncode == 0
    assert run(db, "report-change", "--uscc", U, "--kind", "rename", "--new-name", "葫芦岛新泵业有限公司",
               "--changed-on", "2020-01-05", "--occurred-on", "2020-05-20", *AUTH).returncode == 0
    out = json.loads(run(db, "overdue", "--as-of", "2020-06-01", "--region", "211400", "--json").stdout)
    assert [(i["kind"], i["detail"]) for i in out["items"]] == [
        ("late_change_report", "rename of 2020-01-05 reported late")]
    assert json.loads(run(db, "overdue", "--as-of", "2020-06-01", "--region", "370200", "--json").stdout)[
        "count"] == 0


def test_assess_and_review_take_yearly_indicators_as_year_name_value(db: Path) -> None:
    """``--yearly YEAR:NAME=INT`` (repeatable) gives the figures of data years before the last;
    the assessment records them; a malformed one is bad input naming the field."""
    for sub in ("assess", "review"):
        r = run(db, sub, "--help")
        assert "--yearly YEAR:NAME=INT" in r.stdout and "--score" in r.stdout, sub
    assert "--indicator NAME=INT" in run(db, "review", "--help").stdout
    for args in (("apply", "--application-id", "sp", "--programme", "national", "--tier", "specialized",
                  "--occurred-on", "2023-03-01", "--authority", "211402", "--role", "enterprise"),
                 ("recommend", "--application-id", "sp", "--occurred-on", "2023-03-02", *AUTH)):
        r = run(db, *args[:1], "--uscc", U, *args[1:])
        assert r.returncode == 0, r.stderr
    before = stored_events(db)
    bad = run(db, "assess", "--uscc", U, "--application-id", "sp", "--occurred-on", "2023-03-10",
              "--authority", "210000", "--yearly", "2021rd_ratio_bp=350")
    assert bad.returncode == 2 and "$.yearly_indicators" in bad.stderr and "YEAR:NAME=INT" in bad.stderr, bad.stderr
    assert stored_events(db) == before
    r = run(db, "assess", "--uscc", U, "--application-id", "sp", "--occurred-on", "2023-03-10", "--authority",
            "210000", "--score", "70", "--indicator", "niche_years=3", "--yearly", "2021:rd_expense_fen=120000000",
            "--yearly", "2021:rd_ratio_bp=350")
    assert r.returncode == 0, r.stderr
    history = json.loads(run(db, "--json", "history", U).stdout)
    assessed = [e for e in history["events"] if e["type"] == "Assessed"][-1]["details"]
    assert assessed["yearly_indicators"]["2021"] == {"rd_expense_fen": 120000000, "rd_ratio_bp": 350}
    assert assessed["yearly_indicators"]["2022"] == {"niche_years": 3}  # the last data year: the indicators
