"""Issue 10: every answer as of D is the state on D, as recorded by T.

The reproductions of the issue (each an answer that carried facts from after D), then a
property test: for random histories whose business dates come in random order, every pool
and report answer as of D and as recorded by T equals a fold, written here independently
of ``projections/``, of just the events recorded by T with their business dates up to D.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Script, uscc
from domain.errors import LedgerError
from domain.values import region_prefix
from infra.integrity import position_recorded_by, utc_text
from infra.readmodel import ReadModel
from journeys import designate, register
from services import commands as c
from scenarios.demo import demo_script
from services.ledger import Ledger
from reports.figures import build_report

ROOT = Path(__file__).resolve().parents[1]


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
    try:
        for obj, _ in demo_script():
            try:
                ledger.handle(c.convert_command(obj))
            except (LedgerError, c.InputError):
                pass  # the demo's refused commands, each with the refusal it must get
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
    listed = [x for x in report["expiring"] + report["review_due"] if x["uscc"] == "91211402MA11DC1W9Q" and x["tier"] == "specialized"]
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


# ---------------------------------------------------------------------------- the property
COUNTIES = ("211402", "211403", "211421")
TIERS = ("innovative", "specialized")


def _fold(events: list[tuple[int, Any]], as_of: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The enterprises and designations on ``as_of``: the events dated up to it, in ledger
    order, folded here without the projections' code."""
    ents: dict[str, dict[str, Any]] = {}
    apps: dict[tuple[str, str], dict[str, Any]] = {}
    for _, ev in events:
        on = getattr(ev, "occurred_on", None)
        if on is None or on.isoformat() > as_of:
            continue
        kind, eid = type(ev).__name__, str(ev.originator_id)
        if kind == "Registered":
            ents[eid] = {"uscc": ev.uscc, "name": ev.name, "region": ev.region}
        elif kind == "ChangeReported":
            if ev.new_name:
                ents[eid]["name"] = ev.new_name
            if ev.kind == "relocation" and ev.new_region:
                ents[eid]["region"] = ev.new_region
        elif kind == "Applied":
            apps[(eid, ev.application_id)] = {"tier": ev.tier, "level": ev.level, "programme": ev.programme,
                                              "status": "applied", "valid_from": None, "valid_until": None,
                                              "revoked_on": None, "ended_on": None}
        elif (eid, getattr(ev, "application_id", None)) in apps:
            a = apps[(eid, ev.application_id)]
            if kind == "Approved":
                a.update(status="approved", valid_from=ev.valid_from.isoformat(),
                         valid_until=ev.valid_until.isoformat())
            elif kind in ("Rejected", "Withdrawn", "Annulled"):
                a["status"] = kind.lower()
            elif kind == "Revoked":
                a["revoked_on"] = ev.effective_on.isoformat()
            elif kind == "Reconfirmed" and not ev.confirmed:
                a["ended_on"] = ev.occurred_on.isoformat()
            elif kind == "Reviewed" and ev.passed:
                if ev.new_application_id is None:
                    a["valid_until"] = ev.valid_until.isoformat()
                else:
                    apps[(eid, ev.new_application_id)] = {**a, "valid_from": a["valid_until"],
                                                          "valid_until": ev.valid_until.isoformat()}
    designations = {}
    for (eid, app_id), a in apps.items():
        valid = (a["status"] == "approved" and a["valid_from"] <= as_of < a["valid_until"]
                 and not (a["revoked_on"] and a["revoked_on"] <= as_of)
                 and not (a["ended_on"] and a["ended_on"] <= as_of))
        if valid:
            designations[f"{eid}/{app_id}"] = {**a, **ents[eid]}
    return {k: v for k, v in ents.items()}, designations


def _events(ledger: Ledger, upto: int) -> list[tuple[int, Any]]:
    out, start = [], 1
    while start <= upto:
        notes = ledger.recorder.select_notifications(start=start, limit=1000, stop=upto)
        if not notes:
            break
        out.extend((n.id, ledger.mapper.to_domain_event(n)) for n in notes)
        start = notes[-1].id + 1
    return out


