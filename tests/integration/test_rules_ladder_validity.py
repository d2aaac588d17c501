"""Rule 3 (ladder) and rule 4 (validity), with Liaoning's whole-calendar-year validity and
Qingdao's designations of products (subject = product)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support.journeys import (
    CITY,
    COUNTY,
    PROVINCE,
    actor,
    climb,
    designate,
    enterprise_actor,
    event_types,
    refusal,
    register,
)
from tests.support.ledgers import uscc


def apply(script, u: str, tier: str, on: str, app_id: str = "x", programme: str = "national", **fields):  # type: ignore[no-untyped-def]
    return dict(uscc=u, application_id=app_id, programme=programme, tier=tier, occurred_on=on,
                actor=enterprise_actor(script, u), **fields)


# =========================================================================== rule 3: ladder
def test_little_giant_needs_a_valid_provincial_specialized(script, u) -> None:
    err = script.refused("apply", **apply(script, u, "little_giant", "2022-09-01"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    assert "provincial specialized" in err.message
    designate(script, u, "specialized", on="2022-07-01")
    script.ok("apply", **apply(script, u, "little_giant", "2022-09-01"))


def test_the_prerequisite_is_judged_on_the_application_date(script, u) -> None:
    s = designate(script, u, "specialized", on="2022-07-01")
    until = s.state(script).valid_until
    assert until == date(2025, 7, 19)
    # the last day of its validity is enough ...
    script.ok("apply", **apply(script, u, "little_giant", str(until - timedelta(days=1)), "lg1"))
    script.ok("withdraw", uscc=u, application_id="lg1", occurred_on=str(until), actor=enterprise_actor(script, u))
    # ... the day it expires is not: expiry needs no event
    err = script.refused("apply", **apply(script, u, "little_giant", str(until), "lg2"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")


def test_a_revoked_prerequisite_does_not_count(script, u) -> None:
    s = designate(script, u, "specialized", on="2022-07-01")
    script.ok("revoke", uscc=u, application_id=s.application_id, reason="other", occurred_on="2023-01-10",
              actor=PROVINCE, document="辽工信〔2023〕5号")
    script.ok("apply", **apply(script, u, "little_giant", "2023-01-09", "before"))
    script.ok("withdraw", uscc=u, application_id="before", occurred_on="2023-01-10",
              actor=enterprise_actor(script, u))
    err = script.refused("apply", **apply(script, u, "little_giant", "2023-01-10", "after"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")


def test_2026_specialized_needs_a_valid_innovative(script, u) -> None:
    designate(script, u, "innovative", on="2022-07-01")  # valid until 2025-07-17: expired by 2026
    err = script.refused("apply", **apply(script, u, "specialized", "2026-04-10"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    assert "provincial innovative" in err.message
    designate(script, u, "innovative", on="2026-04-10")  # a new one under the 2026 rules
    d = designate(script, u, "specialized", on="2026-05-10")
    assert d.state(script).status == "approved"


def test_key_little_giant_needs_a_national_little_giant(script, u) -> None:
    """A Liaoning provincial little giant is the same tier id at another level: it does not count."""
    designate(script, u, "specialized", on="2022-07-01")
    designate(script, u, "little_giant", programme="liaoning", on="2022-09-01")
    assert script.ledger.enterprise(u).valid_designations(date(2023, 3, 1))[-1].level == "provincial"
    err = script.refused("apply", **apply(script, u, "key_little_giant", "2023-03-01"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    assert "national little_giant" in err.message
    designate(script, u, "little_giant", on="2023-03-01")
    d = designate(script, u, "key_little_giant", on="2023-05-01")
    assert d.state(script).level == "national"


def test_key_little_giant_excludes_listed_companies(script) -> None:
    listed, unlisted = uscc(2, COUNTY), uscc(3, COUNTY)
    register(script, listed, listed=True)
    register(script, unlisted)
    for e in (listed, unlisted):
        climb(script, e, ["specialized", "little_giant"], on="2022-07-01")
    err = script.refused("apply", **apply(script, listed, "key_little_giant", "2023-03-01"))
    assert refusal(err) == ("ladder.listed_excluded", "ladder", "tier")
    # listing is a reported change, and it counts from then on
    script.ok("apply", **apply(script, unlisted, "key_little_giant", "2023-03-01", "k1"))
    script.ok("withdraw", uscc=unlisted, application_id="k1", occurred_on="2023-03-02",
              actor=enterprise_actor(script, unlisted))
    script.ok("report_change", uscc=unlisted, kind="listing", changed_on="2023-03-10", occurred_on="2023-03-20",
              actor=CITY)
    err = script.refused("apply", **apply(script, unlisted, "key_little_giant", "2023-04-01", "k2"))
    assert refusal(err) == ("ladder.listed_excluded", "ladder", "tier")
    script.ok("report_change", uscc=listed, kind="delisting", changed_on="2023-03-10", occurred_on="2023-03-20",
              actor=CITY)
    script.ok("apply", **apply(script, listed, "key_little_giant", "2023-04-01", "k3"))


# 制造业单项冠军 (its under-400-million rule, the little giant's exclusion of it) is a programme
# of its own: tests/integration/test_rules_champion.py.


def test_no_second_designation_of_the_same_tier_while_one_stands(script, u) -> None:
    d = designate(script, u, "innovative", on="2022-07-01")
    until = d.state(script).valid_until
    err = script.refused("apply", **apply(script, u, "innovative", "2023-01-01"))
    assert refusal(err) == ("apply.already_designated", "ladder", "tier")
    script.ok("apply", **apply(script, u, "innovative", str(until)))  # lapsed: apply afresh


def test_tiers_stack(script, u) -> None:
    ds = climb(script, u, ["innovative", "specialized", "little_giant"], on="2022-07-01")
    on = ds[-1].approved_on
    held = {(a.tier, a.level) for a in script.ledger.enterprise(u).valid_designations(on)}
    assert held == {("innovative", "provincial"), ("specialized", "provincial"), ("little_giant", "national")}


# =========================================================================== rule 4: validity
def test_valid_from_inclusive_until_exclusive(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01")
    s = d.state(script)
    assert (s.valid_from, s.valid_until) == (date(2023, 3, 17), date(2026, 3, 17))
    assert not s.valid_on(date(2023, 3, 16))
    assert s.valid_on(date(2023, 3, 17))
    assert s.valid_on(date(2026, 3, 16))
    assert not s.valid_on(date(2026, 3, 17))
    assert "Expired" not in " ".join(event_types(script, u))  # time alone ends it


def test_revocation_ends_validity_from_its_effective_date(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01")
    script.ok("revoke", uscc=u, application_id=d.application_id, reason="other", occurred_on="2024-05-10",
              effective_on="2024-05-01", actor=PROVINCE, document="辽工信〔2024〕8号")
    s = d.state(script)
    assert s.valid_on(date(2024, 4, 30))
    assert not s.valid_on(date(2024, 5, 1))
    assert not s.valid_on(date(2025, 1, 1))
    assert s.valid_until == date(2026, 3, 17)  # the approval is not rewritten


def test_an_application_is_never_valid(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01", until="noticed")
    assert not d.state(script).valid_on(date(2023, 6, 1))
    assert script.ledger.enterprise(u).valid_designations(date(2023, 6, 1)) == []


def test_liaoning_validity_runs_whole_years_from_the_next_january(script, u) -> None:
    designate(script, u, "specialized", on="2023-06-01")
    d = designate(script, u, "little_giant", programme="liaoning", approve_on="2023-11-20")
    s = d.state(script)
    assert (s.status, s.level) == ("approved", "provincial")
    assert (s.valid_from, s.valid_until) == (date(2024, 1, 1), date(2027, 1, 1))  # 2024-01-01 .. 2026-12-31
    assert not s.valid_on(date(2023, 12, 31))
    assert s.valid_on(date(2024, 1, 1))
    assert s.valid_on(date(2026, 12, 31))
    assert not s.valid_on(date(2027, 1, 1))


def test_an_approved_designation_not_yet_in_force_is_not_applied_for_again(script, u) -> None:
    designate(script, u, "specialized", on="2023-06-01")
    designate(script, u, "little_giant", programme="liaoning", approve_on="2023-11-20")
    err = script.refused("apply", **apply(script, u, "little_giant", "2023-12-10", programme="liaoning"))
    assert refusal(err) == ("apply.already_designated", "ladder", "tier")


def test_a_designation_before_its_validity_is_no_prerequisite(script, u) -> None:
    """A Liaoning product designated in November counts from 1 January."""
    q = uscc(5, COUNTY)
    register(script, q)
    d = designate(script, q, "product", programme="liaoning", approve_on="2023-11-20", product_id="pump-1")
    assert d.state(script).valid_from == date(2024, 1, 1)
    assert script.ledger.enterprise(q).valid_designations(date(2023, 12, 1)) == []
    assert [a.id for a in script.ledger.enterprise(q).valid_designations(date(2024, 1, 1))] == [d.application_id]


# =========================================================================== Qingdao: products
@pytest.fixture
def q(script) -> str:
    code = uscc(10, "370212")
    register(script, code, on="2012-03-01")
    return code


def test_a_product_designation_needs_the_product(script, q) -> None:
    err = script.refused("apply", **apply(script, q, "product", "2015-03-01", programme="qingdao"))
    assert refusal(err) == ("apply.product_required", "identity", "product_id")
    d = designate(script, q, "product", programme="qingdao", on="2015-03-01", product_id="valve-7",
                  product_name="高压阀门")
    s = d.state(script)
    assert (s.status, s.level, s.product_id, s.product_name) == ("approved", "municipal", "valve-7", "高压阀门")
    assert d.decider == "370200"


def test_an_enterprise_tier_takes_no_product(script, q) -> None:
    err = script.refused("apply", **apply(script, q, "demonstration", "2015-03-01", programme="qingdao",
                                          product_id="valve-7"))
    assert refusal(err) == ("apply.product_not_allowed", "identity", "product_id")


def test_products_are_designated_one_by_one(script, q) -> None:
    designate(script, q, "product", programme="qingdao", on="2015-03-01", product_id="valve-7", until="applied",
              application_id="p7")
    err = script.refused("apply", **apply(script, q, "product", "2015-03-02", "p7b", programme="qingdao",
                                          product_id="valve-7"))
    assert refusal(err) == ("apply.already_open", "order", "tier")
    designate(script, q, "product", programme="qingdao", on="2015-03-02", product_id="pump-2")  # another product
    d = designate(script, q, "product", programme="qingdao", on="2015-06-01", product_id="gear-3")
    err = script.refused("apply", **apply(script, q, "product", "2016-01-01", "g3b", programme="qingdao",
                                          product_id="gear-3"))
    assert refusal(err) == ("apply.already_designated", "ladder", "tier")
    held = {a.product_id for a in script.ledger.enterprise(q).valid_designations(d.approved_on)}
    assert held == {"pump-2", "gear-3"}


def test_qingdao_131_ladder_product_demonstration_hidden_champion(script, q) -> None:
    err = script.refused("apply", **apply(script, q, "demonstration", "2015-03-01", programme="qingdao"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    designate(script, q, "product", programme="qingdao", on="2015-03-01", product_id="valve-7")
    err = script.refused("apply", **apply(script, q, "hidden_champion", "2015-05-01", programme="qingdao"))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    designate(script, q, "demonstration", programme="qingdao", on="2015-05-01")
    d = designate(script, q, "hidden_champion", programme="qingdao", on="2015-07-01")
    assert d.state(script).status == "approved"


@pytest.mark.parametrize("who, code", [
    ("370212", "authority.wrong_level"),  # the district
    ("370000", "authority.wrong_level"),  # the province
    ("210200", "authority.not_covering"),  # Dalian is a city, but not Qingdao
])
def test_qingdao_designations_are_decided_by_qingdao(script, q, who: str, code: str) -> None:
    d = designate(script, q, "product", programme="qingdao", on="2015-03-01", product_id="valve-7",
                  until="applied")
    err = script.refused("assess", uscc=q, application_id=d.application_id, score=80, occurred_on="2015-03-05",
                         actor=who)
    assert refusal(err) == (code, "authority", "actor.authority")


def test_a_qingdao_product_is_assessed_without_recommendation(script, q) -> None:
    d = designate(script, q, "product", programme="qingdao", on="2015-03-01", product_id="valve-7",
                  until="applied")
    err = script.refused("recommend", uscc=q, application_id=d.application_id, occurred_on="2015-03-02",
                         actor="370200")
    assert refusal(err) == ("recommend.wrong_level", "authority", "actor.authority")
    script.ok("assess", uscc=q, application_id=d.application_id, score=59, occurred_on="2015-03-05",
              actor=actor("370200", "专家组"))
    assert d.state(script).assessment_passed is False  # min_score 60
