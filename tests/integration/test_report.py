"""``cultivation report``: the statistics in the form the reports use (``reports.figures``).

On the demo data the report for Huludao (211400) as of 2023-06-29 gives docs/domain.md's row;
the month-end series agree with the pool queries; the rewards section adds up to the
reward events in the store; the expiring and review lists are checked against a small
hand-computed ledger (as each designation stood on the date, whatever was recorded
later).  The JSON, CSV and HTML outputs of the real command: tests/e2e/test_report_cli.py.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from infra.readmodel import SCHEMA, ReadModel
from reports.figures import Report, build_report
from scenarios.demo import DEMO_AS_OF
from services.ledger import Ledger
from tests.support.demo import HULUDAO
from tests.support.journeys import designate, file_yearly_data, register
from tests.support.ledgers import Script, uscc

HULUDAO_COUNTIES = {"211402", "211403", "211404", "211421", "211422", "211481"}


# ---------------------------------------------------- demo data (the demo_db and demo fixtures: tests/conftest.py)
def counts_of(report: Report) -> dict[tuple[str, str, str], int]:
    return {(r.programme, r.tier, r.level): r.total for r in report.counts}


def test_the_huludao_row_of_the_report(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    report = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400")
    assert counts_of(report) == HULUDAO
    names = {(r.programme, r.tier, r.level): (r.tier_name, r.level_name) for r in report.counts}
    assert names[("national", "little_giant", "national")] == ('专精特新"小巨人"企业', "国家级")
    assert names[("liaoning", "little_giant", "provincial")] == ('辽宁省专精特新"小巨人"企业', "省级")
    assert names[("national", "innovative", "provincial")] == ("创新型中小企业", "省级")
    # a city's sub-regions are its counties, and they add up to the total
    assert set(report.sub_regions) <= HULUDAO_COUNTIES and len(report.sub_regions) >= 4
    for row in report.counts:
        assert sum(row.by_region.values()) == row.total, row
    # every figure is what the pool query gives
    for (programme, tier, level), n in counts_of(report).items():
        assert len(rm.pool(tier=tier, level=level, programme=programme, region="211400", as_of=DEMO_AS_OF)) == n
    for county in report.sub_regions:
        for row in report.counts:
            assert row.by_region.get(county, 0) == len(rm.pool(tier=row.tier, level=row.level, programme=row.programme,
                                                               region=county, as_of=DEMO_AS_OF))


def test_tier_names_follow_the_policy_in_force(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    report = build_report(rm, ledger.policy, as_of="2026-06-30", region="211400")
    names = {(r.programme, r.tier): r.tier_name for r in report.counts}
    assert names[("national", "innovative")] == "科技和创新型中小企业"  # renamed by the 2026 rules


def test_a_province_is_broken_down_by_cities_and_the_country_by_provinces(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    liaoning = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="210000")
    assert {"210200", "211400"} <= set(liaoning.sub_regions)
    assert all(s.endswith("00") and s.startswith("21") for s in liaoning.sub_regions)
    huludao = counts_of(build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400"))
    for row in liaoning.counts:
        assert row.by_region.get("211400", 0) == huludao.get((row.programme, row.tier, row.level), 0)
    country = build_report(rm, ledger.policy, as_of=DEMO_AS_OF)
    assert {"210000", "370000", "330000"} <= set(country.sub_regions)
    assert all(s.endswith("0000") for s in country.sub_regions)


def test_the_monthly_series_agree_with_the_pool_queries(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    report = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400")
    # The chart ends on the report's date (issue 10: nothing dated after it is drawn).
    assert report.months[0] == "2018-01-31" and report.months[-1] == DEMO_AS_OF
    assert report.months[-2] == "2023-05-31" and report.months == sorted(report.months)
    assert len(report.series) == len(report.counts)
    for s in report.series:
        assert len(s.counts) == len(report.months)
        for i in range(0, len(report.months), 5):  # a sample of month-ends, each against a query
            n = len(rm.pool(tier=s.tier, level=s.level, programme=s.programme, region="211400",
                            as_of=report.months[i]))
            assert s.counts[i] == n, (s.label, report.months[i])
    assert {(s.programme, s.tier, s.level): s.counts[-1] for s in report.series} == HULUDAO


def _reward_events(ledger: Ledger) -> list[tuple[str, Any, str]]:
    """(type, event, enterprise region at the time) of every reward and budget event, in order."""
    regions: dict[str, str] = {}
    out = []
    start, head = 1, ledger.max_position()
    while start <= head:
        notes = ledger.recorder.select_notifications(start=start, limit=1000)
        if not notes:
            break
        for n in notes:
            ev = ledger.mapper.to_domain_event(n)
            kind = type(ev).__name__
            eid = str(ev.originator_id)
            if kind == "Registered":
                regions[eid] = ev.region
            elif kind == "ChangeReported" and ev.kind == "relocation" and ev.new_region:
                regions[eid] = ev.new_region
            elif kind in ("RewardGranted", "RewardClawedBack", "Spent", "Refunded", "Opened"):
                out.append((kind, ev, regions.get(eid, "")))
        start = notes[-1].id + 1
    return out


def test_the_rewards_add_up_to_the_reward_events(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    events = _reward_events(ledger)
    granted = [e for k, e, _ in events if k == "RewardGranted"]
    clawed = [e for k, e, _ in events if k == "RewardClawedBack"]
    assert granted and clawed, "the demo grants and claws back"

    everything = build_report(rm, ledger.policy, as_of="2100-01-01")
    assert sum(r.granted_fen for r in everything.rewards) == sum(e.amount_fen for e in granted)
    assert sum(r.clawed_back_fen for r in everything.rewards) == sum(e.amount_fen for e in clawed)
    assert sum(r.rewards for r in everything.rewards) == len(granted)
    t = everything.reward_totals
    assert (t.granted_fen, t.clawed_back_fen, t.net_fen) == (
        sum(e.amount_fen for e in granted), sum(e.amount_fen for e in clawed),
        sum(e.amount_fen for e in granted) - sum(e.amount_fen for e in clawed))
    # against the budgets: what the SchemeBudget aggregates spent and refunded, and their budgets
    spent: dict[tuple[str, str, int], int] = defaultdict(int)
    budget: dict[tuple[str, str, int], int | None] = {}
    opened = {str(e.originator_id): (e.programme, e.scheme, e.year) for k, e, _ in events if k == "Opened"}
    for k, e, _ in events:
        if k == "Opened":
            budget[(e.programme, e.scheme, e.year)] = e.budget_fen
        elif k in ("Spent", "Refunded"):
            spent[opened[str(e.originator_id)]] += e.amount_fen if k == "Spent" else -e.amount_fen
    # a fund's one budget (Dalian's special fund) is used by every scheme it pays
    assert {(r.programme, r.fund or r.scheme, r.year) for r in everything.rewards} == set(budget)
    assert any(r.fund for r in everything.rewards), "the demo pays from a fund"
    net: dict[tuple[str, str, int], int] = defaultdict(int)
    for r in everything.rewards:
        net[(r.programme, r.fund or r.scheme, r.year)] += r.net_fen
    for r in everything.rewards:
        key = (r.programme, r.fund or r.scheme, r.year)
        assert net[key] == r.budget_used_fen == spent[key], key
        assert r.budget_fen == budget[key]
        programme = ledger.policy.in_force(r.programme, date(r.year, 12, 31))
        assert (r.fund or r.scheme, r.budget_fen) == programme.budget_of(programme.scheme(r.scheme))
        assert r.remaining_fen == (None if r.budget_fen is None else r.budget_fen - spent[key])

    # Huludao on the report's date: only its enterprises' rewards, only what was dated by then
    huludao = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="211400")
    mine = [(k, e) for k, e, region in events if region.startswith("2114")
            and k in ("RewardGranted", "RewardClawedBack") and e.occurred_on.isoformat() <= DEMO_AS_OF]
    assert sum(r.granted_fen for r in huludao.rewards) == sum(e.amount_fen for k, e in mine if k == "RewardGranted")
    assert sum(r.clawed_back_fen for r in huludao.rewards) == sum(e.amount_fen for k, e in mine
                                                                  if k == "RewardClawedBack")
    assert sum(r.rewards for r in huludao.rewards) == sum(1 for k, _ in mine if k == "RewardGranted")
    # the budget columns stay the whole scheme's: Liaoning's 2021 budget also paid Dalian
    ln21 = next(r for r in huludao.rewards if r.programme == "liaoning" and r.year == 2021)
    assert ln21.budget_used_fen > ln21.net_fen


def test_a_claw_back_counts_from_its_own_date_against_the_year_paid(demo: tuple[Ledger, ReadModel]) -> None:
    ledger, rm = demo
    events = _reward_events(ledger)
    kind, back, region = next((k, e, r) for k, e, r in events if k == "RewardClawedBack")
    day = back.occurred_on
    before = build_report(rm, ledger.policy, as_of=date.fromordinal(day.toordinal() - 1).isoformat(), region=region)
    after = build_report(rm, ledger.policy, as_of=day.isoformat(), region=region)
    assert before.reward_totals.clawed_back_fen == 0
    assert after.reward_totals.clawed_back_fen == back.amount_fen
    grant = next(e for k, e, _ in events if k == "RewardGranted" and e.reward_id == back.reward_id
                 and e.originator_id == back.originator_id)
    line = next(r for r in after.rewards if r.clawed_back_fen)
    assert line.year == grant.occurred_on.year < day.year  # refunded to the year it was paid from


# ---------------------------------------------------------------------------- the lists, by hand
PROVINCE = "210000"


def _review(script: Script, u: str, app: str, on: str, passed: bool = True) -> None:
    script.ok("review", uscc=u, application_id=app, passed=passed, occurred_on=on, actor=PROVINCE,
              document="辽工信复〔2025〕1号")


@pytest.fixture
def hand(any_ledger: Ledger) -> dict[str, Any]:
    """A small ledger in Huludao (and one enterprise in Dalian) whose lists are computed by hand.

    A, B, C, D, F: provincial 专精特新 approved 2023-03-19, valid until 2026-03-19 (exclusive),
    review window (180 days) from 2025-09-20.  B passes its review on 2025-10-01 (extended to
    2029-03-19), C fails it on 2025-10-01, D is revoked from 2025-11-01, A is never reviewed.
    F is in Dalian.  E: 创新型 from mid-2024.  G: a Liaoning 专精特新产品 valid 2024-01-01 to
    2026-12-31, review window (365 days) from 2026-01-01, renewed by replacement on 2026-03-01.
    """
    script = Script(any_ledger)
    ents = {k: uscc(i, "211402") for i, k in enumerate("ABCDEG", 1)} | {"F": uscc(6, "210202")}
    apps = {}
    for k, u in ents.items():
        register(script, u, on="2020-01-10", name=f"测试企业{k}")
    for k in "ABCDF":
        d = designate(script, ents[k], "specialized", on="2023-03-01")
        assert d.state(script).valid_until == date(2026, 3, 19)
        apps[k] = d.application_id
    apps["E"] = designate(script, ents["E"], "innovative", on="2024-06-01").application_id
    g = designate(script, ents["G"], "product", programme="liaoning", on="2023-03-01", product_id="g-1",
                  product_name="测试产品")
    assert (g.state(script).valid_from, g.state(script).valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
    apps["G"] = g.application_id
    for k in "BC":
        file_yearly_data(script, ents[k], 2024, "2025-04-15")
    _review(script, ents["B"], apps["B"], "2025-10-01")
    _review(script, ents["C"], apps["C"], "2025-10-01", passed=False)
    script.ok("revoke", uscc=ents["D"], application_id=apps["D"], reason="tax_or_credit", occurred_on="2025-11-01",
              actor=PROVINCE, document="辽工信〔2025〕99号")
    file_yearly_data(script, ents["G"], 2024, "2025-04-15", programme="liaoning")
    _review(script, ents["G"], apps["G"], "2026-03-01")
    return {"ledger": any_ledger, "uscc": ents, "app": apps}


def _listed(report: Report, ents: dict[str, str]) -> tuple[list[str], list[str]]:
    who = {u: k for k, u in ents.items()}
    return [who[x.uscc] for x in report.expiring], [who[x.uscc] for x in report.review_due]


@pytest.mark.parametrize(("as_of", "region", "expiring", "review_due"), [
    # before any review: everyone's window is open, nobody expires within 90 days
    ("2025-09-25", "211400", [], ["A", "B", "C", "D"]),
    # B was extended, C failed (reviewed: not due, still expiring), D revoked, A untouched
    ("2025-12-25", "211400", ["A", "C"], ["A"]),
    ("2025-12-25", "210000", ["A", "C", "F"], ["A", "F"]),  # the province holds Dalian's F too
    ("2025-12-25", "211402", ["A", "C"], ["A"]),  # a county: itself
    # G's window opened on 2026-01-01, its renewal comes on 2026-03-01
    ("2026-02-01", "211400", ["A", "C"], ["A", "G"]),
    # A and C have lapsed; G is renewed (its successor goes on), so neither expiring nor due
    ("2026-10-15", "211400", [], []),
])
def test_expiring_and_review_lists_by_hand(hand: dict[str, Any], as_of: str, region: str, expiring: list[str],
                                          review_due: list[str]) -> None:
    ledger = hand["ledger"]
    rm = ReadModel(ledger)
    try:
        report = build_report(rm, ledger.policy, as_of=as_of, region=region)
    finally:
        rm.close()
    got_expiring, got_due = _listed(report, hand["uscc"])
    assert sorted(got_expiring) == expiring
    assert sorted(got_due) == review_due


def test_the_listed_dates_by_hand(hand: dict[str, Any]) -> None:
    ledger = hand["ledger"]
    rm = ReadModel(ledger)
    try:
        report = build_report(rm, ledger.policy, as_of="2025-12-25", region="211400")
        early = build_report(rm, ledger.policy, as_of="2025-09-25", region="211400")
    finally:
        rm.close()
    a = next(x for x in report.review_due if x.uscc == hand["uscc"]["A"])
    assert (a.valid_from, a.valid_until, a.last_day, a.days_left, a.window_opens) == (
        "2023-03-19", "2026-03-19", "2026-03-18", 84, "2025-09-20")
    assert a.tier_name == "专精特新中小企业" and a.level == "provincial"
    # on 2025-09-25 B stood as it then was: valid until 2026-03-19, not yet reviewed
    b = next(x for x in early.review_due if x.uscc == hand["uscc"]["B"])
    assert (b.valid_until, b.days_left) == ("2026-03-19", 175)
    assert counts_of(report) == {("national", "specialized", "provincial"): 3,
                                 ("national", "innovative", "provincial"): 1,
                                 ("liaoning", "product", "provincial"): 1}


def test_an_older_read_model_is_rebuilt_with_the_new_rows(hand: dict[str, Any]) -> None:
    """A read model made before rewards and reviews were projected (no schema mark) is
    emptied and caught up again when opened, so the report does not read empty tables."""
    ledger = hand["ledger"]
    rm = ReadModel(ledger)
    rm.catch_up()
    reviews = rm.rows("review")
    assert len(reviews) == 3
    with rm._tx() as cur:
        cur.execute(rm._sql(f"DELETE FROM {rm.prefix}_checkpoints WHERE projection = ?"), (SCHEMA,))
        cur.execute(f"DELETE FROM {rm.prefix}_reviews")
    rm.close()
    again = ReadModel(ledger)
    try:
        assert again.position() == 0
        again.catch_up()
        assert again.rows("review") == reviews
        assert again.position() == ledger.max_position()
    finally:
        again.close()
