"""Rule 1 (order), rule 2 (authority), objections during the notice, and malformed input at
the edge.  Scenario: a Huludao enterprise (county 211402) applying for provincial 专精特新
(national programme, 2022 rules: recommended by the city 211400, decided by Liaoning 210000,
7-day notice)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.policy import Programme, Tier
from domain.values import Actor, Level
from services import commands as c
from tests.support.journeys import (
    CITY,
    COUNTY,
    MIIT,
    PROVINCE,
    actor,
    designate,
    enterprise_actor,
    event_types,
    passing_assessment,
    refusal,
    register,
    tier_in_force,
)
from tests.support.ledgers import uscc


# =========================================================================== rule 1: order
def test_the_whole_procedure_in_order_is_accepted(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-03-01")
    s = d.state(script)
    assert (s.status, s.valid_from, s.valid_until) == ("approved", d.approved_on, date(2026, 3, 19))
    assert d.approved_on == d.notice_on + timedelta(days=7)
    assert event_types(script, u) == ["Registered", "Applied", "Recommended", "Assessed", "NoticeOpened", "Approved"]


def test_no_assessment_before_the_recommendation(script, u) -> None:
    d = designate(script, u, "specialized", until="applied")
    err = script.refused("assess", uscc=u, application_id=d.application_id, score=90, occurred_on="2023-03-10",
                         actor=PROVINCE)
    assert refusal(err) == ("assess.not_recommended", "order", "application_id")
    assert "municipal" in err.message


def test_no_approval_without_recommendation(script, u) -> None:
    d = designate(script, u, "specialized", until="applied")
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-04-01",
                         actor=PROVINCE, document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.not_recommended", "order", "application_id")


@pytest.mark.parametrize("stage", ["recommended", "assessed"])
def test_no_approval_without_assessment_and_notice(script, u, stage: str) -> None:
    d = designate(script, u, "specialized", until=stage)
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-04-30",
                         actor=PROVINCE, document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.no_notice", "order", "application_id")


def test_no_notice_before_assessment(script, u) -> None:
    d = designate(script, u, "specialized", until="recommended")
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on="2023-03-15",
                         actor=PROVINCE)
    assert refusal(err) == ("notice.not_assessed", "order", "application_id")


def test_a_failed_assessment_stops_the_procedure(script, u) -> None:
    d = designate(script, u, "specialized", until="assessed", assessment={"score": 59})
    assert d.state(script).assessment_passed is False
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on="2023-03-15",
                         actor=PROVINCE)
    assert refusal(err) == ("notice.not_assessed", "order", "application_id")
    assert "failed" in err.message
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-04-30",
                         actor=PROVINCE, document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.no_notice", "order", "application_id")
    script.ok("reject", uscc=u, application_id=d.application_id, reason="assessment failed",
              occurred_on="2023-03-20", actor=PROVINCE)
    assert d.state(script).status == "rejected"


def test_no_approval_while_the_notice_period_runs(script, u) -> None:
    d = designate(script, u, "specialized", until="noticed")
    assert d.notice_on is not None
    ends = d.notice_on + timedelta(days=7)
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=str(ends - timedelta(1)),
                         actor=PROVINCE, document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.notice_open", "order", "occurred_on")
    assert str(ends) in err.message
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on=str(ends), actor=PROVINCE,
              document="辽工信〔2023〕1号")
    assert d.state(script).valid_from == ends


def test_approval_needs_its_document(script, u) -> None:
    d = designate(script, u, "specialized", until="noticed")
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-04-30",
                         actor=PROVINCE)
    assert refusal(err) == ("approve.no_document", "order", "document")


def test_no_second_approval(script, u) -> None:
    d = designate(script, u, "specialized")
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-05-30",
                         actor=PROVINCE, document="辽工信〔2023〕2号")
    assert refusal(err) == ("approve.no_notice", "order", "application_id")


def test_recommendation_comes_before_assessment_and_after_the_application(script, u) -> None:
    d = designate(script, u, "specialized", until="applied", on="2023-03-01")
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-02-28",
                         actor=CITY)
    # Judged on the facts of its date (the time rule): on 2023-02-28 there is no application yet.
    assert refusal(err) == ("application.not_found", "identity", "application_id")
    assert "on 2023-02-28; the record holds it from a later date" in err.message
    script.ok("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-03-01", actor=CITY)
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-03-02",
                         actor=CITY)
    assert refusal(err) == ("recommend.duplicate", "order", "actor.authority")
    script.ok("assess", uscc=u, application_id=d.application_id, score=80, occurred_on="2023-03-05",
              actor=PROVINCE)
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-03-06",
                         actor=CITY)
    assert refusal(err) == ("recommend.wrong_stage", "order", "application_id")


def test_the_steps_follow_each_other_in_business_time(script, u) -> None:
    """A notice dated before the assessment would let an approval follow the assessment at once.
    A step dated before the step it follows is judged on the facts of its own date (the time
    rule), where that step has not happened: refused with the code of the missing step, the
    code it would have had if it had been sent before that step was recorded."""
    d = designate(script, u, "specialized", on="2023-03-01", until="recommended")  # recommended 2023-03-02
    body = passing_assessment(tier_in_force(script, "national", "specialized", "2023-03-10"))
    err = script.refused("assess", uscc=u, application_id=d.application_id, occurred_on="2023-03-01",
                         actor=PROVINCE, **body)
    assert refusal(err) == ("assess.not_recommended", "order", "application_id")
    script.ok("assess", uscc=u, application_id=d.application_id, occurred_on="2023-03-10", actor=PROVINCE, **body)
    for before, code in (("2023-03-09", "notice.not_assessed"), ("2023-02-01", "application.not_found")):
        err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on=before,
                             actor=PROVINCE)
        assert err.code == code
    script.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on="2023-03-10", actor=PROVINCE)
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on="2023-03-16",
                         actor=PROVINCE, document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.notice_open", "order", "occurred_on")


def test_closed_applications_go_no_further(script, u) -> None:
    d = designate(script, u, "specialized", until="recommended")
    script.ok("withdraw", uscc=u, application_id=d.application_id, occurred_on="2023-03-05",
              actor=enterprise_actor(script, u), reason="not ready")
    err = script.refused("assess", uscc=u, application_id=d.application_id, score=80, occurred_on="2023-03-06",
                         actor=PROVINCE)
    assert refusal(err) == ("assess.not_recommended", "order", "application_id")
    err = script.refused("withdraw", uscc=u, application_id=d.application_id, occurred_on="2023-03-07",
                         actor=enterprise_actor(script, u))
    assert refusal(err) == ("withdraw.closed", "order", "application_id")
    err = script.refused("reject", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-03-07",
                         actor=PROVINCE)
    assert refusal(err) == ("reject.closed", "order", "application_id")
    # a new application for the same tier is possible once the first one is closed
    again = designate(script, u, "specialized", on="2023-04-01")
    assert again.state(script).status == "approved"


def test_one_open_application_per_tier(script, u) -> None:
    designate(script, u, "specialized", until="recommended", application_id="first")
    err = script.refused("apply", uscc=u, application_id="second", programme="national", tier="specialized",
                         occurred_on="2023-03-05", actor=enterprise_actor(script, u))
    assert refusal(err) == ("apply.already_open", "order", "tier")
    err = script.refused("apply", uscc=u, application_id="first", programme="national", tier="innovative",
                         occurred_on="2023-03-05", actor=enterprise_actor(script, u))
    assert refusal(err) == ("apply.duplicate_id", "identity", "application_id")
    err = script.refused("recommend", uscc=u, application_id="nope", occurred_on="2023-03-05", actor=CITY)
    assert refusal(err) == ("application.not_found", "identity", "application_id")


def test_every_recommending_level_is_needed_before_assessment() -> None:
    """Pure domain: a tier recommended by the county and then the city."""
    tier = Tier(id="t", name="T", deciding_level=Level.provincial, recommend_levels=[Level.county, Level.municipal],
                notice_days=5)
    prog = Programme(id="p", name="P", version="1", effective_from=date(2022, 1, 1), level=Level.provincial,
                     jurisdiction="210000", tiers=[tier])
    e = Enterprise.register(uscc=uscc(9, COUNTY), name="n", region=COUNTY, industry=None, listed=False,
                            uscc_override=None, occurred_on=date(2020, 1, 1), actor=Actor(authority=CITY, person="p"),
                            document="")
    env = dict(programme=prog, actor=Actor(authority=CITY, person="p"), document="")
    e.apply(application_id="a", tier="t", product_id=None, product_name=None, declared_revenue_fen=None,
            occurred_on=date(2023, 1, 1), **env)
    e.recommend(application_id="a", occurred_on=date(2023, 1, 2), **env)  # the city only
    decide = dict(programme=prog, actor=Actor(authority=PROVINCE, person="p"), document="")
    with pytest.raises(RuleViolation) as info:
        e.assess(application_id="a", score=80, components={}, indicators={}, direct_pass=[],
                 occurred_on=date(2023, 1, 3), **decide)
    assert refusal(info.value) == ("assess.not_recommended", "order", "application_id")
    assert "county" in info.value.message
    e.recommend(application_id="a", occurred_on=date(2023, 1, 3), programme=prog,
                actor=Actor(authority=COUNTY, person="p"), document="")
    e.assess(application_id="a", score=80, components={}, indicators={}, direct_pass=[],
             occurred_on=date(2023, 1, 4), **decide)
    e.open_notice(application_id="a", occurred_on=date(2023, 1, 5), **decide)
    e.approve(application_id="a", occurred_on=date(2023, 1, 10), **{**decide, "document": "doc"})
    assert e.applications["a"].recommendations == {"municipal": CITY, "county": COUNTY}
    assert e.applications["a"].valid_on(date(2023, 1, 10))


# =========================================================================== objections (公示)
def test_objections_are_taken_only_during_the_notice(script, u) -> None:
    d = designate(script, u, "specialized", until="assessed")
    err = script.refused("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="x",
                         occurred_on="2023-03-12", actor=actor("211403", "a competitor", "enterprise"))
    assert refusal(err) == ("object.no_notice", "order", "application_id")
    script.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on="2023-03-12", actor=PROVINCE)
    err = script.refused("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="x",
                         occurred_on="2023-03-19", actor=actor("211403", "a competitor", "enterprise"))
    assert refusal(err) == ("object.outside_notice", "order", "occurred_on")
    err = script.refused("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="x",
                         occurred_on="2023-03-11", actor=actor("211403", "a competitor", "enterprise"))
    assert refusal(err) == ("object.no_notice", "order", "application_id")  # on 2023-03-11 no notice was open yet
    script.ok("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="数据造假",
              occurred_on="2023-03-18", actor=actor("211403", "a competitor", "enterprise"))
    err = script.refused("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="again",
                         occurred_on="2023-03-18", actor=actor("211403", "a competitor", "enterprise"))
    assert refusal(err) == ("object.duplicate_id", "identity", "objection_id")


def test_an_unresolved_objection_blocks_approval_until_dismissed(script, u) -> None:
    d = designate(script, u, "specialized", until="noticed")
    script.ok("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="专利纠纷",
              occurred_on=str(d.notice_on), actor=actor("211403", "a competitor", "enterprise"))
    end = str(d.notice_on + timedelta(days=7))
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=PROVINCE,
                         document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.objection_open", "order", "application_id")
    err = script.refused("resolve_objection", uscc=u, application_id=d.application_id, objection_id="o1",
                         upheld=False, occurred_on=end, actor=CITY)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    err = script.refused("resolve_objection", uscc=u, application_id=d.application_id, objection_id="o2",
                         upheld=False, occurred_on=end, actor=PROVINCE)
    assert refusal(err) == ("objection.not_open", "order", "objection_id")
    script.ok("resolve_objection", uscc=u, application_id=d.application_id, objection_id="o1", upheld=False,
              occurred_on=end, actor=PROVINCE)
    err = script.refused("resolve_objection", uscc=u, application_id=d.application_id, objection_id="o1",
                         upheld=True, occurred_on=end, actor=PROVINCE)
    assert refusal(err) == ("objection.not_open", "order", "objection_id")
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=PROVINCE,
              document="辽工信〔2023〕1号")
    assert d.state(script).status == "approved"


def test_an_upheld_objection_leaves_only_rejection(script, u) -> None:
    d = designate(script, u, "specialized", until="noticed")
    script.ok("object", uscc=u, application_id=d.application_id, objection_id="o1", grounds="虚假材料",
              occurred_on=str(d.notice_on), actor=actor("211400", "信访", "authority"))
    end = str(d.notice_on + timedelta(days=7))
    script.ok("resolve_objection", uscc=u, application_id=d.application_id, objection_id="o1", upheld=True,
              occurred_on=end, actor=PROVINCE)
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=PROVINCE,
                         document="辽工信〔2023〕1号")
    assert refusal(err) == ("approve.objection_upheld", "order", "application_id")
    script.ok("reject", uscc=u, application_id=d.application_id, reason="objection upheld", occurred_on=end,
              actor=PROVINCE)
    assert d.state(script).status == "rejected"


# =========================================================================== rule 2: authority
@pytest.mark.parametrize("who, code, field", [
    (CITY, "authority.wrong_level", "actor.authority"),
    (MIIT, "authority.wrong_level", "actor.authority"),
    ("370000", "authority.not_covering", "actor.authority"),  # Shandong does not decide for Liaoning
])
def test_only_the_deciding_authority_approves(script, u, who: str, code: str, field: str) -> None:
    d = designate(script, u, "specialized", until="noticed")
    end = str(d.notice_on + timedelta(days=7))
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=who,
                         document="某〔2023〕1号")
    assert refusal(err) == (code, "authority", field)


def test_an_enterprise_or_auditor_never_decides(script, u) -> None:
    d = designate(script, u, "specialized", until="noticed")
    end = str(d.notice_on + timedelta(days=7))
    for role in ("enterprise", "auditor"):
        err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=end,
                             actor=actor(PROVINCE, "someone", role), document="某〔2023〕1号")
        assert refusal(err) == ("authority.not_an_authority", "authority", "actor.role")


def test_the_deciding_authority_also_assesses_and_opens_the_notice(script, u) -> None:
    d = designate(script, u, "specialized", until="recommended")
    err = script.refused("assess", uscc=u, application_id=d.application_id, score=80, occurred_on="2023-03-10",
                         actor=CITY)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("assess", uscc=u, application_id=d.application_id, occurred_on="2023-03-10", actor=PROVINCE,
              **passing_assessment(tier_in_force(script, "national", "specialized", "2023-03-10")))
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on="2023-03-11",
                         actor="370000")
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")


def test_national_tiers_are_decided_by_miit(script, u) -> None:
    designate(script, u, "specialized", on="2022-07-01")
    d = designate(script, u, "little_giant", on="2022-09-01", until="noticed")
    end = str(d.notice_on + timedelta(days=7))
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=PROVINCE,
                         document="辽工信〔2022〕9号")
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on=end, actor=MIIT,
              document="工信部企业函〔2022〕1号")
    assert d.state(script).level == "national"


@pytest.mark.parametrize("who, code", [
    (COUNTY, "recommend.wrong_level"),     # a county is not the recommending level
    (PROVINCE, "recommend.wrong_level"),   # nor is the province, for 专精特新
    (MIIT, "recommend.wrong_level"),
    ("211300", "recommend.not_covering"),  # Chaoyang is municipal but does not cover Huludao
    ("370200", "recommend.wrong_level"),   # Qingdao, a 计划单列市, acts at provincial level in this programme
    ("210200", "recommend.wrong_level"),   # and so does Dalian
])
def test_only_a_covering_authority_of_the_recommending_level_recommends(script, u, who: str, code: str) -> None:
    d = designate(script, u, "specialized", until="applied")
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-03-02",
                         actor=who)
    assert refusal(err) == (code, "authority", "actor.authority")


def test_an_enterprise_cannot_recommend_itself(script, u) -> None:
    d = designate(script, u, "specialized", until="applied")
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2023-03-02",
                         actor=actor(CITY, "the enterprise", "enterprise"))
    assert refusal(err) == ("recommend.wrong_level", "authority", "actor.authority")


def test_little_giant_is_recommended_by_the_province(script, u) -> None:
    designate(script, u, "specialized", on="2022-07-01")
    d = designate(script, u, "little_giant", on="2022-09-01", until="applied")
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2022-09-02",
                         actor=CITY)
    assert refusal(err) == ("recommend.wrong_level", "authority", "actor.authority")
    err = script.refused("recommend", uscc=u, application_id=d.application_id, occurred_on="2022-09-02",
                         actor="370000")
    assert refusal(err) == ("recommend.not_covering", "authority", "actor.authority")
    script.ok("recommend", uscc=u, application_id=d.application_id, occurred_on="2022-09-02", actor=PROVINCE)


def test_a_provincial_programme_is_decided_only_inside_its_jurisdiction(script) -> None:
    """Liaoning's provincial little giant: Shandong may not decide it for a Qingdao enterprise."""
    q = uscc(2, "370212")
    register(script, q)
    designate(script, q, "specialized", on="2022-07-01")  # provincial 专精特新 from Shandong
    d = designate(script, q, "little_giant", programme="liaoning", on="2022-09-01", until="recommended")
    for who in ("370000", PROVINCE):
        err = script.refused("assess", uscc=q, application_id=d.application_id, score=90, occurred_on="2022-09-10",
                             actor=who)
        assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")