def _dates(lo: str, hi: str) -> st.SearchStrategy[date]:
    return st.dates(min_value=date.fromisoformat(lo), max_value=date.fromisoformat(hi))


ACTION = st.one_of(
    st.tuples(st.just("designate"), st.integers(0, 2), st.sampled_from(TIERS), _dates("2022-08-01", "2025-09-30")),
    st.tuples(st.just("rename"), st.integers(0, 2), st.text("甲乙丙丁戊", min_size=1, max_size=3),
              _dates("2020-03-01", "2025-12-31")),
    st.tuples(st.just("relocate"), st.integers(0, 2), st.sampled_from(COUNTIES), _dates("2020-03-01", "2025-12-31")),
    st.tuples(st.just("revoke"), st.integers(0, 2), st.integers(0, 3), _dates("2022-09-01", "2025-12-31")),
    st.tuples(st.just("review"), st.integers(0, 2), st.integers(0, 3), st.integers(0, 80)),
)


def _act(script: Script, codes: list[str], apps: list[tuple[str, str, date]], action: tuple[Any, ...]) -> None:
    kind, who, arg, when = action
    code = codes[who]
    try:
        if kind == "designate":
            d = designate(script, code, arg, approve_on=when)
            apps.append((code, d.application_id, when))
        elif kind == "rename":
            script.ok("report_change", uscc=code, programme="national", kind="rename", changed_on=str(when),
                      new_name=f"{arg}有限公司", occurred_on=str(when), actor="211400")
        elif kind == "relocate":
            script.ok("report_change", uscc=code, programme="national", kind="relocation", changed_on=str(when),
                      new_region=arg, occurred_on=str(when), actor="211400")
        elif kind == "revoke":
            mine = [a for a in apps if a[0] == code]
            if mine:
                _, app, _ = mine[arg % len(mine)]
                script.ok("revoke", uscc=code, application_id=app, reason="fraud", effective_on=str(when),
                          occurred_on=str(when), actor="210000", document=f"辽工信〔{when.year}〕{arg}号")
        elif kind == "review":
            mine = [a for a in apps if a[0] == code]
            if mine:
                _, app, approved = mine[arg % len(mine)]
                a = script.ledger.enterprise(code).applications[app]
                if a.valid_until is not None:
                    on = a.valid_until - timedelta(days=1 + when)
                    for year in (on.year - 2, on.year - 1):
                        try:
                            script.ok("file_yearly_data", uscc=code, programme="national", data_year=year,
                                      occurred_on=f"{year + 1}-03-01", actor="211400", indicators={"revenue_fen": 1})
                        except (LedgerError, c.InputError):
                            pass
                    script.ok("review", uscc=code, application_id=app, passed=True, occurred_on=str(on),
                              actor="210000", document="辽工信复核")
    except (LedgerError, c.InputError):
        pass  # refused: the history is whatever was accepted


_run = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_ledger(request: pytest.FixtureRequest, tmp_path: Path, pg_base_url: str | None) -> Any:
    """A factory of ledgers on fresh stores, one per hypothesis example (SQLite, PostgreSQL)."""
    from contextlib import contextmanager

    from conftest import _pg_schema_url

    if request.param == "postgres" and pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")

    @contextmanager
    def make() -> Iterator[Ledger]:
        n = next(_run)
        urls = _pg_schema_url(pg_base_url) if request.param == "postgres" else iter([str(tmp_path / f"l{n}.db")])
        url = next(urls)
        ledger = Ledger(db=url)
        try:
            yield ledger
        finally:
            ledger.close()
            next(urls, None)  # drops the schema
    return make


