"""Issue 14, items 4-6: what 工信部企业〔2022〕63号 says about yearly data, change reports and
revocations, on a ledger (policies/national-2022.toml, national-2026.toml).

- Rule 5: yearly data (年度数据更新) due inside a designation's validity and filed after its
  deadline costs the review (未及时更新企业信息的, 取消复核资格).
- Rule 7: a major change (更名、合并、分立、重组、迁移、设立境外分支机构) reported after three months
  during the validity costs the review; every change of a ``reconfirm_after`` kind puts the
  programme's valid designations, national ones included, under re-confirmation by the tier's
  deciding authority, who confirms (继续符合条件的, 有效期不变) or ends it.
- Rule 6: accidents, dishonesty/tax evasion and data fraud all bar a new application for three
  years, under the rule version of the revocation's date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from infra.readmodel import ReadModel
from tests.support.journeys import (
    CITY,
    COUNTY,
    MIIT,
    PROVINCE,
    climb,
    designate,
    enterprise_actor,
    file_yearly_data,
    refusal,
    register,
    stored_events,
)
from tests.support.ledgers import uscc


def review(u: str, app_id: str, on: str, who: str = PROVINCE) -> dict[str, Any]:
    return dict(uscc=u, application_id=app_id, passed=True, occurred_on=on, actor=who, document="辽工信复〔2025〕3号")


def change(u: str, kind: str, changed_on: str, on: str, **kw: Any) -> dict[str, Any]:
    """A change report; the fields a kind needs are filled in unless given."""
    needs = {"rename": {"new_name": "葫芦岛更名后有限公司"}, "relocation": {"new_region": "211403"},
             "merger": {"counterpart_uscc": uscc(990, COUNTY)}, "split": {"counterpart_uscc": uscc(991, COUNTY)}}
    return dict(uscc=u, kind=kind, changed_on=changed_on, occurred_on=on, actor=kw.pop("actor", CITY),
                **{**needs.get(kind, {}), **kw})


def last_report(script: Any, u: str) -> Any:
    """The enterprise's last ChangeReported event, as stored."""
    return [e for e in stored_events(script, u) if type(e).__name__ == "ChangeReported"][-1]


@pytest.fixture
def spec(script, u):  # type: ignore[no-untyped-def]
    """Provincial 专精特新 approved 2023-03-19 under the 2022 rules, valid until 2026-03-19; its
    review window opens 2025-09-20, and a review then rests on the 2024 data (due 2025-04-30)."""
    d = designate(script, u, "specialized", on="2023-03-01")
    assert d.state(script).valid_until == date(2026, 3, 19)
    return d


# =========================================================================== rule 5: yearly data
@pytest.mark.parametrize("filed_on, code", [("2025-04-30", None), ("2025-05-01", "review.yearly_data_late")])
def test_yearly_data_on_its_deadline_keeps_the_review_a_day_late_forfeits_it(script, u, spec, filed_on: str,
                                                                             code: str | None) -> None:
    file_yearly_data(script, u, 2024, filed_on)
    if code is None:
        script.ok("review", **review(u, spec.application_id, "2025-10-01"))
        a = spec.state(script)  # Liaoning's 实施细则 renews by a new designation (policies/liaoning.toml)
        renewed = a if a.replaced_by is None else script.ledger.enterprise(u).applications[a.replaced_by]
        assert renewed.valid_until == date(2029, 3, 19)
        return
    err = script.refused("review", **review(u, spec.application_id, "2025-10-01"))
    assert refusal(err) == (code, "review", "application_id")
    assert "2024" in err.message and "national@2022" in err.message
    assert spec.state(script).valid_on(date(2026, 3, 18)) and not spec.state(script).valid_on(date(2026, 3, 19))


def test_an_earlier_year_of_the_validity_filed_late_forfeits_too(script, u, spec) -> None:
    file_yearly_data(script, u, 2023, "2024-05-01")  # due 2024-04-30, inside the validity
    file_yearly_data(script, u, 2024, "2025-03-01")  # on time
    err = script.refused("review", **review(u, spec.application_id, "2025-10-01"))
    assert refusal(err) == ("review.yearly_data_late", "review", "application_id")
    assert "2023" in err.message


