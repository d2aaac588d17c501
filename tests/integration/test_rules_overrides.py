"""Provincial 实施细则 (issue 14, item 11): a province's programme file overrides a national
tier's parameters for its jurisdiction (``[[overrides]]``), the national rules staying the
default everywhere else.  Shipped case: Liaoning's 专精特新 from 2023-10-01 under the 2022
measures — validity in whole calendar years from the next 1 January, a passed review a new
designation replacing the old (辽工信改革〔2024〕6号)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from domain.policy import parse_key
from infra.policy_files import SHIPPED, PolicyFileError, load_policy_book
from services.ledger import Ledger
from tests.support.journeys import (
    COUNTY,
    PROVINCE,
    designate,
    file_yearly_data,
    refusal,
    register,
    stored_events,
)
from tests.support.ledgers import Script, uscc

JILIN, CHANGCHUN = "220000", "220102"  # a province without a 实施细则 in the shipped files: the national rules
DALIAN = "210213"  # a district of Dalian, a 计划单列市: Liaoning's 细则 is not Dalian's


def approved_event(script: Script, u: str, app_id: str):  # type: ignore[no-untyped-def]
    return next(e for e in stored_events(script, u)
                if type(e).__name__ == "Approved" and e.application_id == app_id)


def review(u: str, app_id: str, on: str, who: str = PROVINCE) -> dict:  # type: ignore[type-arg]
    return dict(uscc=u, application_id=app_id, passed=True, occurred_on=on, actor=who, document="辽工信复〔2025〕1号")


# --------------------------------------------------------------------------- the shipped Liaoning case
def test_a_liaoning_specialized_gets_calendar_year_validity_another_province_the_national(script, u) -> None:
    jl = uscc(2, CHANGCHUN)
    register(script, jl)
    ln = designate(script, u, "specialized", approve_on="2023-11-24")
    nat = designate(script, jl, "specialized", approve_on="2023-11-24")
    assert (ln.state(script).valid_from, ln.state(script).valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
    assert (nat.state(script).valid_from, nat.state(script).valid_until) == (date(2023, 11, 24), date(2026, 11, 24))
    # the events name what judged them
    assert approved_event(script, u, ln.application_id).policy == "national@2022+liaoning@2019"
    assert approved_event(script, jl, nat.application_id).policy == "national@2022"
    assessed = next(e for e in stored_events(script, u) if type(e).__name__ == "Assessed")
    assert assessed.policy == "national@2022+liaoning@2019"
    assert parse_key(assessed.policy) == [("national", "2022"), ("liaoning", "2019")]


def test_the_override_applies_from_its_date_only(script, u) -> None:
    before, on = uscc(3, COUNTY), uscc(4, COUNTY)
    for e in (before, on):
        register(script, e)
    d_before = designate(script, before, "specialized", approve_on="2023-09-30")
    d_on = designate(script, on, "specialized", approve_on="2023-10-01")
    assert (d_before.state(script).valid_from, d_before.state(script).valid_until) == (
        date(2023, 9, 30), date(2026, 9, 30))
    assert approved_event(script, before, d_before.application_id).policy == "national@2022"
    assert (d_on.state(script).valid_from, d_on.state(script).valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
    assert approved_event(script, on, d_on.application_id).policy == "national@2022+liaoning@2019"


def test_a_dalian_specialized_is_judged_by_the_national_rules_not_liaonings(script) -> None:
    dl = uscc(5, DALIAN)
    register(script, dl)
    d = designate(script, dl, "specialized", approve_on="2023-11-24")
    assert d.decider == "210200"  # Dalian decides its own 专精特新
    assert (d.state(script).valid_from, d.state(script).valid_until) == (date(2023, 11, 24), date(2026, 11, 24))
    assert approved_event(script, dl, d.application_id).policy == "national@2022"


def test_the_2026_rules_are_not_overridden_by_a_2022_xize(script, u) -> None:
    """Liaoning's 细则 implements the 2022 measures: under the 2026 version the national rules judge."""
    inn = designate(script, u, "innovative", on="2026-04-10")
    assert approved_event(script, u, inn.application_id).policy == "national@2026"
    d = designate(script, u, "specialized", on="2026-06-01")
    assert approved_event(script, u, d.application_id).policy == "national@2026"
    assert d.state(script).valid_from == d.approved_on


