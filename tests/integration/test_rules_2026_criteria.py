"""Issue 14, items 1, 2, 3 and 12: the 2026 专精特新 and little-giant criteria (工信部企业〔2026〕2号),
read over the last two (three) data years, and reviews judged by the version the tier names.

Every case goes through the ledger: an enterprise holding a valid 科技和创新型 (and, for the
little giant, 专精特新) designation applies, is recommended and assessed with one figure moved
off the threshold; the ``Assessed`` event says whether it passed and why not.  The last data
year of an assessment in 2026 is 2025 (上年度), so two-year criteria read 2024 and 2025, and
the little giant's growth reads 2023 too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import pytest

from services import commands as c
from tests.support.journeys import (
    COUNTY,
    MIIT,
    PROVINCE,
    climb,
    designate,
    file_yearly_data,
    passing_assessment,
    passing_review,
    refusal,
    register,
    stored_events,
    tier_in_force,
)
from tests.support.ledgers import uscc

_n = iter(range(100, 10**6))
SPEC_ON = "2026-05-01"  # applied; assessed ten days later, on 2026-05-11 (last data year 2025)
LG_ON = "2026-06-01"    # assessed 2026-06-11


def assessed(script: Any, u: str) -> Any:
    """The enterprise's last ``Assessed`` event."""
    return [e for e in stored_events(script, u) if type(e).__name__ == "Assessed"][-1]


def _innovative(script: Any) -> str:
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    climb(script, u, ["innovative"], on="2025-01-10")  # valid 2025-2028: 专精特新 under 2026 needs it
    return u


def spec_body(script: Any) -> dict[str, Any]:
    """Figures at exactly every 2026 专精特新 threshold (2024 as yearly_indicators, 2025 as indicators)."""
    body = passing_assessment(tier_in_force(script, "national", "specialized", "2026-05-11"), "2026-05-11")
    assert set(body["yearly_indicators"]) == {"2024"}
    return body


def assess_spec(script: Any, body: dict[str, Any], u: str | None = None) -> Any:
    u = u or _innovative(script)
    designate(script, u, "specialized", on=SPEC_ON, until="assessed", assessment=body)
    return assessed(script, u)


# =========================================================================== 专精特新 (item 1)
def test_2026_specialized_passes_at_every_threshold_and_records_the_two_years(script) -> None:
    body = spec_body(script)
    ev = assess_spec(script, body)
    assert (ev.passed, ev.failures, ev.policy) == (True, [], "national@2026")
    assert ev.yearly_indicators[2024] == {"rd_expense_fen": 100_000_000, "rd_ratio_bp": 300}
    assert ev.yearly_indicators[2025]["rd_expense_fen"] == 100_000_000
    assert body["score"] == 60 and tier_in_force(script, "national", "specialized", SPEC_ON).assessment.min_score == 50


@pytest.mark.parametrize(("where", "indicator", "value", "failure"), [
    ("last", "niche_years", 2, "从事特定细分市场时间 >= 3 年: niche_years >= 3: 2"),
    ("last", "revenue_fen", 1_499_999_999, "上年度营业收入 >= 1500万元 或 近2年新增股权融资 >= 2000万元: "
     "revenue_fen >= 1500000000: 1499999999; new_equity_fen >= 2000000000: no new_equity_fen"),
    ("last", "main_business_bp", 7999, "主营业务收入占营业收入比重 >= 80%: main_business_bp >= 8000: 7999"),
    ("last", "debt_ratio_bp", 8001, "资产负债率 <= 80%: debt_ratio_bp <= 8000: 8001"),
    ("last", "class1_ip_count", 0, "拥有有效的Ⅰ类知识产权 >= 1 项 (或符合豁免情形): class1_ip_count >= 1: 0; "
     "ip_exemption >= 1: no ip_exemption"),
    ("2024", "rd_expense_fen", 99_999_999, "近2年每年研发费用 >= 100万元: rd_expense_fen >= 100000000 in each of "
     "2024–2025: 2024 is 99999999"),
    ("last", "rd_expense_fen", 99_999_999, "近2年每年研发费用 >= 100万元: rd_expense_fen >= 100000000 in each of "
     "2024–2025: 2025 is 99999999"),
    ("2024", "rd_ratio_bp", 299, "近2年每年研发费用占营业收入比重 >= 3%: rd_ratio_bp >= 300 in each of 2024–2025: "
     "2024 is 299"),
    ("last", "rd_ratio_bp", 299, "近2年每年研发费用占营业收入比重 >= 3%: rd_ratio_bp >= 300 in each of 2024–2025: "
     "2025 is 299"),
])
def test_2026_specialized_fails_one_step_off_each_threshold(script, where, indicator, value, failure) -> None:
    body = spec_body(script)
    (body["indicators"] if where == "last" else body["yearly_indicators"][where])[indicator] = value
    ev = assess_spec(script, body)
    assert (ev.passed, ev.failures) == (False, [failure])


