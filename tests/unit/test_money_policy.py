"""Money as policy data (issue 13, deliverable 5): funds, chains, recognitions and the
guarantee-fee formula in the programme files, checked when a file is decoded; the shipped
Hangzhou and Dalian schemes say what the reports say, and mark what they could not source."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from domain.policy import PolicyBook, Scheme, decode_programme
from infra.mapper import state_type
from infra.policy_files import SHIPPED

HEAD = """
id = "d"
name = "D"
version = "1"
effective_from = 2023-01-01
level = "provincial"
jurisdiction = "210200"
"""
FUND = """
[[funds]]
id = "special"
name = "专项资金"
granted_by = "210200"
yearly_budget_fen = 100
source = "assumption"
"""


def scheme(extra: str = "", id_: str = "a") -> str:
    return f'\n[[schemes]]\nid = "{id_}"\nname = "A"\ngranted_by = "210200"\ncap_fen = 10\n{extra}\n'


@pytest.mark.parametrize("text, message", [
    (HEAD + scheme('fund = "none"'), "no fund 'none'"),
    (HEAD + FUND + scheme('fund = "special"\nyearly_budget_fen = 5'), "no yearly_budget_fen of its own"),
    (HEAD + FUND + scheme(id_="special"), "are scheme ids too"),
    (HEAD + FUND.replace('granted_by = "210200"', 'granted_by = "210000"') + scheme('fund = "special"'),
     "its fund special by 210000"),
    (HEAD + scheme('kind = "guarantee_fee_subsidy"'), "needs subsidised_rate_bp"),
    (HEAD + scheme('recognition = "r"'), "recognition and recognition_level go together"),
    (HEAD + scheme('recognition = "r"\nrecognition_level = "national"'), "no recognition 'r'"),
    (HEAD + '[[recognitions]]\nid = "r"\nname = "R"\nrecognised_by = ["210200"]\nlevels = ["provincial"]\n'
            'source = "x"\n' + scheme('recognition = "r"\nrecognition_level = "national"'), "has no level 'national'"),
    (HEAD + scheme('listing_boards = ["nasdaq"]'), "listing_boards"),
    (HEAD + '[[chains]]\nid = "c"\nname = "C"\nsource = "x"\n[[chains]]\nid = "c"\nname = "C2"\nsource = "x"\n',
     "chain ids repeat"),
    (HEAD + '[[chains]]\nid = "c"\nname = "C"\n', "source"),  # every chain names its source
])
def test_a_money_mistake_in_a_policy_file_names_it(text: str, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        decode_programme(text)


def test_every_scheme_of_a_fund_shares_its_budget() -> None:
    p = decode_programme(HEAD + FUND + scheme('fund = "special"') + scheme('fund = "special"', "b") + scheme(id_="c"))
    assert [p.budget_of(s) for s in p.schemes] == [("special", 100), ("special", 100), ("c", None)]


@pytest.mark.parametrize("principal, fee, days, expected", [
    (1_000_000_000, 7_397_260, 176, 4_821_917),  # the rate bounds it: 10 M × 1 % × 176 / 365
    (1_000_000_000, 3_000_000, 176, 3_000_000),  # the fee paid bounds it
    (1_000_000_000, 50_000_000, 730, 20_000_000),  # two years guaranteed: two years' rate
])
def test_the_guarantee_fee_formula(principal: int, fee: int, days: int, expected: int) -> None:
    s = Scheme(id="g", name="G", kind="guarantee_fee_subsidy", granted_by="210200", cap_fen=0, subsidised_rate_bp=100)
    assert s.guarantee_fee_formula(principal_fen=principal, fee_fen=fee, days=days) == expected


def shipped() -> PolicyBook:
    return PolicyBook([decode_programme(f.read_bytes()) for f in sorted(SHIPPED.glob("*.toml"))])


def test_hangzhous_interest_subsidy_and_first_of_kind_rewards_are_for_provincial_specialized_and_above() -> None:
    zj = shipped().in_force("zhejiang", date(2023, 6, 1))
    for sid in ("hz_loan_interest", "hz_first_equipment_international", "hz_first_equipment_national",
                "hz_first_equipment_provincial"):
        reqs = {(r.tier, r.level) for r in zj.scheme(sid).requires}
        assert reqs == {("little_giant", None), ("specialized", "provincial"), ("hidden_champion", "provincial")}, sid
    assert [(s.id, s.recognition_level) for s in zj.schemes if s.recognition] == [
        ("hz_first_equipment_international", "international"), ("hz_first_equipment_national", "national"),
        ("hz_first_equipment_provincial", "provincial")]
    assert "neeq" not in zj.scheme("hz_listing").listing_boards and zj.scheme("hz_listing").listing_boards
    assert len(zj.chains) == 10 and all(c.source for c in zj.chains)


def test_dalians_money_is_marked_as_assumed_and_paid_by_dalian() -> None:
    book = shipped()
    v2021, v2023 = book.versions("dalian")
    assert (v2021.effective_from, v2023.effective_from) == (date(2021, 1, 1), date(2023, 1, 1))
    assert not [s for s in v2021.schemes if s.kind == "guarantee_fee_subsidy"]  # from 2023
    assert {s.id for s in v2023.schemes} >= {"dl_little_giant_national", "dl_specialized_provincial",
                                            "dl_loan_interest", "dl_guarantee_fee", "dl_key_little_giant"}
    for p in (v2021, v2023):
        for s in p.schemes:
            assert s.granted_by == "210200" and s.source and s.assumption, s.id  # the kind cited, the figures not
        assert all(f.source and f.assumption for f in p.funds)
    assert {s.fund for s in v2023.schemes} == {"dl_special_fund"}
    text = (SHIPPED / "dalian-2023.toml").read_text(encoding="utf-8")
    assert "ASSUMPTION" in text and "formula" in text


def test_events_stored_before_an_optional_field_was_added_still_load() -> None:
    from domain.enterprise import Enterprise

    old = (b'{"timestamp":"2023-01-01T00:00:00+00:00","kind":"listing","changed_on":"2023-01-01",'
           b'"due_on":"2023-04-01","late":false,"new_name":null,"new_region":null,"counterpart_uscc":null,'
           b'"reconfirmation":[],"occurred_on":"2023-01-02","actor":{"authority":"211400","person":"p"},'
           b'"document":""}')
    ev = msgspec.json.decode(old, type=state_type(Enterprise.ChangeReported))
    assert ev.board is None
    granted = state_type(Enterprise.RewardGranted)
    assert {"loan_id", "product_id"} <= set(granted.__struct_fields__)