def test_a_liaoning_review_under_the_override_replaces_a_jilin_one_extends(script, u) -> None:
    jl = uscc(7, CHANGCHUN)
    register(script, jl)
    ln = designate(script, u, "specialized", on="2023-03-01")  # before the override: valid to 2026-03-19
    nat = designate(script, jl, "specialized", on="2023-03-01")
    assert ln.state(script).valid_until == nat.state(script).valid_until == date(2026, 3, 19)
    for e in (u, jl):
        file_yearly_data(script, e, 2024, "2025-03-15")
    script.ok("review", **review(u, ln.application_id, "2025-10-01"))
    script.ok("review", **review(jl, nat.application_id, "2025-10-01", who=JILIN))
    old = ln.state(script)
    new = script.ledger.enterprise(u).applications[old.replaced_by]
    assert (old.valid_from, old.valid_until) == (date(2023, 3, 19), date(2026, 3, 19))
    assert (new.id, new.renewal_of, new.valid_from, new.valid_until) == (
        f"{ln.application_id}~r1", ln.application_id, date(2026, 3, 19), date(2029, 3, 19))
    assert stored_events(script, u)[-1].policy == "national@2022+liaoning@2019"
    extended = nat.state(script)
    assert (extended.valid_until, extended.replaced_by) == (date(2029, 3, 19), None)
    assert stored_events(script, jl)[-1].policy == "national@2022"
    # the replaced designation is reviewed no more
    err = script.refused("review", **review(u, ln.application_id, "2025-11-01"))
    assert refusal(err) == ("review.not_designated", "review", "application_id")


def test_replay_judges_nothing_again(tmp_path: Path) -> None:
    """Designations decided under the override stand as recorded when the ledger is read with
    rule files that no longer have it."""
    db = str(tmp_path / "l.db")
    ledger = Ledger(db=db)
    try:
        script = Script(ledger)
        u = uscc(8, COUNTY)
        register(script, u)
        d = designate(script, u, "specialized", approve_on="2023-11-24")
        before = ledger.enterprise(u).applications[d.application_id]
    finally:
        ledger.close()
    plain = tmp_path / "plain"
    shutil.copytree(SHIPPED, plain, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    text = (plain / "liaoning.toml").read_text()
    (plain / "liaoning.toml").write_text(text[:text.index("[[overrides]]")])
    assert load_policy_book(plain).in_force("national", date(2023, 11, 24), "211402").key == "national@2022"
    again = Ledger(db=db, policies=str(plain))
    try:
        ent = again.enterprise(u)
        after = ent.applications[d.application_id]
        assert (after.valid_from, after.valid_until) == (before.valid_from, before.valid_until) == (
            date(2024, 1, 1), date(2027, 1, 1))
        approved = next(e for e in again.repository.event_store.get(ent.id) if type(e).__name__ == "Approved")
        assert approved.policy == "national@2022+liaoning@2019"
    finally:
        again.close()


# --------------------------------------------------------------------------- a province's own parameters
JILIN_FILE = '''id = "jilin_test"
name = "吉林省（测试用实施细则）"
version = "2022"
effective_from = 2022-06-01
level = "provincial"
jurisdiction = "220000"

[[overrides]]
programme = "national"
tier = "specialized"
from = 2024-01-01
notice_days = 10
review_window_days = 90
assumption = "a test file, no document"

[[overrides]]
programme = "national"
yearly_data_deadline = "05-31"
assumption = "a test file, no document"
'''


@pytest.fixture
def jilin_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "jilin-test.toml").write_text(JILIN_FILE)
    ledger = Ledger(db=str(tmp_path / "l.db"), policies=str(folder))
    try:
        yield Script(ledger)
    finally:
        ledger.close()