def test_2026_specialized_score_at_50_passes_and_49_fails(script) -> None:
    body = spec_body(script)
    body["score"] = 50
    assert assess_spec(script, body).passed is True
    body["score"] = 49
    assert assess_spec(script, body).failures == ["score 49 < 50"]


def test_2026_specialized_alternatives_new_equity_and_the_ip_exemption(script) -> None:
    body = spec_body(script)
    body["indicators"].update(revenue_fen=900_000_000, new_equity_fen=2_000_000_000, class1_ip_count=0,
                              ip_exemption=1)
    assert assess_spec(script, body).passed is True


def test_2026_specialized_one_year_of_rd_fails_naming_the_missing_year(script) -> None:
    body = spec_body(script)
    del body["yearly_indicators"]  # and the enterprise filed no yearly data
    ev = assess_spec(script, body)
    assert ev.passed is False
    assert ev.failures == [
        "近2年每年研发费用 >= 100万元: rd_expense_fen >= 100000000 in each of 2024–2025: no data for 2024",
        "近2年每年研发费用占营业收入比重 >= 3%: rd_ratio_bp >= 300 in each of 2024–2025: no data for 2024"]


def test_an_assessment_reads_the_yearly_data_filed_and_the_command_overrides_it(script) -> None:
    body = spec_body(script)
    del body["yearly_indicators"]
    u = _innovative(script)
    file_yearly_data(script, u, 2024, "2025-03-15",
                     indicators={"revenue_fen": 3_000_000_000, "rd_expense_fen": 100_000_000, "rd_ratio_bp": 333})
    first = designate(script, u, "specialized", on=SPEC_ON, until="assessed", assessment=body)
    ev = assessed(script, u)
    assert ev.passed is True
    assert ev.yearly_indicators[2024] == {"revenue_fen": 3_000_000_000, "rd_expense_fen": 100_000_000,
                                          "rd_ratio_bp": 333}
    # the assessing authority's figures for a year override the enterprise's own
    script.ok("withdraw", uscc=u, application_id=first.application_id, occurred_on="2026-05-20",
              actor={"authority": COUNTY, "person": "e", "role": "enterprise"})
    body["yearly_indicators"] = {"2024": {"rd_ratio_bp": 290}}
    designate(script, u, "specialized", on="2026-05-21", until="assessed", assessment=body)
    ev = assessed(script, u)
    assert ev.failures == [
        "近2年每年研发费用占营业收入比重 >= 3%: rd_ratio_bp >= 300 in each of 2024–2025: 2024 is 290"]
    assert ev.yearly_indicators[2024]["rd_expense_fen"] == 100_000_000  # the rest of the year as filed


def test_the_same_data_pass_under_2022_and_fail_under_2026(script) -> None:
    """Two years in the niche, revenue of 12 million, one year of R&D, no IP: a 专精特新 in 2025, not in 2026."""
    tier22 = tier_in_force(script, "national", "specialized", "2025-06-11")
    body = passing_assessment(tier22)
    body["indicators"].update(revenue_fen=1_200_000_000, main_business_bp=8000, debt_ratio_bp=8000)
    u = _innovative(script)
    old = designate(script, u, "specialized", on="2025-06-01", until="assessed", assessment=body)
    assert (assessed(script, u).passed, assessed(script, u).policy) == (True, "national@2022+liaoning@2019")
    script.ok("withdraw", uscc=u, application_id=old.application_id, occurred_on="2025-06-20",
              actor={"authority": COUNTY, "person": "e", "role": "enterprise"})
    ev = assess_spec(script, body, u)
    assert ev.passed is False and ev.policy == "national@2026"
    assert [f.split(":")[0] for f in ev.failures] == [
        "从事特定细分市场时间 >= 3 年",  # 2022: two years in the niche
        "上年度营业收入 >= 1500万元 或 近2年新增股权融资 >= 2000万元", "近2年每年研发费用 >= 100万元",
        "近2年每年研发费用占营业收入比重 >= 3%", "拥有有效的Ⅰ类知识产权 >= 1 项 (或符合豁免情形)"]


