"""What bars an application (issue 14, items 9 and 13), under the 2022 and the 2026 rules.

- Listing boards (rule 3): a key-supported little giant (重点"小巨人", 财建〔2021〕2号) excludes
  companies listed on 主板, 科创板, 创业板 and abroad, not those on 新三板 or 北交所; a listing
  whose board is not reported counts as excluded; a delisting ends the listing.  Judged at
  the application and again at the recommendation.
- The bars at recommendation (``Tier.bars``): the 经营异常名录 and the 严重失信主体名单 on the
  recommendation date, the 企业划型 test of 《中小企业划型标准规定》 on the figures declared with
  the application, and (2026 little giants only) another enterprise of the same group holding
  the tier in the same GB/T 4754 class.
"""

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
    refusal,
    register,
    stored_events,
)
from tests.support.ledgers import uscc

WAN_CNY_FEN = 10_000 * 100  # 1 万元 in fen


def apply(script, u: str, tier: str, on: str, app_id: str, **fields):  # type: ignore[no-untyped-def]
    return script.ok("apply", uscc=u, application_id=app_id, programme="national", tier=tier, occurred_on=on,
                     actor=enterprise_actor(script, u), **fields)


def recommend(script, u: str, app_id: str, on: str, by: str = CITY, ok: bool = True):  # type: ignore[no-untyped-def]
    send = script.ok if ok else script.refused
    return send("recommend", uscc=u, application_id=app_id, occurred_on=on, actor=by)


# =========================================================================== listing boards (item 9)
def little_giant(script, n: int, **registration) -> str:  # type: ignore[no-untyped-def]
    """An enterprise holding a national little giant from 2022 (valid into 2025)."""
    e = uscc(n, COUNTY)
    register(script, e, **registration)
    climb(script, e, ["specialized", "little_giant"], on="2022-07-01")
    return e


@pytest.mark.parametrize("board, excluded", [("main", True), ("star", True), ("chinext", True), ("overseas", True),
                                             ("neeq", False), ("bse", False)])
def test_key_little_giants_exclude_the_main_boards_star_chinext_and_abroad(script, board, excluded) -> None:
    at_registration = little_giant(script, 2, board=board)
    by_report = little_giant(script, 3)
    script.ok("report_change", uscc=by_report, kind="listing", board=board, changed_on="2023-02-01",
              occurred_on="2023-02-10", actor=CITY)
    assert script.ledger.enterprise(at_registration).listing_board() == (True, board)
    for e in (at_registration, by_report):
        if excluded:
            err = script.refused("apply", uscc=e, application_id="k", programme="national",
                                 tier="key_little_giant", occurred_on="2023-03-01", actor=enterprise_actor(script, e))
            assert refusal(err) == ("ladder.listed_excluded", "ladder", "tier")
            assert f"is listed on {board}" in err.message and "main, star, chinext, overseas" in err.message
        else:  # 新三板 and 北交所 companies stay eligible, to the approval
            d = designate(script, e, "key_little_giant", on="2023-03-01")
            assert d.state(script).status == "approved"


def test_a_listing_whose_board_is_not_known_is_excluded_and_a_delisting_ends_it(script) -> None:
    registered_listed = little_giant(script, 2, listed=True)  # listed, no board: not known
    reported = little_giant(script, 3)
    script.ok("report_change", uscc=reported, kind="listing", changed_on="2023-02-01", occurred_on="2023-02-10",
              actor=CITY)
    for e in (registered_listed, reported):
        err = script.refused("apply", uscc=e, application_id="k", programme="national", tier="key_little_giant",
                             occurred_on="2023-03-01", actor=enterprise_actor(script, e))
        assert refusal(err) == ("ladder.listed_excluded", "ladder", "tier")
        assert "on a board not reported" in err.message
    script.ok("report_change", uscc=registered_listed, kind="delisting", changed_on="2023-03-05",
              occurred_on="2023-03-10", actor=CITY)
    assert script.ledger.enterprise(registered_listed).listing_board() == (False, None)
    apply(script, registered_listed, "key_little_giant", "2023-03-11", "k")
    # a later listing on 新三板 names its board: the board of the last listing counts
    script.ok("report_change", uscc=reported, kind="delisting", changed_on="2023-03-05", occurred_on="2023-03-10",
              actor=CITY)
    script.ok("report_change", uscc=reported, kind="listing", board="neeq", changed_on="2023-03-06",
              occurred_on="2023-03-11", actor=CITY)
    apply(script, reported, "key_little_giant", "2023-03-12", "k")


