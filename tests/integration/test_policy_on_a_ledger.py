"""Policy as data on a ledger: each event judged by the rule version in force on its business
date (national 2018 / 2022 / 2026), and a ledger that will not start on a bad policy folder.
Decoding and picking the version: tests/unit/test_policy.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from domain.policy import PolicyBook
from infra.policy_files import SHIPPED, PolicyFileError, load_policy_book
from services import commands as c
from services.ledger import Ledger
from tests.support.journeys import (
    climb,
    designate,
    enterprise_actor,
    file_yearly_data,
    passing_assessment,
    register,
    stored_events,
)
from tests.support.ledgers import uscc

MINIMAL = """
id = "test"
name = "Test"
version = "1"
effective_from = 2022-01-01
level = "provincial"
jurisdiction = "210000"

[[tiers]]
id = "t"
name = "T"
deciding_level = "provincial"
notice_days = 7
"""


def _book() -> PolicyBook:
    return load_policy_book(SHIPPED)


def test_a_ledger_will_not_start_on_a_bad_policy_folder(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "test.toml").write_text(MINIMAL.replace("notice_days = 7", 'notice_days = "seven"'), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"notice_days"):
        Ledger(db=str(tmp_path / "l.db"), policies=str(folder))


# --------------------------------------------------------------------------- rule versions
def test_specialized_needs_innovative_only_from_2026_04_01(script) -> None:
    u, v = uscc(1, "211402"), uscc(2, "211402")
    register(script, u)
    register(script, v)
    # the day before the 2026 rules: no prerequisite
    script.ok("apply", uscc=u, application_id="s", programme="national", tier="specialized",
              occurred_on="2026-03-31", actor=enterprise_actor(script, u))
    # from 2026-04-01 specialized needs a valid provincial innovative
    err = script.refused("apply", uscc=v, application_id="s", programme="national", tier="specialized",
                         occurred_on="2026-04-01", actor=enterprise_actor(script, v))
    assert (err.code, err.rule, err.field) == ("ladder.prerequisite_missing", "ladder", "tier")
    assert "national@2026" in err.message


def test_a_designation_made_under_2022_still_counts_under_2026(script) -> None:
    u = uscc(3, "211402")
    register(script, u)
    innovative = designate(script, u, "innovative", on="2025-01-10")  # 2022 rules, valid into 2028
    assert innovative.approved_on == date(2025, 1, 26)
    assert innovative.state(script).valid_until == date(2028, 1, 26)
    d = designate(script, u, "specialized", on="2026-05-01")  # 2026 rules: needs it, and it is valid
    assert d.state(script).status == "approved"
    assert stored_events(script, u)[-1].policy == "national@2026"


def test_a_tier_that_did_not_exist_yet_is_refused_by_the_version_in_force(script) -> None:
    u = uscc(4, "211402")
    register(script, u)
    err = script.refused("apply", uscc=u, application_id="i", programme="national", tier="innovative",
                         occurred_on="2021-05-01", actor=enterprise_actor(script, u))
    assert (err.code, err.rule, err.field) == ("policy.unknown_tier", "policy", "tier")
    script.ok("apply", uscc=u, application_id="i", programme="national", tier="innovative",
              occurred_on="2022-06-01", actor=enterprise_actor(script, u))


def test_yearly_data_deadline_is_04_30_under_2022_and_05_31_under_2026(script) -> None:
    u = uscc(5, "211402")
    register(script, u)
    file_yearly_data(script, u, 2023, "2024-04-30")  # 2022 rules, on the deadline
    file_yearly_data(script, u, 2024, "2025-05-15")  # 2022 rules: late
    file_yearly_data(script, u, 2025, "2026-05-31")  # 2026 rules, on the new deadline
    file_yearly_data(script, u, 2026, "2027-06-01")  # 2026 rules: late
    filed = {e.data_year: (e.deadline, e.late) for e in stored_events(script, u) if type(e).__name__ ==
             "YearlyDataFiled"}
    assert filed == {
        2023: (date(2024, 4, 30), False),
        2024: (date(2025, 4, 30), True),
        2025: (date(2026, 5, 31), False),
        2026: (date(2027, 5, 31), True),
    }
    assert script.ledger.enterprise(u).yearly_data == {2023: False, 2024: True, 2025: False, 2026: True}


def test_assessment_thresholds_of_the_version_in_force(script) -> None:
    """专精特新: niche >= 2 years under 2022, >= 3 years under 2026."""
    tier22 = _book().in_force("national", date(2025, 1, 1)).tier("specialized")
    tier26 = _book().in_force("national", date(2026, 5, 1)).tier("specialized")
    body = passing_assessment(tier26, "2026-05-11")  # meets every 2026 threshold (two years of R&D)
    body["indicators"]["niche_years"] = 2
    assert tier22.assessment.judge(body["score"], body["components"], body["indicators"], []) == []
    failures = tier26.assessment.judge(body["score"], body["components"], body["indicators"], [],
                                       yearly={2024: body["yearly_indicators"]["2024"]}, last_year=2025)
    assert failures == ["从事特定细分市场时间 >= 3 年: niche_years >= 3: 2"]
    # through the ledger: the same indicators pass in 2025 and fail in 2026
    u = uscc(6, "211402")
    register(script, u)
    climb(script, u, ["innovative"], on="2025-01-10")
    old = designate(script, u, "specialized", on="2025-06-01", until="assessed", assessment=body)
    assert stored_events(script, u)[-1].passed is True
    script.ok("withdraw", uscc=u, application_id=old.application_id, occurred_on="2025-06-20",
              actor=enterprise_actor(script, u))
    new = designate(script, u, "specialized", on="2026-05-01", until="assessed", assessment=body)
    assessed = stored_events(script, u)[-1]
    assert (assessed.passed, assessed.failures, assessed.policy) == (
        False, ["从事特定细分市场时间 >= 3 年: niche_years >= 3: 2"], "national@2026")
    err = script.refused("open_notice", uscc=u, application_id=new.application_id, occurred_on="2026-05-20",
                         actor="210000")
    assert (err.code, err.rule, err.field) == ("notice.not_assessed", "order", "application_id")


def test_unknown_programme_tier_or_scheme_is_bad_input(script) -> None:
    u = uscc(7, "211402")
    register(script, u)
    common = dict(uscc=u, application_id="a", occurred_on="2023-03-01", actor=enterprise_actor(script, u))
    err = script.refused("apply", programme="atlantis", tier="innovative", **common)
    assert isinstance(err, c.InputError) and err.field == "programme"
    err = script.refused("apply", programme="national", tier="unicorn", **common)
    assert isinstance(err, c.InputError) and err.field == "tier"
    err = script.refused("grant_reward", uscc=u, reward_id="r", programme="zhejiang", scheme="free_money",
                         amount_fen=1, occurred_on="2023-03-01", actor="330100")
    assert isinstance(err, c.InputError) and err.field == "scheme"