def test_the_direct_pass_route_is_gone_in_2026(script) -> None:
    tier22 = tier_in_force(script, "national", "specialized", "2025-06-11")
    assert tier22.assessment.direct_pass and tier22.assessment.min_score == 60
    body22 = passing_assessment(tier22)
    body22.update(score=40, direct_pass=[tier22.assessment.direct_pass[0]])
    u = _innovative(script)
    old = designate(script, u, "specialized", on="2025-06-01", until="assessed", assessment=body22)
    assert assessed(script, u).passed is True  # 2022: a direct-pass condition stands for the score
    script.ok("withdraw", uscc=u, application_id=old.application_id, occurred_on="2025-06-20",
              actor={"authority": COUNTY, "person": "e", "role": "enterprise"})
    body = spec_body(script)
    body.update(score=40, direct_pass=[tier22.assessment.direct_pass[0]])
    ev = assess_spec(script, body, u)
    assert ev.failures == [f"direct-pass conditions ['{tier22.assessment.direct_pass[0]}'] are not in the policy ([])",
                           "score 40 < 50"]


# =========================================================================== little giant (item 2)
def _specialized(script: Any) -> str:
    """An enterprise holding a provincial 专精特新 valid in 2026 (approved in 2025 under 2022)."""
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    climb(script, u, ["innovative", "specialized"], on="2025-01-10")
    return u


def lg_body(script: Any) -> dict[str, Any]:
    body = passing_assessment(tier_in_force(script, "national", "little_giant", "2026-06-11"), "2026-06-11")
    # revenue growing by exactly 5 % a year: 2023 -> 2024 -> 2025
    body["yearly_indicators"]["2023"] = {"revenue_fen": 5_000_000_000}
    body["yearly_indicators"]["2024"]["revenue_fen"] = 5_250_000_000
    body["indicators"]["revenue_fen"] = 5_512_500_000
    return body


def assess_lg(script: Any, body: dict[str, Any]) -> Any:
    u = _specialized(script)
    designate(script, u, "little_giant", on=LG_ON, until="assessed", assessment=body)
    return assessed(script, u)


def test_2026_little_giant_passes_at_every_threshold(script) -> None:
    body = lg_body(script)
    assert body["yearly_indicators"]["2024"]["rd_expense_fen"] == 600_000_000  # half of the 2-year 12 million
    ev = assess_lg(script, body)
    assert (ev.passed, ev.failures, ev.policy) == (True, [], "national@2026")
    assert sorted(ev.yearly_indicators) == [2023, 2024, 2025]


@pytest.mark.parametrize(("where", "indicator", "value", "failure"), [
    ("last", "revenue_fen", 5_511_975_000, "近2年营业收入平均增长率 >= 5%: average yearly growth of revenue_fen over "
     "2023–2025 >= 500 bp: 499"),
    ("2023", "revenue_fen", 5_000_000_001, "近2年营业收入平均增长率 >= 5%: average yearly growth of revenue_fen over "
     "2023–2025 >= 500 bp: 499"),
    ("last", "main_business_bp", 8999, "主营业务收入占营业收入比重 >= 90%: main_business_bp >= 9000: 8999"),
    ("last", "debt_ratio_bp", 7501, "资产负债率 <= 75%: debt_ratio_bp <= 7500: 7501"),
    ("last", "rd_expense_fen", 599_999_999, "近2年研发费用总额 >= 1200万元: sum of rd_expense_fen over 2024–2025 "
     ">= 1200000000: 1199999999"),
    ("2024", "rd_ratio_bp", 299, "近2年每年研发费用占营业收入比重 >= 3%: rd_ratio_bp >= 300 in each of 2024–2025: "
     "2024 is 299"),
    ("last", "class1_ip_count", 3, "拥有有效的Ⅰ类知识产权 >= 4 项 (或获得国家级科技奖励): class1_ip_count >= 4: 3; "
     "national_st_award >= 1: no national_st_award"),
    ("last", "national_share_bp", 999, "主导产品全国细分市场占有率 >= 10% 或 位列全国前3: "
     "national_share_bp >= 1000: 999; national_rank >= 1 and <= 3: no national_rank"),
    ("last", "key_link", 0, "主导产品属于\"六基\"领域或产业链关键环节: key_link >= 1: 0"),
    ("last", "score", 59, "score 59 < 60"),
])
def test_2026_little_giant_fails_one_step_off_each_threshold(script, where, indicator, value, failure) -> None:
    body = lg_body(script)
    if indicator == "score":
        body["score"] = value
    else:
        (body["indicators"] if where == "last" else body["yearly_indicators"][where])[indicator] = value
    ev = assess_lg(script, body)
    assert (ev.passed, ev.failures) == (False, [failure])


