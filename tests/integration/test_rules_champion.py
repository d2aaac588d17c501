"""制造业单项冠军 as a programme of its own (issue 14, item 10): ``champion-2016.toml``
(工信部产业〔2016〕105号 and its yearly notices: 示范企业 and 单项冠军产品, under 400 M CNY of revenue
only as a little giant) and ``champion-2023.toml`` (工信部政法〔2023〕138号: niche >= 10 years,
3-year average main revenue >= 400 M CNY, global top 3, the 第三条 bars), each at its boundaries;
the little giant's exclusion across programmes; designations stored under ``national`` before
the champion files still load, count and are shown."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.policy import Tier
from entrypoints.console import tier_name
from infra.readmodel import ReadModel
from policies import SHIPPED
from reports.figures import build_report
from services.ledger import Ledger
from tests.support.journeys import (
    PROVINCE,
    climb,
    designate,
    enterprise_actor,
    file_yearly_data,
    passing_assessment,
    refusal,
    register,
    stored_events,
    tier_in_force,
)
from tests.support.ledgers import Script, uscc

YI = 100_000_000 * 100  # 1 亿元 in fen
UNDER_400_M = 4 * YI - 1_000_000  # 399.99 million CNY
CHAMPION = "single_champion"
PRODUCT = "single_champion_product"
NICHE_2016 = "从事相关业务领域 >= 10 年 或 从事新产品生产经营 >= 3 年"


def apply(script, u: str, tier: str, on: str, app_id: str = "x", programme: str = "champion", **fields):  # type: ignore[no-untyped-def]
    return dict(uscc=u, application_id=app_id, programme=programme, tier=tier, occurred_on=on,
                actor=enterprise_actor(script, u), **fields)


def assessed(script, u: str, application_id: str):  # type: ignore[no-untyped-def]
    """The stored ``Assessed`` event of ``application_id``."""
    return next(e for e in stored_events(script, u) if type(e).__name__ == "Assessed"
                and e.application_id == application_id)


def body(tier: Tier, on: str | None = None, **indicators: int) -> dict:
    b = passing_assessment(tier, on)  # (on: the assessment's date, for the criteria over several years)
    b["indicators"].update(indicators)
    return b


# =========================================================================== the programme
def test_single_champion_is_its_own_programme_with_two_versions(script) -> None:
    book = script.ledger.policy
    assert [(v.version, v.effective_from, v.document) for v in book.versions("champion")] == [
        ("2016", date(2016, 5, 18), "工信部产业〔2016〕105号"), ("2023", date(2023, 9, 14), "工信部政法〔2023〕138号")]
    assert book.in_force("champion", date(2023, 9, 13)).version == "2016"
    assert book.in_force("champion", date(2023, 9, 14)).version == "2023"
    v16, v23 = book.versions("champion")
    assert [(t.id, t.subject) for t in v16.tiers] == [(CHAMPION, "enterprise"), (PRODUCT, "product")]
    assert [(t.id, t.subject) for t in v23.tiers] == [(CHAMPION, "enterprise")]
    for v in (v16, v23):  # MIIT decides on the recommendation of the provincial-level departments
        assert all((t.deciding_level, t.recommend_levels) == ("national", ["provincial"]) for t in v.tiers)
        assert {c.code for c in v.provincial_level_cities} == {"210200", "370200", "330200", "350200", "440300"}
    assert v23.tier(CHAMPION).bars == ["abnormal_operations", "serious_dishonesty"]  # 138号 第三条
    for version in book.versions("national"):  # no longer a tier of the SME ladder
        assert CHAMPION not in [t.id for t in version.tiers]


def test_the_national_programme_takes_no_single_champion_application(script, u) -> None:
    err = script.refused("apply", **apply(script, u, CHAMPION, "2023-03-01", programme="national",
                                          declared_revenue_fen=9 * YI))
    assert (err.as_dict()["code"], err.field) == ("input.invalid", "tier")
    assert "unknown tier 'single_champion' in programme 'national'" in err.message


def test_a_planned_city_recommends_to_miit_itself(script) -> None:
    """138号 第四条: 计划单列市 are provincial-level departments; Liaoning does not act for Dalian."""
    d = uscc(40, "210213")
    register(script, d, region="210213")
    script.ok("apply", **apply(script, d, CHAMPION, "2022-07-01", declared_revenue_fen=9 * YI))
    err = script.refused("recommend", uscc=d, application_id="x", occurred_on="2022-07-10", actor=PROVINCE)
    assert err.code == "recommend.not_covering"
    script.ok("recommend", uscc=d, application_id="x", occurred_on="2022-07-10", actor="210200")


# =========================================================================== 2016: 105号
@pytest.mark.parametrize("revenue, accepted", [
    (UNDER_400_M, False),  # under 400 million CNY: only as a national little giant
    (None, False),  # revenue not declared: the prerequisite applies
    (4 * YI, True),
])
@pytest.mark.parametrize("tier", [CHAMPION, PRODUCT])
def test_2016_under_400_million_needs_a_little_giant(script, u, tier: str, revenue: int | None,
                                                     accepted: bool) -> None:
    fields = apply(script, u, tier, "2022-07-01", **({"product_id": "p1"} if tier == PRODUCT else {}))
    if revenue is not None:
        fields["declared_revenue_fen"] = revenue
    if accepted:
        script.ok("apply", **fields)
        return
    err = script.refused("apply", **fields)
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    assert "national little_giant" in err.message and "revenue" in err.message


def test_2016_under_400_million_as_a_little_giant(script, u) -> None:
    climb(script, u, ["specialized", "little_giant"], on="2021-03-01")
    d = designate(script, u, CHAMPION, programme="champion", on="2022-07-01", declared_revenue_fen=UNDER_400_M)
    assert d.state(script).status == "approved"
    assert d.state(script).programme == "champion"


def test_2023_has_no_little_giant_route_under_400_million(script, u) -> None:
    """Under 138号 the revenue is a criterion of the assessment, not a prerequisite."""
    script.ok("apply", **apply(script, u, CHAMPION, "2024-03-01", declared_revenue_fen=UNDER_400_M))


@pytest.mark.parametrize("indicators, fails", [
    ({"niche_years": 9}, NICHE_2016),
    ({"niche_years": 10}, None),
    ({"niche_years": 5, "new_product_years": 3}, None),  # a new product: three years are enough
    ({"niche_years": 5, "new_product_years": 2}, NICHE_2016),
    ({"global_rank": 4}, "单项产品市场占有率位居全球前3位"),
    ({"global_rank": 3}, None),
    ({"product_revenue_bp": 6999}, "特定细分产品销售收入占企业全部业务收入比重 >= 70%"),
    ({"product_revenue_bp": 7000}, None),
])
def test_2016_criteria_of_the_demonstration_enterprise(script, u, indicators: dict, fails: str | None) -> None:
    tier = tier_in_force(script, "champion", CHAMPION, "2022-07-11")
    d = designate(script, u, CHAMPION, programme="champion", on="2022-07-01", until="assessed",
                  declared_revenue_fen=9 * YI, assessment=body(tier, **indicators))
    e = assessed(script, u, d.application_id)
    assert e.policy == "champion@2016"
    assert e.passed is (fails is None)
    assert [f.split(":")[0] for f in e.failures] == ([fails] if fails else [])


def test_2016_products_are_designated_one_by_one_without_the_70_percent_share(script, u) -> None:
    tier = tier_in_force(script, "champion", PRODUCT, "2022-07-11")
    assert "product_revenue_bp" not in {b.indicator for c in tier.assessment.criteria for b in c.any_of}
    err = script.refused("apply", **apply(script, u, PRODUCT, "2022-07-01", declared_revenue_fen=9 * YI))
    assert refusal(err) == ("apply.product_required", "identity", "product_id")
    a = designate(script, u, PRODUCT, programme="champion", on="2022-07-01", declared_revenue_fen=9 * YI,
                  product_id="CPC-3434", product_name="精密减速器",
                  assessment=body(tier, product_revenue_bp=3000))
    b = designate(script, u, PRODUCT, programme="champion", on="2022-07-01", declared_revenue_fen=9 * YI,
                  product_id="CPC-3435", product_name="伺服电机")
    assert [x.state(script).status for x in (a, b)] == ["approved", "approved"]
    err = script.refused("apply", **apply(script, u, PRODUCT, "2023-03-01", "again", product_id="CPC-3434",
                                          declared_revenue_fen=9 * YI))
    assert refusal(err) == ("apply.already_designated", "ladder", "tier")
    # 138号 knows one title only: no product application from its day
    err = script.refused("apply", **apply(script, u, PRODUCT, "2023-09-14", "late", product_id="CPC-9",
                                          declared_revenue_fen=9 * YI))
    assert refusal(err) == ("policy.unknown_tier", "policy", "tier")
    assert "champion@2023" in err.message
    # a 2016 product designation runs to its expiry; 138号 has no product title to review it by
    assert a.state(script).valid_on(date(2025, 7, 18)) and not a.state(script).valid_on(date(2025, 7, 19))
    file_yearly_data(script, u, 2024, "2025-03-01")
    err = script.refused("review", uscc=u, application_id=a.application_id, passed=True, occurred_on="2025-06-01",
                         actor="000000", document="工信部〔2025〕3号")
    assert refusal(err) == ("policy.unknown_tier", "policy", "tier")


# =========================================================================== 2023: 138号
def _assess_2023(script, u: str, only_last_year: bool = False, **indicators: int):  # type: ignore[no-untyped-def]
    """A 2023 assessment on data at the thresholds (three data years of main revenue), with
    ``indicators`` changed; ``only_last_year``: without the two years before the last."""
    tier = tier_in_force(script, "champion", CHAMPION, "2024-03-11")
    b = body(tier, "2024-03-11", **indicators)
    if only_last_year:
        b.pop("yearly_indicators", None)
    d = designate(script, u, CHAMPION, programme="champion", on="2024-03-01", until="assessed", assessment=b)
    e = assessed(script, u, d.application_id)
    assert e.policy == "champion@2023"
    return e


@pytest.mark.parametrize("indicators, label, fails", [
    ({"niche_years": 9}, "从事相关领域 >= 10 年", True),
    ({"niche_years": 10}, "从事相关领域 >= 10 年", False),
    ({"niche_years": 9, "new_product_years": 5}, "从事相关领域 >= 10 年", True),  # no new-product route
    ({"global_rank": 4}, "单项产品市场占有率位居全球前3位", True),
    ({"global_rank": 3}, "单项产品市场占有率位居全球前3位", False),
])
def test_2023_niche_and_global_rank_through_the_ledger(script, u, indicators: dict, label: str,
                                                        fails: bool) -> None:
    """The failures an assessment records name exactly the criteria that fail (the three-year
    average of the main revenue read from the data years the assessment gives)."""
    e = _assess_2023(script, u, **indicators)
    labels = [f.split(":")[0] for f in e.failures]
    assert (label in labels) is fails
    assert e.passed is (not fails)


def test_2023_the_2016_conditions_no_longer_apply(script, u) -> None:
    """The product's 70 % share is not a 2023 criterion; a single year's revenue is not enough."""
    e = _assess_2023(script, u, only_last_year=True, product_revenue_bp=1000, main_revenue_fen=9 * YI)
    labels = [f.split(":")[0] for f in e.failures]
    assert labels == ["近3年主营业务收入平均 >= 4亿元"]


@pytest.mark.parametrize("last, passes", [
    (419_970_000_00, False),  # (380 + 400 + 419.97) / 3 = 399.99 million CNY
    (420_000_000_00, True),  # (380 + 400 + 420) / 3 = 400 million CNY
])
def test_2023_three_year_average_main_revenue_at_400_million(script, last: int, passes: bool) -> None:
    """138号: the average of the three data years before the decision, >= 400 M CNY (the rule as
    the shipped file says it; the ledger's assessment reads the years it is given)."""
    tier = script.ledger.policy.in_force("champion", date(2024, 3, 11)).tier(CHAMPION)
    b = passing_assessment(tier, last_year=2023)
    yearly = {2021: {"main_revenue_fen": 380_000_000_00}, 2022: {"main_revenue_fen": 400_000_000_00},
              2023: {"main_revenue_fen": last}}
    failures = tier.assessment.judge(b["score"], b["components"], {k: v for k, v in b["indicators"].items()
                                                                    if k != "main_revenue_fen"}, [],
                                     yearly=yearly, last_year=2023)
    if passes:
        assert failures == []
    else:
        assert failures == ["近3年主营业务收入平均 >= 4亿元: average of main_revenue_fen over 2021–2023 >= "
                            "40000000000: 39999000000"]
    # one year missing: the average is not taken over fewer years
    del yearly[2021]
    failures = tier.assessment.judge(b["score"], b["components"], {}, [], yearly=yearly, last_year=2023)
    assert any("no data for 2021" in f for f in failures)


# =========================================================================== review, revocation
def _champion_2016(script, u: str, on: str = "2022-07-01"):  # type: ignore[no-untyped-def]
    return designate(script, u, CHAMPION, programme="champion", on=on, declared_revenue_fen=9 * YI)


def test_review_window_of_a_2016_designation_under_2023(script, u) -> None:
    d = _champion_2016(script, u)
    until = d.state(script).valid_until
    assert until == date(2025, 7, 19)
    file_yearly_data(script, u, 2023, "2024-03-01")  # the data year a review before 30 April reads
    opens = until - timedelta(days=tier_in_force(script, "champion", CHAMPION, until).review_window_days)
    err = script.refused("review", uscc=u, application_id=d.application_id, passed=True,
                         occurred_on=str(opens - timedelta(days=1)), actor="000000", document="工信部〔2025〕1号")
    assert refusal(err) == ("review.outside_window", "review", "occurred_on")
    script.ok("review", uscc=u, application_id=d.application_id, passed=True, occurred_on=str(opens),
              actor="000000", document="工信部〔2025〕1号")
    reviewed = stored_events(script, u)[-1]
    assert (type(reviewed).__name__, reviewed.policy) == ("Reviewed", "champion@2023")
    assert d.state(script).valid_until == date(2028, 7, 19)
    err = script.refused("review", uscc=u, application_id=d.application_id, passed=True, occurred_on=str(opens),
                         actor="210000", document="辽工信〔2025〕1号")
    assert err.code == "authority.wrong_level"  # MIIT reviews, not the province


@pytest.mark.parametrize("revoked_on, reason, barred_until", [
    ("2023-03-01", "major_accident", None),  # 2016: only false material bars a new application
    ("2023-03-01", "false_material", date(2026, 3, 1)),
    ("2024-03-01", "major_accident", date(2027, 3, 1)),  # 2023: accidents, tax or credit, fraud
    ("2024-03-01", "tax_or_credit", date(2027, 3, 1)),
    ("2024-03-01", "other", None),
])
def test_cooling_off_after_a_revocation(script, u, revoked_on: str, reason: str,
                                        barred_until: date | None) -> None:
    d = _champion_2016(script, u)
    script.ok("revoke", uscc=u, application_id=d.application_id, reason=reason, occurred_on=revoked_on,
              actor="000000", document="工信部〔2024〕9号")
    day = date.fromisoformat(revoked_on) + timedelta(days=30)
    if barred_until is None:
        script.ok("apply", **apply(script, u, CHAMPION, str(day), "again", declared_revenue_fen=9 * YI))
        return
    err = script.refused("apply", **apply(script, u, CHAMPION, str(barred_until - timedelta(days=1)), "early",
                                          declared_revenue_fen=9 * YI))
    assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")
    script.ok("apply", **apply(script, u, CHAMPION, str(barred_until), "again", declared_revenue_fen=9 * YI))


# =========================================================================== the little giant
def test_a_little_giant_is_refused_while_a_champion_designation_stands(script, u) -> None:
    designate(script, u, "specialized", on="2021-07-01")
    script.ok("apply", **apply(script, u, "little_giant", "2022-06-20", "lg", programme="national"))
    d = _champion_2016(script, u, on="2022-07-01")  # applied first, then became a single champion ...
    # ... no recommendation any more, and no new application while the champion title stands
    err = script.refused("recommend", uscc=u, application_id="lg", occurred_on="2022-08-01", actor=PROVINCE)
    assert refusal(err) == ("ladder.excluded", "ladder", "application_id")
    script.ok("withdraw", uscc=u, application_id="lg", occurred_on="2022-08-02", actor=enterprise_actor(script, u))
    err = script.refused("apply", **apply(script, u, "little_giant", "2022-08-03", "lg2", programme="national"))
    assert refusal(err) == ("ladder.excluded", "ladder", "tier")
    assert CHAMPION in err.message
    # once it is revoked, the ladder is open again (the 专精特新 is still valid)
    script.ok("revoke", uscc=u, application_id=d.application_id, reason="other", occurred_on="2023-01-10",
              actor="000000", document="工信部〔2023〕3号")
    script.ok("apply", **apply(script, u, "little_giant", "2023-01-11", "lg3", programme="national"))


# =========================================================================== stored before
OLD_TIER = """
[[tiers]]
id = "single_champion"
name = "制造业单项冠军"
deciding_level = "national"
recommend_levels = ["provincial"]
validity_years = 3
notice_days = 7
review_window_days = 180
requires = [{ tier = "little_giant", level = "national", when_revenue_below_fen = 40000000000 }]
cooling_off_years = { false_material = 3 }
"""


@pytest.fixture
def old_policies(tmp_path: Path) -> str:
    """The rules as the ledger had them before the champion files: 单项冠军 a tier of ``national``."""
    folder = tmp_path / "old-policies"
    folder.mkdir()
    for f in SHIPPED.glob("*.toml"):
        if not f.name.startswith("champion-"):
            shutil.copy(f, folder / f.name)
    for name in ("national-2022.toml", "national-2026.toml"):
        path = folder / name
        path.write_text(path.read_text(encoding="utf-8") + OLD_TIER, encoding="utf-8")
    return str(folder)


def test_designations_stored_under_national_still_load_count_and_show(tmp_path: Path, old_policies: str) -> None:
    db = str(tmp_path / "old.db")
    before = Ledger(db=db, policies=old_policies)
    try:
        old = Script(before)
        u = uscc(30, "211402")
        register(old, u)
        d = designate(old, u, CHAMPION, programme="national", on="2022-07-01", declared_revenue_fen=9 * YI)
        app_id = d.application_id
        assert stored_events(old, u)[-1].policy == "national@2022"
        designate(old, u, "specialized", on="2022-09-01")
    finally:
        before.close()

    ledger = Ledger(db=db)  # the shipped rules: no national tier of that id any more
    try:
        now = Script(ledger)
        a = ledger.enterprise(u).applications[app_id]
        assert (a.programme, a.tier, a.status, a.valid_until) == ("national", CHAMPION, "approved", date(2025, 7, 19))
        rm = ReadModel(ledger)
        try:
            assert [x.uscc for x in rm.pool(tier=CHAMPION, as_of="2023-06-30", programme="national")] == [u]
            assert [x.uscc for x in rm.pool(tier=CHAMPION, as_of="2023-06-30")] == [u]
            assert rm.pool(tier=CHAMPION, as_of="2023-06-30", programme="champion") == []
            report = build_report(rm, ledger.policy, as_of="2023-06-30", region="211400")
            row = next(c for c in report.counts if (c.programme, c.tier) == ("national", CHAMPION))
            assert (row.tier_name, row.total) == ("制造业单项冠军示范企业", 1)  # the champion programme's name
            assert tier_name(ledger, "national", CHAMPION, date(2023, 6, 30)) == "制造业单项冠军示范企业"  # the CLI
        finally:
            rm.close()
        # it still bars the little giant (the national files exclude it by its old programme) ...
        err = now.refused("apply", **apply(now, u, "little_giant", "2023-03-01", "lg", programme="national"))
        assert refusal(err) == ("ladder.excluded", "ladder", "tier")
        # ... and nothing is judged again; acting on it needs a tier the national rules no longer have
        file_yearly_data(now, u, 2024, "2025-03-01")
        err = now.refused("review", uscc=u, application_id=app_id, passed=True, occurred_on="2025-06-01",
                          actor="000000", document="工信部〔2025〕2号")
        assert refusal(err) == ("policy.unknown_tier", "policy", "tier")
    finally:
        ledger.close()
