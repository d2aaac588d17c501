"""Rule 8 on facts, through the ledger (issue 13, deliverable 5): the guarantee-fee subsidy
judged on a recorded loan and its repayment, one fund budget shared by several schemes,
a listing reward on a reported listing, 首台套 rewards on a recognised product, and
industrial-chain tags that the pools filter on."""

from __future__ import annotations

from typing import Any

import pytest

from domain.budget import SchemeBudget, budget_id
from infra.readmodel import ReadModel
from tests.support.journeys import designate, refusal, register
from tests.support.ledgers import Script, uscc

DALIAN, JINZHOU = "210200", "210213"  # 金州区 (Jinpu)
HANGZHOU, ZHEJIANG, XIHU = "330100", "330000", "330106"


def dalian_grant(u: str, scheme: str, amount: int, on: str, reward_id: str, **kw: Any) -> dict[str, Any]:
    return dict(uscc=u, reward_id=reward_id, programme="dalian", scheme=scheme, amount_fen=amount, occurred_on=on,
                actor=DALIAN, document="大工信发〔2023〕47号", **kw)


def loan(u: str, loan_id: str, *, principal: int = 1_000_000_000, drawn: str = "2023-01-10",
         due: str = "2023-07-09", fee: int = 7_397_260, on: str = "2023-01-12") -> dict[str, Any]:
    return dict(uscc=u, loan_id=loan_id, lender="中国银行大连市分行", guarantor="大连市融资担保集团有限公司",
                principal_fen=principal, drawn_on=drawn, due_on=due, guarantee_fee_fen=fee,
                guarantee_fee_rate_bp=150, occurred_on=on, actor=DALIAN)


@pytest.fixture
def dl(script: Script) -> str:
    """A Dalian (Jinpu) enterprise holding provincial 专精特新 from 2022-03-19."""
    code = uscc(40, JINZHOU)
    register(script, code)
    designate(script, code, "specialized", on="2022-03-01")
    return code


# =========================================================================== guarantee-fee subsidy
def test_the_guarantee_fee_subsidy_is_judged_on_the_recorded_loan(script: Script, dl: str) -> None:
    # the facts come first: without a recorded loan there is nothing to judge
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 100, "2023-07-10", "g0",
                                                        loan_id="L1"))
    assert refusal(err) == ("loan.not_found", "identity", "loan_id")
    script.ok("record_loan", **loan(dl, "L1"))
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 100, "2023-07-10", "g0",
                                                        loan_id="L1"))
    assert refusal(err) == ("reward.loan_not_repaid", "reward", "loan_id")
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 100, "2023-07-10", "g0"))
    assert refusal(err) == ("reward.loan_required", "reward", "loan_id")
    script.ok("record_repayment", uscc=dl, loan_id="L1", repaid_on="2023-07-05", occurred_on="2023-07-06",
              actor=DALIAN)
    # min(fee 73,972.60, 10 M × 1 % × 176 days / 365) = 48,219.17 CNY
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 4_821_918, "2023-07-10", "g1",
                                                        loan_id="L1"))
    assert refusal(err) == ("reward.over_formula", "reward", "amount_fen")
    assert "= 4821917 fen" in err.message
    out = script.ok("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 4_821_917, "2023-07-10", "g1",
                                                   loan_id="L1"))
    assert [e.type for e in out.events] == ["RewardGranted", "Opened", "Spent"]
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 1, "2023-07-11", "g2",
                                                        loan_id="L1"))
    assert refusal(err) == ("reward.loan_subsidised", "reward", "loan_id")
    assert script.ledger.enterprise(dl).rewards["g1"].loan_id == "L1"