@pytest.mark.parametrize(("extra", "passes"), [
    ({"class1_ip_count": 3, "national_st_award": 1}, True),
    ({"national_share_bp": 999, "national_rank": 3}, True),
    ({"national_share_bp": 999, "national_rank": 4}, False),
])
def test_2026_little_giant_alternatives_award_and_rank(script, extra, passes) -> None:
    body = lg_body(script)
    body["indicators"].update(extra)
    assert assess_lg(script, body).passed is passes


def test_the_same_little_giant_passes_under_2022_and_fails_under_2026(script) -> None:
    """Main business 70 %, debt 70 %, share 10 %: the 2022 thresholds, below the 2026 ones."""
    tier22 = tier_in_force(script, "national", "little_giant", "2025-06-11")
    body = passing_assessment(tier22)
    assert (body["indicators"]["main_business_bp"], body["indicators"]["debt_ratio_bp"]) == (7000, 7000)
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    climb(script, u, ["innovative", "specialized"], on="2024-01-10")
    designate(script, u, "little_giant", on="2025-06-01", until="assessed", assessment=body)
    assert (assessed(script, u).passed, assessed(script, u).policy) == (True, "national@2022+liaoning@2019")
    full = lg_body(script)
    full["indicators"].update(main_business_bp=7000)
    ev = assess_lg(script, full)
    assert ev.failures == ["主营业务收入占营业收入比重 >= 90%: main_business_bp >= 9000: 7000"]


def test_growth_is_not_a_review_criterion(script) -> None:
    lg = tier_in_force(script, "national", "little_giant", "2026-06-11").assessment
    body = lg_body(script)
    body["indicators"]["revenue_fen"] = 5_000_000_000  # no growth at all
    body["yearly_indicators"]["2024"]["revenue_fen"] = 5_000_000_000
    yearly = {int(y): v for y, v in body["yearly_indicators"].items()}
    assert lg.data_years(2025) == [2023, 2024, 2025] and lg.data_years(2025, for_review=True) == [2024, 2025]
    growth = "近2年营业收入平均增长率 >= 5%: average yearly growth of revenue_fen over 2023–2025 >= 500 bp: 0"
    assert lg.judge(60, {}, body["indicators"], [], yearly=yearly, last_year=2025) == [growth]
    assert lg.judge(60, {}, body["indicators"], [], yearly=yearly, last_year=2025, for_review=True) == []


# =========================================================================== reviews (items 3 and 12)
def _spec_to_review(script: Any) -> tuple[str, Any]:
    """A 专精特新 approved 2023-06-19 (2022 rules), valid until 2026-06-19: reviewed under 2026,
    with its yearly data for 2024 and 2025 filed on time."""
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    d = designate(script, u, "specialized", on="2023-06-01")
    assert d.state(script).valid_until == date(2026, 6, 19)
    file_yearly_data(script, u, 2024, "2025-03-15", indicators={
        "revenue_fen": 2_000_000_000, "rd_expense_fen": 100_000_000, "rd_ratio_bp": 500, "debt_ratio_bp": 4000})
    file_yearly_data(script, u, 2025, "2026-05-15", indicators={
        "revenue_fen": 1_500_000_000, "rd_expense_fen": 100_000_000, "rd_ratio_bp": 667, "debt_ratio_bp": 8000})
    return u, d


def _review(u: str, d: Any, on: str, passed: bool = True, **kw: Any) -> dict[str, Any]:
    return dict(uscc=u, application_id=d.application_id, passed=passed, occurred_on=on, actor=PROVINCE,
                document="辽工信复〔2026〕3号", **kw)


REVIEW_DATA = {"score": 50, "indicators": {"niche_years": 3, "main_business_bp": 8000, "class1_ip_count": 1}}