def test_applications_come_from_the_enterprise_or_a_covering_authority(script, u) -> None:
    fields = dict(uscc=u, programme="national", tier="innovative", occurred_on="2023-03-01")
    err = script.refused("apply", application_id="a", actor="370200", **fields)
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    err = script.refused("apply", application_id="a", actor=actor("370212", "someone else", "enterprise"), **fields)
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    err = script.refused("apply", application_id="a", actor=actor(CITY, "auditor", "auditor"), **fields)
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    script.ok("apply", application_id="a", actor=enterprise_actor(script, u), **fields)
    script.ok("apply", application_id="b", actor=CITY, **{**fields, "tier": "specialized"})


def test_a_recommender_may_turn_down_only_before_the_decider_takes_over(script, u) -> None:
    d = designate(script, u, "specialized", until="recommended", application_id="r1")
    script.ok("reject", uscc=u, application_id="r1", reason="材料不全", occurred_on="2023-03-03", actor=CITY)
    assert d.state(script).status == "rejected"
    d2 = designate(script, u, "specialized", on="2023-04-01", until="assessed", application_id="r2")
    err = script.refused("reject", uscc=u, application_id="r2", reason="x", occurred_on="2023-04-12", actor=CITY)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("reject", uscc=u, application_id="r2", reason="x", occurred_on="2023-04-12", actor=PROVINCE)
    assert d2.state(script).status == "rejected"


