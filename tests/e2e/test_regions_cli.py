"""GB/T 2260 region names through the ``cultivation`` command, on the demo ledger: ``--region``
takes a name, an unknown code or an ambiguous name is refused (exit 2) with the candidates,
and names stand beside codes in tables, CSV, HTML and JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.values import make_uscc

HULUDAO_LITTLE_GIANTS = ("pool", "--tier", "little_giant", "--level", "national", "--as-of", "2023-06-29")


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize("region", ["211400", "葫芦岛市", "葫芦岛", "辽宁省葫芦岛市"])
def test_region_by_code_or_name_gives_the_same_pool(demo_db: Path, region: str) -> None:
    r = run(demo_db, "--json", *HULUDAO_LITTLE_GIANTS, "--region", region)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["count"], out["region"], out["region_name"]) == (5, "211400", "葫芦岛市")
    names = {"211402": "连山区", "211403": "龙港区", "211404": "南票区", "211421": "绥中县", "211422": "建昌县",
             "211481": "兴城市"}
    assert out["items"] and all(i["region_name"] == names[i["region"]] for i in out["items"])


def test_an_unknown_code_is_refused_with_the_nearest_names(demo_db: Path) -> None:
    r = run(demo_db, *HULUDAO_LITTLE_GIANTS, "--region", "211499")
    assert r.returncode == 2
    assert "--region" in r.stderr and "211499 is no GB/T 2260 code" in r.stderr and "葫芦岛市 (211400)" in r.stderr
    r = run(demo_db, "--json", *HULUDAO_LITTLE_GIANTS, "--region", "葫芦到")
    assert r.returncode == 2
    error = json.loads(r.stdout)["error"]
    assert (error["code"], error["field"]) == ("input.invalid", "--region") and "葫芦岛市 (211400)" in error["message"]


def test_an_ambiguous_name_is_refused_listing_the_candidates(demo_db: Path) -> None:
    r = run(demo_db, "--json", *HULUDAO_LITTLE_GIANTS, "--region", "鼓楼区")
    assert r.returncode == 2
    message = json.loads(r.stdout)["error"]["message"]
    for candidate in ("320106 江苏省南京市鼓楼区", "320302 江苏省徐州市鼓楼区", "350102 福建省福州市鼓楼区",
                      "410204 河南省开封市鼓楼区"):
        assert candidate in message


def test_tables_show_the_name_beside_the_code(demo_db: Path) -> None:
    r = run(demo_db, *HULUDAO_LITTLE_GIANTS, "--region", "葫芦岛市")
    assert r.returncode == 0, r.stderr
    assert "葫芦岛市 (211400)" in r.stdout and "地区" in r.stdout and "连山区" in r.stdout
    r = run(demo_db, "report", "--region", "葫芦岛", "--as-of", "2023-06-29", "--table", "counts")
    assert r.returncode == 0, r.stderr
    assert "葫芦岛市 (211400)" in r.stdout and "连山区 211402" in r.stdout and "兴城市 211481" in r.stdout
    r = run(demo_db, "history", "91211402MA05H2DUHF")
    assert r.returncode == 0, r.stderr
    assert "连山区 (211402)" in r.stdout and "region=211402 连山区" in r.stdout


def test_csv_html_and_json_reports_carry_the_names(demo_db: Path) -> None:
    r = run(demo_db, "report", "--region", "210000", "--as-of", "2024-06-30", "--format", "csv", "--table",
            "expiring")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows, "the demo has designations of Liaoning expiring within the window"
    assert all(row["region_name"] and row["region"].startswith("21") for row in rows)
    r = run(demo_db, "report", "--region", "211400", "--as-of", "2023-06-29", "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["region_name"] == "葫芦岛市" and report["sub_region_names"]["211481"] == "兴城市"
    assert all(x["region_name"] for x in report["expiring"] + report["review_due"])
    r = run(demo_db, "report", "--region", "葫芦岛市", "--as-of", "2023-06-29", "--format", "html")
    assert r.returncode == 0, r.stderr
    assert "<title>优质中小企业梯度培育统计报告 · 葫芦岛市 (211400) · 2023-06-29</title>" in r.stdout
    assert "连山区 211402" in r.stdout
    r = run(demo_db, "--json", "history", "91211402MA05H2DUHF")
    assert r.returncode == 0, r.stderr
    trail = json.loads(r.stdout)
    assert trail["region_name"] == "连山区"
    assert trail["events"][0]["details"]["region_name"] == "连山区"


def test_a_command_takes_a_name_and_refuses_a_code_that_is_no_division(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    auth = ("--authority", "211400", "--person", "葫芦岛市工信局", "--occurred-on", "2023-03-01")
    uscc = make_uscc("91211402MA00RG000")
    r = run(db, "--json", "register", "--uscc", uscc, "--name", "连山某厂", "--region", "连山区", *auth)
    assert r.returncode == 0, r.stdout + r.stderr
    trail = json.loads(run(db, "--json", "history", uscc).stdout)
    assert (trail["region"], trail["region_name"]) == ("211402", "连山区")
    r = run(db, "--json", "register", "--uscc", make_uscc("91211499MA00RG000"), "--name", "某厂", *auth)
    assert r.returncode == 1  # the region inside the USCC is no GB/T 2260 division
    error = json.loads(r.stdout)["error"]
    assert (error["code"], error["field"]) == ("region.unknown", "region") and "nearest" in error["message"]