def test_a_late_filing_due_before_the_validity_does_not_count(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-06-01")  # approved 2023-06-19
    file_yearly_data(script, u, 2022, "2023-05-10")  # late, but due (2023-04-30) before the designation
    file_yearly_data(script, u, 2023, "2024-04-30")
    file_yearly_data(script, u, 2024, "2025-04-30")
    script.ok("review", **review(u, d.application_id, "2026-01-10"))


# =========================================================================== rule 7: the review forfeit
@pytest.mark.parametrize("reported_on, code", [("2024-04-15", None), ("2024-04-16", "review.change_report_late")])
def test_a_change_reported_within_three_months_keeps_the_review_after_them_forfeits_it(
        script, u, spec, reported_on: str, code: str | None) -> None:
    script.ok("report_change", **change(u, "rename", "2024-01-15", reported_on))
    assert (last_report(script, u).due_on, last_report(script, u).late) == (date(2024, 4, 15), code is not None)
    file_yearly_data(script, u, 2024, "2025-03-01")
    if code is None:
        script.ok("review", **review(u, spec.application_id, "2025-10-01"))
        return
    err = script.refused("review", **review(u, spec.application_id, "2025-10-01"))
    assert refusal(err) == (code, "review", "application_id")
    assert "rename of 2024-01-15" in err.message and "national@2022" in err.message


@pytest.mark.parametrize("kind, forfeits", [
    ("rename", True), ("merger", True), ("split", True), ("reorganisation", True), ("overseas_branch", True),
    ("relocation", True),  # a move inside the province: a major change all the same
    ("listing", False), ("delisting", False),
])
def test_only_a_major_change_reported_late_forfeits_the_review(script, u, spec, kind: str, forfeits: bool) -> None:
    script.ok("report_change", **change(u, kind, "2024-01-15", "2024-06-01"))  # late
    assert last_report(script, u).late and last_report(script, u).forfeits_review is forfeits
    file_yearly_data(script, u, 2024, "2025-03-01")
    if forfeits:
        err = script.refused("review", **review(u, spec.application_id, "2025-10-01"))
        assert refusal(err) == ("review.change_report_late", "review", "application_id")
    else:
        script.ok("review", **review(u, spec.application_id, "2025-10-01"))


def test_a_late_report_under_the_2018_rules_is_not_judged_again(script, u) -> None:
    d = designate(script, u, "specialized", on="2021-09-01")  # 2018 rules, approved 2021-09-19
    script.ok("report_change", **change(u, "reorganisation", "2021-10-01", "2022-03-01"))  # late, 2018
    assert last_report(script, u).late and last_report(script, u).forfeits_review is False
    for year in (2021, 2022, 2023):
        file_yearly_data(script, u, year, f"{year + 1}-03-01")
    script.ok("review", **review(u, d.application_id, "2024-06-01"))  # judged by 2022, which forfeits


# =========================================================================== rule 7: re-confirmation
@pytest.fixture
def ladder(script, u):  # type: ignore[no-untyped-def]
    """A provincial 专精特新 (2022-07-19 .. 2025-07-19) and a national little giant (2022-09-05 ..
    2025-09-05), both under the 2022 rules."""
    return climb(script, u, ["specialized", "little_giant"], on="2022-07-01")


@pytest.mark.parametrize("kind", ["rename", "merger", "split", "reorganisation", "overseas_branch"])
def test_a_major_change_puts_every_valid_national_designation_under_reconfirmation(script, u, ladder,
                                                                                   kind: str) -> None:
    spec, giant = ladder
    script.ok("report_change", **change(u, kind, "2023-03-01", "2023-04-01"))
    assert sorted(last_report(script, u).reconfirmation) == sorted([spec.application_id, giant.application_id])
    assert spec.state(script).under_reconfirmation and giant.state(script).under_reconfirmation


@pytest.mark.parametrize("kind, fields", [("listing", {"board": "neeq"}), ("delisting", {}),
                                          ("relocation", {"new_region": "211403"})])  # inside Huludao
def test_other_changes_need_no_reconfirmation(script, u, ladder, kind: str, fields: dict[str, str]) -> None:
    script.ok("report_change", **change(u, kind, "2023-03-01", "2023-04-01", **fields))
    assert not any(d.state(script).under_reconfirmation for d in ladder)


def test_the_deciding_authority_confirms_and_valid_until_stays(script, u, ladder) -> None:
    spec, giant = ladder
    script.ok("report_change", **change(u, "overseas_branch", "2023-03-01", "2023-04-01"))
    # the little giant is MIIT's to re-confirm, the 专精特新 Liaoning's (their deciding authorities)
    err = script.refused("reconfirm", uscc=u, application_id=giant.application_id, confirmed=True,
                         occurred_on="2023-05-10", actor=PROVINCE)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True,
                         occurred_on="2023-05-10", actor=CITY)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("reconfirm", uscc=u, application_id=giant.application_id, confirmed=True, occurred_on="2023-05-10",
              actor=MIIT, document="工信部企业函〔2023〕60号（继续符合条件，有效期不变）")
    script.ok("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True, occurred_on="2023-05-10",
              actor=PROVINCE, document="辽工信函〔2023〕71号")
    for d, until in ((spec, date(2025, 7, 19)), (giant, date(2025, 9, 5))):
        s = d.state(script)
        assert (s.under_reconfirmation, s.valid_until, s.ended_on) == (False, until, None)
        assert s.valid_on(until - timedelta(days=1))
    err = script.refused("reconfirm", uscc=u, application_id=giant.application_id, confirmed=False,
                         occurred_on="2023-05-11", actor=MIIT)
    assert refusal(err) == ("reconfirm.not_pending", "change", "application_id")