# =========================================================================== malformed input
def _apply_json(**override: object) -> dict[str, object]:
    body: dict[str, object] = {"command": "apply", "command_id": "c1", "uscc": uscc(1, COUNTY),
                               "application_id": "a", "programme": "national", "tier": "innovative",
                               "occurred_on": "2023-03-01", "actor": {"authority": COUNTY, "person": "p",
                                                                      "role": "enterprise"}}
    body.update(override)
    return body


@pytest.mark.parametrize("override, field", [
    ({"occurred_on": "2023-13-01"}, "$.occurred_on"),
    ({"occurred_on": "2023/03/01"}, "$.occurred_on"),
    ({"occurred_on": "01.03.2023"}, "$.occurred_on"),
    ({"tier": "Innovative"}, "$.tier"),
    ({"declared_revenue_fen": -1}, "$.declared_revenue_fen"),
    ({"declared_revenue_fen": 1.5}, "$.declared_revenue_fen"),
    ({"actor": {"authority": "21140", "person": "p"}}, "$.actor.authority"),
    ({"actor": {"authority": COUNTY}}, "$.actor"),
    ({"actor": {"authority": COUNTY, "person": "p", "role": "minister"}}, "$.actor.role"),
    ({"uscc": "91211402MA00000O1X"}, "$.uscc"),
    ({"application_id": ""}, "$.application_id"),
    ({"colour": "red"}, "$"),
])
def test_malformed_commands_fail_at_the_edge_naming_the_field(override: dict[str, object], field: str) -> None:
    import msgspec

    for send in (c.convert_command, lambda obj: c.decode_command(msgspec.json.encode(obj))):
        with pytest.raises(c.InputError) as info:
            send(_apply_json(**override))
        assert info.value.field == field, info.value
        assert info.value.as_dict()["code"] == "input.invalid"


