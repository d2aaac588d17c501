"""计划单列市 on the aggregate (rule 2, rule 7): in the national programme Dalian (210200)
acts at provincial level — it decides its enterprises' 专精特新 and 创新型 and recommends
their little giants to MIIT — its districts recommend where a city would, and Liaoning
(210000) acts for none of them; Liaoning's own programme still covers the whole province,
and Qingdao's "131" programme keeps Qingdao municipal.  The rule's one home is
``domain.policy.Programme`` (authority_level / covers / authority_for); these tests drive
``domain.enterprise.Enterprise`` directly, no store.  Through a ledger:
tests/integration/test_provincial_level_cities.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.policy import Programme
from domain.values import Actor, make_uscc
from infra.policy_files import SHIPPED, load_policy_book
from tests.support.journeys import passing_assessment

BOOK = load_policy_book(SHIPPED)
DALIAN, JINZHOU, LIAONING, MIIT = "210200", "210213", "210000", "000000"  # 金州区 is a Dalian district
HULUDAO, LIANSHAN = "211400", "211402"


def nat(on: date = date(2023, 3, 1)) -> Programme:
    return BOOK.in_force("national", on)


def who(code: str) -> Actor:
    return Actor(authority=code, person="tester")


def enterprise(region: str = JINZHOU, n: int = 1) -> Enterprise:
    e = Enterprise.register(uscc=make_uscc(f"91{region}MA{n:07d}"), name=f"企业{n}", region=region, industry="C3484",
                            listed=False, uscc_override=None, occurred_on=date(2020, 1, 10),
                            actor=who(region[:4] + "00"), document="")
    return e


def refused(fn, **kw) -> RuleViolation:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation) as err:
        fn(**kw)
    return err.value


def step(e: Enterprise, app: str, tier: str, until: str, *, recommender: str, decider: str,
         programme: str = "national", on: date = date(2023, 3, 1)) -> date:
    """apply → recommend → assess → notice → approve, stopping after ``until``; the approval date."""
    p = BOOK.in_force(programme, on)
    t = p.tier(tier)
    e.apply(application_id=app, programme=p, tier=tier, product_id=None, product_name=None,
            declared_revenue_fen=None, occurred_on=on,
            actor=Actor(authority=e.region, person="企业", role="enterprise"), document="")
    if until == "applied":
        return on
    if t.recommend_levels:
        e.recommend(application_id=app, programme=p, occurred_on=on + timedelta(days=1), actor=who(recommender),
                    document="")
    if until == "recommended":
        return on
    body = passing_assessment(t)
    # 创新型: the city reviews and notices (63号), in Dalian the district (municipal level there)
    assessor = decider if t.assessed_at == t.deciding_level else p.authority_for(t.assessed_at, e.region)
    noticer = decider if t.noticed_at == t.deciding_level else p.authority_for(t.noticed_at, e.region)
    e.assess(application_id=app, programme=p, score=body["score"], components=body["components"],
             indicators=body["indicators"], direct_pass=[], occurred_on=on + timedelta(days=10), actor=who(assessor),
             document="")
    e.open_notice(application_id=app, programme=p, occurred_on=on + timedelta(days=11), actor=who(noticer),
                  document="")
    approve = on + timedelta(days=11 + t.notice_days)
    e.approve(application_id=app, programme=p, occurred_on=approve, actor=who(decider), document="大工信发〔2023〕1号")
    return approve


# ------------------------------------------------------------------ Dalian decides for itself
def test_dalian_decides_its_own_specialized_on_a_district_recommendation() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN)
    a = e.applications["zjtx"]
    assert (a.status, a.level, a.recommendations) == ("approved", "provincial", {"municipal": JINZHOU})


def test_dalian_decides_its_own_innovative() -> None:
    e = enterprise()
    step(e, "cxx", "innovative", "approved", recommender=JINZHOU, decider=DALIAN)
    assert e.applications["cxx"].valid_on(date(2023, 7, 11))


@pytest.mark.parametrize("command", ["assess", "approve"])
def test_liaoning_does_not_decide_for_a_dalian_enterprise(command: str) -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "recommended" if command == "assess" else "approved", recommender=JINZHOU,
         decider=DALIAN)
    if command == "assess":
        body = passing_assessment(nat().tier("specialized"))
        err = refused(e.assess, application_id="zjtx", programme=nat(), score=body["score"],
                      components=body["components"], indicators=body["indicators"], direct_pass=[],
                      occurred_on=date(2023, 3, 11), actor=who(LIAONING), document="")
    else:  # a second application, up to its notice by Dalian; Liaoning then tries to approve it
        e2 = enterprise(n=2)
        step(e2, "zjtx", "specialized", "recommended", recommender=JINZHOU, decider=DALIAN)
        body = passing_assessment(nat().tier("specialized"))
        e2.assess(application_id="zjtx", programme=nat(), score=body["score"], components=body["components"],
                  indicators=body["indicators"], direct_pass=[], occurred_on=date(2023, 3, 11), actor=who(DALIAN),
                  document="")
        e2.open_notice(application_id="zjtx", programme=nat(), occurred_on=date(2023, 3, 12), actor=who(DALIAN),
                       document="")
        err = refused(e2.approve, application_id="zjtx", programme=nat(), occurred_on=date(2023, 3, 20),
                      actor=who(LIAONING), document="辽工信发〔2023〕1号")
    assert (err.code, err.rule, err.field) == ("authority.not_covering", "authority", "actor.authority")
    assert "计划单列市" in err.message and DALIAN in err.message


def test_liaoning_does_not_revoke_a_dalian_designation_dalian_does() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN)
    kw = dict(application_id="zjtx", programme=nat(date(2023, 6, 1)), reason="false_material",
              effective_on=date(2023, 6, 1), occurred_on=date(2023, 6, 1), document="撤销〔2023〕1号")
    err = refused(e.revoke, actor=who(LIAONING), **kw)
    assert err.code == "authority.not_covering"
    e.revoke(actor=who(DALIAN), **kw)
    assert e.applications["zjtx"].revoked_on == date(2023, 6, 1)


def test_dalian_recommends_little_giants_to_miit_liaoning_does_not() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN, on=date(2022, 7, 1))
    p = nat()
    e.apply(application_id="xjr", programme=p, tier="little_giant", product_id=None, product_name=None,
            declared_revenue_fen=None, occurred_on=date(2023, 3, 1),
            actor=Actor(authority=JINZHOU, person="企业", role="enterprise"), document="")
    err = refused(e.recommend, application_id="xjr", programme=p, occurred_on=date(2023, 3, 5), actor=who(LIAONING),
                  document="")
    assert (err.code, err.rule) == ("recommend.not_covering", "authority")
    assert "计划单列市" in err.message
    err = refused(e.recommend, application_id="xjr", programme=p, occurred_on=date(2023, 3, 5), actor=who(JINZHOU),
                  document="")
    assert err.code == "recommend.wrong_level"  # a district acts at municipal level: not for the nation
    e.recommend(application_id="xjr", programme=p, occurred_on=date(2023, 3, 5), actor=who(DALIAN), document="")
    assert e.applications["xjr"].recommendations == {"provincial": DALIAN}
    # the nation decides: Dalian, at provincial level, neither assesses nor approves
    body = passing_assessment(p.tier("little_giant"))
    err = refused(e.assess, application_id="xjr", programme=p, score=body["score"], components=body["components"],
                  indicators=body["indicators"], direct_pass=[], occurred_on=date(2023, 3, 20), actor=who(DALIAN),
                  document="")
    assert err.code == "authority.wrong_level"
    err = refused(e.assess, application_id="xjr", programme=p, score=body["score"], components=body["components"],
                  indicators=body["indicators"], direct_pass=[], occurred_on=date(2023, 3, 20), actor=who(LIAONING),
                  document="")
    assert err.code == "authority.wrong_level"
    e.assess(application_id="xjr", programme=p, score=body["score"], components=body["components"],
             indicators=body["indicators"], direct_pass=[], occurred_on=date(2023, 3, 20), actor=who(MIIT),
             document="")
    assert e.applications["xjr"].assessment_passed


def test_a_dalian_district_turns_down_before_sending_upwards_and_dalian_itself_does_not_recommend_specialized() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "applied", recommender=JINZHOU, decider=DALIAN)
    err = refused(e.recommend, application_id="zjtx", programme=nat(), occurred_on=date(2023, 3, 2), actor=who(DALIAN),
                  document="")
    assert err.code == "recommend.wrong_level"
    e.reject(application_id="zjtx", programme=nat(), reason="材料不全", occurred_on=date(2023, 3, 3),
             actor=who(JINZHOU), document="")
    assert e.applications["zjtx"].status == "rejected"


def test_dalian_does_not_decide_for_the_rest_of_liaoning() -> None:
    e = enterprise(LIANSHAN)
    step(e, "zjtx", "specialized", "recommended", recommender=HULUDAO, decider=LIAONING)
    body = passing_assessment(nat().tier("specialized"))
    err = refused(e.assess, application_id="zjtx", programme=nat(), score=body["score"], components=body["components"],
                  indicators=body["indicators"], direct_pass=[], occurred_on=date(2023, 3, 11), actor=who(DALIAN),
                  document="")
    assert err.code == "authority.not_covering"
    step(enterprise(LIANSHAN, 2), "zjtx", "specialized", "approved", recommender=HULUDAO, decider=LIAONING)


def test_liaonings_own_programme_still_covers_dalian() -> None:
    """Assumption (docs/domain.md): liaoning.toml lists no 计划单列市, so in Liaoning's own
    programme Dalian is a city like the others: it recommends, Liaoning decides."""
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN, on=date(2021, 8, 1))
    step(e, "ln-xjr", "little_giant", "approved", programme="liaoning", recommender=DALIAN, decider=LIAONING,
         on=date(2022, 9, 1))
    a = e.applications["ln-xjr"]
    assert (a.programme, a.level, a.recommendations) == ("liaoning", "provincial", {"municipal": DALIAN})


def test_qingdao_stays_municipal_in_its_own_programme() -> None:
    q = BOOK.in_force("qingdao", date(2022, 1, 1))
    assert q.authority_level("370200") == "municipal" and nat().authority_level("370200") == "provincial"


# ------------------------------------------------------------------ moves (rule 7)
def _move(e: Enterprise, to: str, on: date = date(2023, 8, 15)) -> list[str]:
    e.report_change(programme=nat(on), kind="relocation", changed_on=on - timedelta(days=30), new_name=None,
                    new_region=to, counterpart_uscc=None, occurred_on=on, actor=who(e.region[:4] + "00"), document="",
                    programmes={"national": nat(on), "liaoning": BOOK.in_force("liaoning", on)})
    return sorted(a.id for a in e.applications.values() if a.under_reconfirmation)


def test_a_move_out_of_dalian_puts_provincial_designations_under_reconfirmation_by_liaoning() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN, on=date(2022, 7, 1))
    step(e, "ln-xjr", "little_giant", "approved", programme="liaoning", recommender=DALIAN, decider=LIAONING,
         on=date(2022, 9, 1))
    assert _move(e, LIANSHAN) == ["zjtx"]  # Liaoning's own programme: the same province decides, nothing to confirm
    kw = dict(application_id="zjtx", programme=nat(date(2023, 9, 1)), confirmed=True, occurred_on=date(2023, 9, 1),
              document="")
    err = refused(e.reconfirm, actor=who(DALIAN), **kw)
    assert err.code == "authority.not_covering"
    e.reconfirm(actor=who(LIAONING), **kw)
    assert not e.applications["zjtx"].under_reconfirmation and e.applications["zjtx"].valid_on(date(2023, 9, 2))


def test_a_move_into_dalian_is_reconfirmed_by_dalian_not_liaoning() -> None:
    e = enterprise(LIANSHAN)
    step(e, "zjtx", "specialized", "approved", recommender=HULUDAO, decider=LIAONING, on=date(2022, 7, 1))
    assert _move(e, JINZHOU) == ["zjtx"]
    kw = dict(application_id="zjtx", programme=nat(date(2023, 9, 1)), confirmed=False, occurred_on=date(2023, 9, 1),
              document="")
    err = refused(e.reconfirm, actor=who(LIAONING), **kw)
    assert err.code == "authority.not_covering" and "计划单列市" in err.message
    e.reconfirm(actor=who(DALIAN), **kw)
    assert not e.applications["zjtx"].valid_on(date(2023, 9, 2))


def test_a_move_inside_dalian_or_inside_the_rest_of_liaoning_needs_no_reconfirmation() -> None:
    e = enterprise()
    step(e, "zjtx", "specialized", "approved", recommender=JINZHOU, decider=DALIAN, on=date(2022, 7, 1))
    assert _move(e, "210211") == []  # 甘井子区
    h = enterprise(LIANSHAN, 3)
    step(h, "zjtx", "specialized", "approved", recommender=HULUDAO, decider=LIAONING, on=date(2022, 7, 1))
    assert _move(h, "210102") == []  # to Shenyang: Liaoning stays its provincial-level authority
