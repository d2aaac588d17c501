"""Rule 7 (change reports, relocation and re-confirmation), rule 8 (rewards: valid designation,
once per scheme, renewal, region caps, yearly budget, tranches, interest subsidies) and rule 9
(corrections: claw-back and annulment name the event they correct; nothing is rewritten)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from domain.budget import SchemeBudget, budget_id
from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.policy import decode_programme
from domain.values import Actor
from infra.policy_files import SHIPPED
from services.ledger import Ledger
from tests.support.journeys import (
    CITY,
    COUNTY,
    MIIT,
    PROVINCE,
    climb,
    designate,
    enterprise_actor,
    event_types,
    file_yearly_data,
    refusal,
    register,
    stored_events,
)
from tests.support.ledgers import Script, uscc

HANGZHOU, ZHEJIANG, XIHU = "330100", "330000", "330106"


def events_named(script, code: str, name: str) -> list:  # type: ignore[no-untyped-def]
    return [e for e in stored_events(script, code) if type(e).__name__ == name]


# =========================================================================== rule 7: change reports
def change(u: str, kind: str, changed_on: str, on: str, **kw):  # type: ignore[no-untyped-def]
    return dict(uscc=u, kind=kind, changed_on=changed_on, occurred_on=on, actor=kw.pop("actor", CITY), **kw)


def test_a_change_is_due_within_three_months(script, u) -> None:
    script.ok("report_change", **change(u, "rename", "2023-05-10", "2023-08-10", new_name="葫芦岛甲有限公司"))
    script.ok("report_change", **change(u, "rename", "2023-09-01", "2023-12-02", new_name="葫芦岛乙有限公司"))
    on_time, late = events_named(script, u, "ChangeReported")
    assert (on_time.due_on, on_time.late) == (date(2023, 8, 10), False)
    assert (late.due_on, late.late) == (date(2023, 12, 1), True)
    ent = script.ledger.enterprise(u)
    assert ent.name == "葫芦岛乙有限公司"
    assert ent.names[-2:] == ["葫芦岛甲有限公司", "葫芦岛乙有限公司"]
    assert [ch.late for ch in ent.changes] == [False, True]


@pytest.mark.parametrize("kind, fields, code, field", [
    ("rename", {}, "change.name_required", "new_name"),
    ("relocation", {}, "change.region_required", "new_region"),
    ("relocation", {"new_region": COUNTY}, "change.same_region", "new_region"),
    ("merger", {}, "change.counterpart_required", "counterpart_uscc"),
    ("split", {}, "change.counterpart_required", "counterpart_uscc"),
])
def test_a_change_report_names_what_changed(script, u, kind: str, fields: dict, code: str, field: str) -> None:
    err = script.refused("report_change", **change(u, kind, "2023-05-10", "2023-06-01", **fields))
    assert refusal(err) == (code, "change", field)


def test_a_change_cannot_be_reported_before_it_happens(script, u) -> None:
    err = script.refused("report_change", **change(u, "reorganisation", "2023-06-02", "2023-06-01"))
    assert refusal(err) == ("change.future", "change", "changed_on")


def test_a_change_is_reported_by_a_covering_authority_or_the_enterprise(script, u) -> None:
    err = script.refused("report_change", **change(u, "reorganisation", "2023-06-01", "2023-06-02",
                                                   actor="370200"))
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    script.ok("report_change", **change(u, "reorganisation", "2023-06-01", "2023-06-02",
                                        actor=enterprise_actor(script, u)))


def test_a_malformed_region_is_bad_input(script, u) -> None:
    from services.commands import InputError

    err = script.refused("report_change", **change(u, "relocation", "2023-06-01", "2023-06-02",
                                                   new_region="001234"))
    assert isinstance(err, InputError) and err.field == "$.new_region"


@pytest.fixture
def moved(script, u):  # type: ignore[no-untyped-def]
    """Provincial 专精特新 and a national little giant; then a move from Huludao to Jinan
    (Shandong; a move into Qingdao, a 计划单列市, would be re-confirmed by Qingdao:
    tests/unit/test_provincial_level_cities.py)."""
    spec, giant = climb(script, u, ["specialized", "little_giant"], on="2022-07-01")
    out = script.ok("report_change", **change(u, "relocation", "2023-03-01", "2023-04-01", new_region="370102"))
    return spec, giant, out


def test_moving_to_another_province_puts_provincial_designations_under_reconfirmation(script, u, moved) -> None:
    spec, giant, _ = moved
    ent = script.ledger.enterprise(u)
    assert ent.region == "370102"
    assert spec.state(script).under_reconfirmation
    assert not giant.state(script).under_reconfirmation  # national designations travel
    assert events_named(script, u, "ChangeReported")[0].reconfirmation == [spec.application_id]


def test_the_new_province_reconfirms(script, u, moved) -> None:
    spec, _, _ = moved
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True,
                         occurred_on="2023-05-01", actor=PROVINCE)  # Liaoning no longer covers it
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True,
                         occurred_on="2023-05-01", actor="370100")  # the city of Jinan
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True,
                         occurred_on="2023-05-01", actor="370200")  # Qingdao acts for its own enterprises only
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    script.ok("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True, occurred_on="2023-05-01",
              actor="370000", document="鲁工信〔2023〕7号")
    s = spec.state(script)
    assert not s.under_reconfirmation and s.valid_on(date(2024, 1, 1))
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=False,
                         occurred_on="2023-05-02", actor="370000")
    assert refusal(err) == ("reconfirm.not_pending", "change", "application_id")


def test_a_refused_reconfirmation_ends_the_designation(script, u, moved) -> None:
    spec, giant, _ = moved
    script.ok("reconfirm", uscc=u, application_id=spec.application_id, confirmed=False, occurred_on="2023-05-01",
              actor="370000", document="鲁工信〔2023〕8号")
    s = spec.state(script)
    assert s.valid_on(date(2023, 4, 30)) and not s.valid_on(date(2023, 5, 1))
    assert giant.state(script).valid_on(date(2023, 5, 1))


def test_moving_inside_the_province_needs_no_reconfirmation(script, u) -> None:
    spec = designate(script, u, "specialized", on="2022-07-01")
    # to Shenyang; a move to Dalian, a 计划单列市, would change the provincial-level authority
    # (tests/integration/test_provincial_level_cities.py)
    script.ok("report_change", **change(u, "relocation", "2023-03-01", "2023-04-01", new_region="210102"))
    assert script.ledger.enterprise(u).region == "210102"
    assert not spec.state(script).under_reconfirmation
    err = script.refused("reconfirm", uscc=u, application_id=spec.application_id, confirmed=True,
                         occurred_on="2023-05-01", actor=PROVINCE)
    assert refusal(err) == ("reconfirm.not_pending", "change", "application_id")


# =========================================================================== rule 8: rewards
@pytest.fixture
def hz(script) -> str:
    """A Hangzhou (Xihu) enterprise holding provincial 专精特新 from 2023-03-19 to 2026-03-19."""
    code = uscc(20, XIHU)
    register(script, code)
    designate(script, code, "specialized", on="2023-03-01")
    return code


def grant(u: str, scheme: str, amount: int, on: str, reward_id: str = "r1", programme: str = "zhejiang",
          who: str = HANGZHOU, **kw):  # type: ignore[no-untyped-def]
    return dict(uscc=u, reward_id=reward_id, programme=programme, scheme=scheme, amount_fen=amount,
                occurred_on=on, actor=who, **kw)


def test_a_reward_needs_a_valid_designation(script) -> None:
    bare = uscc(21, XIHU)
    register(script, bare)
    err = script.refused("grant_reward", **grant(bare, "hz_specialized_first", 100, "2023-06-01"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")
    designate(script, bare, "specialized", on="2023-03-01", until="noticed")  # not yet approved
    err = script.refused("grant_reward", **grant(bare, "hz_specialized_first", 100, "2023-06-01"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")


def test_no_reward_after_the_designation_expired(script, hz) -> None:
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 100, "2026-03-19"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")
    script.ok("grant_reward", **grant(hz, "hz_specialized_first", 100, "2026-03-18"))


def test_a_one_time_reward_is_paid_once_and_never_above_the_cap(script, hz) -> None:
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 20_000_001, "2023-06-01"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")
    out = script.ok("grant_reward", **grant(hz, "hz_specialized_first", 20_000_000, "2023-06-01"))
    assert [e.type for e in out.events] == ["RewardGranted", "Opened", "Spent"]  # the year's budget opens
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 1, "2024-06-01", reward_id="r2"))
    assert refusal(err) == ("reward.once_per_scheme", "reward", "scheme")
    err = script.refused("grant_reward", **grant(hz, "hz_smart_factory", 1, "2024-06-01", reward_id="r1"))
    assert refusal(err) == ("reward.duplicate_id", "identity", "reward_id")
    # another scheme is another matter
    script.ok("grant_reward", **grant(hz, "hz_smart_factory", 200_000_000, "2024-06-01", reward_id="r2"))


def recognise(script, u: str, product: str, level: str, on: str = "2023-03-20"):  # type: ignore[no-untyped-def]
    return script.ok("recognise_product", uscc=u, programme="zhejiang", recognition="first_equipment",
                     product_id=product, product_name=f"首台套装备{product}", level=level, occurred_on=on,
                     actor=ZHEJIANG, document="浙经信装备〔2023〕3号")


def test_per_item_schemes_pay_each_item(script, hz) -> None:
    for i in range(4):
        recognise(script, hz, f"p{i}", "national")
    for i in range(3):
        script.ok("grant_reward", **grant(hz, "hz_first_equipment_national", 100_000_000, f"2023-0{i + 4}-01",
                                          reward_id=f"item{i}", product_id=f"p{i}"))
    err = script.refused("grant_reward", **grant(hz, "hz_first_equipment_national", 100_000_001, "2023-08-01",
                                                 reward_id="item9", product_id="p3"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")
    err = script.refused("grant_reward", **grant(hz, "hz_first_equipment_national", 1, "2023-08-01",
                                                 reward_id="item8", product_id="p0"))  # each item once
    assert refusal(err) == ("reward.product_paid", "reward", "product_id")


def test_a_reward_is_granted_by_the_scheme_authority_for_its_region(script, hz) -> None:
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 100, "2023-06-01", who=ZHEJIANG))
    assert refusal(err) == ("reward.wrong_authority", "authority", "actor.authority")
    ningbo = uscc(22, "330203")
    register(script, ningbo)
    designate(script, ningbo, "specialized", on="2023-03-01")
    err = script.refused("grant_reward", **grant(ningbo, "hz_specialized_first", 100, "2023-06-01"))
    assert refusal(err) == ("reward.outside_region", "reward", "scheme")


def test_no_first_recognition_reward_for_a_renewal(script) -> None:
    """hz_specialized_first does not pay again for a renewed designation (as Fujian's rules say)."""
    a, b = uscc(23, XIHU), uscc(24, XIHU)
    for e in (a, b):
        register(script, e)
        d = designate(script, e, "specialized", on="2023-03-01")
        file_yearly_data(script, e, 2024, "2025-03-01")
        script.ok("review", uscc=e, application_id=d.application_id, passed=True, occurred_on="2025-10-01",
                  actor=ZHEJIANG, document="浙经信〔2025〕1号")
        assert d.state(script).valid_until == date(2029, 3, 19)
    script.ok("grant_reward", **grant(a, "hz_specialized_first", 100, "2026-03-18"))  # first term
    err = script.refused("grant_reward", **grant(b, "hz_specialized_first", 100, "2026-03-19"))  # renewed term
    assert refusal(err) == ("reward.renewal_not_paid", "reward", "scheme")
    script.ok("grant_reward", **grant(b, "hz_smart_factory", 100, "2026-03-19"))  # this one pays for renewals


GUANGDONG = """
id = "guangdong"
name = "广东省专精特新奖补"
version = "2022"
effective_from = 2022-01-01
level = "provincial"
jurisdiction = "440000"

[[tiers]]
id = "specialized"
name = "专精特新中小企业"
deciding_level = "provincial"
recommend_levels = ["municipal"]
notice_days = 7

[[schemes]]
id = "gd_specialized_first"
name = "首次认定专精特新奖励"
granted_by = "440000"
requires = [{ tier = "specialized", level = "provincial" }]
cap_fen = 120000000                  # 1,200,000 CNY outside the Pearl River Delta
[[schemes.region_caps]]
regions = ["440100", "440300", "440400", "440600", "440700", "441200", "441300", "441900", "442000"]
cap_fen = 100000000                  # 1,000,000 CNY in the Pearl River Delta
"""


def _gd_designated(region: str, n: int) -> Enterprise:
    gd = decode_programme(GUANGDONG)
    city, province = region[:4] + "00", "440000"

    def env(who: str, doc: str = "") -> dict:  # type: ignore[type-arg]
        return dict(programme=gd, actor=Actor(authority=who, person="p"), document=doc)

    e = Enterprise.register(uscc=uscc(n, region), name="粤企", region=region, industry="C34", listed=False,
                            uscc_override=None, occurred_on=date(2022, 1, 5), actor=Actor(authority=city, person="p"),
                            document="")
    e.apply(application_id="s", tier="specialized", product_id=None, product_name=None, declared_revenue_fen=None,
            occurred_on=date(2022, 3, 1), **env(city))
    e.recommend(application_id="s", occurred_on=date(2022, 3, 2), **env(city))
    e.assess(application_id="s", score=80, components={}, indicators={}, direct_pass=[],
             occurred_on=date(2022, 3, 10), **env(province))
    e.open_notice(application_id="s", occurred_on=date(2022, 3, 11), **env(province))
    e.approve(application_id="s", occurred_on=date(2022, 3, 18), **env(province, "粤工信〔2022〕1号"))
    return e


@pytest.mark.parametrize("region, cap", [
    ("440106", 100_000_000),  # Guangzhou, Tianhe: Pearl River Delta
    ("440305", 100_000_000),  # Shenzhen, Nanshan
    ("440513", 120_000_000),  # Shantou, Chaoyang: elsewhere
    ("441802", 120_000_000),  # Qingyuan
])
def test_the_cap_may_depend_on_the_region(region: str, cap: int) -> None:
    gd = decode_programme(GUANGDONG)
    scheme = gd.scheme("gd_specialized_first")
    assert scheme.cap_for(region) == cap
    e = _gd_designated(region, 30)
    kw = dict(programme=gd, scheme=scheme, tranche=None, loan_fen=None, lpr_bp=None, days=None,
              occurred_on=date(2022, 6, 1), actor=Actor(authority="440000", person="p"), document="")
    with pytest.raises(RuleViolation) as info:
        e.grant_reward(reward_id="r", amount_fen=cap + 1, **kw)
    assert refusal(info.value) == ("reward.over_cap", "reward", "amount_fen")
    assert e.grant_reward(reward_id="r", amount_fen=cap, **kw) == "s"  # the designation it rests on
    assert e.rewards["r"].amount_fen == cap


SMALL_BUDGET = """
id = "hz_test"
name = "杭州测试奖补（小预算）"
version = "2022"
effective_from = 2022-01-01
level = "municipal"
jurisdiction = "330100"

[[schemes]]
id = "small"
name = "小预算奖励"
granted_by = "330100"
requires = [{ tier = "specialized", level = "provincial" }]
cap_fen = 1000000
yearly_budget_fen = 1500000
"""


@pytest.fixture
def budget_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    folder.mkdir()
    for f in SHIPPED.glob("*.toml"):
        shutil.copy(f, folder)
    (folder / "hz-test.toml").write_text(SMALL_BUDGET, encoding="utf-8")
    app = Ledger(db=str(tmp_path / "budget.db"), policies=str(folder))
    yield Script(app)
    app.close()


def test_never_beyond_the_yearly_budget_across_enterprises(budget_script) -> None:
    s = budget_script
    a, b, c = uscc(40, XIHU), uscc(41, XIHU), uscc(42, XIHU)
    for e in (a, b, c):
        register(s, e)
        designate(s, e, "specialized", on="2023-03-01")
    s.ok("grant_reward", **grant(a, "small", 1_000_000, "2023-06-01", programme="hz_test"))
    err = s.refused("grant_reward", **grant(b, "small", 600_000, "2023-06-02", programme="hz_test"))
    assert refusal(err) == ("reward.over_budget", "reward", "amount_fen")
    assert "500000 fen left" in err.message
    assert s.ledger.enterprise(b).rewards == {}  # the enterprise was not written either
    s.ok("grant_reward", **grant(b, "small", 500_000, "2023-06-02", programme="hz_test"))
    err = s.refused("grant_reward", **grant(c, "small", 1, "2023-12-31", programme="hz_test"))
    assert refusal(err) == ("reward.over_budget", "reward", "amount_fen")
    # a new year, a new budget
    s.ok("grant_reward", **grant(c, "small", 1_000_000, "2024-01-02", programme="hz_test"))
    spent = {y: s.ledger.repository.get(budget_id("hz_test", "small", y)).spent_fen for y in (2023, 2024)}
    assert spent == {2023: 1_500_000, 2024: 1_000_000}


def test_a_claw_back_names_the_grant_and_refunds_the_budget(budget_script) -> None:
    s = budget_script
    a, b = uscc(43, XIHU), uscc(44, XIHU)
    for e in (a, b):
        register(s, e)
        designate(s, e, "specialized", on="2023-03-01")
    granted = s.ok("grant_reward", **grant(a, "small", 1_000_000, "2023-06-01", programme="hz_test"))
    s.ok("grant_reward", **grant(b, "small", 500_000, "2023-06-02", programme="hz_test", reward_id="rb"))
    grant_ref = granted.events[0]
    assert grant_ref.type == "RewardGranted"

    def claw(amount: int, on: str = "2023-09-01", **kw):  # type: ignore[no-untyped-def]
        kw.setdefault("document", "杭经信〔2023〕追回1号")
        kw.setdefault("actor", HANGZHOU)
        return dict(uscc=a, reward_id="r1", amount_fen=amount, reason="虚报", occurred_on=on, **kw)

    err = s.refused("claw_back", **claw(400_000, document=""))
    assert refusal(err) == ("claw_back.no_document", "immutability", "document")
    err = s.refused("claw_back", **claw(400_000, actor=ZHEJIANG))
    assert refusal(err) == ("reward.wrong_authority", "authority", "actor.authority")
    err = s.refused("claw_back", **claw(1_000_001))
    assert refusal(err) == ("claw_back.amount", "reward", "amount_fen")
    err = s.refused("claw_back", **claw(400_000, on="2023-05-31"))  # on its date nothing was granted yet
    assert refusal(err) == ("reward.not_found", "identity", "reward_id")
    err = s.refused("claw_back", **{**claw(1), "reward_id": "nope"})
    assert refusal(err) == ("reward.not_found", "identity", "reward_id")

    s.ok("claw_back", **claw(400_000))
    clawed = events_named(s, a, "RewardClawedBack")[0]
    assert clawed.corrects == grant_ref.event_id
    assert (clawed.amount_fen, clawed.document) == (400_000, "杭经信〔2023〕追回1号")
    assert events_named(s, a, "RewardGranted")[0].amount_fen == 1_000_000  # the grant is not rewritten
    assert s.ledger.enterprise(a).rewards["r1"].clawed_back_fen == 400_000
    budget: SchemeBudget = s.ledger.repository.get(budget_id("hz_test", "small", 2023))
    assert budget.spent_fen == 1_100_000
    # the refund is money the budget can pay again, but no more than that
    c = uscc(45, XIHU)
    register(s, c)
    designate(s, c, "specialized", on="2023-03-01")
    err = s.refused("grant_reward", **grant(c, "small", 400_001, "2023-10-01", programme="hz_test"))
    assert refusal(err) == ("reward.over_budget", "reward", "amount_fen")
    s.ok("grant_reward", **grant(c, "small", 400_000, "2023-10-01", programme="hz_test"))
    err = s.refused("claw_back", **claw(600_001))
    assert refusal(err) == ("claw_back.amount", "reward", "amount_fen")


def test_scheme_budget_is_per_calendar_year() -> None:
    env = dict(actor=Actor(authority=HANGZHOU, person="p"), document="")
    b = SchemeBudget.open(programme="p", scheme="s", year=2023, budget_fen=100)
    with pytest.raises(RuleViolation) as info:
        b.spend(reward_id="r", uscc="X", amount_fen=1, occurred_on=date(2024, 1, 1), **env)
    assert refusal(info.value) == ("reward.wrong_budget_year", "reward", "occurred_on")
    b.spend(reward_id="r", uscc="X", amount_fen=60, occurred_on=date(2023, 12, 30), **env)
    with pytest.raises(RuleViolation) as info:
        b.spend(reward_id="r2", uscc="Y", amount_fen=41, occurred_on=date(2023, 12, 31), **env)
    assert refusal(info.value) == ("reward.over_budget", "reward", "amount_fen")
    b.spend(reward_id="r2", uscc="Y", amount_fen=40, occurred_on=date(2023, 12, 31), **env)
    assert b.left_fen == 0
    unlimited = SchemeBudget.open(programme="p", scheme="t", year=2023, budget_fen=None)
    unlimited.spend(reward_id="r", uscc="X", amount_fen=10**12, occurred_on=date(2023, 1, 1), **env)
    assert unlimited.left_fen is None


@pytest.fixture
def key_giant(script, u) -> str:
    climb(script, u, ["specialized", "little_giant", "key_little_giant"], on="2022-07-01")
    return u


def fund(u: str, amount: int, on: str, tranche: int | None, reward_id: str, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("who", MIIT)
    fields = grant(u, "key_little_giant_fund", amount, on, reward_id=reward_id, programme="national", **kw)
    if tranche is not None:
        fields["tranche"] = tranche
    return fields


def test_central_key_little_giant_money_comes_in_tranches_in_order(script, key_giant) -> None:
    u = key_giant
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2023-03-01", None, "t1"))
    assert refusal(err) == ("reward.tranche_required", "reward", "tranche")
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2023-03-01", 3, "t1"))
    assert refusal(err) == ("reward.tranche_required", "reward", "tranche")
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2023-03-01", 2, "t2", document="绩效评价"))
    assert refusal(err) == ("reward.tranche_order", "reward", "tranche")
    err = script.refused("grant_reward", **fund(u, 300_000_001, "2023-03-01", 1, "t1"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")  # half of 6,000,000 CNY
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2023-03-01", 1, "t1", who=PROVINCE))
    assert refusal(err) == ("reward.wrong_authority", "authority", "actor.authority")
    script.ok("grant_reward", **fund(u, 300_000_000, "2023-03-01", 1, "t1"))
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2024-03-01", 1, "t1b"))
    assert refusal(err) == ("reward.tranche_paid", "reward", "tranche")
    err = script.refused("grant_reward", **fund(u, 300_000_000, "2024-03-01", 2, "t2"))
    assert refusal(err) == ("reward.review_document", "reward", "document")  # the rest after a review
    script.ok("grant_reward", **fund(u, 300_000_000, "2024-03-01", 2, "t2", document="工信部绩效评价〔2024〕3号"))
    paid = script.ledger.enterprise(u).rewards
    assert sum(r.amount_fen for r in paid.values()) == 600_000_000


def test_tranches_only_where_the_scheme_has_them(script, hz) -> None:
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 100, "2023-06-01", tranche=1))
    assert refusal(err) == ("reward.no_tranches", "reward", "tranche")


def test_key_little_giant_money_needs_the_key_designation(script, u) -> None:
    climb(script, u, ["specialized", "little_giant"], on="2022-07-01")
    err = script.refused("grant_reward", **fund(u, 1, "2023-03-01", 1, "t1"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")


def loan(u: str, amount: int, on: str, loan_fen: int | None, lpr_bp: int | None, days: int | None, rid: str):  # type: ignore[no-untyped-def]
    kw = {k: v for k, v in (("loan_fen", loan_fen), ("lpr_bp", lpr_bp), ("days", days)) if v is not None}
    return grant(u, "hz_loan_interest", amount, on, reward_id=rid, **kw)


@pytest.mark.parametrize("loan_fen, lpr_bp, days, most", [
    (1_000_000_000, 345, 365, 17_250_000),   # 10M CNY at LPR 3.45% for a year: half of 345,000 CNY
    (1_000_000_000, 345, 182, 8_601_369),    # half a year, rounded down to the fen
    (3_000_000_000, 345, 365, 34_500_000),   # a 30M CNY loan counts only up to the 20M CNY cap
    (2_000_000_000, 2000, 366, 50_000_000),  # never above the scheme's cap
])
def test_interest_subsidy_follows_the_formula_and_loan_cap(script, hz, loan_fen: int, lpr_bp: int, days: int,
                                                           most: int) -> None:
    err = script.refused("grant_reward", **loan(hz, most + 1, "2023-06-01", loan_fen, lpr_bp, days, "i1"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")
    script.ok("grant_reward", **loan(hz, most, "2023-06-01", loan_fen, lpr_bp, days, "i1"))


def test_interest_subsidy_needs_the_loan(script, hz) -> None:
    err = script.refused("grant_reward", **loan(hz, 100, "2023-06-01", None, 345, 365, "i1"))
    assert refusal(err) == ("reward.loan_required", "reward", "loan_fen")
    err = script.refused("grant_reward", **loan(hz, 100, "2023-06-01", 1_000_000_000, None, 365, "i1"))
    assert refusal(err) == ("reward.loan_required", "reward", "loan_fen")


def test_the_loan_cap_is_per_enterprise_per_year(script, hz) -> None:
    """Subsidised loans are capped at 20M CNY a year per enterprise, not per loan."""
    script.ok("grant_reward", **loan(hz, 12_902_054, "2023-04-01", 1_500_000_000, 345, 182, "i1"))  # 15M CNY
    # a second 10M CNY loan the same year: only 5M CNY of the cap is left
    err = script.refused("grant_reward", **loan(hz, 8_601_369, "2023-09-01", 1_000_000_000, 345, 182, "i2"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")
    script.ok("grant_reward", **loan(hz, 4_300_684, "2023-09-01", 1_000_000_000, 345, 182, "i2"))
    err = script.refused("grant_reward", **loan(hz, 1, "2023-11-01", 1_000_000_000, 345, 182, "i3"))
    assert refusal(err) == ("reward.loan_cap_reached", "reward", "loan_fen")
    script.ok("grant_reward", **loan(hz, 8_601_369, "2024-03-01", 1_000_000_000, 345, 182, "i3"))  # a new year


def test_interest_subsidies_stay_under_the_yearly_cap(script, hz) -> None:
    script.ok("grant_reward", **loan(hz, 30_000_000, "2023-04-01", 1_000_000_000, 2000, 300, "i1"))
    err = script.refused("grant_reward", **loan(hz, 20_000_001, "2023-09-01", 1_000_000_000, 2000, 300, "i2"))
    assert refusal(err) == ("reward.over_cap", "reward", "amount_fen")
    script.ok("grant_reward", **loan(hz, 20_000_000, "2023-09-01", 1_000_000_000, 2000, 300, "i2"))


# =========================================================================== rule 9: corrections
def test_an_annulment_names_the_approval_and_the_approval_stays(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-03-01")
    before = [(e.originator_version, type(e).__name__, vars(e).copy()) for e in stored_events(script, u)]
    out = script.ok("annul", uscc=u, application_id=d.application_id, reason="认定有误", occurred_on="2023-07-01",
                    actor=PROVINCE, document="辽工信〔2023〕撤1号")
    annulled = stored_events(script, u)[-1]
    assert type(annulled).__name__ == "Annulled"
    assert annulled.corrects == d.event_id("approved")
    assert out.events[0].event_id != d.event_id("approved")
    after = [(e.originator_version, type(e).__name__, vars(e).copy()) for e in stored_events(script, u)]
    assert after[:-1] == before  # nothing updated or deleted
    assert [v for v, _, _ in after] == list(range(1, len(after) + 1))
    s = d.state(script)
    assert s.status == "annulled"
    assert not s.valid_on(date(2023, 3, 20))  # treated as never valid
    err = script.refused("apply", uscc=u, application_id="lg", programme="national", tier="little_giant",
                         occurred_on="2023-08-01", actor=enterprise_actor(script, u))
    assert refusal(err) == ("ladder.prerequisite_missing", "ladder", "tier")
    again = designate(script, u, "specialized", on="2023-08-01")  # applying afresh is possible
    assert again.state(script).status == "approved"


def test_an_annulment_needs_the_decider_an_approval_and_a_document(script, u) -> None:
    d = designate(script, u, "specialized", on="2023-03-01", until="noticed")
    err = script.refused("annul", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-07-01",
                         actor=PROVINCE, document="辽工信〔2023〕撤1号")
    assert refusal(err) == ("annul.not_approved", "immutability", "application_id")
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on="2023-03-19", actor=PROVINCE,
              document="辽工信〔2023〕1号")
    err = script.refused("annul", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-07-01",
                         actor=PROVINCE)
    assert refusal(err) == ("annul.no_document", "immutability", "document")
    err = script.refused("annul", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-07-01",
                         actor=CITY, document="葫〔2023〕1号")
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("annul", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-07-01",
              actor=PROVINCE, document="辽工信〔2023〕撤1号")
    err = script.refused("annul", uscc=u, application_id=d.application_id, reason="x", occurred_on="2023-07-02",
                         actor=PROVINCE, document="辽工信〔2023〕撤2号")
    assert refusal(err) == ("annul.not_approved", "immutability", "application_id")


def test_an_annulled_designation_earns_no_reward(script, hz) -> None:
    spec = [a for a in script.ledger.enterprise(hz).applications.values() if a.tier == "specialized"][0]
    script.ok("annul", uscc=hz, application_id=spec.id, reason="材料不实", occurred_on="2023-05-01",
              actor=ZHEJIANG, document="浙经信〔2023〕撤1号")
    err = script.refused("grant_reward", **grant(hz, "hz_specialized_first", 100, "2023-06-01"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")
    assert event_types(script, hz)[-2:] == ["Approved", "Annulled"]
