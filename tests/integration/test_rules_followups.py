"""Rules sharpened after review: who may register, re-confirmation of a provincial
programme's designation after leaving the province, cooling-off counted from the
recorded effective date, once-per-enterprise on per-item schemes."""

from __future__ import annotations

from datetime import date

import msgspec

from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.policy import Programme, Scheme
from domain.values import Actor
from tests.support.journeys import actor, designate, file_yearly_data, passing_review, register
from tests.support.ledgers import uscc


def test_an_enterprise_registers_itself_only_in_its_own_region(script) -> None:  # type: ignore[no-untyped-def]
    u = uscc(901, "211402")
    err = script.refused("register", uscc=u, name="外地企业", occurred_on="2020-01-01",
                         actor=actor("370212", "enterprise", "enterprise"))
    assert (err.code, err.field) == ("register.not_covering", "actor.authority")
    script.ok("register", uscc=u, name="本地企业", occurred_on="2020-01-01",
              actor=actor("211402", "enterprise", "enterprise"))


def test_a_provincial_programme_designation_is_reconfirmed_by_that_province_after_a_move(script) -> None:  # type: ignore[no-untyped-def]
    u = uscc(902, "211402")
    register(script, u, on="2019-01-10")
    designate(script, u, "specialized", on="2021-02-01")
    lg = designate(script, u, "little_giant", programme="liaoning", on="2021-06-01")
    script.ok("report_change", uscc=u, kind="relocation", changed_on="2022-03-01", new_region="370212",
              occurred_on="2022-03-10", actor="211400")
    assert lg.state(script).under_reconfirmation
    # Shandong has no say over Liaoning's own programme ...
    err = script.refused("reconfirm", uscc=u, application_id=lg.application_id, confirmed=False,
                         occurred_on="2022-04-01", actor="370000")
    assert (err.code, err.rule) == ("reconfirm.wrong_authority", "authority")
    # ... Liaoning decides, here by ending it.
    script.ok("reconfirm", uscc=u, application_id=lg.application_id, confirmed=False, occurred_on="2022-04-01",
              actor="210000", document="辽工信〔2022〕5号")
    state = lg.state(script)
    assert not state.under_reconfirmation and not state.valid_on(date(2022, 4, 1))


def _scheme(once: bool) -> tuple[Programme, Scheme]:
    programme = msgspec.convert({
        "id": "p", "name": "P", "version": "1", "effective_from": "2020-01-01", "level": "municipal",
        "jurisdiction": "330100", "tiers": [{"id": "t", "name": "T", "deciding_level": "municipal"}],
        "schemes": [{"id": "voucher", "name": "服务券", "kind": "per_item", "granted_by": "330100", "cap_fen": 1000,
                     "requires": [{"tier": "t"}], "once_per_enterprise": once}]}, Programme)
    return programme, programme.schemes[0]


def _designated_enterprise(programme: Programme) -> Enterprise:
    city = Actor(authority="330100", person="杭州市经信局")
    e = Enterprise.register(uscc=uscc(903, "330106"), name="杭州某公司", region="330106", industry=None, listed=False,
                            uscc_override=None, occurred_on=date(2020, 1, 1), actor=city, document="")
    e.apply(application_id="a", programme=programme, tier="t", product_id=None, product_name=None,
            declared_revenue_fen=None, occurred_on=date(2020, 2, 1), actor=city, document="")
    e.assess(application_id="a", programme=programme, score=80, components={}, indicators={}, direct_pass=[],
             occurred_on=date(2020, 2, 2), actor=city, document="")
    e.open_notice(application_id="a", programme=programme, occurred_on=date(2020, 2, 3), actor=city, document="")
    e.approve(application_id="a", programme=programme, occurred_on=date(2020, 2, 10), actor=city, document="杭1号")
    return e