def test_an_ended_designation_ends_on_the_date(script, u, ladder) -> None:
    spec, giant = ladder
    script.ok("report_change", **change(u, "merger", "2023-03-01", "2023-04-01"))
    script.ok("reconfirm", uscc=u, application_id=giant.application_id, confirmed=False, occurred_on="2023-06-12",
              actor=MIIT, document="工信部企业函〔2023〕77号（重大变化后不再符合条件）")
    g = giant.state(script)
    assert g.ended_on == date(2023, 6, 12) and g.valid_until == date(2025, 9, 5)
    assert g.valid_on(date(2023, 6, 11)) and not g.valid_on(date(2023, 6, 12))
    assert spec.state(script).valid_on(date(2023, 6, 12))  # still under re-confirmation, still valid
    assert spec.state(script).under_reconfirmation


def test_the_pools_show_what_is_under_reconfirmation(script, u, ladder) -> None:
    spec, giant = ladder
    script.ok("report_change", **change(u, "rename", "2023-03-01", "2023-04-01"))
    script.ok("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True, occurred_on="2023-05-10",
              actor=PROVINCE, document="辽工信函〔2023〕72号")
    rm = ReadModel(script.ledger)
    try:
        def flags(on: str) -> dict[str, bool]:
            rows = [*rm.pool(tier="specialized", as_of=on, region="211400"),
                    *rm.pool(tier="little_giant", as_of=on, region="211400", programme="national")]
            return {d.application_id: d.under_reconfirmation for d in rows}

        assert flags("2023-03-31") == {spec.application_id: False, giant.application_id: False}
        assert flags("2023-04-01") == {spec.application_id: True, giant.application_id: True}
        assert flags("2023-05-10") == {spec.application_id: False, giant.application_id: True}
    finally:
        rm.close()


def test_a_rename_under_a_programme_without_reconfirm_after_changes_nothing(script, u) -> None:
    product = designate(script, u, "product", programme="liaoning", on="2022-07-01", product_id="pump-1",
                        product_name="高压柱塞泵")  # Liaoning: valid from 2023-01-01
    spec = designate(script, u, "specialized", on="2022-07-01")
    script.ok("report_change", **change(u, "rename", "2023-03-01", "2023-04-01"))
    assert not product.state(script).under_reconfirmation
    assert spec.state(script).under_reconfirmation  # the national programme re-confirms
    err = script.refused("reconfirm", uscc=u, application_id=product.application_id, confirmed=True,
                         occurred_on="2023-05-01", actor=PROVINCE)
    assert refusal(err) == ("reconfirm.not_pending", "change", "application_id")


def test_a_rename_under_the_2018_rules_needs_no_reconfirmation(script, u) -> None:
    spec = designate(script, u, "specialized", on="2021-03-01")
    script.ok("report_change", **change(u, "rename", "2022-04-01", "2022-05-01"))  # before 2022-06-01
    assert not spec.state(script).under_reconfirmation