def test_a_2026_specialized_review_is_judged_on_the_criteria_and_the_filed_data(script) -> None:
    u, d = _spec_to_review(script)
    # no figures beyond the yearly data: niche, main business, IP and score are missing
    err = script.refused("review", **_review(u, d, "2026-06-10"))
    assert refusal(err) == ("review.criteria_not_met", "review", "passed")
    assert "national@2026 reviews specialized" in err.message and "2024–2025" in err.message
    assert "niche_years >= 3: no niche_years" in err.message and "score None < 50" in err.message
    # one below a threshold: refused, naming it
    low = {**REVIEW_DATA, "indicators": {**REVIEW_DATA["indicators"], "main_business_bp": 7999}}
    err = script.refused("review", **_review(u, d, "2026-06-10", **low))
    assert "main_business_bp >= 8000: 7999" in err.message
    # at the thresholds, with revenue, R&D and debt read from the filings: accepted and recorded
    script.ok("review", **_review(u, d, "2026-06-10", **REVIEW_DATA))
    ev = stored_events(script, u)[-1]
    assert type(ev).__name__ == "Reviewed" and ev.policy == "national@2026"
    assert (ev.score, ev.failures, ev.indicators) == (50, [], REVIEW_DATA["indicators"])
    assert ev.yearly_indicators[2024]["rd_ratio_bp"] == 500
    assert ev.yearly_indicators[2025]["revenue_fen"] == 1_500_000_000
    assert d.state(script).valid_until == date(2029, 6, 19)


def test_a_review_s_yearly_figures_override_the_filings(script) -> None:
    u, d = _spec_to_review(script)
    bad = {**REVIEW_DATA, "yearly_indicators": {"2024": {"rd_expense_fen": 99_999_999}}}
    err = script.refused("review", **_review(u, d, "2026-06-10", **bad))
    assert "rd_expense_fen >= 100000000 in each of 2024–2025: 2024 is 99999999" in err.message


def test_a_failed_review_needs_no_check_and_records_why(script) -> None:
    u, d = _spec_to_review(script)
    script.ok("review", **_review(u, d, "2026-06-10", passed=False, score=40))
    ev = stored_events(script, u)[-1]
    assert ev.passed is False and "score 40 < 50" in ev.failures
    assert not d.state(script).valid_on(date(2026, 6, 19))


def test_a_2022_review_is_not_judged_on_criteria(script) -> None:
    """Before 2026-04-01 nothing changes: a pass needs no figures, and records none."""
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    d = designate(script, u, "specialized", on="2023-03-01")  # valid until 2026-03-19
    file_yearly_data(script, u, 2024, "2025-03-15")
    assert passing_review(script, "national", "specialized", "2025-10-01") == {}
    script.ok("review", **_review(u, d, "2025-10-01"))
    ev = stored_events(script, u)[-1]
    assert (ev.policy, ev.failures, ev.score, ev.yearly_indicators) == ("national@2022+liaoning@2019", None, None, None)


def test_a_2026_little_giant_review_is_judged_by_the_2022_version(script) -> None:
    """工信厅企业函〔2026〕117号: the 2026 reviews of little giants follow the 2022 standard --
    its yearly-data deadline (30 April), its criteria (none for a review) -- and say so."""
    book = script.ledger.policy
    assert book.reviewing("national", "little_giant", date(2026, 5, 10)).key == "national@2022"
    assert book.reviewing("national", "specialized", date(2026, 5, 10)).key == "national@2026"
    u = uscc(next(_n), COUNTY)
    register(script, u, on="2019-01-10")
    climb(script, u, ["specialized"], on="2022-07-01")
    lg = designate(script, u, "little_giant", on="2023-06-01")
    until = lg.state(script).valid_until
    assert until == date(2026, 6, 19)
    file_yearly_data(script, u, 2024, "2025-03-15")
    on = "2026-05-10"  # after the 2022 deadline for 2025's data, before the 2026 one
    err = script.refused("review", uscc=u, application_id=lg.application_id, passed=True, occurred_on=on,
                         actor=MIIT, document="工信厅企业函〔2026〕117号")
    assert refusal(err) == ("review.yearly_data_missing", "review", "application_id")
    assert "2025" in err.message  # the 2026 version would have asked for 2024 only
    file_yearly_data(script, u, 2025, "2026-04-20")
    script.ok("review", uscc=u, application_id=lg.application_id, passed=True, occurred_on=on, actor=MIIT,
              document="工信厅企业函〔2026〕117号", score=58)  # 58 < 60 of the 2026 standard: not judged on it
    ev = stored_events(script, u)[-1]
    assert (ev.policy, ev.score, ev.failures) == ("national@2022+liaoning@2019", 58, None)
    assert lg.state(script).valid_until == until + (date(2029, 6, 19) - date(2026, 6, 19))