def test_a_loan_repaid_late_earns_no_subsidy(script: Script, dl: str) -> None:
    script.ok("record_loan", **loan(dl, "L2", drawn="2022-12-01", due="2023-05-31", on="2022-12-05"))
    script.ok("record_repayment", uscc=dl, loan_id="L2", repaid_on="2023-06-20", occurred_on="2023-06-22",
              actor=DALIAN)
    assert script.ledger.enterprise(dl).loans["L2"].on_time is False
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 100, "2023-07-10", "g",
                                                        loan_id="L2"))
    assert refusal(err) == ("reward.repaid_late", "reward", "loan_id")
    # and the facts themselves are checked
    err = script.refused("record_repayment", uscc=dl, loan_id="L2", repaid_on="2023-06-21", occurred_on="2023-06-23",
                         actor=DALIAN)
    assert refusal(err) == ("loan.already_repaid", "reward", "loan_id")
    err = script.refused("record_loan", **loan(dl, "L2", on="2023-01-12"))
    assert refusal(err) == ("loan.duplicate_id", "identity", "loan_id")
    err = script.refused("record_loan", **loan(dl, "L3", drawn="2023-02-01", on="2023-01-12"))
    assert refusal(err) == ("loan.future", "reward", "drawn_on")
    err = script.refused("record_loan", **loan(dl, "L4", drawn="2023-01-10", due="2023-01-10"))
    assert err.field == "$.due_on"  # malformed: no term


def test_the_guarantee_fee_subsidy_is_dalians_from_2023(script: Script, dl: str) -> None:
    script.ok("record_loan", **loan(dl, "L5", drawn="2022-03-01", due="2022-08-28", on="2022-03-02"))
    script.ok("record_repayment", uscc=dl, loan_id="L5", repaid_on="2022-08-20", occurred_on="2022-08-22",
              actor=DALIAN)
    err = script.refused("grant_reward", **dalian_grant(dl, "dl_guarantee_fee", 100, "2022-09-01", "g",
                                                        loan_id="L5"))
    assert refusal(err) == ("policy.unknown_scheme", "policy", "scheme")  # dalian@2021 has no such scheme
    err = script.refused("grant_reward", **dict(dalian_grant(dl, "dl_guarantee_fee", 100, "2023-09-01", "g",
                                                             loan_id="L5"), actor="210000"))
    assert refusal(err) == ("reward.wrong_authority", "authority", "actor.authority")


# =========================================================================== one fund, several schemes
def test_one_fund_budget_pays_every_scheme_of_the_fund(script: Script) -> None:
    """dalian@2023: the special fund's 1,500,000 CNY a year pays the little-giant and the
    专精特新 rewards and the subsidies alike; a claw-back refunds it."""
    ents = []
    for i in range(16):
        code = uscc(50 + i, JINZHOU)
        register(script, code)
        designate(script, code, "specialized", on="2022-03-01")
        ents.append(code)
    for i, code in enumerate(ents[:15]):
        script.ok("grant_reward", **dalian_grant(code, "dl_specialized_provincial", 10_000_000, "2023-04-20",
                                                 f"s{i}"))
    fund = script.ledger.repository.get(budget_id("dalian", "dl_special_fund", 2023))
    assert isinstance(fund, SchemeBudget) and fund.fund and fund.left_fen == 0
    # the fund is spent: the next scheme of the fund is refused, with the fund named
    script.ok("record_loan", **loan(ents[15], "L", drawn="2023-01-10", due="2023-07-09"))
    script.ok("record_repayment", uscc=ents[15], loan_id="L", repaid_on="2023-07-01", occurred_on="2023-07-02",
              actor=DALIAN)
    err = script.refused("grant_reward", **dalian_grant(ents[15], "dl_guarantee_fee", 1_000_000, "2023-07-10", "g",
                                                        loan_id="L"))
    assert refusal(err) == ("reward.over_budget", "reward", "amount_fen")
    assert "fund dalian/dl_special_fund has 0 fen left of its 2023 budget of 150000000 fen" in err.message
    script.ok("claw_back", uscc=ents[0], reward_id="s0", amount_fen=10_000_000, reason="资格复核不符",
              occurred_on="2023-08-01", actor=DALIAN, document="大工信发〔2023〕60号")
    script.ok("grant_reward", **dalian_grant(ents[15], "dl_guarantee_fee", 1_000_000, "2023-08-10", "g",
                                             loan_id="L"))
    spent = [e for e in script.ledger.events.get(budget_id("dalian", "dl_special_fund", 2023))
             if type(e).__name__ == "Spent"]
    assert {e.paid_scheme for e in spent} == {"dl_specialized_provincial", "dl_guarantee_fee"}