@settings(max_examples=int(os.environ.get("CULTIVATION_PROPERTY_EXAMPLES", "12")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(ACTION, min_size=3, max_size=14), probes=st.lists(
    st.tuples(_dates("2021-01-01", "2026-06-30"), st.floats(0, 1)), min_size=2, max_size=4))
def test_answers_as_of_d_as_recorded_by_t_equal_an_independent_fold(
        fresh_ledger: Any, actions: list[tuple[Any, ...]], probes: list[tuple[date, float]]) -> None:
    with fresh_ledger() as ledger:
        _check_history(ledger, actions, probes)


def _check_history(ledger: Ledger, actions: list[tuple[Any, ...]], probes: list[tuple[date, float]]) -> None:
    script = Script(ledger)
    codes = [uscc(100 + i, COUNTIES[i]) for i in range(3)]
    for code in codes:
        register(script, code, on="2020-01-10")
    apps: list[tuple[str, str, date]] = []
    for action in actions:  # business dates in random order
        _act(script, codes, apps, action)
    head = ledger.max_position()
    mine = set(codes)
    everything = _events(ledger, head)
    for as_of_date, share in probes:
        as_of = as_of_date.isoformat()
        # T: a ledger time between two recorded events of this history (or after all of them)
        k = int(share * (len(everything) - 1))
        moment = utc_text(everything[k][1].timestamp)
        upto = position_recorded_by(ledger, moment)
        recorded = [(p, e) for p, e in everything if utc_text(e.timestamp) <= moment]
        ents, expected = _fold(recorded, as_of)
        rm = ReadModel(ledger, prefix="asrec", follows_store=False, target=":memory:")
        try:
            rm.catch_up(upto=upto)
            for tier in TIERS:
                for region in ("211400", "211402", "211403", "211421"):
                    got = {(d.key, d.name, d.region, d.valid_until) for d in rm.pool(tier=tier, as_of=as_of,
                                                                                     region=region)
                           if d.uscc in mine}
                    want = {(k2, d["name"], d["region"], d["valid_until"]) for k2, d in expected.items()
                            if d["tier"] == tier and d["region"].startswith(region_prefix(region))}
                    assert got == want, (tier, region, as_of, moment)
            on_d = {e.uscc: (e.name, e.region) for e in rm.on("enterprise", as_of) if e.uscc in mine}
            assert on_d == {e["uscc"]: (e["name"], e["region"]) for e in ents.values()}
            report = build_report(rm, ledger.policy, as_of=as_of, region="211400")
            totals = {(r.programme, r.tier, r.level): r.total for r in report.counts if r.total}
            want_totals: dict[tuple[str, str, str], int] = {}
            for d in expected.values():
                key = (d["programme"], d["tier"], d["level"])
                want_totals[key] = want_totals.get(key, 0) + 1
            assert totals == want_totals, (as_of, moment)
            # every point of the chart is the fold on that day
            for s in report.series:
                for i in [*range(0, len(report.months), 7), len(report.months) - 1]:
                    _, on_m = _fold(recorded, report.months[i])
                    n_m = sum(1 for d in on_m.values() if (d["programme"], d["tier"], d["level"])
                              == (s.programme, s.tier, s.level))
                    assert s.counts[i] == n_m, (s.label, report.months[i])
            assert all(m <= as_of for m in report.months)
        finally:
            rm.close()


def test_history_composes_both_clocks(demo_home: Path) -> None:
    """history --as-of D --as-recorded T: only events dated by D and recorded by T."""
    full = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q").stdout)
    dated = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q", "--as-of", "2023-06-29").stdout)
    assert any(e["occurred_on"] > "2023-06-29" for e in full["events"])
    assert dated["events"] == [e for e in full["events"] if e["occurred_on"] <= "2023-06-29"]
    none = json.loads(cli(demo_home, "--json", "history", "91211402MA11DC1W9Q", "--as-of", "2023-06-29",
                          "--as-recorded", "2000-01-01").stdout)
    assert none["count"] == 0