def test_review_under_must_name_a_version_that_has_the_tier() -> None:
    from domain.policy import PolicyBook, Programme, Tier

    v26 = Programme(id="p", name="P", version="2026", effective_from=date(2026, 4, 1), level="national",
                    jurisdiction="000000", tiers=[Tier(id="t", name="T", deciding_level="national",
                                                       review_under="2022")])
    with pytest.raises(ValueError, match="reviewed under version '2022'"):
        PolicyBook([v26])


# =========================================================================== compatibility
def test_commands_without_the_new_fields_keep_their_digest() -> None:
    base = {"uscc": uscc(1, COUNTY), "application_id": "a", "occurred_on": "2026-06-10",
            "actor": {"authority": PROVINCE, "person": "p"}, "command_id": "x"}
    review = c.convert_command({"command": "review", "passed": True, **base})
    assess = c.convert_command({"command": "assess", **base})
    for cmd, added in ((review, (b"score", b"indicators", b"yearly_indicators")), (assess, (b"yearly_indicators",))):
        encoded = c.encode_command(cmd)
        assert not any(b'"' + f + b'"' in encoded for f in added), encoded
    assert b'"score":null' in c.encode_command(assess)  # an old field keeps its bytes
    with_yearly = c.convert_command({"command": "assess", "yearly_indicators": {"2024": {"rd_ratio_bp": 300}}, **base})
    assert b'"yearly_indicators":{"2024":{"rd_ratio_bp":300}}' in c.encode_command(with_yearly)


@pytest.mark.parametrize(("command", "yearly", "field", "needle"), [
    ("assess", {"24": {"rd_ratio_bp": 300}}, "$.yearly_indicators", "2100"),
    ("review", {"2024": {"rd_ratio_bp": 2**70}}, "$.yearly_indicators[...][...]", "<="),
    ("review", {str(y): {"r": 1} for y in range(2018, 2025)}, "$.yearly_indicators", "length <= 5"),
    ("assess", {"2024": {f"i{n}": 1 for n in range(101)}}, "$.yearly_indicators[...]", "length <= 100"),
])
def test_yearly_indicators_are_bounded_like_indicators(script, command, yearly, field, needle) -> None:
    extra = {"passed": True} if command == "review" else {}
    with pytest.raises(c.InputError) as info:
        script.cmd(command, uscc=uscc(1, COUNTY), application_id="a", occurred_on="2026-06-10", actor=PROVINCE,
                   yearly_indicators=yearly, **extra)
    assert info.value.field == field and needle in info.value.message, (info.value.field, info.value.message)


def test_a_snapshot_older_than_the_yearly_indicators_is_folded_from_the_events(ledger) -> None:
    u = uscc(next(_n), "370202")
    actor = {"authority": "370200", "person": "青岛市工信局"}
    ledger.handle(c.convert_command({"command": "register", "command_id": "r", "uscc": u, "name": "某厂",
                                     "occurred_on": "2012-01-01", "actor": actor}))
    ledger.handle_many([c.convert_command({
        "command": "file_yearly_data", "command_id": f"y{y}", "uscc": u, "programme": "qingdao", "data_year": y,
        "occurred_on": f"{y + 1}-03-01", "actor": actor, "indicators": {"revenue_fen": y}})
        for y in range(2012, 2070)], batch_size=7)
    with ledger.snapshots.recorder.datastore.transaction(commit=True) as cur:  # the latest, as a snapshot of before
        cur.execute("SELECT originator_version, state FROM stored_snapshots ORDER BY originator_version DESC LIMIT 1")
        version, state = cur.fetchone()
        envelope = msgspec.json.decode(bytes(state))
        del envelope["state"]["yearly_indicators"]
        cur.execute("UPDATE stored_snapshots SET state = ? WHERE originator_version = ?",
                    (msgspec.json.encode(envelope), version))
    from services.ledger import Ledger

    fresh = Ledger(db=ledger.store)
    try:
        eid = ledger.enterprise(u).id
        (snap,) = fresh.snapshots.get(eid, desc=True, limit=1)  # the doctored snapshot still decodes ...
        assert snap.state["yearly_indicators"] is None
        restored = fresh.load_many([eid])[eid]
        assert restored.yearly_indicators[2020] == {"revenue_fen": 2020}  # ... and the events fill in
        replayed = None
        for event in fresh.events.get(eid):  # every event, no snapshot
            replayed = event.mutate(replayed)
        assert len(restored.yearly_indicators) == 58 and vars(restored) == vars(replayed)
    finally:
        fresh.close()
