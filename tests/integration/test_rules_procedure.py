"""Issue 14, items 7 and 8: who reviews and notices 创新型, and notices counted in working days.

Item 7 (工信部企业〔2022〕63号, carried into 〔2026〕2号): for 创新型 the city (地级以上市中小企业主管
部门) reviews (审核), spot-checks and holds the notice (公示); the province only announces (公告).
The tier says so in ``assessing_level`` / ``notice_level``; ``assess`` needs an authority at the
tier's ``assessed_at`` level, ``open_notice`` and ``resolve_objection`` one at its
``noticed_at`` level, ``approve`` / ``review`` / ``revoke`` one at the deciding level — each
covering the enterprise inside the programme (a 计划单列市's districts act at municipal level).
专精特新 is unchanged: the province assesses, notices and decides.

Item 8: ``notice_day_kind = "working"`` counts the notice on the Chinese working-day calendar
(``domain.workdays``).  No shipped programme says "working days" in a text the ledger could
check, so these tests use a copy of the national files whose 创新型 tier counts working days.
Scenario: a Huludao enterprise (district 211402; city 211400, Liaoning 210000)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest

from domain.authority import grants
from domain.errors import LedgerError
from infra.policy_files import SHIPPED, load_policy_book
from services import commands as c
from services.ledger import Ledger
from tests.support.journeys import (
    CITY,
    COUNTY,
    PROVINCE,
    designate,
    passing_assessment,
    refusal,
    register,
    stored_events,
    tier_in_force,
)
from tests.support.ledgers import Script, uscc

# one date under each rule version: 63号 (2022) and 2号 (from 2026-04-01)
VERSIONS = [pytest.param("2023-03-01", "national@2022", id="2022"),
            pytest.param("2026-05-04", "national@2026", id="2026")]
DALIAN, JINZHOU, LIAONING = "210200", "210213", "210000"  # 金州区 is a Dalian district
JINZHOU_CITY = "210700"  # 锦州市: another city of Liaoning


def _assess(script: Script, u: str, app: str, on: str, actor: str, tier: str = "innovative") -> object:
    body = passing_assessment(tier_in_force(script, "national", tier, on), on)
    return dict(uscc=u, application_id=app, occurred_on=on, actor=actor, **body)


# =========================================================================== item 7: 创新型
@pytest.mark.parametrize("on, policy", VERSIONS)
def test_the_city_assesses_innovative_and_the_province_may_not(script, u, on: str, policy: str) -> None:
    d = designate(script, u, "innovative", on=on, until="recommended")
    day = str(date.fromisoformat(on).replace(day=20))
    err = script.refused("assess", **_assess(script, u, d.application_id, day, PROVINCE))
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    assert f"innovative in {policy} is assessed at municipal level" in err.message
    assert f"authority {PROVINCE} acts at provincial level" in err.message
    err = script.refused("assess", **_assess(script, u, d.application_id, day, COUNTY))  # a county: neither
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    err = script.refused("assess", **_assess(script, u, d.application_id, day, JINZHOU_CITY))  # another city
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    script.ok("assess", **_assess(script, u, d.application_id, day, CITY))
    assessed = stored_events(script, u)[-1]
    assert (assessed.actor.authority, assessed.passed, assessed.policy) == (CITY, True, policy)


@pytest.mark.parametrize("on, policy", VERSIONS)
def test_the_city_opens_the_notice_and_the_province_approves(script, u, on: str, policy: str) -> None:
    d = designate(script, u, "innovative", on=on, until="assessed")
    assert d.assessor == CITY
    notice_on = str(d.assessed_on.replace(day=d.assessed_on.day + 1))
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice_on,
                         actor=PROVINCE)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    assert "is noticed at municipal level" in err.message
    script.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice_on, actor=CITY)
    t = tier_in_force(script, "national", "innovative", notice_on)
    assert (t.assessed_at.value, t.noticed_at.value, t.deciding_level.value) == ("municipal", "municipal",
                                                                                 "provincial")
    state = d.state(script)
    approve_on = str(state.notice_until)
    assert state.notice_until == date.fromisoformat(notice_on).replace(
        day=date.fromisoformat(notice_on).day + t.notice_days)  # calendar days in the national files
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=approve_on, actor=CITY,
                         document="葫工信发〔2023〕1号")
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    assert "is decided at provincial level" in err.message
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on=approve_on, actor=PROVINCE,
              document="辽工信函〔2023〕1号")
    approved = stored_events(script, u)[-1]
    assert (type(approved).__name__, approved.actor.authority, approved.policy) == ("Approved", PROVINCE, policy)
    assert d.state(script).status == "approved"


def test_the_whole_innovative_path_by_the_journey_helper(script, u) -> None:
    designate(script, u, "innovative", on="2023-03-01")
    kinds = [(type(e).__name__, e.actor.authority) for e in stored_events(script, u)[1:]]
    assert kinds == [("Applied", u[2:8]), ("Recommended", CITY), ("Assessed", CITY), ("NoticeOpened", CITY),
                     ("Approved", PROVINCE)]


def test_the_city_resolves_objections_to_its_notice(script, u) -> None:
    d = designate(script, u, "innovative", on="2023-03-01", until="noticed")
    script.ok("object", uscc=u, application_id=d.application_id, objection_id="yy-1", grounds="实名反映：研发数据不实",
              occurred_on=str(d.notice_on), actor=CITY)
    kw = dict(uscc=u, application_id=d.application_id, objection_id="yy-1", upheld=False,
              occurred_on=str(d.notice_on), document="葫工信函〔2023〕2号")
    err = script.refused("resolve_objection", actor=PROVINCE, **kw)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("resolve_objection", actor=CITY, **kw)
    assert d.state(script).objections == {"yy-1": "dismissed"}


def test_a_failed_city_review_is_rejected_by_the_province_not_the_city(script, u) -> None:
    """After the city's assessment the application is no longer the recommender's to turn down."""
    t = tier_in_force(script, "national", "innovative", "2023-03-11")
    failing = {"score": 50, "components": {"innovation": 10, "growth": 20, "specialization": 20}}
    d = designate(script, u, "innovative", on="2023-03-01", until="assessed", assessment=failing)
    assert stored_events(script, u)[-1].passed is False and t.deciding_level.value == "provincial"
    kw = dict(uscc=u, application_id=d.application_id, reason="评价得分未达到60分", occurred_on="2023-03-20",
              document="不予公告")
    err = script.refused("reject", actor=CITY, **kw)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("reject", actor=PROVINCE, **kw)
    assert d.state(script).status == "rejected"


@pytest.mark.parametrize("on", ["2023-03-01", "2026-05-04"])
def test_in_dalian_the_district_assesses_and_notices_and_dalian_approves(script, on: str) -> None:
    """A 计划单列市 acts at provincial level in the national programme, its districts at municipal."""
    u = uscc(7, JINZHOU)
    register(script, u, by=DALIAN)
    d = designate(script, u, "innovative", on=on, until="recommended")
    assert stored_events(script, u)[-1].actor.authority == JINZHOU
    day = str(date.fromisoformat(on).replace(day=20))
    for wrong in (DALIAN, LIAONING):
        err = script.refused("assess", **_assess(script, u, d.application_id, day, wrong))
        assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority"), wrong
    script.ok("assess", **_assess(script, u, d.application_id, day, JINZHOU))
    notice = str(date.fromisoformat(day).replace(day=21))
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice, actor=DALIAN)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice, actor=JINZHOU)
    until = str(d.state(script).notice_until)
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=until, actor=LIAONING,
                         document="辽工信函〔2023〕3号")
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")  # Liaoning: not for Dalian
    err = script.refused("approve", uscc=u, application_id=d.application_id, occurred_on=until, actor=JINZHOU,
                         document="金工信〔2023〕3号")
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("approve", uscc=u, application_id=d.application_id, occurred_on=until, actor=DALIAN,
              document="大工信发〔2023〕3号")
    s = d.state(script)
    assert (s.status, s.level) == ("approved", "provincial")


@pytest.mark.parametrize("on", ["2023-03-01", "2026-05-04"])
def test_specialized_is_still_assessed_and_noticed_by_the_province(script, u, on: str) -> None:
    if on >= "2026":
        designate(script, u, "innovative", on="2024-01-08")  # 2026: 专精特新 needs a valid 创新型
    d = designate(script, u, "specialized", on=on, until="recommended")
    day = str(date.fromisoformat(on).replace(day=20))
    err = script.refused("assess", **_assess(script, u, d.application_id, day, CITY, "specialized"))
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    assert "specialized in national@20" in err.message and "is assessed at provincial level" in err.message
    script.ok("assess", **_assess(script, u, d.application_id, day, PROVINCE, "specialized"))
    notice = str(date.fromisoformat(day).replace(day=21))
    err = script.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice, actor=CITY)
    assert refusal(err) == ("authority.wrong_level", "authority", "actor.authority")
    script.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on=notice, actor=PROVINCE)


def test_the_grants_give_cities_the_review_and_the_notice_of_innovative() -> None:
    """The bus (NATS permissions) derives from the same policy: a city may send assess,
    open_notice and resolve_objection because 创新型 is assessed and noticed at its level."""
    book = load_policy_book(SHIPPED)
    g = grants(CITY, book)
    assert "national@2022 innovative: assessed at municipal level" in g["assess"]
    assert "national@2026 innovative: noticed at municipal level" in g["open_notice"]
    assert "national@2022 innovative: noticed at municipal level" in g["resolve_objection"]
    assert "approve" not in g and "revoke" not in g
    assert "assess" in grants(JINZHOU, book) and "approve" not in grants(JINZHOU, book)
    assert "assess" not in grants(COUNTY, book)


# =========================================================================== item 8: working days
@pytest.fixture
def working_policies(tmp_path: Path) -> Path:
    """The shipped policy files, with the 创新型 tier of both national versions counting its
    five notice days as working days (as a province's "公示期5个工作日" would)."""
    folder = tmp_path / "policies"
    folder.mkdir()
    for f in SHIPPED.glob("*.toml"):
        shutil.copy(f, folder)
    for name in ("national-2022.toml", "national-2026.toml"):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert text.count('notice_days = 5\nnotice_day_kind = "calendar"') == 1
        path.write_text(text.replace('notice_days = 5\nnotice_day_kind = "calendar"',
                                     'notice_days = 5\nnotice_day_kind = "working"'), encoding="utf-8")
    return folder


@pytest.fixture
def working(working_policies: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A ledger on those policies, with one Huludao enterprise registered."""
    app = Ledger(db=str(tmp_path / "working.db"), policies=str(working_policies))
    s = Script(app)
    u = uscc(1, COUNTY)
    register(s, u)
    yield s, u
    app.close()


def _noticed(s: Script, u: str, opened: str) -> tuple[str, date]:
    """An innovative application of ``u`` up to its notice, opened by the city on ``opened``."""
    on = date.fromisoformat(opened)
    d = designate(s, u, "innovative", on=str(on - timedelta(days=20)), until="assessed")
    assert d.assessed_on is not None and d.assessed_on < on
    s.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on=opened, actor=CITY)
    return d.application_id, stored_events(s, u)[-1].notice_until


def test_a_notice_before_national_day_runs_over_the_worked_weekend(working) -> None:
    """2023: 29 September (中秋) to 6 October off, Saturday 7 and Sunday 8 October worked.
    Opened Thursday 28 September, its five working days are 28 Sep, 7, 8, 9, 10 Oct."""
    s, u = working
    app, until = _noticed(s, u, "2023-09-28")
    assert until == date(2023, 10, 11)  # calendar days would end it on 3 October
    ok = dict(uscc=u, application_id=app, grounds="实名反映：申报数据不实", actor=CITY)
    s.ok("object", objection_id="yy-1", occurred_on="2023-10-07", **ok)  # the worked Saturday: inside
    s.ok("resolve_objection", uscc=u, application_id=app, objection_id="yy-1", upheld=False, occurred_on="2023-10-09",
         actor=CITY, document="葫工信函〔2023〕9号")
    s.ok("object", objection_id="yy-2", occurred_on="2023-10-10", **ok)  # the last notice day
    err = s.refused("object", objection_id="yy-3", occurred_on="2023-10-11", **ok)
    assert refusal(err) == ("object.outside_notice", "order", "occurred_on")
    assert "until before 2023-10-11" in err.message
    s.ok("resolve_objection", uscc=u, application_id=app, objection_id="yy-2", upheld=False, occurred_on="2023-10-10",
         actor=CITY, document="葫工信函〔2023〕10号")
    approve = dict(uscc=u, application_id=app, actor=PROVINCE, document="辽工信函〔2023〕11号")
    err = s.refused("approve", occurred_on="2023-10-10", **approve)
    assert refusal(err) == ("approve.notice_open", "order", "occurred_on")
    assert "2023-10-11" in err.message
    s.ok("approve", occurred_on="2023-10-11", **approve)


def test_a_notice_before_spring_festival_counts_the_worked_sunday(working) -> None:
    """2024: 10 to 17 February off, Sunday 18 February worked (Friday 9 February, 除夕, was
    not a statutory holiday that year).  Opened Thursday 8 February: 8, 9, 18, 19, 20 Feb."""
    s, u = working
    app, until = _noticed(s, u, "2024-02-08")
    assert until == date(2024, 2, 21)
    ok = dict(uscc=u, application_id=app, grounds="实名反映：知识产权权属纠纷", actor=CITY)
    s.ok("object", objection_id="yy-1", occurred_on="2024-02-14", **ok)  # a holiday inside the notice
    s.ok("resolve_objection", uscc=u, application_id=app, objection_id="yy-1", upheld=False, occurred_on="2024-02-18",
         actor=CITY, document="葫工信函〔2024〕2号")
    approve = dict(uscc=u, application_id=app, actor=PROVINCE, document="辽工信函〔2024〕3号")
    assert refusal(s.refused("approve", occurred_on="2024-02-20", **approve))[0] == "approve.notice_open"
    err = s.refused("object", objection_id="yy-2", occurred_on="2024-02-21", **ok)
    assert refusal(err)[0] == "object.outside_notice"
    s.ok("approve", occurred_on="2024-02-21", **approve)


def test_a_notice_on_a_holiday_starts_counting_on_the_next_working_day(working) -> None:
    """Opened on 1 October 2024 (国庆, 1–7 October off; Saturday 12 October worked): 8, 9, 10,
    11, 12 October."""
    s, u = working
    _, until = _noticed(s, u, "2024-10-01")
    assert until == date(2024, 10, 13)


def test_a_notice_beyond_the_calendar_is_refused_with_the_years_it_covers(working) -> None:
    """chinesecalendar 1.11.0 knows the holidays of 2004 to 2026: a notice whose working days
    run into 2027 cannot be counted, and is refused, writing nothing."""
    s, u = working
    d = designate(s, u, "innovative", on="2026-12-01", until="assessed")
    err = s.refused("open_notice", uscc=u, application_id=d.application_id, occurred_on="2026-12-28", actor=CITY)
    assert refusal(err) == ("notice.outside_calendar", "order", "occurred_on")
    assert "2026-12-28" in err.message and "2027-01-01" in err.message and "2004 to 2026" in err.message
    assert d.state(s).status == "assessed"
    # the last opening whose five working days end inside 2026 (24, 25, 28, 29, 30 ... ): accepted
    s.ok("open_notice", uscc=u, application_id=d.application_id, occurred_on="2026-12-25", actor=CITY)
    assert stored_events(s, u)[-1].notice_until == date(2027, 1, 1)


def test_working_days_leave_the_calendar_day_tiers_alone(working) -> None:
    """In the same policy folder 专精特新 still counts seven calendar days."""
    s, u = working
    designate(s, u, "innovative", on="2023-03-01")
    d = designate(s, u, "specialized", on="2023-09-04", until="noticed")
    assert d.notice_on is not None
    assert d.state(s).notice_until == date.fromordinal(d.notice_on.toordinal() + 7)


def test_the_generator_twin_counts_the_same_working_days(working_policies: Path, tmp_path: Path) -> None:
    """``scenarios.generate`` on the working-day policies predicts every outcome the ledger
    gives: its 创新型 notices are the city's, counted on the working-day calendar (the twin asks
    ``domain.workdays`` as ``open_notice`` does), and the early approvals it tries on purpose
    are refused as it says.  (Its rounds announce 12 days or more after the notice opens, so
    the ordinary approvals fall after either end.)"""
    from domain.workdays import notice_end
    from scenarios.generate import generate

    book = load_policy_book(working_policies)
    stream = list(generate(300, 2, 5, 2023, policies=str(working_policies)))
    expected = {cmd["command_id"]: code for cmd, code in stream if code}
    tier_of = {(cmd["uscc"], cmd["application_id"]): cmd["tier"] for cmd, _ in stream if cmd["command"] == "apply"}
    notices = [cmd for cmd, code in stream if cmd["command"] == "open_notice" and code is None
               and tier_of[(cmd["uscc"], cmd["application_id"])] == "innovative"]
    assert notices
    for cmd in notices:
        p = book.in_force("national", date.fromisoformat(cmd["occurred_on"]))
        assert p.authority_level(cmd["actor"]["authority"]) == "municipal", cmd
    opened = [date.fromisoformat(cmd["occurred_on"]) for cmd in notices]
    assert any(notice_end(d, 5, "working") > d + timedelta(days=5) for d in opened)  # the rule bites here
    app = Ledger(db=str(tmp_path / "twin.db"), policies=str(working_policies))
    try:
        got: dict[str, str] = {}

        def on_result(cmd: c.Command, result: object) -> None:
            if isinstance(result, (LedgerError, c.InputError)):
                got[cmd.command_id] = result.as_dict()["code"]  # type: ignore[union-attr]

        app.handle_many([c.decode_command(msgspec.json.encode(cmd)) for cmd, _ in stream], on_result)
        assert got == expected
        assert expected  # the history has its deliberate refusals
    finally:
        app.close()