def test_a_provinces_notice_days_review_window_and_data_deadline(jilin_script) -> None:
    script = jilin_script
    jl, hl = uscc(9, CHANGCHUN), uscc(10, COUNTY)
    for e in (jl, hl):
        register(script, e)
    # notice: 10 days in Jilin from 2024-01-01, 7 (national) in Liaoning
    d = designate(script, jl, "specialized", on="2024-03-01", until="noticed")
    assert d.notice_on is not None and d.state(script).notice_until == date(2024, 3, 22)
    err = script.refused("approve", uscc=jl, application_id=d.application_id, occurred_on="2024-03-21",
                         actor=JILIN, document="吉工信〔2024〕1号")
    assert refusal(err) == ("approve.notice_open", "order", "occurred_on")
    script.ok("approve", uscc=jl, application_id=d.application_id, occurred_on="2024-03-22", actor=JILIN,
              document="吉工信〔2024〕1号")
    assert approved_event(script, jl, d.application_id).policy == "national@2022+jilin_test@2022"
    h = designate(script, hl, "specialized", on="2024-03-01", until="noticed")
    assert h.state(script).notice_until == date(2024, 3, 19)
    # the yearly data deadline: 31 May in Jilin, 30 April elsewhere
    script.ok("file_yearly_data", uscc=jl, programme="national", data_year=2024, occurred_on="2025-05-31",
              actor={"authority": CHANGCHUN, "person": "e", "role": "enterprise"},
              indicators={"revenue_fen": 2_000_000_000})
    script.ok("file_yearly_data", uscc=hl, programme="national", data_year=2024, occurred_on="2025-05-31",
              actor={"authority": COUNTY, "person": "e", "role": "enterprise"},
              indicators={"revenue_fen": 2_000_000_000})
    filed = {e: next(x for x in stored_events(script, e) if type(x).__name__ == "YearlyDataFiled") for e in (jl, hl)}
    assert (filed[jl].deadline, filed[jl].late) == (date(2025, 5, 31), False)
    assert (filed[hl].deadline, filed[hl].late) == (date(2025, 4, 30), True)
    # the review window: 90 days before expiry (2027-03-22) in Jilin
    err = script.refused("review", **review(jl, d.application_id, "2026-12-21", who=JILIN))
    assert refusal(err) == ("review.outside_window", "review", "occurred_on")
    assert "90 days" in err.message


# --------------------------------------------------------------------------- bad files are refused at load
@pytest.mark.parametrize(("override", "needle"), [
    ('programme = "national"\ntier = "specialised"\nnotice_days = 5\nassumption = "x"',
     "overrides[0].tier: programme 'national' has no tier 'specialised'"),
    ('programme = "nation"\ntier = "specialized"\nnotice_days = 5\nassumption = "x"',
     "overrides[0].programme: no programme 'nation'"),
    ('programme = "national"\nversion = "2019"\ntier = "specialized"\nnotice_days = 5\nassumption = "x"',
     "overrides[0].version: programme 'national' has no rule version '2019'"),
    ('programme = "national"\ntier = "little_giant"\nnotice_days = 5\nassumption = "x"',
     "overrides[0].tier: national/little_giant is not decided at provincial level"),
    ('programme = "national"\ntier = "specialized"\ndeciding_level = "municipal"\nassumption = "x"',
     "unknown field `deciding_level` - at `$.overrides[0]`"),
    ('programme = "national"\ntier = "specialized"\nnotice_days = "five"\nassumption = "x"',
     "at `$.overrides[0].notice_days`"),
    ('programme = "national"\ntier = "specialized"\nnotice_days = 5',
     "name its source (document and article) or say assumption"),
    ('programme = "national"\ntier = "specialized"\nyearly_data_deadline = "05-31"\nassumption = "x"',
     "yearly_data_deadline cannot be set by a tier override"),
    ('programme = "national"\ntier = "specialized"\nassumption = "x"', "sets no parameter"),
])
def test_a_bad_override_is_refused_at_load_naming_the_field(tmp_path: Path, override: str, needle: str) -> None:
    folder = tmp_path / "p"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (folder / "jilin-test.toml").write_text(JILIN_FILE.split("[[overrides]]")[0] + "[[overrides]]\n" + override)
    with pytest.raises(PolicyFileError) as info:
        load_policy_book(folder)
    assert needle in str(info.value), str(info.value)


def test_only_a_province_or_a_planned_city_overrides(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    override = '[[overrides]]\nprogramme = "national"\ntier = "specialized"\nnotice_days = 5\nassumption = "x"\n'
    city = JILIN_FILE.split("[[overrides]]")[0].replace('jurisdiction = "220000"', 'jurisdiction = "220100"')
    (folder / "jilin-test.toml").write_text(city + override)
    with pytest.raises(PolicyFileError) as info:
        load_policy_book(folder)
    assert "jurisdiction 220100 of jilin_test is not a province or 计划单列市" in str(info.value)
    # Dalian, a 计划单列市 of the national programme, may
    planned = city.replace('jurisdiction = "220100"', 'jurisdiction = "210200"')
    (folder / "jilin-test.toml").write_text(planned + override)
    book = load_policy_book(folder)
    assert book.in_force("national", date(2024, 1, 1), DALIAN).key == "national@2022+jilin_test@2022"
    assert book.in_force("national", date(2024, 1, 1), "211402").tier("specialized").notice_days == 7
    # nor does a file set what only the book sets
    (folder / "jilin-test.toml").write_text(JILIN_FILE.replace('level = "provincial"',
                                                               'level = "provincial"\noverlaid = ["x@1"]'))
    with pytest.raises(PolicyFileError) as info:
        load_policy_book(folder)
    assert "at `$.overlaid`" in str(info.value)
