"""Issue 10: every answer as of D is the state on D, as recorded by T — the issue's
reproductions, each an answer of the CLI that carried facts from after D (the property test
on both stores: tests/integration/test_business_time.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.readmodel import ReadModel
from scenarios.demo import demo_script
from services import commands as c
from services.ledger import Ledger
from tests.support import ROOT
from tests.support.journeys import designate, register
from tests.support.ledgers import Script, uscc


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_HOME": str(home)}
    env.pop("CULTIVATION_DB", None)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


# ---------------------------------------------------------------------------- the demo: findings 1, 4, 6
@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo-home")
    ledger = Ledger(db=str(home / "ledger.db"))
    try:  # in batches, as `cultivation demo` loads it (the demo's refused commands are refused in them)
        ledger.handle_many([c.convert_command(obj) for obj, _ in demo_script()])
    finally:
        ledger.close()
    return home


def test_a_review_recorded_after_the_date_does_not_extend_validity_as_of_it(demo_home: Path) -> None:
    """Finding 1: on 2023-06-29 91211402MA11DC1W9Q was valid until 2023-11-25; the review
    that extended it is dated 2023-08-19.  pool and report now say the same."""
    out = cli(demo_home, "--json", "pool", "--tier", "specialized", "--level", "provincial", "--region", "211400",
              "--as-of", "2023-06-29")
    assert out.returncode == 0, out.stderr
    pool = json.loads(out.stdout)
    assert pool["count"] == 36
    row = next(d for d in pool["items"] if d["uscc"] == "91211402MA11DC1W9Q")
    assert (row["valid_until"], row["last_day"]) == ("2023-11-25", "2023-11-24")
    later = json.loads(cli(demo_home, "--json", "pool", "--tier", "specialized", "--level", "provincial",
                           "--region", "211400", "--as-of", "2023-08-19").stdout)
    assert next(d for d in later["items"] if d["uscc"] == "91211402MA11DC1W9Q")["valid_until"] == "2026-11-25"
    report = json.loads(cli(demo_home, "report", "--region", "211400", "--as-of", "2023-06-29", "--format",
                            "json").stdout)
    listed = [x for x in report["expiring"] + report["review_due"]
              if x["uscc"] == "91211402MA11DC1W9Q" and x["tier"] == "specialized"]
    assert listed and all((x["valid_until"], x["last_day"]) == ("2023-11-25", "2023-11-24") for x in listed)


def test_the_report_chart_ends_on_its_date(demo_home: Path) -> None:
    """Finding 4: the report as of 2023-06-29 drew pool sizes up to 2026."""
    report = json.loads(cli(demo_home, "report", "--region", "211400", "--as-of", "2023-06-29", "--format",
                            "json").stdout)
    assert report["months"][-1] == "2023-06-29" and max(report["months"]) == "2023-06-29"
    html = cli(demo_home, "report", "--region", "211400", "--as-of", "2023-06-29", "--format", "html").stdout
    assert "2024年" not in html and "2026" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_report_and_overdue_take_as_recorded(demo_home: Path) -> None:
    """Finding 6: report has --as-recorded too, and it composes with --as-of (before the
    first event was recorded, nothing was known)."""
    for sub in (["report", "--format", "json"], ["--json", "overdue"]):
        out = cli(demo_home, *sub, "--region", "211400", "--as-of", "2023-06-29", "--as-recorded", "2000-01-01")
        assert out.returncode == 0, out.stderr
        body = json.loads(out.stdout)
        assert body.get("as_recorded")
        if sub[0] == "report":
            assert body["counts"] == [] and body["position"] == 0
        else:
            assert body["count"] == 0
        now = json.loads(cli(demo_home, *sub, "--region", "211400", "--as-of", "2023-06-29",
                             "--as-recorded", "2100-01-01").stdout)
        plain = json.loads(cli(demo_home, *sub, "--region", "211400", "--as-of", "2023-06-29").stdout)
        for k in ("as_recorded",):
            now.pop(k, None), plain.pop(k, None)
        assert now == plain  # recorded by a time after everything: the plain answer


# ---------------------------------------------------------------------------- findings 2 and 3
def test_a_move_and_a_rename_count_from_their_dates(tmp_path: Path) -> None:
    """Findings 2 and 3: after a relocation and a (late) rename, pool, pooled and overdue
    for a date before them show the enterprise where it was and by the name it had."""
    db = tmp_path / "ledger.db"
    ledger = Ledger(db=str(db))
    script = Script(ledger)
    code = uscc(7101, "211402")
    register(script, code, name="旧名泵业有限公司", on="2020-01-10")
    script.ok("admit_to_pool", uscc=code, programme="national", tier="specialized", occurred_on="2021-01-05",
              actor="211400")
    designate(script, code, "specialized", approve_on="2022-09-30")
    script.ok("report_change", uscc=code, programme="national", kind="rename", changed_on="2023-09-01",
              new_name="新名泵业有限公司", occurred_on="2024-03-01", actor="211400")  # late: due 2023-12-01
    script.ok("report_change", uscc=code, programme="national", kind="relocation", changed_on="2024-05-20",
              new_region="210202", occurred_on="2024-06-01", actor="211400")
    rm = ReadModel(ledger)
    try:
        before = rm.pool(tier="specialized", as_of="2023-06-29", region="211400")
        assert [(d.uscc, d.name, d.region) for d in before] == [(code, "旧名泵业有限公司", "211402")]
        assert rm.pool(tier="specialized", as_of="2023-06-29", region="210200") == []
        after = rm.pool(tier="specialized", as_of="2024-07-01", region="210200")
        assert [(d.name, d.region) for d in after] == [("新名泵业有限公司", "210202")]
        assert rm.pool(tier="specialized", as_of="2024-07-01", region="211400") == []
        assert [(m.name, m.region) for m in rm.pooled(tier="specialized", as_of="2023-06-29", region="211400")] \
            == [("旧名泵业有限公司", "211402")]
        late = [i for i in rm.overdue(as_of="2023-06-29", data_year=2022, region="211400")
                if i["kind"] == "late_change_report"]
        assert late == []
        late = [i for i in rm.overdue(as_of="2024-03-02", data_year=2022, region="211400")
                if i["kind"] == "late_change_report"]
        assert [(i["name"], i["detail"]) for i in late] == [("新名泵业有限公司", "rename of 2023-09-01 reported late")]
        # the current rows (KV, pool subjects) carry the state now
        [current] = [d for d in rm.rows("designation") if d.uscc == code]
        assert (current.name, current.region) == ("新名泵业有限公司", "210202")
    finally:
        rm.close()
        ledger.close()
    out = cli(tmp_path, "--db", str(db), "overdue", "--region", "211400", "--as-of", "2023-06-29")
    assert out.returncode == 0 and "新名" not in out.stdout and "rename" not in out.stdout


def test_history_composes_both_clocks(demo_home: Path) -> None:
    """history --as-of D --as-recorded T: only events dated by D and recorded by T."""
    full = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q").stdout)
    dated = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q", "--as-of", "2023-06-29").stdout)
    assert any(e["occurred_on"] > "2023-06-29" for e in full["events"])
    assert dated["events"] == [e for e in full["events"] if e["occurred_on"] <= "2023-06-29"]
    none = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q", "--as-of", "2023-06-29",
                          "--as-recorded", "2000-01-01").stdout)
    assert none["count"] == 0