def test_a_listing_after_the_application_bars_the_recommendation(script) -> None:
    e = little_giant(script, 2)
    apply(script, e, "key_little_giant", "2023-03-01", "k")
    script.ok("report_change", uscc=e, kind="listing", board="star", changed_on="2023-03-02",
              occurred_on="2023-03-05", actor=CITY)
    err = recommend(script, e, "k", "2023-03-06", by=PROVINCE, ok=False)
    assert refusal(err) == ("ladder.listed_excluded", "ladder", "application_id")
    assert "star (科创板)" in err.message


def test_boards_under_the_2026_rules(script) -> None:
    main, neeq = uscc(2, COUNTY), uscc(3, COUNTY)
    register(script, main, board="main")
    register(script, neeq, board="neeq")
    for e in (main, neeq):
        climb(script, e, ["specialized", "little_giant"], on="2025-01-10")
    lg = script.ledger.enterprise(neeq).valid_designations(date(2026, 5, 1))
    assert [a.tier for a in lg] == ["specialized", "little_giant"]
    err = script.refused("apply", uscc=main, application_id="k", programme="national", tier="key_little_giant",
                         occurred_on="2026-05-01", actor=enterprise_actor(script, main))
    assert refusal(err) == ("ladder.listed_excluded", "ladder", "tier") and "national@2026" in err.message
    apply(script, neeq, "key_little_giant", "2026-05-01", "k")
    recommend(script, neeq, "k", "2026-05-02", by=PROVINCE)


def test_a_board_with_registration_is_checked_at_the_edge(script) -> None:
    err = script.refused("register", uscc=uscc(2, COUNTY), name="某厂", board="nasdaq", occurred_on="2020-01-10",
                         actor=CITY)
    assert err.field == "$.board"


# =========================================================================== credit lists (item 13)
LISTS = [("abnormal_operations", "recommend.abnormal_operations", "经营异常名录"),
         ("serious_dishonesty", "recommend.seriously_dishonest", "严重失信主体名单")]
VERSIONS = ["2023-03-01", "2026-05-01"]  # applied under national@2022, national@2026


def credit(script, u: str, credit_list: str, listed: bool, listed_on: date, on: date | None = None,  # type: ignore[no-untyped-def]
           ok: bool = True, by: str = COUNTY):
    send = script.ok if ok else script.refused
    return send("record_credit_listing", uscc=u, credit_list=credit_list, listed=listed, listed_on=str(listed_on),
                occurred_on=str(on or listed_on), actor=by, document="连山区市场监督管理局决定书")


@pytest.mark.parametrize("credit_list, code, name", LISTS)
@pytest.mark.parametrize("applied", VERSIONS)
def test_on_a_credit_list_on_the_recommendation_date_bars_it(script, u, credit_list, code, name, applied) -> None:
    day = date.fromisoformat(applied)
    apply(script, u, "innovative", str(day), "a")
    rec = day + timedelta(days=5)
    credit(script, u, credit_list, True, rec - timedelta(days=1))  # listed the day before
    err = recommend(script, u, "a", str(rec), ok=False)
    assert refusal(err) == (code, "ladder", "application_id")
    assert name in err.message and str(rec - timedelta(days=1)) in err.message
    assert f"national@{2022 if day.year < 2026 else 2026}" in err.message
    # removed the day after: still barred on the day; removed on the day: not
    credit(script, u, credit_list, False, rec + timedelta(days=1), on=rec + timedelta(days=1))
    err = recommend(script, u, "a", str(rec), ok=False)
    assert refusal(err) == (code, "ladder", "application_id")  # decided on the facts of its date
    recommend(script, u, "a", str(rec + timedelta(days=1)))


