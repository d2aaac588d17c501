"""Rule 5 (review window, yearly data; extend vs Liaoning's replace) and rule 6 (revocation:
reason class, document, cooling-off, the three-year recommendation bar)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import RuleViolation
from domain.values import Actor
from services import commands as c
from tests.support.journeys import (
    CITY,
    COUNTY,
    MIIT,
    PROVINCE,
    designate,
    enterprise_actor,
    event_types,
    file_yearly_data,
    passing_review,
    refusal,
    register,
    stored_events,
)
from tests.support.ledgers import uscc


def review(script, u: str, app_id: str, on: str | date, passed: bool = True, who: str = PROVINCE, **kw):  # type: ignore[no-untyped-def]
    if passed and "indicators" not in kw:  # where the judging version reviews on criteria: data that meet them
        a = script.ledger.enterprise(u).applications[app_id]
        kw.update(passing_review(script, a.programme, a.tier, on))
    return dict(uscc=u, application_id=app_id, passed=passed, occurred_on=str(on), actor=who,
                document=kw.pop("document", "辽工信复〔2025〕1号"), **kw)


@pytest.fixture
def spec(script, u):  # type: ignore[no-untyped-def]
    """Provincial 专精特新 approved 2023-03-19, valid until 2026-03-19; review window opens 2025-09-20."""
    d = designate(script, u, "specialized", on="2023-03-01")
    assert d.state(script).valid_until == date(2026, 3, 19)
    return d


# =========================================================================== rule 5: review
def test_review_only_inside_the_window(script, u, spec) -> None:
    file_yearly_data(script, u, 2024, "2025-03-15")
    err = script.refused("review", **review(script, u, spec.application_id, "2025-09-19"))
    assert refusal(err) == ("review.outside_window", "review", "occurred_on")
    assert "2025-09-20" in err.message
    script.ok("review", **review(script, u, spec.application_id, "2025-09-20"))


def test_review_after_expiry_is_too_late(script, u, spec) -> None:
    file_yearly_data(script, u, 2025, "2026-03-15")
    err = script.refused("review", **review(script, u, spec.application_id, "2026-03-19"))
    assert refusal(err) == ("review.not_valid", "review", "occurred_on")
    assert not spec.state(script).valid_on(date(2026, 3, 19))  # lapsed: never reviewed


def test_review_needs_the_yearly_data(script, u, spec) -> None:
    file_yearly_data(script, u, 2023, "2024-03-15")  # an older year does not do
    err = script.refused("review", **review(script, u, spec.application_id, "2025-10-01"))
    assert refusal(err) == ("review.yearly_data_missing", "review", "application_id")
    assert "2024" in err.message
    file_yearly_data(script, u, 2024, "2025-04-30")  # on time (a late filing forfeits: test_rules_2022_changes.py)
    script.ok("review", **review(script, u, spec.application_id, "2025-10-01"))


def test_before_the_deadline_the_previous_year_is_needed(script, u, spec) -> None:
    """On 2026-02-01 the 2025 data is not due yet (30 April): the 2024 data is what counts."""
    file_yearly_data(script, u, 2025, "2026-01-20")
    err = script.refused("review", **review(script, u, spec.application_id, "2026-02-01"))
    assert refusal(err) == ("review.yearly_data_missing", "review", "application_id")
    file_yearly_data(script, u, 2024, "2025-04-21")  # on time: late data forfeits under 2022 too
    script.ok("review", **review(script, u, spec.application_id, "2026-02-01"))


def test_a_pass_extends_validity_by_the_tier_term_and_history_keeps_both(script) -> None:
    # in Jilin, under the national rules (Liaoning's 实施细则 renews 专精特新 by replacing from
    # 2023-10-01: tests/integration/test_rules_overrides.py)
    u = uscc(1, "220102")
    register(script, u)
    spec = designate(script, u, "specialized", on="2023-03-01")
    file_yearly_data(script, u, 2024, "2025-03-15")
    out = script.ok("review", **review(script, u, spec.application_id, "2025-10-01", who="220000"))
    s = spec.state(script)
    assert (s.valid_from, s.valid_until) == (date(2023, 3, 19), date(2029, 3, 19))
    assert s.valid_on(date(2028, 1, 1))
    approved, reviewed = [e for e in stored_events(script, u) if type(e).__name__ in ("Approved", "Reviewed")]
    assert approved.valid_until == date(2026, 3, 19)  # the first period stays in the log
    assert (reviewed.passed, reviewed.valid_until) == (True, date(2029, 3, 19))
    assert out.events[0].type == "Reviewed"
    # the next review comes in the next window only
    err = script.refused("review", **review(script, u, spec.application_id, "2025-11-01", who="220000"))
    assert refusal(err) == ("review.outside_window", "review", "occurred_on")


def test_a_fail_lapses_the_designation_at_valid_until(script, u, spec) -> None:
    file_yearly_data(script, u, 2024, "2025-03-15")
    script.ok("review", **review(script, u, spec.application_id, "2025-10-01", passed=False))
    s = spec.state(script)
    assert s.review_failed
    assert s.valid_on(date(2026, 3, 18))  # still valid to the end of its term
    assert not s.valid_on(date(2026, 3, 19))
    err = script.refused("review", **review(script, u, spec.application_id, "2025-12-01", passed=True))
    assert refusal(err) == ("review.duplicate", "review", "application_id")


def test_only_the_deciding_authority_reviews_a_current_designation(script, u, spec) -> None:
    file_yearly_data(script, u, 2024, "2025-03-15")
    err = script.refused("review", **review(script, u, spec.application_id, "2025-10-01", who=CITY))
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    err = script.refused("review", **review(script, u, spec.application_id, "2025-10-01", who="370000"))
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    d = designate(script, u, "little_giant", on="2025-04-01", until="recommended")
    err = script.refused("review", **review(script, u, d.application_id, "2025-10-01", who=MIIT))
    assert refusal(err) == ("review.not_designated", "review", "application_id")


def test_late_yearly_data_forfeits_review_under_2022_and_under_2026(script) -> None:
    old, new, ontime = uscc(2, COUNTY), uscc(3, COUNTY), uscc(4, COUNTY)
    for e in (old, new, ontime):
        register(script, e)
    d_old = designate(script, old, "specialized", on="2023-03-01")  # reviewed in 2025 (2022 rules)
    file_yearly_data(script, old, 2024, "2025-05-15")  # late (30 April): 63号 forfeits the review
    err = script.refused("review", **review(script, old, d_old.application_id, "2025-10-01"))
    assert refusal(err) == ("review.yearly_data_late", "review", "application_id")
    assert "national@2022" in err.message

    # designations reviewed in June 2026, under the 2026 rules (31 May, and late data forfeits)
    d_new = designate(script, new, "specialized", on="2023-09-01")
    d_ontime = designate(script, ontime, "specialized", on="2023-09-01")
    file_yearly_data(script, new, 2025, "2026-06-01")  # late under the 2026 rules
    file_yearly_data(script, ontime, 2025, "2026-05-31")  # on time under the 2026 rules
    err = script.refused("review", **review(script, new, d_new.application_id, "2026-06-10"))
    assert refusal(err) == ("review.yearly_data_late", "review", "application_id")
    assert "national@2026" in err.message
    script.ok("review", **review(script, ontime, d_ontime.application_id, "2026-06-10"))


def test_a_late_change_report_forfeits_review_under_2026(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-09-01")  # valid until 2026-09-19
    file_yearly_data(script, u, 2025, "2026-05-20")
    script.ok("report_change", uscc=u, kind="rename", new_name="葫芦岛新名称有限公司", changed_on="2026-01-05",
              occurred_on="2026-04-20", actor=CITY)  # due 2026-04-05: late
    err = script.refused("review", **review(script, u, d.application_id, "2026-06-10"))
    assert refusal(err) == ("review.change_report_late", "review", "application_id")


def test_a_timely_change_report_keeps_the_review(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-09-01")
    file_yearly_data(script, u, 2025, "2026-05-20")
    script.ok("report_change", uscc=u, kind="rename", new_name="葫芦岛新名称有限公司", changed_on="2026-01-05",
              occurred_on="2026-04-05", actor=CITY)
    script.ok("review", **review(script, u, d.application_id, "2026-06-10"))


def test_yearly_data_is_filed_once_per_past_year(script, u) -> None:
    err = script.refused("file_yearly_data", uscc=u, data_year=2024, occurred_on="2024-12-31",
                         actor=enterprise_actor(script, u))
    assert refusal(err) == ("yearly_data.future_year", "review", "data_year")
    file_yearly_data(script, u, 2024, "2025-03-01")
    err = script.refused("file_yearly_data", uscc=u, data_year=2024, occurred_on="2025-03-02",
                         actor=enterprise_actor(script, u))
    assert refusal(err) == ("yearly_data.duplicate", "immutability", "data_year")
    err = script.refused("file_yearly_data", uscc=u, data_year=2023, occurred_on="2025-03-02",
                         actor={"authority": "370212", "person": "x", "role": "enterprise"})
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")


# --------------------------------------------------------------------------- Liaoning: replace
@pytest.fixture
def liaoning(script, u):  # type: ignore[no-untyped-def]
    designate(script, u, "specialized", on="2023-06-01")
    d = designate(script, u, "little_giant", programme="liaoning", approve_on="2023-11-20")
    assert (d.state(script).valid_from, d.state(script).valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
    return d


def test_liaoning_renewal_is_a_new_designation_replacing_the_old(script, u, liaoning) -> None:
    file_yearly_data(script, u, 2025, "2026-03-01", programme="liaoning")
    err = script.refused("review", **review(script, u, liaoning.application_id, "2025-12-31"))
    assert refusal(err) == ("review.outside_window", "review", "occurred_on")  # 365 days before 2027-01-01
    script.ok("review", **review(script, u, liaoning.application_id, "2026-06-01"))
    ent = script.ledger.enterprise(u)
    old = ent.applications[liaoning.application_id]
    new = ent.applications[old.replaced_by]
    assert new.renewal_of == old.id and new.status == "approved"
    assert (old.valid_from, old.valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
    assert (new.valid_from, new.valid_until) == (date(2027, 1, 1), date(2030, 1, 1))
    assert old.valid_on(date(2026, 12, 31)) and not new.valid_on(date(2026, 12, 31))
    assert new.valid_on(date(2027, 1, 1)) and not old.valid_on(date(2027, 1, 1))
    reviewed = stored_events(script, u)[-1]
    assert (type(reviewed).__name__, reviewed.new_application_id, reviewed.policy) == (
        "Reviewed", new.id, "liaoning@2019")
    # the replaced designation is reviewed no more; nor is the tier applied for again
    err = script.refused("review", **review(script, u, liaoning.application_id, "2026-07-01"))
    assert refusal(err) == ("review.not_designated", "review", "application_id")
    err = script.refused("apply", uscc=u, application_id="again", programme="liaoning", tier="little_giant",
                         occurred_on="2026-07-01", actor=enterprise_actor(script, u))
    assert refusal(err) == ("apply.already_designated", "ladder", "tier")


# =========================================================================== rule 6: revocation
def revoke(u: str, app_id: str, on: str, reason: str = "false_material", who: str = PROVINCE, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("document", "辽工信〔2023〕99号")
    return dict(uscc=u, application_id=app_id, reason=reason, occurred_on=on, actor=who, **kw)


def test_revocation_needs_a_reason_class(script, u, spec) -> None:
    err = script.refused("revoke", **revoke(u, spec.application_id, "2023-09-01", reason="bad_mood"))
    assert isinstance(err, c.InputError) and err.field == "$.reason"
    ent = script.ledger.enterprise(u)
    with pytest.raises(RuleViolation) as info:  # the aggregate checks it too, whoever calls it
        ent.revoke(application_id=spec.application_id, programme=script.ledger.policy.in_force(
            "national", date(2023, 9, 1)), reason="bad_mood", effective_on=date(2023, 9, 1),
            occurred_on=date(2023, 9, 1), actor=Actor(authority=PROVINCE, person="p"), document="d")
    assert refusal(info.value) == ("revoke.unknown_reason", "revocation", "reason")


def test_revocation_needs_its_document(script, u, spec) -> None:
    err = script.refused("revoke", **revoke(u, spec.application_id, "2023-09-01", document=""))
    assert refusal(err) == ("revoke.no_document", "revocation", "document")


@pytest.mark.parametrize("who, code", [(CITY, "authority.wrong_level"), (MIIT, "authority.wrong_level"),
                                       ("370000", "authority.not_covering")])
def test_only_the_deciding_authority_revokes(script, u, spec, who: str, code: str) -> None:
    err = script.refused("revoke", **revoke(u, spec.application_id, "2023-09-01", who=who))
    assert refusal(err) == (code, "authority", "actor.authority")


def test_revoke_only_a_standing_designation(script, u, spec) -> None:
    err = script.refused("revoke", **revoke(u, spec.application_id, "2026-03-19"))
    assert refusal(err) == ("revoke.after_expiry", "revocation", "effective_on")
    script.ok("revoke", **revoke(u, spec.application_id, "2023-09-01"))
    err = script.refused("revoke", **revoke(u, spec.application_id, "2023-09-02"))
    assert refusal(err) == ("revoke.already", "revocation", "application_id")
    d = designate(script, u, "innovative", on="2023-04-01", until="assessed")
    err = script.refused("revoke", **revoke(u, d.application_id, "2023-09-01"))
    assert refusal(err) == ("revoke.not_designated", "revocation", "application_id")


def test_data_fraud_bars_reapplication_for_three_years(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01")
    script.ok("revoke", **revoke(u, d.application_id, "2023-09-10", effective_on="2023-09-01"))
    assert not d.state(script).valid_on(date(2023, 9, 1))
    err = script.refused("apply", uscc=u, application_id="i2", programme="national", tier="innovative",
                         occurred_on="2026-08-31", actor=enterprise_actor(script, u))
    assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")
    assert "2026-09-01" in err.message
    script.ok("apply", uscc=u, application_id="i2", programme="national", tier="innovative",
              occurred_on="2026-09-01", actor=enterprise_actor(script, u))


def test_other_reasons_neither_cool_off_nor_bar(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01")
    script.ok("revoke", **revoke(u, d.application_id, "2023-09-01", reason="other"))
    again = designate(script, u, "innovative", on="2023-09-02")  # applies and is recommended at once
    assert again.state(script).status == "approved"


@pytest.mark.parametrize("reason", ["major_accident", "tax_or_credit", "false_material"])
def test_the_three_year_recommendation_bar(script, u, reason: str) -> None:
    """A revocation for one of the grave reasons bars a recommendation, for any tier, for three years."""
    d = designate(script, u, "innovative", on="2023-03-01")
    script.ok("revoke", **revoke(u, d.application_id, "2023-09-01", reason=reason))
    s = designate(script, u, "specialized", on="2023-10-01", until="applied")  # applying is not barred
    err = script.refused("recommend", uscc=u, application_id=s.application_id, occurred_on="2026-08-31",
                         actor=CITY)
    assert refusal(err) == ("recommend.barred", "revocation", "application_id")
    script.ok("recommend", uscc=u, application_id=s.application_id, occurred_on="2026-09-01", actor=CITY)


def test_cooling_off_follows_the_rule_version_of_the_revocation(script) -> None:
    """专精特新 revoked for tax evasion: three years under 2022 (63号) and under 2026; the 2018
    rules barred only false material (tests/integration/test_rules_2022_changes.py: each class)."""
    a, b = uscc(5, COUNTY), uscc(6, COUNTY)
    for e in (a, b):
        register(script, e)
    d18 = designate(script, a, "specialized", on="2021-03-01")
    script.ok("revoke", **revoke(a, d18.application_id, "2022-01-10", reason="tax_or_credit"))  # 2018 rules
    script.ok("apply", uscc=a, application_id="s2", programme="national", tier="specialized",
              occurred_on="2022-02-01", actor=enterprise_actor(script, a))
    designate(script, b, "innovative", on="2025-06-01")
    d26 = designate(script, b, "specialized", on="2026-04-10")
    script.ok("revoke", **revoke(b, d26.application_id, "2026-07-01", reason="tax_or_credit"))
    err = script.refused("apply", uscc=b, application_id="s2", programme="national", tier="specialized",
                         occurred_on="2026-08-01", actor=enterprise_actor(script, b))
    assert refusal(err) == ("apply.cooling_off", "revocation", "occurred_on")
    revoked = [e for e in stored_events(script, b) if type(e).__name__ == "Revoked"][0]
    assert revoked.barred_until == date(2029, 7, 1)


def test_revocation_is_an_event_beside_the_approval(script, u, spec) -> None:
    script.ok("revoke", **revoke(u, spec.application_id, "2024-02-01", reason="major_accident"))
    assert event_types(script, u)[-2:] == ["Approved", "Revoked"]
    r = stored_events(script, u)[-1]
    assert (r.reason, r.effective_on, r.document) == ("major_accident", date(2024, 2, 1), "辽工信〔2023〕99号")
    assert spec.state(script).valid_until == date(2026, 3, 19)
    assert spec.state(script).valid_on(date(2024, 1, 31)) and not spec.state(script).valid_on(date(2024, 2, 1))
