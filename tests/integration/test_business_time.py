"""Issue 10: every answer as of D is the state on D, as recorded by T — the property test on
both stores: for random histories whose business dates come in random order, every pool and
report answer as of D and as recorded by T equals a fold, written here independently of
``projections/``, of just the events recorded by T with their business dates up to D.  The
issue's reproductions through the CLI: tests/e2e/test_business_time_cli.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import LedgerError
from domain.values import region_prefix
from infra.integrity import position_recorded_by, utc_text
from infra.readmodel import ReadModel
from reports.figures import build_report
from services import commands as c
from services.ledger import Ledger
from tests.support.journeys import designate, register
from tests.support.ledgers import Script, pg_schema_url, uscc

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

    if request.param == "postgres" and pg_base_url is None:
        pytest.skip("no PostgreSQL: set CULTIVATION_TEST_PG, run one on 127.0.0.1:5432, or start Docker")

    @contextmanager
    def make() -> Iterator[Ledger]:
        n = next(_run)
        urls = pg_schema_url(pg_base_url) if request.param == "postgres" else iter([str(tmp_path / f"l{n}.db")])
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