def test_per_item_schemes_pay_again_unless_the_scheme_says_once() -> None:
    city = Actor(authority="330100", person="杭州市经信局")
    for once, second_ok in ((False, True), (True, False)):
        programme, scheme = _scheme(once)
        e = _designated_enterprise(programme)
        grant = dict(programme=programme, scheme=scheme, amount_fen=500, tranche=None, loan_fen=None, lpr_bp=None,
                     days=None, occurred_on=date(2020, 6, 1), actor=city, document="")
        e.grant_reward(reward_id="r1", **grant)
        if second_ok:
            e.grant_reward(reward_id="r2", **grant)
            assert set(e.rewards) == {"r1", "r2"}
        else:
            try:
                e.grant_reward(reward_id="r2", **grant)
            except RuleViolation as err:
                assert err.code == "reward.once_per_scheme"
            else:
                raise AssertionError("a once-per-enterprise per-item scheme paid twice")


def test_cooling_off_counts_from_the_recorded_effective_date(script) -> None:  # type: ignore[no-untyped-def]
    u = uscc(904, "211402")
    register(script, u, on="2019-01-10")
    lg = designate(script, u, "specialized", on="2021-02-01")
    designate(script, u, "little_giant", programme="liaoning", on="2021-06-01")
    ent = script.ledger.enterprise(u)
    pending = [a for a in ent.applications.values() if a.programme == "liaoning"][0]
    assert pending.valid_from == date(2022, 1, 1)  # Liaoning: from the next 1 January
    script.ok("revoke", uscc=u, application_id=pending.id, reason="false_material", effective_on="2021-11-01",
              occurred_on="2021-11-01", actor="210000", document="辽工信〔2021〕99号")
    rev = script.ledger.enterprise(u).revocations[-1]
    assert rev.effective_on == date(2022, 1, 1) and rev.barred_until == date(2025, 1, 1)
    assert lg.state(script).valid_on(date(2022, 6, 1))


def test_a_replaced_designation_still_blocks_a_new_application_while_it_runs(script) -> None:  # type: ignore[no-untyped-def]
    u = uscc(905, "211402")
    register(script, u, on="2019-01-10")
    p = designate(script, u, "product", programme="liaoning", on="2019-03-01", product_id="pump-1",
                  product_name="高压柱塞泵")
    state = p.state(script)
    assert (state.valid_from, state.valid_until) == (date(2020, 1, 1), date(2023, 1, 1))
    file_yearly_data(script, u, 2021, "2022-03-01", programme="liaoning")
    script.ok("review", uscc=u, application_id=p.application_id, passed=True, occurred_on="2022-06-01",
              actor="210000", document="辽工信〔2022〕30号")
    assert p.state(script).replaced_by is not None
    err = script.refused("apply", uscc=u, application_id="again", programme="liaoning", tier="product",
                         product_id="pump-1", product_name="高压柱塞泵", occurred_on="2022-07-01", actor="211400")
    assert err.code == "apply.already_designated"


def test_a_late_change_in_an_earlier_period_does_not_forfeit_a_later_review(script) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    u = uscc(906, "211402")
    register(script, u, on="2019-01-10")
    sp = designate(script, u, "specialized", on="2020-06-01")
    first_until = sp.state(script).valid_until
    script.ok("report_change", uscc=u, kind="rename", new_name="改名后的公司", changed_on="2021-01-05",
              occurred_on="2021-06-01", actor="211400")  # late: due within three months
    for year in range(2020, 2026):
        file_yearly_data(script, u, year, f"{year + 1}-03-01")
    script.ok("review", uscc=u, application_id=sp.application_id, passed=True,
              occurred_on=str(first_until - timedelta(days=30)), actor="210000", document="辽工信〔2023〕2号")
    extended_until = sp.state(script).valid_until
    second = extended_until - timedelta(days=30)
    assert extended_until.year == first_until.year + 3 and second >= date(2026, 4, 1)  # judged by the 2026 rules
    # Under 2026 a late change report forfeits the review -- but only one made in this period.
    script.ok("review", uscc=u, application_id=sp.application_id, passed=True, occurred_on=str(second),
              actor="210000", document="辽工信〔2026〕9号",
              **passing_review(script, "national", "specialized", second))  # 2026 reviews on the criteria