# =========================================================================== eligibility on facts (Hangzhou)
@pytest.fixture
def hz(script: Script) -> str:
    code = uscc(70, XIHU)
    register(script, code)
    designate(script, code, "specialized", on="2023-03-01")
    return code


def hz_grant(u: str, scheme: str, amount: int, on: str, reward_id: str, **kw: Any) -> dict[str, Any]:
    return dict(uscc=u, reward_id=reward_id, programme="zhejiang", scheme=scheme, amount_fen=amount, occurred_on=on,
                actor=HANGZHOU, **kw)


def test_a_listing_reward_needs_a_reported_listing_on_a_board_it_pays(script: Script, hz: str) -> None:
    err = script.refused("grant_reward", **hz_grant(hz, "hz_listing", 300_000_000, "2023-06-01", "l1"))
    assert refusal(err) == ("reward.listing_required", "reward", "scheme")
    script.ok("report_change", uscc=hz, kind="listing", changed_on="2023-04-10", board="neeq", occurred_on="2023-04-20",
              actor=HANGZHOU)
    err = script.refused("grant_reward", **hz_grant(hz, "hz_listing", 300_000_000, "2023-06-01", "l1"))
    assert refusal(err) == ("reward.listing_board", "reward", "scheme")  # 新三板挂牌 is not 上市
    script.ok("report_change", uscc=hz, kind="delisting", changed_on="2023-06-05", occurred_on="2023-06-06",
              actor=HANGZHOU)
    script.ok("report_change", uscc=hz, kind="listing", changed_on="2023-06-20", board="chinext",
              occurred_on="2023-06-25", actor=HANGZHOU)
    script.ok("grant_reward", **hz_grant(hz, "hz_listing", 300_000_000, "2023-07-01", "l1"))
    err = script.refused("report_change", uscc=hz, kind="rename", changed_on="2023-06-20", board="main",
                         new_name="杭州某某", occurred_on="2023-07-02", actor=HANGZHOU)
    assert refusal(err) == ("change.board_not_listing", "change", "board")


def test_a_backdated_delisting_contradicts_a_later_listing_reward(script: Script, hz: str) -> None:
    script.ok("report_change", uscc=hz, kind="listing", changed_on="2023-04-10", board="star", occurred_on="2023-04-20",
              actor=HANGZHOU)
    script.ok("grant_reward", **hz_grant(hz, "hz_listing", 300_000_000, "2023-07-01", "l1"))
    err = script.refused("report_change", uscc=hz, kind="delisting", changed_on="2023-05-01", occurred_on="2023-05-10",
                         actor=HANGZHOU)
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on")
    assert "listing scheme zhejiang/hz_listing" in err.message


def test_first_of_kind_rewards_rest_on_the_provinces_recognition(script: Script, hz: str) -> None:
    def recognise(product: str, level: str, who: str = ZHEJIANG, document: str = "浙经信装备〔2023〕3号") -> Any:
        return dict(uscc=hz, programme="zhejiang", recognition="first_equipment", product_id=product,
                    product_name="智能装备", level=level, occurred_on="2023-04-01", actor=who, document=document)

    err = script.refused("grant_reward", **hz_grant(hz, "hz_first_equipment_national", 1, "2023-05-01", "e1"))
    assert refusal(err) == ("reward.product_required", "reward", "product_id")
    err = script.refused("grant_reward", **hz_grant(hz, "hz_first_equipment_national", 1, "2023-05-01", "e1",
                                                    product_id="P1"))
    assert refusal(err) == ("reward.not_recognised", "reward", "product_id")
    err = script.refused("recognise_product", **recognise("P1", "national", who=HANGZHOU))
    assert refusal(err) == ("recognition.wrong_authority", "authority", "actor.authority")
    err = script.refused("recognise_product", **recognise("P1", "national", document=""))
    assert refusal(err) == ("recognition.no_document", "reward", "document")
    script.ok("recognise_product", **recognise("P1", "national"))
    err = script.refused("recognise_product", **recognise("P1", "provincial"))
    assert refusal(err) == ("recognition.duplicate", "reward", "product_id")
    err = script.refused("grant_reward", **hz_grant(hz, "hz_first_equipment_international", 1, "2023-05-01", "e1",
                                                    product_id="P1"))
    assert refusal(err) == ("reward.recognition_level", "reward", "product_id")
    script.ok("grant_reward", **hz_grant(hz, "hz_first_equipment_national", 100_000_000, "2023-05-01", "e1",
                                         product_id="P1"))
    err = script.refused("grant_reward", **hz_grant(hz, "hz_smart_factory", 1, "2023-05-02", "e2", product_id="P1"))
    assert refusal(err) == ("reward.not_applicable", "reward", "product_id")
    err = script.refused("grant_reward", **hz_grant(hz, "hz_first_equipment_national", 1, "2023-05-02", "e2",
                                                    recognition="x"))
    assert err.field == "$" and "recognition" in err.message  # an unknown field is malformed input