# =========================================================================== rule 6: cooling-off
@pytest.mark.parametrize("reason", ["major_accident", "tax_or_credit", "false_material"])
@pytest.mark.parametrize("tier", ["innovative", "specialized", "little_giant"])
def test_each_class_bars_three_years_under_2022(script, u, tier: str, reason: str) -> None:
    spec = designate(script, u, "specialized", on="2022-06-02")  # approved 2022-06-20
    held = spec if tier == "specialized" else designate(script, u, tier, on="2022-06-25")
    if tier == "little_giant":  # the 专精特新 it needs is renewed to stay valid in 2025
        file_yearly_data(script, u, 2023, "2024-03-01")
        script.ok("review", **review(u, spec.application_id, "2025-01-10"))
    script.ok("revoke", uscc=u, application_id=held.application_id, reason=reason, occurred_on="2022-09-01",
              actor=held.decider, document="辽工信发〔2022〕120号")
    revoked = [e for e in stored_events(script, u) if type(e).__name__ == "Revoked"][0]
    assert revoked.barred_until == date(2025, 9, 1)
    apply = dict(uscc=u, programme="national", tier=tier, actor=enterprise_actor(script, u))
    err = script.refused("apply", application_id="again-1", occurred_on="2025-08-31", **apply)
    assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")
    script.ok("apply", application_id="again-2", occurred_on="2025-09-01", **apply)  # the third anniversary


def test_other_reasons_do_not_bar(script, u, spec) -> None:
    script.ok("revoke", uscc=u, application_id=spec.application_id, reason="other", occurred_on="2023-09-01",
              actor=PROVINCE, document="辽工信发〔2023〕130号")
    script.ok("apply", uscc=u, application_id="again", programme="national", tier="specialized",
              occurred_on="2023-09-02", actor=enterprise_actor(script, u))


@pytest.mark.parametrize("revoked_on, barred", [("2022-05-31", False), ("2022-06-01", True)])
def test_the_bar_is_that_of_the_version_on_the_revocations_date(script, u, revoked_on: str, barred: bool) -> None:
    """A 2021 designation (2018 rules) revoked for a major accident: the 2018 rules barred only
    false material; from 2022-06-01 the 2022 rules bar three years."""
    d = designate(script, u, "specialized", on="2021-03-01")
    script.ok("revoke", uscc=u, application_id=d.application_id, reason="major_accident", occurred_on=revoked_on,
              actor=PROVINCE, document="辽工信发〔2022〕60号")
    apply = dict(uscc=u, application_id="again", programme="national", tier="specialized",
                 occurred_on="2022-07-01", actor=enterprise_actor(script, u))
    if barred:
        err = script.refused("apply", **apply)
        assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")
        assert "2025-06-01" in err.message
    else:
        script.ok("apply", **apply)


def test_innovative_2026_bars_all_three_classes(script) -> None:
    code = uscc(31, COUNTY)
    register(script, code)
    d = designate(script, code, "innovative", on="2026-04-10")
    script.ok("revoke", uscc=code, application_id=d.application_id, reason="tax_or_credit",
              occurred_on="2026-08-03", actor=PROVINCE, document="辽工信发〔2026〕15号")
    err = script.refused("apply", uscc=code, application_id="again", programme="national", tier="innovative",
                         occurred_on="2029-08-02", actor=enterprise_actor(script, code))
    assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")


# =========================================================================== business time (rules 5 and 7)
def test_a_late_filing_or_change_report_dated_before_an_accepted_review_contradicts_it(script, u, spec) -> None:
    """The review of 2025-10-01 was judged on the yearly data and change reports made by its
    date; a late filing or a late change report recorded afterwards but dated before it would
    have forfeited it (63号), so it is refused rather than silently rewriting that judgment."""
    file_yearly_data(script, u, 2024, "2025-04-01")
    script.ok("review", **review(u, spec.application_id, "2025-10-01"))
    err = script.refused("file_yearly_data", uscc=u, programme="national", data_year=2023, occurred_on="2025-09-15",
                         actor=enterprise_actor(script, u), indicators={"revenue_fen": 2_000_000_000})
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on")
    assert "Reviewed dated 2025-10-01" in err.message
    err = script.refused("report_change", **change(u, "rename", "2025-01-01", "2025-09-01"))
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on")
    # dated after the review, both are ordinary facts (and count for the next review)
    file_yearly_data(script, u, 2023, "2025-10-02")
    script.ok("report_change", **change(u, "rename", "2025-01-01", "2025-10-02"))