@pytest.mark.parametrize("amount", [-100, 0])
def test_money_must_be_positive_fen(script, u, amount: int) -> None:
    err = script.refused("grant_reward", uscc=u, reward_id="r", programme="zhejiang",
                         scheme="hz_specialized_first", amount_fen=amount, occurred_on="2023-06-01", actor="330100")
    assert isinstance(err, c.InputError) and err.field == "$.amount_fen"


def test_malformed_json_and_unknown_commands(script) -> None:
    with pytest.raises(c.InputError) as info:
        c.decode_command(b'{"command": "apply", ')
    assert info.value.field == "$"
    with pytest.raises(c.InputError) as info:
        c.decode_command(b'{"command": "promote_to_unicorn", "command_id": "x"}')
    assert info.value.field == "$.command"
    err = script.refused("assess", uscc=uscc(1, COUNTY), application_id="a", score=101, occurred_on="2023-03-01",
                         actor=PROVINCE)
    assert isinstance(err, c.InputError) and err.field == "$.score"


def test_a_command_id_is_not_reused_for_another_command(script, u) -> None:
    first = script.ok("apply", command_id="same", uscc=u, application_id="a", programme="national",
                      tier="innovative", occurred_on="2023-03-01", actor=enterprise_actor(script, u))
    again = script.ok("apply", command_id="same", uscc=u, application_id="a", programme="national",
                      tier="innovative", occurred_on="2023-03-01", actor=enterprise_actor(script, u))
    assert again.repeated and again.events == first.events
    err = script.refused("apply", command_id="same", uscc=u, application_id="b", programme="national",
                         tier="specialized", occurred_on="2023-03-01", actor=enterprise_actor(script, u))
    assert refusal(err) == ("command_id.reused", "identity", "command_id")
