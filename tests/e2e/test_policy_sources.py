"""Issue 14, deliverable 2: ``cultivation policy --sources`` lists every rule of the policy
files with its source or its assumption, uncited rules first, then assumptions — through the
real command, on the shipped files and on a folder with a rule that cites nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from infra.policy_files import SHIPPED
from tests.support.hostile import cli

UNCITED_TIER = """
[[tiers]]
id = "unsourced"
name = "未注明出处"
deciding_level = "provincial"
notice_days = 9
"""


def _sources(tmp_path: Path, *flags: str, policies: Path | None = None) -> list[dict[str, object]]:
    extra = ("--policies", str(policies)) if policies else ()
    r = cli("policy", "--sources", "--json", *extra, *flags, db=str(tmp_path / "none.db"), home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "none.db").exists()  # the policy needs no store and makes none
    rows: list[dict[str, object]] = json.loads(r.stdout)
    return rows


def test_every_shipped_rule_shows_a_source_or_an_assumption_assumptions_first(tmp_path: Path) -> None:
    rows = _sources(tmp_path)
    assert rows and all(r["cited"] for r in rows)
    assumed = [bool(str(r["assumption"]).strip()) for r in rows]
    assert assumed == sorted(assumed, reverse=True)  # every assumption before the first checked rule
    assert {f"{r['programme']}@{r['version']}" for r in rows} >= {
        "national@2018", "national@2022", "national@2026", "liaoning@2019", "zhejiang@2022", "qingdao@2012",
        "dalian@2021", "dalian@2023"}
    review = next(r for r in rows if r["version"] == "2026" and r["rule"] == "tier little_giant.review_under")
    assert review["value"] == "2022" and "117号" in str(review["source"])
    renewal = next(r for r in rows if r["programme"] == "liaoning" and r["rule"] == "tier little_giant.renewal")
    assert renewal["value"] == "replace" and "辽工信改革〔2024〕6号" in str(renewal["source"])
    inherited = next(r for r in rows if r["programme"] == "qingdao" and r["rule"] == "tier product.notice_days")
    assert inherited["inherited"] == "tier product" and inherited["value"] == "7 calendar days"


def test_the_filters_pick_one_rule_version_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    rows = _sources(tmp_path, "--programme", "national", "--version", "2026")
    assert {(r["programme"], r["version"]) for r in rows} == {("national", "2026")}
    deadline = next(r for r in rows if r["rule"] == "programme.yearly_data_deadline")
    assert deadline["value"] == "05-31" and "2号" in str(deadline["source"])
    for flags, field, known in ((("--programme", "nowhere"), "--programme", "liaoning"),
                                (("--programme", "liaoning", "--version", "2026"), "--version", "2019")):
        r = cli("policy", "--sources", *flags, db=str(tmp_path / "none.db"), home=tmp_path)
        assert r.returncode == 2 and b"Traceback" not in r.stderr
        line = r.stderr.decode()
        assert field in line and known in line, line  # names the flag and the values it takes


def test_a_rule_without_a_citation_is_listed_first_as_uncited(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    qingdao = folder / "qingdao.toml"
    text = qingdao.read_text(encoding="utf-8")
    head, sep, tail = text.partition("\n[[schemes]]")
    qingdao.write_text(head + "\n" + UNCITED_TIER + sep + tail, encoding="utf-8")
    rows = _sources(tmp_path, "--programme", "qingdao", policies=folder)
    uncited = [r["rule"] for r in rows if not r["cited"]]
    assert uncited[:2] == ["tier unsourced", "tier unsourced.validity_years"]
    assert [r["rule"] for r in rows[:len(uncited)]] == uncited  # uncited before everything else
    assert "tier unsourced.notice_days" in uncited

    r = cli("policy", "--sources", "--programme", "qingdao", "--policies", str(folder),
            db=str(tmp_path / "none.db"), home=tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 0 and f"{len(uncited)} uncited" in out
    first = next(line for line in out.splitlines() if "qingdao@2012" in line)
    assert "tier unsourced" in first and "UNCITED" in first


def test_help_names_the_flags_and_the_order(tmp_path: Path) -> None:
    r = cli("policy", "--help", db=str(tmp_path / "none.db"), home=tmp_path)
    out = r.stdout.decode()
    assert r.returncode == 0
    for word in ("--sources", "--programme", "--version", "uncited rules first, then", "assumptions"):
        assert word in " ".join(out.split()), word