@pytest.mark.parametrize("credit_list, code, name", LISTS)
def test_listed_on_the_day_bars_it_and_listed_the_day_after_does_not(script, credit_list, code, name) -> None:
    on_the_day, day_after = uscc(2, COUNTY), uscc(3, COUNTY)
    for e in (on_the_day, day_after):
        register(script, e)
        apply(script, e, "innovative", "2026-05-01", "a")
    credit(script, on_the_day, credit_list, True, date(2026, 5, 6))
    assert refusal(recommend(script, on_the_day, "a", "2026-05-06", ok=False)) == (code, "ladder", "application_id")
    credit(script, day_after, credit_list, True, date(2026, 5, 7))
    recommend(script, day_after, "a", "2026-05-06")  # dated before the listing: judged on the facts of its date


def test_the_other_list_does_not_bar_and_a_recorded_removal_is_kept(script, u) -> None:
    credit(script, u, "abnormal_operations", True, date(2023, 1, 5))
    credit(script, u, "abnormal_operations", False, date(2023, 2, 5))
    ent = script.ledger.enterprise(u)
    assert ent.on_credit_list("abnormal_operations", date(2023, 2, 4)) == date(2023, 1, 5)
    assert ent.on_credit_list("abnormal_operations", date(2023, 2, 5)) is None
    assert ent.on_credit_list("serious_dishonesty", date(2023, 1, 10)) is None
    assert [type(e).__name__ for e in stored_events(script, u)][-2:] == ["CreditListingRecorded"] * 2
    apply(script, u, "innovative", "2023-03-01", "a")
    recommend(script, u, "a", "2023-03-02")


def test_credit_listings_are_facts_in_order_recorded_by_a_covering_authority(script, u) -> None:
    err = credit(script, u, "abnormal_operations", False, date(2023, 1, 5), ok=False)
    assert refusal(err) == ("credit.not_listed", "order", "listed")
    credit(script, u, "abnormal_operations", True, date(2023, 1, 5))
    err = credit(script, u, "abnormal_operations", True, date(2023, 1, 9), ok=False)
    assert refusal(err) == ("credit.already_listed", "order", "listed")
    err = credit(script, u, "abnormal_operations", False, date(2023, 1, 4), on=date(2023, 1, 20), ok=False)
    assert refusal(err) == ("order.backdated", "order", "listed_on")
    err = credit(script, u, "abnormal_operations", False, date(2023, 1, 21), on=date(2023, 1, 20), ok=False)
    assert refusal(err) == ("credit.future", "change", "listed_on")
    err = credit(script, u, "abnormal_operations", False, date(2023, 1, 20), by="330100", ok=False)
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")
    err = script.refused("record_credit_listing", uscc=u, credit_list="abnormal_operations", listed=False,
                         listed_on="2023-01-20", occurred_on="2023-01-20", actor=enterprise_actor(script, u))
    assert refusal(err) == ("authority.not_an_authority", "authority", "actor.role")
    err = script.refused("record_credit_listing", uscc=u, credit_list="blacklist", listed=True,
                         listed_on="2023-01-20", occurred_on="2023-01-20", actor=COUNTY)
    assert err.field == "$.credit_list"


# =========================================================================== not an SME (item 13)
YI_FEN = 10_000 * WAN_CNY_FEN  # 1 亿元


