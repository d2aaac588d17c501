"""``cultivation demo`` end to end: one store holds every city's history, and the output
shows, city by city, each figure of the city's report beside the ledger's answer (issue 13).

The demo runs once for the module (some 25,000 commands, about ten seconds); the table run
is checked against the JSON run on a second home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scenarios.demo import CITY_REPORTS


def demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_HOME": str(home), "COLUMNS": "200"}
    env.pop("CULTIVATION_DB", None)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", "demo", *args], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def answer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    r = demo(tmp_path_factory.mktemp("demo-json"), "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_every_citys_report_is_reproduced_by_the_ledger(answer: dict[str, Any]) -> None:
    assert not answer["unexpected"]
    reports = {r["region"]: r for r in answer["reports"]}
    assert list(reports) == [r.region for r in CITY_REPORTS] == ["211400", "210200", "370200", "330100"]
    for r in answer["reports"]:
        for f in r["figures"]:
            assert f["count"] == f["expected"], (r["name"], f)
    dalian = {f["label"]: (f["reported"], f["count"]) for f in reports["210200"]["figures"]}
    assert dalian == {"国家级专精特新\"小巨人\"企业": ("73家", 73), "专精特新中小企业（大连市认定）": ("435家", 435),
                      "创新型中小企业（大连市认定）": ("833家", 833), "专精特新培育库": ("近3000户", 2950)}
    assert reports["210200"]["region_name"] == "大连市"
    qingdao = [f["count"] for f in reports["370200"]["figures"]]
    assert qingdao == [798, 5, 200, 4, 20, 1]
    # progress against the targets of the policy files: Qingdao's 131 on 2020-12-31, Hangzhou's 万千百
    qd_targets = {t["label"]: t["actual"] for t in reports["370200"]["targets"]}
    assert qd_targets["“十三五”末累计培育专精特新产品（技术）1000项"] == 1130
    assert len(reports["330100"]["targets"]) == 4 and reports["330100"]["figures"] == []
    assert all(p["count"] == p["expected"] for p in answer["pools"])


def test_the_table_shows_the_figures_city_by_city_with_the_command_that_asks_them(
        tmp_path: Path, answer: dict[str, Any]) -> None:
    r = demo(tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    order = [out.index(f"{name} ({code})") for code, name in
             (("211400", "葫芦岛市"), ("210200", "大连市"), ("370200", "青岛市"), ("330100", "杭州市"))]
    assert order == sorted(order)
    for needle in ("近3000户", "2950", "5批", "798项",
                   "cultivation pool --tier little_giant --level national --region 210200 --as-of 2023-07-11",
                   "targets on 2020-12-31", f"and {len(answer['pools'])} pinned counts"):
        assert needle in out, needle
