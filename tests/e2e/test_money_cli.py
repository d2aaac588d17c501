"""The money facts through the command line (issue 13, deliverable 5): the fact commands
have their subcommands, and ``pool`` and ``report`` filter on an industrial chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.ledgers import uscc

HZ = uscc(80, "330106")


def run(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=120)


def line(n: int, command: str, on: str, authority: str, **fields: object) -> str:
    return json.dumps({"command": command, "command_id": f"m-{n}", "occurred_on": on,
                       "actor": {"authority": authority, "person": "p"}, **fields}, ensure_ascii=False)


def test_fact_commands_have_subcommands(tmp_path: Path) -> None:
    for sub in ("record-loan", "record-repayment", "recognise-product", "tag-chain"):
        r = run(tmp_path / "x.db", sub, "--help")
        assert r.returncode == 0 and "--uscc" in r.stdout, sub
    r = run(tmp_path / "x.db", "pool", "--help")
    assert "--chain" in r.stdout


def test_pool_and_report_filter_on_a_chain(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    zj, hz = "330000", "330100"
    steps = [
        line(1, "register", "2022-01-10", hz, uscc=HZ, name="杭州某智能装备有限公司", region="330106"),
        line(2, "apply", "2022-03-01", hz, uscc=HZ, application_id="sp", programme="national", tier="specialized"),
        line(3, "recommend", "2022-03-02", hz, uscc=HZ, application_id="sp"),
        line(4, "assess", "2022-03-11", zj, uscc=HZ, application_id="sp", score=80,
             indicators={"niche_years": 5, "rd_expense_fen": 300_000_000, "rd_ratio_bp": 500,
                         "revenue_fen": 6_000_000_000, "main_business_bp": 9000, "debt_ratio_bp": 4000}),
        line(5, "open_notice", "2022-03-12", zj, uscc=HZ, application_id="sp"),
        line(6, "approve", "2022-03-19", zj, uscc=HZ, application_id="sp", document="浙经信企业〔2022〕1号"),
        line(7, "tag_chain", "2023-05-18", hz, uscc=HZ, programme="zhejiang", chain="intelligent_equipment",
             document="杭经信〔2023〕41号"),
    ]
    r = run(db, "submit", "-", "--json", stdin="\n".join(steps))
    assert r.returncode == 0, r.stdout + r.stderr

    def pool(*extra: str) -> dict:
        r = run(db, "pool", "--tier", "specialized", "--region", "330100", "--as-of", "2023-06-01", "--json", *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    assert pool()["count"] == 1
    tagged = pool("--chain", "zhejiang/intelligent_equipment")
    assert tagged["count"] == 1 and tagged["chain"] == "zhejiang/intelligent_equipment"
    assert pool("--chain", "biomedicine")["count"] == 0
    r = run(db, "pool", "--tier", "specialized", "--chain", "shipbuilding")
    assert r.returncode == 2 and "--chain" in r.stderr and "unknown industrial chain" in r.stderr
    table = run(db, "pool", "--tier", "specialized", "--region", "330100", "--as-of", "2023-06-01", "--chain",
                "intelligent_equipment")
    assert "产业链 intelligent_equipment" in table.stdout and HZ in table.stdout
    report = json.loads(run(db, "report", "--region", "330100", "--as-of", "2023-06-01", "--chain",
                            "intelligent_equipment", "--json").stdout)
    assert report["chain"] == "intelligent_equipment"
    assert sum(c["total"] for c in report["counts"]) == 1
    empty = json.loads(run(db, "report", "--region", "330100", "--as-of", "2023-06-01", "--chain", "biomedicine",
                           "--json").stdout)
    assert sum(c["total"] for c in empty["counts"]) == 0