@pytest.mark.parametrize("applied", VERSIONS)
@pytest.mark.parametrize("industry, figures, refused", [
    # 工业 (300号 第四条 (二)): an SME below 1000 employees or below 40000万元 revenue
    ("C3441", {"employees": 1000, "declared_revenue_fen": 4 * YI_FEN}, True),
    ("C3441", {"employees": 999, "declared_revenue_fen": 40 * YI_FEN}, False),
    ("C3441", {"employees": 5000, "declared_revenue_fen": 4 * YI_FEN - 1}, False),
    # 软件和信息技术服务业 (第四条 (十二)): below 300 employees or below 10000万元
    ("I6510", {"employees": 300, "declared_revenue_fen": YI_FEN}, True),
    ("I6510", {"employees": 299, "declared_revenue_fen": 5 * YI_FEN}, False),
    ("I6510", {"employees": 300, "declared_revenue_fen": YI_FEN - 1}, False),
    # no facts, no bar: an unknown figure that could decide it, or no industry
    ("C3441", {"employees": 5000}, False),
    ("C3441", {"declared_revenue_fen": 40 * YI_FEN}, False),
    (None, {"employees": 5000, "declared_revenue_fen": 40 * YI_FEN, "assets_fen": 40 * YI_FEN}, False),
])
def test_an_enterprise_that_is_no_sme_is_not_recommended(script, applied, industry, figures, refused) -> None:
    e = uscc(2, COUNTY)
    register(script, e, **({"industry": industry} if industry else {}))
    apply(script, e, "innovative", applied, "a", **figures)
    rec = str(date.fromisoformat(applied) + timedelta(days=1))
    if refused:
        err = recommend(script, e, "a", rec, ok=False)
        assert refusal(err) == ("recommend.not_sme", "ladder", "application_id")
        assert "工信部联企业〔2011〕300号" in err.message and "not an SME" in err.message
    else:
        recommend(script, e, "a", rec)
    applied_event = next(ev for ev in stored_events(script, e) if type(ev).__name__ == "Applied")
    assert applied_event.employees == figures.get("employees")


def test_the_bar_is_the_tiers_the_key_little_giant_has_none(script) -> None:
    e = little_giant(script, 2, industry="C3441")
    apply(script, e, "key_little_giant", "2023-03-01", "k", employees=5000, declared_revenue_fen=40 * YI_FEN)
    recommend(script, e, "k", "2023-03-02", by=PROVINCE)


# =========================================================================== same group (item 13, 2026)
PARENT = uscc(90, COUNTY)


def giant_of_group(script, n: int, industry: str = "C3441", on: str = "2024-01-10", **fields) -> str:  # type: ignore[no-untyped-def]
    """A member of PARENT's group holding a national little giant from 2024 (valid into 2027)."""
    e = uscc(n, COUNTY)
    register(script, e, industry=industry, group_uscc=PARENT, **fields)
    climb(script, e, ["specialized", "little_giant"], on=on)
    return e


def applicant(script, n: int, industry: str = "C3441", applied: str = "2026-05-01", **fields) -> str:  # type: ignore[no-untyped-def]
    e = uscc(n, COUNTY)
    register(script, e, industry=industry, **fields)
    designate(script, e, "specialized", on="2024-01-10")
    apply(script, e, "little_giant", applied, "lg")
    return e


def test_a_little_giant_of_the_same_group_and_class_bars_a_2026_recommendation(script) -> None:
    giant = giant_of_group(script, 2)
    same, other_class = applicant(script, 3, group_uscc=PARENT), applicant(script, 4, "C3451", group_uscc=PARENT)
    err = recommend(script, same, "lg", "2026-05-02", by=PROVINCE, ok=False)
    assert refusal(err) == ("recommend.same_group", "ladder", "application_id")
    assert giant in err.message and "C3441"[1:] in err.message and "national@2026" in err.message
    recommend(script, other_class, "lg", "2026-05-02", by=PROVINCE)  # another class: no similar product


def test_the_same_group_is_no_bar_under_the_2022_rules(script) -> None:
    giant_of_group(script, 2)
    same = applicant(script, 3, applied="2025-03-01", group_uscc=PARENT)
    recommend(script, same, "lg", "2025-03-02", by=PROVINCE)