def test_hangzhous_interest_subsidy_and_first_of_kind_rewards_skip_innovative_only(script: Script) -> None:
    """The plan of 2022-06 grants them to 省级以上专精特新, not to 创新型 alone."""
    code = uscc(71, XIHU)
    register(script, code)
    designate(script, code, "innovative", on="2023-01-09")
    err = script.refused("grant_reward", **hz_grant(code, "hz_loan_interest", 100, "2023-05-01", "t",
                                                    loan_fen=100_000_000, lpr_bp=365, days=100))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")
    script.ok("recognise_product", uscc=code, programme="zhejiang", recognition="first_equipment", product_id="P",
              product_name="检测一体机", level="provincial", occurred_on="2023-04-01", actor=ZHEJIANG,
              document="浙经信装备〔2023〕3号")
    err = script.refused("grant_reward", **hz_grant(code, "hz_first_equipment_provincial", 100, "2023-05-01", "e",
                                                    product_id="P"))
    assert refusal(err) == ("reward.no_valid_designation", "reward", "scheme")
    script.ok("grant_reward", **hz_grant(code, "hz_service_purchase", 100, "2023-05-01", "v"))  # still open to them


# =========================================================================== industrial chains
def test_chain_tags_are_facts_the_pools_filter_on(script: Script, hz: str) -> None:
    other = uscc(72, XIHU)
    register(script, other)
    designate(script, other, "specialized", on="2023-03-01")

    def tag(u: str, on: str, tagged: bool = True, who: str = HANGZHOU, chain: str = "smart_home") -> dict[str, Any]:
        return dict(uscc=u, programme="zhejiang", chain=chain, tagged=tagged, occurred_on=on, actor=who,
                    document="杭经信〔2023〕41号")

    script.ok("tag_chain", **tag(hz, "2023-05-01"))
    script.ok("tag_chain", **tag(other, "2023-05-01", chain="biomedicine"))
    err = script.refused("tag_chain", **tag(hz, "2023-05-02"))
    assert refusal(err) == ("chain.already_tagged", "order", "chain")
    err = script.refused("tag_chain", **tag(hz, "2023-05-02", who="210200"))
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    err = script.refused("tag_chain", **tag(hz, "2023-05-02", chain="shipbuilding"))
    assert err.field == "chain" and "unknown chain" in err.message
    script.ok("tag_chain", **tag(hz, "2023-08-01", tagged=False))
    err = script.refused("tag_chain", **tag(hz, "2023-08-02", tagged=False))
    assert refusal(err) == ("chain.not_tagged", "order", "chain")
    rm = ReadModel(script.ledger)
    try:
        def on_chain(chain: str, as_of: str) -> list[str]:
            return [d.uscc for d in rm.pool(tier="specialized", as_of=as_of, region=HANGZHOU, chain=chain)]

        assert on_chain("smart_home", "2023-04-30") == []
        assert on_chain("smart_home", "2023-06-01") == [hz]
        assert on_chain("zhejiang/smart_home", "2023-06-01") == [hz]
        assert on_chain("smart_home", "2023-08-01") == []  # untagged from that day
        assert on_chain("biomedicine", "2023-08-01") == [other]
        assert len(rm.pool(tier="specialized", as_of="2023-08-01", region=HANGZHOU)) == 2
    finally:
        rm.close()