def test_control_runs_both_ways_and_a_group_recorded_later_counts_from_its_date(script) -> None:
    # the parent itself is the little giant: its subsidiary is barred ...
    register(script, PARENT, industry="C3441")
    climb(script, PARENT, ["specialized", "little_giant"], on="2024-01-10")
    child = applicant(script, 3, group_uscc=PARENT)
    assert refusal(recommend(script, child, "lg", "2026-05-02", by=PROVINCE, ok=False))[0] == "recommend.same_group"
    # ... and a parent is barred by its subsidiary, from the day the group is recorded
    parent = applicant(script, 4)
    giant = uscc(5, COUNTY)
    register(script, giant, industry="C3441")
    climb(script, giant, ["specialized", "little_giant"], on="2024-01-10")
    script.ok("record_group", uscc=giant, group_uscc=parent, occurred_on="2026-05-03", actor=CITY)
    recommend(script, parent, "lg", "2026-05-02", by=PROVINCE)  # the day before: judged on the facts of its date
    late = applicant(script, 6, group_uscc=parent)
    err = recommend(script, late, "lg", "2026-05-03", by=PROVINCE, ok=False)
    assert refusal(err)[0] == "recommend.same_group" and giant in err.message
    # leaving the group ends the bar from that day
    script.ok("record_group", uscc=child, occurred_on="2026-05-05", actor=CITY)
    recommend(script, child, "lg", "2026-05-05", by=PROVINCE)
    group = script.ledger.group(PARENT)
    assert group is not None and group.members_on(date(2026, 5, 4)) == [child]
    assert group.members_on(date(2026, 5, 5)) == []


def test_recording_a_group_is_checked(script, u) -> None:
    err = script.refused("record_group", uscc=u, group_uscc=u, occurred_on="2023-01-05", actor=CITY)
    assert refusal(err) == ("group.self", "identity", "group_uscc")
    err = script.refused("record_group", uscc=u, occurred_on="2023-01-05", actor=CITY)
    assert refusal(err) == ("group.unchanged", "order", "group_uscc")
    err = script.refused("record_group", uscc=u, group_uscc=PARENT[:-1] + ("0" if PARENT[-1] != "0" else "1"),
                         occurred_on="2023-01-05", actor=CITY)
    assert err.field == "$.group_uscc"
    err = script.refused("record_group", uscc=u, group_uscc=PARENT, occurred_on="2023-01-05",
                         actor=actor("330100"))
    assert refusal(err) == ("authority.not_covering", "authority", "actor.authority")


# =========================================================================== stores written before
def test_registrations_and_applications_stored_before_the_bars_still_load(script) -> None:
    """Old stores hold Registered and Applied events without ``board``, ``group_uscc``,
    ``employees`` and ``assets_fen``: they decode to None, and the commands they came from
    keep their digests (ReportChange keeps its ``board``: it had it from the start)."""
    import msgspec

    from domain.enterprise import Enterprise
    from services import commands as c

    e = uscc(2, COUNTY)
    register(script, e)
    apply(script, e, "innovative", "2023-03-01", "a")
    mapper = script.ledger.mapper
    added = {"Registered": ("board", "group_uscc"), "Applied": ("employees", "assets_fen")}
    seen = set()
    for ev in script.ledger.events.get(Enterprise.create_id(uscc=e)):
        kind = type(ev).__name__
        if kind not in added:
            continue
        stored = mapper.to_stored_event(ev)
        state = msgspec.json.decode(stored.state)
        for f in added[kind]:
            del state[f]
        old = type(stored)(originator_id=stored.originator_id, originator_version=stored.originator_version,
                           topic=stored.topic, state=msgspec.json.encode(state))
        assert all(getattr(mapper.to_domain_event(old), f) is None for f in added[kind])
        seen.add(kind)
    assert seen == set(added)
    reg = script.cmd("register", uscc=e, name="某厂", occurred_on="2020-01-10")
    app = script.cmd("apply", uscc=e, application_id="a", programme="national", tier="innovative",
                     occurred_on="2023-03-01")
    change = script.cmd("report_change", uscc=e, kind="rename", new_name="新名", changed_on="2023-03-01",
                        occurred_on="2023-03-02")
    assert not any(f.encode() in c.encode_command(reg) for f in ("board", "group_uscc"))
    assert not any(f.encode() in c.encode_command(app) for f in ("employees", "assets_fen"))
    assert b'"board":null' in c.encode_command(change)


# =========================================================================== the time rule
def test_a_fact_backdated_before_a_recorded_recommendation_is_refused(script) -> None:
    """A listing, a credit listing or a group recorded with a date before a recommendation
    already judged without it would contradict that judgment (README, "The time rule")."""
    e = little_giant(script, 2, industry="C3441")
    apply(script, e, "key_little_giant", "2023-03-01", "k")
    recommend(script, e, "k", "2023-03-10", by=PROVINCE)
    err = script.refused("report_change", uscc=e, kind="listing", board="main", changed_on="2023-03-02",
                         occurred_on="2023-03-05", actor=CITY)
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on") and "Recommended" in err.message
    f = uscc(3, COUNTY)
    register(script, f)
    apply(script, f, "innovative", "2023-03-01", "a")
    recommend(script, f, "a", "2023-03-10")
    err = credit(script, f, "serious_dishonesty", True, date(2023, 3, 5), ok=False)
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on")
    err = script.refused("record_group", uscc=f, group_uscc=PARENT, occurred_on="2023-03-05", actor=CITY)
    assert refusal(err) == ("order.contradicts_later", "order", "occurred_on")
    credit(script, f, "serious_dishonesty", True, date(2023, 3, 5), on=date(2023, 3, 11))  # recorded late: stands
    assert script.ledger.enterprise(f).on_credit_list("serious_dishonesty", date(2023, 3, 10)) == date(2023, 3, 5)


def test_a_group_recorded_with_an_earlier_date_is_written_once(script, u) -> None:
    """Decided on the facts of its date and on the record as it stands (``Ledger._decide_backdated``):
    the groups are copies in the first decision, so each membership change is written once."""
    from domain.group import group_id

    other = uscc(91, COUNTY)
    script.ok("record_group", uscc=u, group_uscc=PARENT, occurred_on="2023-01-05", actor=CITY)
    apply(script, u, "innovative", "2023-03-01", "a")  # a later fact: what follows is backdated
    out = script.ok("record_group", uscc=u, group_uscc=other, occurred_on="2023-02-01", actor=CITY)
    assert sorted(r.type for r in out.events) == ["GroupOpened", "GroupRecorded", "MemberJoined", "MemberLeft"]
    old, new = script.ledger.group(PARENT), script.ledger.group(other)
    assert old is not None and new is not None
    assert old.members_on(date(2023, 1, 31)) == [u] and old.members_on(date(2023, 2, 1)) == []
    assert new.members_on(date(2023, 2, 1)) == [u]
    kinds = [type(ev).__name__ for ev in script.ledger.events.get(group_id(PARENT))]
    assert kinds == ["GroupOpened", "MemberJoined", "MemberLeft"]


def test_the_bars_on_each_store_and_after_a_reload(any_ledger, store) -> None:
    """SQLite and PostgreSQL: the group's members and the credit lists are stored facts, read
    again by a ledger started afresh on the same store."""
    from services.ledger import Ledger
    from tests.support.ledgers import Script

    script = Script(any_ledger)
    giant_of_group(script, 2)
    same = applicant(script, 3, group_uscc=PARENT)
    credit(script, same, "abnormal_operations", True, date(2026, 4, 20))
    credit(script, same, "abnormal_operations", False, date(2026, 4, 30))
    again = Ledger(db=store)
    try:
        script = Script(again)
        assert again.group(PARENT).members_on(date(2026, 5, 2)) == sorted([uscc(2, COUNTY), same])  # type: ignore[union-attr]
        assert again.enterprise(same).on_credit_list("abnormal_operations", date(2026, 4, 29)) == date(2026, 4, 20)
        err = recommend(script, same, "lg", "2026-05-02", by=PROVINCE, ok=False)
        assert refusal(err) == ("recommend.same_group", "ladder", "application_id")
    finally:
        again.close()
